//! The syntax tree of a filter. Every node keeps its byte range in the
//! filter text, so later stages can point at the exact part they report on;
//! [`crate::segment::location`] maps those ranges into the YAML file.

use jiff::civil::{Date, DateTime};

use crate::duration::Duration;

/// A byte range in the filter text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Range {
    pub start: usize,
    pub end: usize,
}

impl Range {
    pub fn new(start: usize, end: usize) -> Range {
        Range { start, end }
    }

    /// The smallest range covering both.
    pub fn join(self, other: Range) -> Range {
        Range::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A name as written, with its range.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    pub text: String,
    pub range: Range,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub range: Range,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Two or more alternatives.
    Or(Vec<Expr>),
    /// Two or more conditions that must all hold.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Condition(Condition),
    /// `in segment "NAME"`; the name's range covers the string literal.
    InSegment(Name),
    /// `reachable by CHANNEL`.
    Reachable(Name),
    /// `did [not] EVENT [within D] [where …]`.
    Did(EventPredicate),
}

/// The events a predicate or aggregate ranges over.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSelection {
    pub event: Name,
    pub window: Option<DurationLiteral>,
    /// Conditions over the event's properties.
    pub condition: Option<Box<Expr>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventPredicate {
    pub negated: bool,
    pub selection: EventSelection,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationLiteral {
    pub duration: Duration,
    pub range: Range,
}

/// An operand and the test applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub operand: Operand,
    pub test: Test,
    /// The range of the test (operator and literals), for pointing at the clashing part.
    pub test_range: Range,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// An attribute, a built-in field, an event property (inside `where`) or
    /// `event.PROPERTY` (in journey trigger filters).
    Field(Name),
    Function {
        function: Function,
        argument: Name,
        range: Range,
    },
    Aggregate {
        aggregate: Aggregate,
        selection: EventSelection,
        /// `sum(purchase.amount …)`: the property aggregated.
        property: Option<Name>,
        range: Range,
    },
}

impl Operand {
    pub fn range(&self) -> Range {
        match self {
            Operand::Field(name) => name.range,
            Operand::Function { range, .. } | Operand::Aggregate { range, .. } => *range,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    Age,
    DaysSince,
    DaysUntilAnniversary,
}

impl Function {
    pub const ALL: [Function; 3] = [
        Function::Age,
        Function::DaysSince,
        Function::DaysUntilAnniversary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Age => "age",
            Function::DaysSince => "days_since",
            Function::DaysUntilAnniversary => "days_until_anniversary",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl Aggregate {
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }

    /// Whether an ordering between the operand and the literal satisfies it.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Comparison::Equal => ordering == Equal,
            Comparison::NotEqual => ordering != Equal,
            Comparison::Less => ordering == Less,
            Comparison::LessOrEqual => ordering != Greater,
            Comparison::Greater => ordering == Greater,
            Comparison::GreaterOrEqual => ordering != Less,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Compare(Comparison, Literal),
    Between(Literal, Literal),
    In(Vec<Literal>),
    NotIn(Vec<Literal>),
    Contains(Literal),
    StartsWith(Literal),
    EndsWith(Literal),
    IsSet,
    IsNotSet,
    Has(Literal),
    HasAny(Vec<Literal>),
    HasAll(Vec<Literal>),
    Within(DurationLiteral),
    Before(TimePoint),
    After(TimePoint),
}

impl Test {
    /// How the test is written, for messages (`=`, `between`, `has any`).
    pub fn keyword(&self) -> &'static str {
        match self {
            Test::Compare(comparison, _) => comparison.symbol(),
            Test::Between(..) => "between",
            Test::In(_) => "in",
            Test::NotIn(_) => "not in",
            Test::Contains(_) => "contains",
            Test::StartsWith(_) => "starts with",
            Test::EndsWith(_) => "ends with",
            Test::IsSet => "is set",
            Test::IsNotSet => "is not set",
            Test::Has(_) => "has",
            Test::HasAny(_) => "has any",
            Test::HasAll(_) => "has all",
            Test::Within(_) => "within",
            Test::Before(_) => "before",
            Test::After(_) => "after",
        }
    }

    /// The literals the test compares with.
    pub fn literals(&self) -> Vec<&Literal> {
        match self {
            Test::Compare(_, literal)
            | Test::Contains(literal)
            | Test::StartsWith(literal)
            | Test::EndsWith(literal)
            | Test::Has(literal) => vec![literal],
            Test::Between(low, high) => vec![low, high],
            Test::In(list) | Test::NotIn(list) | Test::HasAny(list) | Test::HasAll(list) => {
                list.iter().collect()
            }
            Test::Before(TimePoint::Literal(literal))
            | Test::After(TimePoint::Literal(literal)) => {
                vec![literal]
            }
            Test::IsSet | Test::IsNotSet | Test::Within(_) | Test::Before(_) | Test::After(_) => {
                Vec::new()
            }
        }
    }
}

/// The point `before` and `after` compare with.
#[derive(Clone, Debug, PartialEq)]
pub enum TimePoint {
    /// `6 months ago`.
    Ago(DurationLiteral),
    /// A date or datetime literal.
    Literal(Literal),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub value: LiteralValue,
    pub range: Range,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LiteralValue {
    String(String),
    Integer(i64),
    Decimal(f64),
    Boolean(bool),
    Date(Date),
    /// A datetime; without an offset it is local to the contact's time zone.
    DateTime {
        civil: DateTime,
        offset: Option<jiff::tz::Offset>,
    },
}

impl LiteralValue {
    /// The kind of literal, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            LiteralValue::String(_) => "a string",
            LiteralValue::Integer(_) => "an integer",
            LiteralValue::Decimal(_) => "a decimal number",
            LiteralValue::Boolean(_) => "a boolean",
            LiteralValue::Date(_) => "a date",
            LiteralValue::DateTime { .. } => "a datetime",
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            LiteralValue::Integer(value) => Some(*value as f64),
            LiteralValue::Decimal(value) => Some(*value),
            _ => None,
        }
    }
}

impl Expr {
    /// Calls `visit` on this node and every node below it, parents first.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        match &self.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                for item in items {
                    item.walk(visit);
                }
            }
            ExprKind::Not(inner) => inner.walk(visit),
            ExprKind::Did(predicate) => {
                if let Some(condition) = &predicate.selection.condition {
                    condition.walk(visit);
                }
            }
            ExprKind::Condition(Condition {
                operand: Operand::Aggregate { selection, .. },
                ..
            }) => {
                if let Some(condition) = &selection.condition {
                    condition.walk(visit);
                }
            }
            ExprKind::Condition(_) | ExprKind::InSegment(_) | ExprKind::Reachable(_) => {}
        }
    }

    /// The `in segment` references, in order.
    pub fn segment_references(&self) -> Vec<&Name> {
        let mut names = Vec::new();
        self.walk(&mut |expr| {
            if let ExprKind::InSegment(name) = &expr.kind {
                names.push(name);
            }
        });
        names
    }
}

