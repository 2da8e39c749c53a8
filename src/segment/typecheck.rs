//! The type checker: every name in a filter resolves against the
//! [`Catalog`], every test is defined for its operand's type, every literal
//! has the type it is compared with, every enum value is declared. Problems
//! are [`Issue`]s with "did you mean" help where a close name exists.

use super::Issue;
use super::ast::*;
use super::catalog::{Catalog, FieldType, channel_address};
use crate::codes::Code;
use crate::suggestion::did_you_mean;

/// Where a filter is written, which decides the names it may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context<'a> {
    /// In journey trigger and `wait_for` filters: the event whose
    /// properties are available as `event.PROPERTY`.
    pub trigger_event: Option<&'a str>,
}

/// Where a name inside a filter is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place<'a> {
    Contact,
    /// Inside `where` of an event predicate or aggregate.
    Event(&'a str),
}

/// What a field name refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    Attribute {
        name: String,
        kind: FieldType,
    },
    /// A property of the event a `where` clause ranges over.
    Property {
        property: String,
        kind: FieldType,
    },
    /// `event.PROPERTY` of the journey's trigger event.
    TriggerProperty {
        property: String,
        kind: FieldType,
    },
}

impl FieldRef {
    pub fn kind(&self) -> &FieldType {
        match self {
            FieldRef::Attribute { kind, .. }
            | FieldRef::Property { kind, .. }
            | FieldRef::TriggerProperty { kind, .. } => kind,
        }
    }
}

/// Resolves a field name, or says why it does not resolve.
pub fn resolve_field(
    catalog: &Catalog,
    context: Context,
    place: Place,
    name: &Name,
) -> Result<FieldRef, Issue> {
    if let Place::Event(event) = place {
        let properties = catalog.events.get(event);
        if let Some(kind) = properties.and_then(|p| p.get(&name.text)) {
            return Ok(FieldRef::Property {
                property: name.text.clone(),
                kind: kind.clone(),
            });
        }
        let names = properties
            .into_iter()
            .flat_map(|p| p.keys().map(String::as_str));
        let issue = Issue::new(
            Code::UnknownEventProperty,
            name.range,
            format!("event `{event}` has no property `{}`", name.text),
        )
        .label("not a property of the event")
        .suggest(did_you_mean(&name.text, names));
        return Err(
            if catalog.attributes.contains_key(&name.text) && issue.help.is_none() {
                issue.help(format!(
                "inside `where` names are properties of `{event}`; move the condition on the contact attribute `{}` out of the event predicate",
                name.text
            ))
            } else {
                issue
            },
        );
    }
    if let Some((prefix, property)) = name.text.split_once('.') {
        let Some(event) = context.trigger_event.filter(|_| prefix == "event") else {
            return Err(Issue::new(
                Code::UnknownFilterAttribute,
                name.range,
                format!("`{}` is not a contact attribute", name.text),
            )
            .label("unknown attribute")
            .help(if prefix == "event" {
                "`event.*` properties exist only in journey trigger and `wait_for` filters".to_string()
            } else {
                format!(
                    "for an event's properties use `did {prefix} where {property} …` or `sum({prefix}.{property} …)`"
                )
            }));
        };
        return match catalog.property(event, property) {
            Some(kind) => Ok(FieldRef::TriggerProperty {
                property: property.to_string(),
                kind: kind.clone(),
            }),
            None => {
                let names = catalog
                    .events
                    .get(event)
                    .into_iter()
                    .flat_map(|p| p.keys().map(String::as_str));
                Err(Issue::new(
                    Code::UnknownEventProperty,
                    name.range,
                    format!("event `{event}` has no property `{property}`"),
                )
                .label("not a property of the trigger event")
                .suggest(
                    did_you_mean(property, names)
                        .map(|close| format!("event.{close}"))
                        .as_deref(),
                ))
            }
        };
    }
    match catalog.attributes.get(&name.text) {
        Some(kind) => Ok(FieldRef::Attribute {
            name: name.text.clone(),
            kind: kind.clone(),
        }),
        None => {
            let names = catalog.attributes.keys().map(String::as_str);
            Err(Issue::new(
                Code::UnknownFilterAttribute,
                name.range,
                format!("unknown contact attribute `{}`", name.text),
            )
            .label("not a built-in field or declared attribute")
            .suggest(did_you_mean(&name.text, names))
            .help_if_none("declare it under `contact.attributes` in herald.yaml"))
        }
    }
}

