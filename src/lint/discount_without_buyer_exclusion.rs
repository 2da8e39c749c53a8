//! A discount campaign (one with an `offer`) whose audience does not leave
//! out contacts who bought recently.
//!
//! ## Why it matters
//! A customer who paid full price last week and now gets "-25% on
//! everything" feels cheated, and the ones who just bought with 15% off
//! learn to wait for the next, bigger discount. Recent buyers are left out
//! of discount sends as a rule.
//!
//! ## Example
//! ```yaml
//! offer: "-25%"
//! audience:
//!   segment: lifecycle/active
//! ```
//!
//! ## Fix
//! ```yaml
//! offer: "-25%"
//! audience:
//!   segment: lifecycle/active
//!   exclude: [recent_buyers]     # filter: did purchase within 14 days
//! ```
//! herald recognises an exclusion by a segment in `exclude` that selects
//! recent buyers (`did purchase within …`, or a purchase-date attribute
//! `within …`), or by `did not purchase within …` / `… before … ago` in the
//! audience itself. The purchase event is the campaign's goal event, and
//! any event whose name contains `purchase` or `order`.

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::segment::ast::{Expr, ExprKind, Operand, Test, TimePoint};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    let segments = context.filters.segment_exprs();
    for campaign in &context.project.campaigns {
        let Some(offer) = &campaign.value.offer else {
            continue;
        };
        let goal = campaign.value.goal.as_ref().map(|g| g.event.value.as_str());
        let is_purchase_event =
            |name: &str| Some(name) == goal || name.contains("purchase") || name.contains("order");
        let is_purchase_date = |name: &str| name.contains("purchase") || name.contains("order");
        let audience = &campaign.value.audience;
        let excluded = audience.exclude.iter().any(|name| {
            segments.get(&name.value).is_some_and(|expr| {
                selects(expr, &segments, 0, &|e| {
                    recent_buyers(e, &is_purchase_event, &is_purchase_date)
                })
            })
        });
        let left_out = audience
            .segment
            .as_ref()
            .and_then(|name| segments.get(&name.value))
            .into_iter()
            .chain(
                context
                    .filters
                    .filters
                    .iter()
                    .filter(|f| matches!(&f.site, crate::segment::check::Site::Audience { campaign: c } if *c == campaign.name))
                    .filter_map(|f| f.expr.as_ref()),
            )
            .any(|expr| selects(expr, &segments, 0, &|e| not_recent_buyers(e, &is_purchase_event, &is_purchase_date)));
        if !excluded && !left_out {
            // Advice in the project's own words: its purchase event, not a generic name.
            let event = goal
                .or_else(|| {
                    context.manifest.and_then(|manifest| {
                        manifest
                            .events
                            .keys()
                            .map(|name| name.value.as_str())
                            .find(|name| is_purchase_event(name))
                    })
                })
                .unwrap_or("purchase");
            out.push(
                Diagnostic::new(
                    Code::DiscountWithoutBuyerExclusion,
                    offer.span(campaign.file),
                    format!("campaign `{}` offers `{}` to an audience that includes recent buyers", campaign.name, offer.value),
                )
                .label("a discount for people who just paid full price")
                .help(format!("add a segment such as `recent_buyers` (`did {event} within 14 days`) to `audience.exclude`")),
            );
        }
    }
}

/// Whether `expr` (through `and`s and `in segment`) contains a part that `test` accepts.
fn selects(
    expr: &Expr,
    segments: &std::collections::BTreeMap<String, Expr>,
    depth: usize,
    test: &dyn Fn(&Expr) -> bool,
) -> bool {
    if test(expr) {
        return true;
    }
    match &expr.kind {
        ExprKind::And(items) => items
            .iter()
            .any(|item| selects(item, segments, depth, test)),
        // A disjunction selects recent buyers only if every alternative does.
        ExprKind::Or(items) => items
            .iter()
            .all(|item| selects(item, segments, depth, test)),
        ExprKind::InSegment(name) if depth < 8 => segments
            .get(&name.text)
            .is_some_and(|inner| selects(inner, segments, depth + 1, test)),
        _ => false,
    }
}

fn recent_buyers(
    expr: &Expr,
    purchase_event: &dyn Fn(&str) -> bool,
    purchase_date: &dyn Fn(&str) -> bool,
) -> bool {
    match &expr.kind {
        ExprKind::Did(predicate) => {
            !predicate.negated
                && predicate.selection.window.is_some()
                && purchase_event(&predicate.selection.event.text)
        }
        ExprKind::Condition(condition) => matches!(
            (&condition.operand, &condition.test),
            (Operand::Field(name), Test::Within(_) | Test::After(_)) if purchase_date(&name.text)
        ),
        _ => false,
    }
}

fn not_recent_buyers(
    expr: &Expr,
    purchase_event: &dyn Fn(&str) -> bool,
    purchase_date: &dyn Fn(&str) -> bool,
) -> bool {
    match &expr.kind {
        ExprKind::Did(predicate) => {
            predicate.negated
                && predicate.selection.window.is_some()
                && purchase_event(&predicate.selection.event.text)
        }
        ExprKind::Condition(condition) => matches!(
            (&condition.operand, &condition.test),
            (Operand::Field(name), Test::Before(TimePoint::Ago(_))) if purchase_date(&name.text)
        ),
        ExprKind::Not(inner) => recent_buyers(inner, purchase_event, purchase_date),
        _ => false,
    }
}
