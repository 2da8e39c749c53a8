//! A `wait_for` on an event that is also one of the journey's `exit` events.
//!
//! ## Why it matters
//! The exit wins: when the event comes, the contact leaves the journey, so
//! the `wait_for` can only ever time out and its `goto` is never taken. It
//! is then a plain timer written in a misleading way.
//!
//! ## Example
//! ```yaml
//! exit: [purchase]
//! steps:
//!   - wait_for: {event: purchase, timeout: 1 day, goto: thanks}
//! ```
//!
//! ## Fix
//! If the purchase ends the journey, wait instead:
//! ```yaml
//! exit: [purchase]
//! steps:
//!   - wait: 1 day
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for journey in &context.project.journeys {
        for (index, step) in journey.value.steps.iter().enumerate() {
            let Some(wait_for) = &step.wait_for else {
                continue;
            };
            let Some(exit) = journey
                .value
                .exit
                .iter()
                .find(|exit| exit.value == wait_for.event.value)
            else {
                continue;
            };
            out.push(
                Diagnostic::new(
                    Code::WaitForExitEvent,
                    wait_for.event.span(journey.file),
                    format!(
                        "step {} of journey `{}` waits for `{}`, which also ends the journey",
                        index + 1,
                        journey.name,
                        wait_for.event.value
                    ),
                )
                .label("the exit is taken first; this can only time out")
                .with_secondary(exit.span(journey.file), "exits on the same event")
                .help("use `wait:` with the timeout, or remove the event from `exit:`"),
            );
        }
    }
}
