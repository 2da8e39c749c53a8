//! Compiling a filter to parameterised SQL over the contact store: every
//! value a user wrote is a bound parameter, never spliced into the text.
//! Identifiers (column names from the manifest) are quoted.
//!
//! What differs between databases goes through [`Dialect`]: SQLite, the
//! embedded default, uses the Rust functions the store registers
//! (`herald_fold` and friends, see [`super::functions`]) so that its
//! results are exactly the in-memory evaluator's; a PostgreSQL dialect
//! would map the same hooks to its own functions.
//!
//! Size: the database bounds a query, so conjunctions and disjunctions
//! are written as balanced trees (SQLite parses `a AND b AND c …` into a
//! tree as high as the chain is long), equal values share one parameter,
//! and a query that would still pass the dialect's [`Limits`] is refused
//! here with a [`CompileError`] that names the filter, before any store is
//! opened.
//!
//! Long `or` chains of equalities on one field (`city = "a" or city = "b"
//! or …`, as generated audiences are written) become one `IN` list, which
//! the database answers with one index or hash probe per row instead of
//! one comparison per term. A list longer than [`INLINE_VALUES`] is bound as
//! one JSON array parameter and read back with the dialect's
//! [`Dialect::list_elements`]: still parameterised, and however many values
//! it holds it takes one of the statement's parameters, so a list of
//! 100,000 ids stays far below the database's variable limit.
//!
//! Missing values: SQL comparisons with NULL are NULL, which `WHERE` treats
//! as false, and `not` is compiled as `NOT COALESCE(…, 0)`, so a NULL never
//! turns into a match under negation: exactly the two-valued semantics of
//! the spec.

use std::collections::{BTreeMap, HashMap};

use super::MAX_SEGMENT_NESTING;
use super::ast::*;
use super::catalog::{Catalog, FieldType, channel_address};
use super::functions::{self, Bound, Clock};
use super::typecheck::{Context, FieldRef, Place, resolve_field};

/// A value bound to a query parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Parameter {
    Text(String),
    Integer(i64),
    Real(f64),
}

impl rusqlite::ToSql for Parameter {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Parameter::Text(text) => text.as_str().into(),
            Parameter::Integer(value) => (*value).into(),
            Parameter::Real(value) => (*value).into(),
        })
    }
}

impl std::fmt::Display for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parameter::Text(text) => write!(f, "{text:?}"),
            Parameter::Integer(value) => write!(f, "{value}"),
            Parameter::Real(value) => write!(f, "{value}"),
        }
    }
}

/// A query and its parameters, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub sql: String,
    pub parameters: Vec<Parameter>,
}

/// The SQL that differs between databases.
pub trait Dialect {
    /// The `index`th (1-based) parameter placeholder.
    fn placeholder(&self, index: usize) -> String;
    /// Full Unicode case folding of a text expression.
    fn fold(&self, text: &str) -> String;
    /// A property of the event row `e` (the JSON path is a parameter).
    fn event_property(&self, path: &str) -> String;
    /// Whether a JSON list (text) has an element whose folded value satisfies `test` on `value`.
    fn list_elements(&self, list: &str) -> String;
    /// Call of one of herald's scalar functions (`local_date`, `age`, …).
    fn function(&self, name: &str, arguments: &[&str]) -> String;
    fn quote_identifier(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
    /// What one query may hold.
    fn limits(&self) -> Limits;
}

/// The size bounds of one query in a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The highest expression tree the database parses.
    pub expression_depth: usize,
    /// How many parameters one statement may bind.
    pub parameters: usize,
}

/// SQLite with herald's functions registered (see [`crate::store`]).
pub struct Sqlite;

impl Dialect for Sqlite {
    fn placeholder(&self, index: usize) -> String {
        format!("?{index}")
    }
    fn fold(&self, text: &str) -> String {
        format!("herald_fold({text})")
    }
    fn event_property(&self, path: &str) -> String {
        format!("json_extract(e.properties, {path})")
    }
    fn list_elements(&self, list: &str) -> String {
        format!("json_each({list})")
    }
    fn function(&self, name: &str, arguments: &[&str]) -> String {
        format!("herald_{name}({})", arguments.join(", "))
    }
    fn limits(&self) -> Limits {
        // SQLITE_MAX_EXPR_DEPTH and SQLITE_MAX_VARIABLE_NUMBER, the bundled
        // library's compiled-in defaults.
        Limits {
            expression_depth: 1000,
            parameters: 32_766,
        }
    }
}

