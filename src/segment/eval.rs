//! In-memory evaluation of a filter for one contact with its events, for
//! journey branches, trigger filters and previews. It must select exactly
//! what the SQL in [`super::sql`] selects; a property test checks that on
//! generated contacts and filters.
//!
//! Missing values: every test on a missing value is false (`is not set`
//! aside), and `not` is plain boolean negation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::MAX_SEGMENT_NESTING;
use super::ast::*;
use super::catalog::{Catalog, FieldType, channel_address};
use super::functions::{self, Bound, Clock};
use super::typecheck::{Context, FieldRef, Place, resolve_field};
use crate::contact::{Contact, Event, Value};

/// Converts a JSON property value to a typed value (`None` when missing or of another type).
pub fn json_value(json: &Json, kind: &FieldType) -> Option<Value> {
    Some(match kind {
        FieldType::String | FieldType::Enum(_) => Value::String(json.as_str()?.to_string()),
        FieldType::Integer => match json.as_i64() {
            Some(value) => Value::Integer(value),
            None => Value::Number(json.as_f64()?),
        },
        FieldType::Number => Value::Number(json.as_f64()?),
        FieldType::Boolean => Value::Boolean(json.as_bool()?),
        FieldType::Date => Value::Date(functions::parse_date(json.as_str()?)?),
        FieldType::Datetime => Value::Datetime(functions::parse_instant(json.as_str()?)?),
        FieldType::List => Value::List(
            json.as_array()?
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
        ),
    })
}

/// Evaluates filters against contacts.
pub struct Evaluator<'a> {
    pub catalog: &'a Catalog,
    pub clock: &'a Clock,
    /// Parsed segment filters, for `in segment`.
    pub segments: &'a BTreeMap<String, Expr>,
    pub context: Context<'a>,
    /// The trigger event, for `event.*` in journey filters.
    pub trigger: Option<&'a Event>,
}

impl<'a> Evaluator<'a> {
    pub fn matches(&self, expr: &Expr, contact: &Contact) -> bool {
        self.expr(expr, contact, None, &mut Vec::new())
    }

    /// The operand's value for the contact outside any event (`None` when
    /// missing), as the evaluator sees it: `--why` shows it next to the test.
    pub fn operand_value(&self, operand: &Operand, contact: &Contact) -> Option<Value> {
        self.operand(operand, contact, None, Place::Contact)
            .and_then(|(_, value)| value)
    }

    /// How many of the contact's events a selection ranges over.
    pub fn selected_count(&self, selection: &EventSelection, contact: &Contact) -> usize {
        self.selected(selection, contact).count()
    }

    fn expr(
        &self,
        expr: &Expr,
        contact: &Contact,
        event: Option<&Event>,
        stack: &mut Vec<String>,
    ) -> bool {
        match &expr.kind {
            ExprKind::Or(items) => items
                .iter()
                .any(|item| self.expr(item, contact, event, stack)),
            ExprKind::And(items) => items
                .iter()
                .all(|item| self.expr(item, contact, event, stack)),
            ExprKind::Not(inner) => !self.expr(inner, contact, event, stack),
            ExprKind::InSegment(name) => {
                // A cycle or a chain deeper than the limit is a compile
                // error (F011); here it just selects nobody.
                if stack.contains(&name.text) || stack.len() >= MAX_SEGMENT_NESTING {
                    return false;
                }
                let Some(segment) = self.segments.get(&name.text) else {
                    return false;
                };
                stack.push(name.text.clone());
                let result = self.expr(segment, contact, None, stack);
                stack.pop();
                result
            }
            ExprKind::Reachable(channel) => reachable(contact, &channel.text),
            ExprKind::Did(predicate) => {
                let found = self
                    .selected(&predicate.selection, contact)
                    .next()
                    .is_some();
                found != predicate.negated
            }
            ExprKind::Condition(condition) => {
                let place = match event {
                    Some(event) => Place::Event(&event.event),
                    None => Place::Contact,
                };
                let Some((kind, value)) = self.operand(&condition.operand, contact, event, place)
                else {
                    return false;
                };
                self.test(&kind, value, &condition.test, contact)
            }
        }
    }