impl Issue {
    fn help_if_none(self, help: impl Into<String>) -> Issue {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}

/// Checks a filter; an empty list means it is well typed.
pub fn check(expr: &Expr, catalog: &Catalog, context: Context) -> Vec<Issue> {
    let mut checker = Checker {
        catalog,
        context,
        issues: Vec::new(),
    };
    checker.expr(expr, Place::Contact);
    checker.issues
}

struct Checker<'a> {
    catalog: &'a Catalog,
    context: Context<'a>,
    issues: Vec<Issue>,
}

impl<'a> Checker<'a> {
    fn expr(&mut self, expr: &'a Expr, place: Place<'a>) {
        match &expr.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                for item in items {
                    self.expr(item, place);
                }
            }
            ExprKind::Not(inner) => self.expr(inner, place),
            ExprKind::InSegment(_) | ExprKind::Reachable(_) | ExprKind::Did(_)
                if place != Place::Contact =>
            {
                self.issues.push(
                    Issue::new(
                        Code::InvalidCondition,
                        expr.range,
                        "inside `where` only conditions on the event's properties are allowed",
                    )
                    .label("not a condition on the event")
                    .help("move it out of the event predicate, joined with `and`"),
                );
            }
            // Segment names are resolved with the other references (R001, R006).
            ExprKind::InSegment(_) => {}
            ExprKind::Reachable(channel) => self.reachable(channel),
            ExprKind::Did(predicate) => {
                self.selection(&predicate.selection);
            }
            ExprKind::Condition(condition) => self.condition(condition, place),
        }
    }

    fn reachable(&mut self, channel: &Name) {
        if !self.catalog.channels.contains(&channel.text) {
            let names = self.catalog.channels.iter().map(String::as_str);
            self.issues.push(
                Issue::new(
                    Code::UnknownChannel,
                    channel.range,
                    format!("channel `{}` is not declared in herald.yaml", channel.text),
                )
                .label("not declared")
                .suggest(did_you_mean(&channel.text, names)),
            );
        } else if channel_address(&channel.text).is_none() {
            self.issues.push(
                Issue::new(
                    Code::InvalidCondition,
                    channel.range,
                    format!("contacts have no address field for `{}`", channel.text),
                )
                .label("reachability unknown"),
            );
        }
    }

    /// Checks the event name and `where` clause; returns whether the event is known.
    fn selection(&mut self, selection: &'a EventSelection) -> bool {
        let event = &selection.event;
        if !self.catalog.events.contains_key(&event.text) {
            let names = self.catalog.events.keys().map(String::as_str);
            self.issues.push(
                Issue::new(
                    Code::UnknownFilterEvent,
                    event.range,
                    format!("unknown event `{}`", event.text),
                )
                .label("not declared under `events:`")
                .suggest(did_you_mean(&event.text, names))
                .help_if_none("declare it under `events:` in herald.yaml"),
            );
            return false;
        }
        if let Some(condition) = &selection.condition {
            self.expr(condition, Place::Event(&event.text));
        }
        true
    }

    /// The operand's type, or `None` after reporting why it has none.
    fn operand(&mut self, operand: &'a Operand, place: Place<'a>) -> Option<FieldType> {
        match operand {
            Operand::Field(name) => match resolve_field(self.catalog, self.context, place, name) {
                Ok(field) => Some(field.kind().clone()),
                Err(issue) => {
                    self.issues.push(issue);
                    None
                }
            },
            Operand::Function {
                function, argument, ..
            } => {
                let field = match resolve_field(self.catalog, self.context, place, argument) {
                    Ok(field) => field,
                    Err(issue) => {
                        self.issues.push(issue);
                        return None;
                    }
                };
                if !field.kind().is_temporal() {
                    self.issues.push(
                        Issue::new(
                            Code::InvalidCondition,
                            argument.range,
                            format!(
                                "`{}` needs a date or datetime, and `{}` is {}",
                                function.name(),
                                argument.text,
                                article(field.kind())
                            ),
                        )
                        .label("not a date"),
                    );
                    return None;
                }
                Some(FieldType::Integer)
            }
            Operand::Aggregate {
                aggregate,
                selection,
                property,
                range,
            } => {
                if place != Place::Contact {
                    self.issues.push(
                        Issue::new(
                            Code::InvalidCondition,
                            *range,
                            "aggregates cannot be nested inside `where`",
                        )
                        .label("nested aggregate"),
                    );
                    return None;
                }
                if !self.selection(selection) {
                    return None;
                }
                let event = &selection.event.text;
                match (aggregate, property) {
                    (Aggregate::Count, None) => Some(FieldType::Integer),
                    (Aggregate::Count, Some(property)) => {
                        self.issues.push(
                            Issue::new(
                                Code::InvalidCondition,
                                property.range,
                                "`count` counts events, not a property's values",
                            )
                            .label("remove the property")
                            .help(format!(
                                "write `count({event} …)`, with `where {} is set` to count only events that have it",
                                property.text
                            )),
                        );
                        None
                    }
                    (_, None) => {
                        self.issues.push(
                            Issue::new(
                                Code::InvalidCondition,
                                selection.event.range,
                                format!("`{}` needs the property to aggregate", aggregate.name()),
                            )
                            .label("no property")
                            .help(format!("write `{}({event}.PROPERTY …)`", aggregate.name())),
                        );
                        None
                    }
                    (_, Some(property)) => {
                        let Some(kind) = self.catalog.property(event, &property.text) else {
                            let names = self
                                .catalog
                                .events
                                .get(event)
                                .into_iter()
                                .flat_map(|p| p.keys().map(String::as_str));
                            self.issues.push(
                                Issue::new(
                                    Code::UnknownEventProperty,
                                    property.range,
                                    format!("event `{event}` has no property `{}`", property.text),
                                )
                                .label("not a property of the event")
                                .suggest(did_you_mean(&property.text, names)),
                            );
                            return None;
                        };
                        let allowed = match aggregate {
                            Aggregate::Sum | Aggregate::Avg => kind.is_numeric(),
                            _ => kind.is_ordered(),
                        };
                        if !allowed {
                            self.issues.push(
                                Issue::new(
                                    Code::NonNumericAggregate,
                                    property.range,
                                    format!(
                                        "`{}` of `{event}.{}`, which is {}",
                                        aggregate.name(),
                                        property.text,
                                        article(kind)
                                    ),
                                )
                                .label("not a number")
                                .help(format!(
                                    "aggregate a numeric property, or count the events: `count({event} where …)`"
                                )),
                            );
                            return None;
                        }
                        Some(match aggregate {
                            Aggregate::Avg => FieldType::Number,
                            _ => kind.clone(),
                        })
                    }
                }
            }
        }
    }

    fn condition(&mut self, condition: &'a Condition, place: Place<'a>) {
        let Some(kind) = self.operand(&condition.operand, place) else {
            return;
        };
        let operand_text = match &condition.operand {
            Operand::Field(name) => format!("`{}`", name.text),
            Operand::Function {
                function, argument, ..
            } => format!("`{}({})`", function.name(), argument.text),
            Operand::Aggregate { aggregate, .. } => format!("the `{}`", aggregate.name()),
        };
        let test = &condition.test;
        let defined = match test {
            Test::Compare(Comparison::Equal | Comparison::NotEqual, _) => kind != FieldType::List,
            Test::Compare(..) | Test::Between(..) => kind.is_ordered(),
            Test::In(_) | Test::NotIn(_) => matches!(
                kind,
                FieldType::String | FieldType::Enum(_) | FieldType::Integer | FieldType::Number
            ),
            Test::Contains(_) | Test::StartsWith(_) | Test::EndsWith(_) => {
                kind == FieldType::String
            }
            Test::IsSet | Test::IsNotSet => true,
            Test::Has(_) | Test::HasAny(_) | Test::HasAll(_) => kind == FieldType::List,
            Test::Within(_) | Test::Before(_) | Test::After(_) => kind.is_temporal(),
        };
        if !defined {
            let help = match (&kind, test) {
                (FieldType::List, Test::Compare(..) | Test::In(_) | Test::Contains(_)) => {
                    "for lists use `has`, `has any [...]` or `has all [...]`"
                }
                (FieldType::String, Test::Has(_)) => "for strings use `contains` or `=`",
                (FieldType::Enum(_), _) => "enums take `=`, `!=`, `in [...]` and `not in [...]`",
                (_, Test::Within(_) | Test::Before(_) | Test::After(_)) => {
                    "`within`, `before` and `after` apply to dates and datetimes"
                }
                _ => "compare with `=`, `!=`, `in [...]`, or `is set`",
            };
            self.issues.push(
                Issue::new(
                    Code::InvalidCondition,
                    condition.test_range,
                    format!(
                        "`{}` is not defined for {operand_text}, which is {}",
                        test.keyword(),
                        article(&kind)
                    ),
                )
                .label(format!("not defined for {}", kind.name()))
                .help(help),
            );
            return;
        }
        for literal in test.literals() {
            self.literal(&kind, literal, test, &operand_text);
        }
    }

    fn literal(&mut self, kind: &FieldType, literal: &Literal, test: &Test, operand: &str) {
        let value = &literal.value;
        let element_of_list = matches!(test, Test::Has(_) | Test::HasAny(_) | Test::HasAll(_));
        let fits = match (kind, value) {
            (FieldType::List, LiteralValue::String(_)) => element_of_list,
            (FieldType::String, LiteralValue::String(_)) => true,
            (FieldType::Enum(values), LiteralValue::String(text)) => {
                if !values.contains(text) {
                    let close = did_you_mean(text, values.iter().map(String::as_str));
                    self.issues.push(
                        Issue::new(
                            Code::UndeclaredEnumValue,
                            literal.range,
                            format!("{operand} has no value \"{text}\""),
                        )
                        .label("not a declared value")
                        .suggest(close)
                        .help_if_none(crate::suggestion::enum_values_help(text, values)),
                    );
                }
                true
            }
            (FieldType::Integer | FieldType::Number, LiteralValue::Integer(_)) => true,
            (FieldType::Number, LiteralValue::Decimal(_)) => true,
            (FieldType::Integer, LiteralValue::Decimal(_)) => !matches!(
                test,
                Test::Compare(Comparison::Equal | Comparison::NotEqual, _)
                    | Test::In(_)
                    | Test::NotIn(_)
            ),
            (FieldType::Boolean, LiteralValue::Boolean(_)) => true,
            (FieldType::Date, LiteralValue::Date(_)) => true,
            (FieldType::Datetime, LiteralValue::Date(_) | LiteralValue::DateTime { .. }) => true,
            _ => false,
        };
        if !fits {
            let expected = match kind {
                FieldType::List => "a string element",
                FieldType::String | FieldType::Enum(_) => "a string in double quotes",
                FieldType::Integer => "a whole number",
                FieldType::Number => "a number",
                FieldType::Boolean => "`true` or `false`",
                FieldType::Date => "a date (YYYY-MM-DD)",
                FieldType::Datetime => "a date or datetime",
            };
            self.issues.push(
                Issue::new(
                    Code::LiteralTypeMismatch,
                    literal.range,
                    format!(
                        "{operand} is {}, compared with {}",
                        article(kind),
                        value.describe()
                    ),
                )
                .label(format!("expected {expected}")),
            );
        }
    }
}

