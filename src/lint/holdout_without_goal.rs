//! A campaign with a `holdout` but no `goal`.
//!
//! ## Why it matters
//! A holdout is a control group that gets nothing so that the campaign's
//! lift can be measured: conversions in the audience against conversions in
//! the holdout. Without a goal there is nothing to compare, and the holdout
//! is simply revenue given up.
//!
//! ## Example
//! ```yaml
//! holdout: 10
//! ```
//!
//! ## Fix
//! ```yaml
//! holdout: 10
//! goal: {event: purchase, within: 7 days}
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for campaign in &context.project.campaigns {
        if campaign.value.holdout.is_some_and(|h| h > 0.0) && campaign.value.goal.is_none() {
            let span = campaign
                .node
                .entry("holdout")
                .map_or(Span::new(campaign.file, 0, 0), |(key, _)| {
                    key.span(campaign.file)
                });
            out.push(
                Diagnostic::new(
                    Code::HoldoutWithoutGoal,
                    span,
                    format!(
                        "campaign `{}` holds out contacts but has no goal to measure",
                        campaign.name
                    ),
                )
                .label("a control group with nothing to compare")
                .help("add `goal: {event: purchase, within: 7 days}`, or remove `holdout`"),
            );
        }
    }
}