/// Why a filter could not be compiled (it did not type-check, or uses
/// something only the in-memory evaluator can see).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError(pub String);

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    Count,
    Ids,
}

pub struct SqlCompiler<'a> {
    pub catalog: &'a Catalog,
    pub clock: &'a Clock,
    pub segments: &'a BTreeMap<String, Expr>,
    pub dialect: &'a dyn Dialect,
}

impl<'a> SqlCompiler<'a> {
    /// The query selecting the contacts that match `expr`.
    pub fn query(&self, expr: &Expr, selection: Selection) -> Result<Query, CompileError> {
        let Query {
            sql: condition,
            parameters,
        } = self.condition(expr)?;
        let sql = match selection {
            Selection::Count => format!("SELECT count(*) FROM contacts AS c WHERE {condition}"),
            Selection::Ids => {
                format!("SELECT c.id FROM contacts AS c WHERE {condition} ORDER BY c.id")
            }
        };
        Ok(Query { sql, parameters })
    }

    /// The condition alone, over `contacts AS c`, for a caller that selects
    /// its own columns (the planner reads whole contacts).
    pub fn condition(&self, expr: &Expr) -> Result<Query, CompileError> {
        let (sql, state) = self.unchecked(expr)?;
        if let Some(problem) = self.beyond_limits(&state) {
            return Err(CompileError(problem));
        }
        Ok(Query {
            sql,
            parameters: state.parameters,
        })
    }

    /// Why the query for `expr` would exceed the dialect's [`Limits`], if it
    /// would; `None` also when it does not compile for another reason (the
    /// type checker reports those). `check` calls this so that a filter too
    /// large for the database is a diagnostic before any store is opened.
    pub fn limit_problem(&self, expr: &Expr) -> Option<String> {
        let (_, state) = self.unchecked(expr).ok()?;
        self.beyond_limits(&state)
    }

    fn unchecked<'s>(&'s self, expr: &Expr) -> Result<(String, State<'s, 'a>), CompileError> {
        let mut state = State {
            compiler: self,
            parameters: Vec::new(),
            bound: HashMap::new(),
            stack: Vec::new(),
            height: 0,
            highest: 0,
        };
        let sql = state.expr(expr, Place::Contact)?;
        Ok((sql, state))
    }

    fn beyond_limits(&self, state: &State) -> Option<String> {
        let limits = self.dialect.limits();
        if state.highest > limits.expression_depth {
            return Some(format!(
                "the filter is too deeply nested for one database query (an expression about {} levels high, the database takes {}); \
                 write it flatter or split it into segments",
                state.highest, limits.expression_depth
            ));
        }
        if state.parameters.len() > limits.parameters {
            return Some(format!(
                "the filter has {} distinct values, more than one database query takes ({}); split it into segments",
                state.parameters.len(),
                limits.parameters
            ));
        }
        None
    }
}

struct State<'s, 'a> {
    compiler: &'s SqlCompiler<'a>,
    parameters: Vec<Parameter>,
    /// The placeholder index of every value bound so far (by its `Debug`
    /// text, which tells every value apart), so a repeated value is bound once.
    bound: HashMap<String, usize>,
    stack: Vec<String>,
    /// An upper estimate of the expression height around the part being
    /// compiled, and the highest seen, checked against the dialect's limit.
    height: usize,
    highest: usize,
}

/// The expression height a leaf condition, or an event subquery's own
/// conditions, may add (functions of functions, `IS NOT NULL AND …`).
const LEAF_HEIGHT: usize = 8;

/// Terms of a conjunction or disjunction written flat, below which halving starts.
const FLAT_TERMS: usize = 8;

/// The longest value list written as one placeholder per value; a longer
/// one is one JSON array parameter (see the module documentation).
pub const INLINE_VALUES: usize = 100;

/// One term of a disjunction as compiled: a filter of its own, or the
/// equalities on one field that become one `IN` list.
enum Alternative<'e> {
    Term(&'e Expr),
    Values {
        field: &'e Name,
        terms: Vec<&'e Expr>,
        values: Vec<&'e Literal>,
    },
}

/// The equality (`=` or `in [...]`) on a plain field that `expr` is, if it is one.
fn equality(expr: &Expr) -> Option<(&Name, Vec<&Literal>)> {
    let ExprKind::Condition(condition) = &expr.kind else {
        return None;
    };
    let Operand::Field(field) = &condition.operand else {
        return None;
    };
    match &condition.test {
        Test::Compare(Comparison::Equal, literal) => Some((field, vec![literal])),
        Test::In(list) => Some((field, list.iter().collect())),
        _ => None,
    }
}

