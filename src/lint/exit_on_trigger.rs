//! A journey that lists its own trigger event under `exit`.
//!
//! ## Why it matters
//! The event that starts the journey also ends it at once, so nobody ever
//! gets past the first step. (A post-purchase journey triggered by
//! `purchase` that also exits on `purchase` sends nothing.)
//!
//! ## Example
//! ```yaml
//! trigger:
//!   event: purchase
//! exit: [purchase]
//! ```
//!
//! ## Fix
//! Exit on a different event, or on the goal:
//! ```yaml
//! trigger:
//!   event: purchase
//! exit: [review_left]
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for journey in &context.project.journeys {
        let Some(trigger) = &journey.value.trigger.event else {
            continue;
        };
        for exit in journey
            .value
            .exit
            .iter()
            .filter(|exit| exit.value == trigger.value)
        {
            out.push(
                Diagnostic::new(
                    Code::ExitOnTrigger,
                    exit.span(journey.file),
                    format!("journey `{}` exits on `{}`, the event that starts it", journey.name, exit.value),
                )
                .label("ends the journey as soon as it starts")
                .with_secondary(trigger.span(journey.file), "the trigger")
                .help("exit on another event; a later occurrence of the trigger can be awaited with `wait_for`"),
            );
        }
    }
}
