//! A negative event condition (`did not purchase within 6 months`) that also
//! matches contacts who joined less than that long ago.
//!
//! ## Why it matters
//! A contact who signed up last week has not bought in the last six months
//! either: they never had the chance. A "we miss you" or "lapsed customer"
//! segment written this way sends reactivation mail to brand-new
//! subscribers.
//!
//! ## Example
//! ```yaml
//! filter: did not purchase within 6 months
//! ```
//!
//! ## Fix
//! ```yaml
//! filter: did not purchase within 6 months and created_at before 6 months ago
//! ```
//! (`days_since(created_at) > 180` also counts as a guard.)

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::{Duration, Unit};
use crate::segment::ast::{
    Comparison, Condition, Expr, ExprKind, Function, LiteralValue, Operand, Test, TimePoint,
};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    let segments = context.filters.segment_exprs();
    for filter in context.filters.filters.iter().filter(|f| f.valid) {
        let Some(expr) = &filter.expr else { continue };
        let mut found = Vec::new();
        visit(expr, 0, &segments, &mut found);
        for (range, window) in found {
            out.push(
                Diagnostic::new(Code::UnguardedNegativeCondition, filter.location.span(range), format!("this also matches contacts who joined less than {window} ago"))
                    .label("new contacts never had the chance")
                    .help(format!("add `and created_at before {window} ago` so only contacts older than the window match")),
            );
        }
    }
}

/// Walks positive positions, carrying the longest `created_at` guard (in
/// minutes) that holds in the enclosing conjunctions.
fn visit(
    expr: &Expr,
    guard: i64,
    segments: &std::collections::BTreeMap<String, Expr>,
    found: &mut Vec<(crate::segment::ast::Range, Duration)>,
) {
    match &expr.kind {
        ExprKind::And(items) => {
            let local = items
                .iter()
                .map(|item| guard_of(item, segments, 0))
                .max()
                .unwrap_or(0)
                .max(guard);
            for item in items {
                visit(item, local, segments, found);
            }
        }
        ExprKind::Or(items) => {
            for item in items {
                visit(item, guard, segments, found);
            }
        }
        ExprKind::Did(predicate) if predicate.negated => {
            if let Some(window) = predicate.selection.window
                && window.duration.approximate_minutes() > guard
            {
                found.push((expr.range, window.duration));
            }
        }
        // Under `not` the condition is positive again and other rules apply; stop.
        _ => {}
    }
}

/// How old (in minutes) a contact must be for `expr` to hold, as far as a
/// `created_at` condition in it (or in a referenced segment's conjunction) says.
fn guard_of(expr: &Expr, segments: &std::collections::BTreeMap<String, Expr>, depth: usize) -> i64 {
    match &expr.kind {
        ExprKind::Condition(Condition { operand, test, .. }) => match (operand, test) {
            (Operand::Field(name), Test::Before(TimePoint::Ago(ago)))
                if name.text == "created_at" =>
            {
                ago.duration.approximate_minutes()
            }
            (
                Operand::Function {
                    function: Function::DaysSince,
                    argument,
                    ..
                },
                Test::Compare(comparison, literal),
            ) if argument.text == "created_at" => {
                let days = match (&literal.value, comparison) {
                    (LiteralValue::Integer(n), Comparison::Greater) => *n + 1,
                    (LiteralValue::Integer(n), Comparison::GreaterOrEqual) => *n,
                    _ => 0,
                };
                Duration {
                    amount: days.max(0) as u32,
                    unit: Unit::Day,
                }
                .approximate_minutes()
            }
            _ => 0,
        },
        ExprKind::And(items) => items
            .iter()
            .map(|item| guard_of(item, segments, depth))
            .max()
            .unwrap_or(0),
        ExprKind::InSegment(name) if depth < 8 => segments
            .get(&name.text)
            .map_or(0, |inner| guard_of(inner, segments, depth + 1)),
        _ => 0,
    }
}
