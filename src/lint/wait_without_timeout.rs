//! A `wait_for` step without a `timeout`.
//!
//! ## Why it matters
//! A contact whose event never comes waits for ever: the journey never
//! sends its follow-up, never exits, and blocks re-entry. Most people never
//! do the awaited thing, so this is the common path, not an edge case.
//!
//! ## Example
//! ```yaml
//! - wait_for:
//!     event: purchase
//! ```
//!
//! ## Fix
//! ```yaml
//! - wait_for:
//!     event: purchase
//!     timeout: 3 days
//!     on_timeout: reminder
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
            if wait_for.timeout.is_none() {
                out.push(
                    Diagnostic::new(
                        Code::WaitWithoutTimeout,
                        wait_for.event.span(journey.file),
                        format!(
                            "step {} of journey `{}` waits for `{}` with no timeout",
                            index + 1,
                            journey.name,
                            wait_for.event.value
                        ),
                    )
                    .label("contacts who never do this wait for ever")
                    .help("add `timeout: 3 days` (and `on_timeout:` for where to go then)"),
                );
            }
        }
    }
}