/// The terms of a disjunction in order, equalities on one field gathered
/// where the field's first one stood.
fn alternatives(items: &[Expr]) -> Vec<Alternative<'_>> {
    let mut alternatives = Vec::new();
    let mut by_field: HashMap<&str, usize> = HashMap::new();
    for item in items {
        let Some((field, values)) = equality(item) else {
            alternatives.push(Alternative::Term(item));
            continue;
        };
        match by_field.get(field.text.as_str()) {
            Some(&index) => {
                if let Alternative::Values {
                    terms, values: all, ..
                } = &mut alternatives[index]
                {
                    terms.push(item);
                    all.extend(values);
                }
            }
            None => {
                by_field.insert(&field.text, alternatives.len());
                alternatives.push(Alternative::Values {
                    field,
                    terms: vec![item],
                    values,
                });
            }
        }
    }
    alternatives
}

/// Joins terms with `AND` or `OR` as a tree of logarithmic height.
fn balanced(parts: &[String], joiner: &str) -> String {
    if parts.len() <= FLAT_TERMS {
        return format!("({})", parts.join(joiner));
    }
    let (left, right) = parts.split_at(parts.len() / 2);
    format!(
        "({}{joiner}{})",
        balanced(left, joiner),
        balanced(right, joiner)
    )
}

/// The height [`balanced`] gives `terms` terms.
fn balanced_height(terms: usize) -> usize {
    if terms <= FLAT_TERMS {
        terms.saturating_sub(1)
    } else {
        1 + balanced_height(terms - terms / 2)
    }
}

impl State<'_, '_> {
    fn bind(&mut self, parameter: Parameter) -> String {
        let key = format!("{parameter:?}");
        let index = match self.bound.get(&key) {
            Some(index) => *index,
            None => {
                self.parameters.push(parameter);
                self.bound.insert(key, self.parameters.len());
                self.parameters.len()
            }
        };
        self.compiler.dialect.placeholder(index)
    }

    /// Compiles `expr` with `height` added around it.
    fn nested(&mut self, height: usize, expr: &Expr, place: Place) -> Result<String, CompileError> {
        self.height += height;
        self.highest = self.highest.max(self.height + LEAF_HEIGHT);
        let sql = self.expr(expr, place);
        self.height -= height;
        sql
    }

    fn text(&mut self, text: impl Into<String>) -> String {
        self.bind(Parameter::Text(text.into()))
    }

    fn column(&self, name: &str) -> String {
        format!("c.{}", self.compiler.dialect.quote_identifier(name))
    }

    fn function(&self, name: &str, arguments: &[&str]) -> String {
        self.compiler.dialect.function(name, arguments)
    }

    fn fold(&self, text: &str) -> String {
        self.compiler.dialect.fold(text)
    }

    /// The value as compared: folded when text compares case-insensitively.
    fn subject(&self, value: &str, fold: bool) -> String {
        if fold {
            self.fold(value)
        } else {
            value.to_string()
        }
    }

    fn expr(&mut self, expr: &Expr, place: Place) -> Result<String, CompileError> {
        Ok(match &expr.kind {
            ExprKind::Or(items) => self.disjunction(items, place)?,
            ExprKind::And(items) => {
                let height = balanced_height(items.len());
                let parts = items
                    .iter()
                    .map(|item| self.nested(height, item, place))
                    .collect::<Result<Vec<_>, _>>()?;
                balanced(&parts, " AND ")
            }
            ExprKind::Not(inner) => {
                format!("NOT COALESCE({}, 0)", self.nested(2, inner, place)?)
            }
            ExprKind::InSegment(name) => {
                let Some(segment) = self.compiler.segments.get(&name.text) else {
                    return Err(CompileError(format!("unknown segment `{}`", name.text)));
                };
                if self.stack.contains(&name.text) {
                    return Err(CompileError(format!(
                        "segment `{}` refers to itself",
                        name.text
                    )));
                }
                // `check` reports deeper chains (F011); this keeps the walk bounded.
                if self.stack.len() >= MAX_SEGMENT_NESTING {
                    return Err(CompileError(format!(
                        "`in segment \"{}\"` nests more than {MAX_SEGMENT_NESTING} segments inside one another",
                        name.text
                    )));
                }
                self.stack.push(name.text.clone());
                let sql = self.nested(0, segment, Place::Contact)?;
                self.stack.pop();
                sql
            }
            ExprKind::Reachable(channel) => {
                let Some(field) = channel_address(&channel.text) else {
                    return Err(CompileError(format!(
                        "no address field for channel `{}`",
                        channel.text
                    )));
                };
                let address = self.column(field);
                let consent = self.text(channel.text.clone());
                let suppression = self.text(channel.text.clone());
                format!(
                    "({address} IS NOT NULL AND {address} <> '' \
                     AND EXISTS (SELECT 1 FROM consents AS k WHERE k.contact_id = c.id AND k.channel = {consent} AND k.status = 'granted') \
                     AND NOT EXISTS (SELECT 1 FROM suppressions AS s WHERE s.contact_id = c.id AND s.channel IN ({suppression}, '*')))"
                )
            }
            ExprKind::Did(predicate) => {
                let events = self.events(&predicate.selection, "1")?;
                if predicate.negated {
                    format!("NOT EXISTS ({events})")
                } else {
                    format!("EXISTS ({events})")
                }
            }
            ExprKind::Condition(condition) => {
                let (value, kind) = self.operand(&condition.operand, place)?;
                self.test(&value, &kind, &condition.test)?
            }
        })
    }