    /// The contact's events a selection ranges over.
    fn selected<'c>(
        &'c self,
        selection: &'c EventSelection,
        contact: &'c Contact,
    ) -> impl Iterator<Item = &'c Event> + 'c {
        let now = self.clock.now.as_second();
        let start = selection
            .window
            .map(|window| self.clock.ago(window.duration).as_second());
        contact.events.iter().filter(move |event| {
            event.event == selection.event.text
                && event.at <= now
                && start.is_none_or(|start| event.at >= start)
                && selection.condition.as_ref().is_none_or(|condition| {
                    self.expr(condition, contact, Some(event), &mut Vec::new())
                })
        })
    }

    /// The operand's type and value (`None` value when missing); `None` when
    /// the operand does not resolve (a filter that did not type-check).
    fn operand(
        &self,
        operand: &Operand,
        contact: &Contact,
        event: Option<&Event>,
        place: Place,
    ) -> Option<(FieldType, Option<Value>)> {
        match operand {
            Operand::Field(name) => {
                let field = resolve_field(self.catalog, self.context, place, name).ok()?;
                let value = self.field_value(&field, contact, event);
                Some((field.kind().clone(), value))
            }
            Operand::Function {
                function, argument, ..
            } => {
                let field = resolve_field(self.catalog, self.context, place, argument).ok()?;
                let value = self.field_value(&field, contact, event);
                let zone = contact.timezone();
                let project = &self.clock.timezone_name;
                let now = self.clock.now.as_second();
                let result = value.and_then(|value| {
                    let today = functions::local_date(now, zone, project)?;
                    let date = match value {
                        Value::Date(date) => date,
                        Value::Datetime(seconds) => {
                            if *function == Function::DaysSince {
                                return Some(functions::days_since_instant(seconds, now));
                            }
                            functions::local_date(seconds, zone, project)?
                        }
                        _ => return None,
                    };
                    match function {
                        Function::Age => Some(functions::age(date, today)),
                        Function::DaysSince => functions::days_between(date, today),
                        Function::DaysUntilAnniversary => {
                            functions::days_until_anniversary(date, today)
                        }
                    }
                });
                Some((FieldType::Integer, result.map(Value::Integer)))
            }
            Operand::Aggregate {
                aggregate,
                selection,
                property,
                ..
            } => {
                let events = self.selected(selection, contact);
                if *aggregate == Aggregate::Count {
                    return Some((
                        FieldType::Integer,
                        Some(Value::Integer(events.count() as i64)),
                    ));
                }
                let property = property.as_ref()?;
                let kind = self
                    .catalog
                    .property(&selection.event.text, &property.text)?
                    .clone();
                let values: Vec<Value> = events
                    .filter_map(|event| json_value(event.properties.get(&property.text)?, &kind))
                    .collect();
                let numbers = || values.iter().filter_map(number);
                let result = match aggregate {
                    // `+ 0.0`: the sum of no numbers is -0.0 in Rust, which
                    // `--why` would show as such; SQL's total is 0.
                    Aggregate::Sum => Some(Value::Number(numbers().sum::<f64>() + 0.0)),
                    Aggregate::Avg => {
                        let count = numbers().count();
                        (count > 0).then(|| Value::Number(numbers().sum::<f64>() / count as f64))
                    }
                    Aggregate::Min | Aggregate::Max => {
                        let mut best: Option<Value> = None;
                        for value in values {
                            let better = match &best {
                                None => true,
                                Some(current) => {
                                    let ordering = compare(&value, current);
                                    if *aggregate == Aggregate::Min {
                                        ordering == Some(Ordering::Less)
                                    } else {
                                        ordering == Some(Ordering::Greater)
                                    }
                                }
                            };
                            if better {
                                best = Some(value);
                            }
                        }
                        best
                    }
                    Aggregate::Count => None,
                };
                let kind = match aggregate {
                    Aggregate::Sum | Aggregate::Avg => FieldType::Number,
                    _ => kind,
                };
                Some((kind, result))
            }
        }
    }

    fn field_value(
        &self,
        field: &FieldRef,
        contact: &Contact,
        event: Option<&Event>,
    ) -> Option<Value> {
        match field {
            FieldRef::Attribute { name, .. } if name == "id" => {
                Some(Value::String(contact.id.clone()))
            }
            FieldRef::Attribute { name, .. } => contact.attributes.get(name).cloned(),
            FieldRef::Property { property, kind } => {
                json_value(event?.properties.get(property)?, kind)
            }
            FieldRef::TriggerProperty { property, kind } => {
                json_value(self.trigger?.properties.get(property)?, kind)
            }
        }
    }

    fn test(&self, kind: &FieldType, value: Option<Value>, test: &Test, contact: &Contact) -> bool {
        match test {
            Test::IsSet => return value.is_some(),
            Test::IsNotSet => return value.is_none(),
            _ => {}
        }
        let Some(value) = value else {
            return false;
        };
        if kind.is_temporal()
            && let Some(bounds) =
                functions::temporal_bounds(*kind == FieldType::Datetime, test, self.clock)
        {
            let mut parts = bounds
                .parts
                .iter()
                .map(|(comparison, bound)| self.bound_holds(&value, *comparison, bound, contact));
            return if bounds.any {
                parts.any(|holds| holds)
            } else {
                parts.all(|holds| holds)
            };
        }
        let exact = matches!(kind, FieldType::Enum(_));
        let equal = |literal: &Literal| literal_equals(&value, &literal.value, exact);
        match test {
            Test::Compare(comparison, literal) => match (comparison, &value) {
                (Comparison::Equal, _) => equal(literal),
                (Comparison::NotEqual, _) => !equal(literal),
                _ => literal_order(&value, &literal.value)
                    .is_some_and(|ordering| comparison.holds(ordering)),
            },
            Test::Between(low, high) => {
                literal_order(&value, &low.value).is_some_and(|o| o != Ordering::Less)
                    && literal_order(&value, &high.value).is_some_and(|o| o != Ordering::Greater)
            }
            Test::In(list) => list.iter().any(equal),
            Test::NotIn(list) => !list.iter().any(equal),
            Test::Contains(literal) | Test::StartsWith(literal) | Test::EndsWith(literal) => {
                let (Value::String(text), LiteralValue::String(needle)) = (&value, &literal.value)
                else {
                    return false;
                };
                let (text, needle) = (functions::fold(text), functions::fold(needle));
                match test {
                    Test::Contains(_) => text.contains(&needle),
                    Test::StartsWith(_) => text.starts_with(&needle),
                    _ => text.ends_with(&needle),
                }
            }
            Test::Has(literal) => list_has(&value, literal),
            Test::HasAny(list) => list.iter().any(|literal| list_has(&value, literal)),
            Test::HasAll(list) => list.iter().all(|literal| list_has(&value, literal)),
            Test::IsSet | Test::IsNotSet | Test::Within(_) | Test::Before(_) | Test::After(_) => {
                false
            }
        }
    }

    fn bound_holds(
        &self,
        value: &Value,
        comparison: Comparison,
        bound: &Bound,
        contact: &Contact,
    ) -> bool {
        let zone = contact.timezone();
        let project = &self.clock.timezone_name;
        let ordering = match (value, bound) {
            (Value::Datetime(seconds), Bound::Instant(other)) => Some(seconds.cmp(other)),
            (Value::Datetime(seconds), Bound::LocalInstant(civil)) => {
                functions::local_instant(*civil, zone, project).map(|other| seconds.cmp(&other))
            }
            (Value::Date(date), Bound::Date(other)) => Some(date.cmp(other)),
            (Value::Date(date), Bound::LocalDateOf(seconds)) => {
                functions::local_date(*seconds, zone, project).map(|other| date.cmp(&other))
            }
            _ => None,
        };
        ordering.is_some_and(|ordering| comparison.holds(ordering))
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(value) => Some(*value as f64),
        Value::Number(value) => Some(*value),
        _ => None,
    }
}

fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        (Value::Datetime(a), Value::Datetime(b)) => Some(a.cmp(b)),
        _ => number(left)?.partial_cmp(&number(right)?),
    }
}

fn literal_order(value: &Value, literal: &LiteralValue) -> Option<Ordering> {
    match (value, literal) {
        (Value::Integer(a), LiteralValue::Integer(b)) => Some(a.cmp(b)),
        _ => number(value)?.partial_cmp(&literal.as_number()?),
    }
}

fn literal_equals(value: &Value, literal: &LiteralValue, exact: bool) -> bool {
    match (value, literal) {
        (Value::String(a), LiteralValue::String(b)) if exact => a == b,
        (Value::String(a), LiteralValue::String(b)) => functions::fold(a) == functions::fold(b),
        (Value::Boolean(a), LiteralValue::Boolean(b)) => a == b,
        _ => literal_order(value, literal) == Some(Ordering::Equal),
    }
}

fn list_has(value: &Value, literal: &Literal) -> bool {
    let (Value::List(items), LiteralValue::String(needle)) = (value, &literal.value) else {
        return false;
    };
    let needle = functions::fold(needle);
    items.iter().any(|item| functions::fold(item) == needle)
}

/// An address for the channel, consent granted, and no suppression.
pub fn reachable(contact: &Contact, channel: &str) -> bool {
    let Some(field) = channel_address(channel) else {
        return false;
    };
    let has_address = matches!(contact.attributes.get(field), Some(Value::String(address)) if !address.is_empty());
    has_address
        && contact.consents.get(channel) == Some(&true)
        && !contact.suppressions.contains(channel)
        && !contact.suppressions.contains("*")
}