impl Expr {
    /// Moves every range of the tree by `offset` bytes, for trees whose
    /// filter text is placed at `offset` in a longer text (the conflict
    /// rules analyse several filters' trees against one text).
    pub fn shift(&mut self, offset: usize) {
        self.range.shift(offset);
        match &mut self.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                for item in items {
                    item.shift(offset);
                }
            }
            ExprKind::Not(inner) => inner.shift(offset),
            ExprKind::Condition(condition) => condition.shift(offset),
            ExprKind::InSegment(name) | ExprKind::Reachable(name) => name.range.shift(offset),
            ExprKind::Did(predicate) => predicate.selection.shift(offset),
        }
    }
}

impl Range {
    fn shift(&mut self, offset: usize) {
        self.start += offset;
        self.end += offset;
    }
}

impl Condition {
    fn shift(&mut self, offset: usize) {
        self.test_range.shift(offset);
        match &mut self.operand {
            Operand::Field(name) => name.range.shift(offset),
            Operand::Function {
                argument, range, ..
            } => {
                argument.range.shift(offset);
                range.shift(offset);
            }
            Operand::Aggregate {
                selection,
                property,
                range,
                ..
            } => {
                selection.shift(offset);
                if let Some(property) = property {
                    property.range.shift(offset);
                }
                range.shift(offset);
            }
        }
        match &mut self.test {
            Test::Compare(_, literal)
            | Test::Contains(literal)
            | Test::StartsWith(literal)
            | Test::EndsWith(literal)
            | Test::Has(literal)
            | Test::Before(TimePoint::Literal(literal))
            | Test::After(TimePoint::Literal(literal)) => literal.range.shift(offset),
            Test::Between(low, high) => {
                low.range.shift(offset);
                high.range.shift(offset);
            }
            Test::In(list) | Test::NotIn(list) | Test::HasAny(list) | Test::HasAll(list) => {
                for literal in list {
                    literal.range.shift(offset);
                }
            }
            Test::Within(duration)
            | Test::Before(TimePoint::Ago(duration))
            | Test::After(TimePoint::Ago(duration)) => duration.range.shift(offset),
            Test::IsSet | Test::IsNotSet => {}
        }
    }
}

impl EventSelection {
    fn shift(&mut self, offset: usize) {
        self.event.range.shift(offset);
        if let Some(window) = &mut self.window {
            window.range.shift(offset);
        }
        if let Some(condition) = &mut self.condition {
            condition.shift(offset);
        }
    }
}