    /// `a OR b OR …`, with the equalities on one field as one `IN` list.
    fn disjunction(&mut self, items: &[Expr], place: Place) -> Result<String, CompileError> {
        let alternatives = alternatives(items);
        let height = balanced_height(alternatives.len());
        let mut parts = Vec::with_capacity(alternatives.len());
        for alternative in alternatives {
            match alternative {
                Alternative::Term(term) => parts.push(self.nested(height, term, place)?),
                Alternative::Values { terms, .. } if terms.len() == 1 => {
                    parts.push(self.nested(height, terms[0], place)?);
                }
                Alternative::Values {
                    field,
                    terms,
                    values,
                } => {
                    let (value, kind) = self.operand(&Operand::Field(field.clone()), place)?;
                    // Equality on a date or time is a range (the day, the
                    // second) in the contact's zone, not a value to look up.
                    if kind.is_temporal() {
                        for term in terms {
                            parts.push(self.nested(height, term, place)?);
                        }
                        continue;
                    }
                    self.highest = self.highest.max(self.height + height + LEAF_HEIGHT);
                    let fold = kind == FieldType::String;
                    parts.push(self.value_list(&value, fold, &values, false));
                }
            }
        }
        Ok(balanced(&parts, " OR "))
    }

    /// `value [NOT] IN (…)` for a non-empty list: placeholders for a short
    /// list, one JSON array parameter for a long one.
    fn value_list(&mut self, value: &str, fold: bool, list: &[&Literal], negated: bool) -> String {
        let subject = self.subject(value, fold);
        let operator = if negated { "NOT IN" } else { "IN" };
        if list.len() <= INLINE_VALUES {
            let items: Vec<String> = list.iter().map(|l| self.literal(&l.value, fold)).collect();
            return format!("{subject} {operator} ({})", items.join(", "));
        }
        let values: Vec<serde_json::Value> = list
            .iter()
            .map(|literal| match self.parameter(&literal.value, fold) {
                Parameter::Text(text) => serde_json::Value::from(text),
                Parameter::Integer(value) => serde_json::Value::from(value),
                Parameter::Real(value) => serde_json::Value::from(value),
            })
            .collect();
        let array = self.text(serde_json::Value::Array(values).to_string());
        let elements = self.compiler.dialect.list_elements(&array);
        format!("{subject} {operator} (SELECT value FROM {elements})")
    }

    /// `SELECT what FROM events AS e WHERE …` for a selection; uses the
    /// (contact_id, event, at) index.
    fn events(&mut self, selection: &EventSelection, what: &str) -> Result<String, CompileError> {
        let event = self.text(selection.event.text.clone());
        let now = self.bind(Parameter::Integer(self.compiler.clock.now.as_second()));
        let mut sql = format!(
            "SELECT {what} FROM events AS e WHERE e.contact_id = c.id AND e.event = {event} AND e.at <= {now}"
        );
        if let Some(window) = selection.window {
            let start = self.bind(Parameter::Integer(
                self.compiler.clock.ago(window.duration).as_second(),
            ));
            sql.push_str(&format!(" AND e.at >= {start}"));
        }
        if let Some(condition) = &selection.condition {
            let condition =
                self.nested(LEAF_HEIGHT, condition, Place::Event(&selection.event.text))?;
            sql.push_str(&format!(" AND {condition}"));
        }
        Ok(sql)
    }