fn article(kind: &FieldType) -> String {
    match kind {
        FieldType::Integer | FieldType::Enum(_) => format!("an {}", kind.name()),
        _ => format!("a {}", kind.name()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::segment::parse;

    /// The data model the SPEC examples are written against.
    pub fn catalog() -> Catalog {
        let mut catalog = Catalog {
            timezone: "Europe/Moscow".into(),
            channels: vec!["email".into(), "sms".into()],
            ..Catalog::default()
        };
        for (name, kind) in [
            ("id", FieldType::String),
            ("email", FieldType::String),
            ("phone", FieldType::String),
            ("timezone", FieldType::String),
            ("created_at", FieldType::Datetime),
            ("orders_count", FieldType::Integer),
            ("total_spent", FieldType::Number),
            ("last_purchase_at", FieldType::Datetime),
            ("birthday", FieldType::Date),
            ("city", FieldType::String),
            ("tags", FieldType::List),
            ("subscribed", FieldType::Boolean),
            (
                "gender",
                FieldType::Enum(vec!["female".into(), "male".into()]),
            ),
            (
                "loyalty",
                FieldType::Enum(vec!["bronze".into(), "silver".into(), "gold".into()]),
            ),
        ] {
            catalog.attributes.insert(name.into(), kind);
        }
        catalog.events.insert(
            "purchase".into(),
            [
                ("amount".to_string(), FieldType::Number),
                ("category".to_string(), FieldType::String),
                ("order_id".to_string(), FieldType::String),
            ]
            .into_iter()
            .collect(),
        );
        catalog
    }

    fn issues(text: &str) -> Vec<Issue> {
        check(&parse(text).unwrap(), &catalog(), Context::default())
    }

    #[test]
    fn readme_examples_type_check() {
        let readme = include_str!("../../grammar/README.md");
        let mut examples = 0;
        for block in readme.split("```filter\n").skip(1) {
            let block = block.split("```").next().unwrap_or_default();
            for line in block.lines().filter(|l| !l.trim().is_empty()) {
                let expr = parse(line).unwrap_or_else(|e| panic!("{line}: {e:?}"));
                assert_eq!(
                    check(&expr, &catalog(), Context::default()),
                    vec![],
                    "{line}"
                );
                assert_eq!(
                    crate::segment::analysis::analyse(&expr, line),
                    vec![],
                    "{line}"
                );
                examples += 1;
            }
        }
        assert!(examples > 30, "{examples}");
    }

    #[test]
    fn spec_examples_type_check() {
        for line in crate::segment::parser::tests::SPEC_EXAMPLES
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            assert_eq!(issues(line), vec![], "{line}");
        }
    }

    #[track_caller]
    fn one(text: &str, code: Code, marked: &str) -> Issue {
        let found = issues(text);
        assert_eq!(found.len(), 1, "{text}: {found:#?}");
        let issue = found.into_iter().next().unwrap();
        assert_eq!(issue.code, code, "{text}: {issue:?}");
        assert_eq!(&text[issue.range.start..issue.range.end], marked, "{text}");
        issue
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let issue = one(
            "total_spend > 1",
            Code::UnknownFilterAttribute,
            "total_spend",
        );
        assert_eq!(issue.help.as_deref(), Some("did you mean `total_spent`?"));
        one("did purchse", Code::UnknownFilterEvent, "purchse");
        one(
            "sum(purchase.ammount) > 1",
            Code::UnknownEventProperty,
            "ammount",
        );
        one(
            "did purchase where categroy = \"x\"",
            Code::UnknownEventProperty,
            "categroy",
        );
        let issue = one(
            "did purchase where city = \"x\"",
            Code::UnknownEventProperty,
            "city",
        );
        assert!(issue.help.unwrap().contains("contact attribute"));
        one(
            "event.amount > 1",
            Code::UnknownFilterAttribute,
            "event.amount",
        );
        one("reachable by smss", Code::UnknownChannel, "smss");
    }

    #[test]
    fn trigger_event_properties_are_available_in_trigger_filters() {
        let expr = parse("event.amount > 100 and event.category = \"shoes\"").unwrap();
        let context = Context {
            trigger_event: Some("purchase"),
        };
        assert_eq!(check(&expr, &catalog(), context), vec![]);
        let expr = parse("event.amout > 100").unwrap();
        let found = check(&expr, &catalog(), context);
        assert_eq!(found[0].code, Code::UnknownEventProperty);
        assert_eq!(
            found[0].help.as_deref(),
            Some("did you mean `event.amount`?")
        );
    }

    #[test]
    fn tests_must_fit_the_type() {
        one("city > 5", Code::InvalidCondition, "> 5");
        one(
            "tags contains \"vip\"",
            Code::InvalidCondition,
            "contains \"vip\"",
        );
        one(
            "orders_count contains \"1\"",
            Code::InvalidCondition,
            "contains \"1\"",
        );
        one(
            "city within 3 days",
            Code::InvalidCondition,
            "within 3 days",
        );
        one("age(city) > 3", Code::InvalidCondition, "city");
        one(
            "count(purchase.amount) > 3",
            Code::InvalidCondition,
            "amount",
        );
        one("sum(purchase) > 3", Code::InvalidCondition, "purchase");
        one(
            "did purchase where did purchase",
            Code::InvalidCondition,
            "did purchase",
        );
        one("loyalty < \"gold\"", Code::InvalidCondition, "< \"gold\"");
    }

    #[test]
    fn literals_must_fit_the_type() {
        one("orders_count > \"5\"", Code::LiteralTypeMismatch, "\"5\"");
        one("birthday = 1990", Code::LiteralTypeMismatch, "1990");
        one("subscribed = \"yes\"", Code::LiteralTypeMismatch, "\"yes\"");
        one("orders_count = 2.5", Code::LiteralTypeMismatch, "2.5");
        one(
            "birthday after 2020-01-01T10:00",
            Code::LiteralTypeMismatch,
            "2020-01-01T10:00",
        );
        one("tags has 5", Code::LiteralTypeMismatch, "5");
        assert_eq!(issues("orders_count > 2.5"), vec![]);
        assert_eq!(issues("created_at = 2026-01-01"), vec![]);
    }

    #[test]
    fn enum_values_must_be_declared() {
        let issue = one("loyalty = \"Gold\"", Code::UndeclaredEnumValue, "\"Gold\"");
        assert_eq!(issue.help.as_deref(), Some("did you mean `gold`?"));
        one(
            "loyalty in [\"gold\", \"platinum\"]",
            Code::UndeclaredEnumValue,
            "\"platinum\"",
        );
    }

    #[test]
    fn aggregates_need_numbers() {
        one(
            "sum(purchase.category) > 3",
            Code::NonNumericAggregate,
            "category",
        );
        assert_eq!(issues("max(purchase.amount within 30 days) > 3"), vec![]);
        assert_eq!(issues("avg(purchase.amount) > 3.5"), vec![]);
    }
}
