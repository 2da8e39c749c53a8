//! Two journeys on the same trigger, whose audiences can overlap, with no
//! `priority` between them.
//!
//! ## Why it matters
//! When one event starts two journeys, the runner must know which one wins
//! when they would send to the same contact at once (an abandoned-cart
//! reminder and a browse-abandonment one). Without priorities the order is
//! an accident of file names. Journeys whose audiences are provably disjoint
//! (`loyalty = "gold"` against `loyalty = "basic"`) need no priority.
//!
//! ## Example
//! `journeys/cart.yaml` and `journeys/cart_vip.yaml`, both with
//! `trigger: {event: cart_abandoned}` and no `priority`.
//!
//! ## Fix
//! ```yaml
//! # journeys/cart_vip.yaml
//! priority: 20
//! # journeys/cart.yaml
//! priority: 10
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    let journeys = &context.project.journeys;
    let audiences = &context.audiences;
    for (index, first) in journeys.iter().enumerate() {
        let Some(first_trigger) = &first.value.trigger.event else {
            continue;
        };
        for second in &journeys[index + 1..] {
            let Some(second_trigger) = &second.value.trigger.event else {
                continue;
            };
            if first_trigger.value != second_trigger.value {
                continue;
            }
            let (a, b) = (first.value.priority, second.value.priority);
            if a.is_some() && b.is_some() && a != b {
                continue;
            }
            if let (Some(first_audience), Some(second_audience)) =
                (audiences.journey(first), audiences.journey(second))
                && audiences.disjoint(&first_audience, &second_audience)
            {
                continue;
            }
            let span = |journey: &crate::loader::Definition<crate::model::Journey>| {
                journey
                    .node
                    .entry("priority")
                    .map(|(key, _)| key.span(journey.file))
                    .or_else(|| {
                        journey
                            .value
                            .trigger
                            .event
                            .as_ref()
                            .map(|e| e.span(journey.file))
                    })
                    .unwrap_or(Span::new(journey.file, 0, 0))
            };
            let problem = if a.is_some() && a == b {
                "the same priority"
            } else {
                "no priority between them"
            };
            out.push(
                Diagnostic::new(
                    Code::MissingPriority,
                    span(second),
                    format!(
                        "journeys `{}` and `{}` both start on `{}` with {problem}",
                        first.name, second.name, first_trigger.value
                    ),
                )
                .label("which one wins is undefined")
                .with_secondary(
                    span(first),
                    format!("`{}` starts on the same event", first.name),
                )
                .help("give each a different `priority:` (higher wins)"),
            );
        }
    }
}