    fn field(&mut self, field: &FieldRef) -> Result<String, CompileError> {
        match field {
            FieldRef::Attribute { name, .. } => Ok(self.column(name)),
            FieldRef::Property { property, kind } => {
                let path = self.text(format!("$.\"{}\"", property.replace('"', "\\\"")));
                let value = self.compiler.dialect.event_property(&path);
                Ok(if *kind == FieldType::Datetime {
                    self.function("instant", &[&value])
                } else {
                    value
                })
            }
            FieldRef::TriggerProperty { property, .. } => Err(CompileError(format!(
                "`event.{property}` exists only while a journey handles its trigger event"
            ))),
        }
    }

    fn today(&mut self) -> String {
        let now = self.bind(Parameter::Integer(self.compiler.clock.now.as_second()));
        self.local_date(&now)
    }

    fn local_date(&mut self, seconds: &str) -> String {
        let zone = self.column("timezone");
        let project = self.text(self.compiler.clock.timezone_name.clone());
        self.function("local_date", &[seconds, &zone, &project])
    }

    fn operand(
        &mut self,
        operand: &Operand,
        place: Place,
    ) -> Result<(String, FieldType), CompileError> {
        let catalog = self.compiler.catalog;
        let resolve = |name: &Name| {
            resolve_field(catalog, Context::default(), place, name)
                .map_err(|issue| CompileError(issue.message))
        };
        match operand {
            Operand::Field(name) => {
                let field = resolve(name)?;
                Ok((self.field(&field)?, field.kind().clone()))
            }
            Operand::Function {
                function, argument, ..
            } => {
                let field = resolve(argument)?;
                let value = self.field(&field)?;
                let sql = match (function, field.kind()) {
                    (Function::DaysSince, FieldType::Datetime) => {
                        let now =
                            self.bind(Parameter::Integer(self.compiler.clock.now.as_second()));
                        self.function("days_since_instant", &[&value, &now])
                    }
                    (_, kind) => {
                        let date = if *kind == FieldType::Datetime {
                            self.local_date(&value)
                        } else {
                            value
                        };
                        let today = self.today();
                        let name = match function {
                            Function::Age => "age",
                            Function::DaysSince => "days_between",
                            Function::DaysUntilAnniversary => "days_until_anniversary",
                        };
                        self.function(name, &[&date, &today])
                    }
                };
                Ok((sql, FieldType::Integer))
            }
            Operand::Aggregate {
                aggregate,
                selection,
                property,
                ..
            } => {
                if *aggregate == Aggregate::Count {
                    let events = self.events(selection, "count(*)")?;
                    return Ok((format!("({events})"), FieldType::Integer));
                }
                let Some(property) = property else {
                    return Err(CompileError(format!(
                        "`{}` needs a property",
                        aggregate.name()
                    )));
                };
                let field = resolve_field(
                    catalog,
                    Context::default(),
                    Place::Event(&selection.event.text),
                    property,
                )
                .map_err(|issue| CompileError(issue.message))?;
                // The property is bound before the selection's parameters,
                // matching its place in the text.
                let value = self.field(&field)?;
                let function = match aggregate {
                    Aggregate::Sum => format!("total({value})"),
                    Aggregate::Avg => format!("avg({value})"),
                    Aggregate::Min => format!("min({value})"),
                    Aggregate::Max => format!("max({value})"),
                    Aggregate::Count => unreachable!("handled above"),
                };
                let events = self.events(selection, &function)?;
                let kind = match aggregate {
                    Aggregate::Sum | Aggregate::Avg => FieldType::Number,
                    _ => field.kind().clone(),
                };
                Ok((format!("({events})"), kind))
            }
        }
    }

    fn literal(&mut self, literal: &LiteralValue, fold: bool) -> String {
        let parameter = self.parameter(literal, fold);
        self.bind(parameter)
    }

    /// The value a literal compares as (folded for text attributes).
    fn parameter(&self, literal: &LiteralValue, fold: bool) -> Parameter {
        match literal {
            LiteralValue::String(text) if fold => Parameter::Text(functions::fold(text)),
            LiteralValue::String(text) => Parameter::Text(text.clone()),
            LiteralValue::Integer(value) => Parameter::Integer(*value),
            LiteralValue::Decimal(value) => Parameter::Real(*value),
            LiteralValue::Boolean(value) => Parameter::Integer(i64::from(*value)),
            LiteralValue::Date(date) => Parameter::Text(date.to_string()),
            LiteralValue::DateTime { civil, .. } => Parameter::Text(civil.to_string()),
        }
    }

