//! A/B weights that do not add up to 100: campaign `variants` or a journey `split`.
//!
//! ## Why it matters
//! Weights are shares of the audience in percent. If they add up to 90, a
//! tenth of the audience silently gets nothing (or, at 110, the test is
//! skewed), and the test's results cannot be read.
//!
//! ## Example
//! ```yaml
//! variants:
//!   - {name: a, weight: 50}
//!   - {name: b, weight: 40}
//! ```
//!
//! ## Fix
//! ```yaml
//! variants:
//!   - {name: a, weight: 50}
//!   - {name: b, weight: 50}
//! ```
//! Use `holdout:` for a control group that gets nothing.

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for campaign in &context.project.campaigns {
        let variants = &campaign.value.variants;
        if variants.is_empty() {
            continue;
        }
        let total: f64 = variants.iter().map(|v| v.weight).sum();
        let span = campaign
            .node
            .entry("variants")
            .map_or(Span::new(campaign.file, 0, 0), |(key, _)| {
                key.span(campaign.file)
            });
        report(
            out,
            span,
            total,
            &format!("the variants of campaign `{}`", campaign.name),
        );
    }
    for (journey, machine) in context.journeys() {
        for (index, step) in journey.value.steps.iter().enumerate() {
            let Some(split) = &step.split else { continue };
            let total: f64 = split.iter().map(|arm| arm.weight).sum();
            report(
                out,
                machine.states[index].span,
                total,
                &format!(
                    "the split in step {} of journey `{}`",
                    index + 1,
                    journey.name
                ),
            );
        }
    }
}

fn report(out: &mut Diagnostics, span: Span, total: f64, what: &str) {
    if (total - 100.0).abs() > 1e-9 {
        out.push(
            Diagnostic::new(Code::WeightsNot100, span, format!("the weights of {what} add up to {total}, not 100"))
                .label(format!("weights sum to {total}"))
                .help("weights are percentages of the audience; make them add up to 100 (use `holdout:` for a control group)"),
        );
    }
}