    fn test(&mut self, value: &str, kind: &FieldType, test: &Test) -> Result<String, CompileError> {
        match test {
            Test::IsSet => return Ok(format!("{value} IS NOT NULL")),
            Test::IsNotSet => return Ok(format!("{value} IS NULL")),
            _ => {}
        }
        if kind.is_temporal()
            && let Some(bounds) =
                functions::temporal_bounds(*kind == FieldType::Datetime, test, self.compiler.clock)
        {
            let mut parts = Vec::new();
            for (comparison, bound) in &bounds.parts {
                let bound = match bound {
                    Bound::Instant(seconds) => self.bind(Parameter::Integer(*seconds)),
                    Bound::Date(date) => self.text(date.to_string()),
                    Bound::LocalInstant(civil) => {
                        let civil = self.text(civil.to_string());
                        let zone = self.column("timezone");
                        let project = self.text(self.compiler.clock.timezone_name.clone());
                        self.function("local_instant", &[&civil, &zone, &project])
                    }
                    Bound::LocalDateOf(seconds) => {
                        let seconds = self.bind(Parameter::Integer(*seconds));
                        self.local_date(&seconds)
                    }
                };
                parts.push(format!("{value} {} {bound}", sql_operator(*comparison)));
            }
            let joiner = if bounds.any { " OR " } else { " AND " };
            return Ok(format!("({})", parts.join(joiner)));
        }
        let fold = *kind == FieldType::String;
        let subject = self.subject(value, fold);
        Ok(match test {
            Test::Compare(comparison, literal) => {
                let literal = self.literal(&literal.value, fold);
                format!("{subject} {} {literal}", sql_operator(*comparison))
            }
            Test::Between(low, high) => {
                let low = self.literal(&low.value, fold);
                let high = self.literal(&high.value, fold);
                format!("{subject} BETWEEN {low} AND {high}")
            }
            Test::In(list) | Test::NotIn(list) => {
                let negated = matches!(test, Test::NotIn(_));
                if list.is_empty() {
                    return Ok(if negated {
                        format!("{value} IS NOT NULL")
                    } else {
                        "0".to_string()
                    });
                }
                let list: Vec<&Literal> = list.iter().collect();
                self.value_list(value, fold, &list, negated)
            }
            Test::Contains(literal) => {
                let needle = self.literal(&literal.value, true);
                format!("instr({subject}, {needle}) > 0")
            }
            Test::StartsWith(literal) => {
                let needle = self.literal(&literal.value, true);
                format!("substr({subject}, 1, length({needle})) = {needle}")
            }
            Test::EndsWith(literal) => {
                let needle = self.literal(&literal.value, true);
                format!(
                    "({value} IS NOT NULL AND (length({needle}) = 0 OR substr({subject}, -length({needle})) = {needle}))"
                )
            }
            Test::Has(literal) => self.list_has(value, std::slice::from_ref(literal)),
            Test::HasAny(list) => {
                if list.is_empty() {
                    "0".to_string()
                } else {
                    self.list_has(value, list)
                }
            }
            Test::HasAll(list) => {
                let mut parts = vec![format!("{value} IS NOT NULL")];
                for literal in list {
                    parts.push(self.list_has(value, std::slice::from_ref(literal)));
                }
                self.highest = self
                    .highest
                    .max(self.height + LEAF_HEIGHT + balanced_height(parts.len()));
                balanced(&parts, " AND ")
            }
            Test::IsSet | Test::IsNotSet | Test::Within(_) | Test::Before(_) | Test::After(_) => {
                return Err(CompileError(format!(
                    "`{}` is not defined for {}",
                    test.keyword(),
                    kind.name()
                )));
            }
        })
    }

    fn list_has(&mut self, list: &str, any_of: &[Literal]) -> String {
        let elements = self.compiler.dialect.list_elements(list);
        let folded = self.fold("l.value");
        let items: Vec<String> = any_of
            .iter()
            .map(|l| self.literal(&l.value, true))
            .collect();
        format!(
            "EXISTS (SELECT 1 FROM {elements} AS l WHERE {folded} IN ({}))",
            items.join(", ")
        )
    }
}

fn sql_operator(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::Equal => "=",
        Comparison::NotEqual => "<>",
        Comparison::Less => "<",
        Comparison::LessOrEqual => "<=",
        Comparison::Greater => ">",
        Comparison::GreaterOrEqual => ">=",
    }
}

impl std::error::Error for CompileError {}
