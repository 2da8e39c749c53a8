//! A journey step reached only after the journey's goal window has closed.
//!
//! ## Why it matters
//! The goal measures conversions within its window after entry. A send
//! that comes after the window cannot count towards the goal, and a
//! reminder that late is usually a mistake in the waits (`3 weeks` for
//! `3 days`).
//!
//! ## Example
//! ```yaml
//! goal: {event: purchase, within: 3 days}
//! steps:
//!   - wait: 1 week
//!   - send: {channels: [email], messages: {email: {html_file: cart.html}}}
//! ```
//!
//! ## Fix
//! ```yaml
//! goal: {event: purchase, within: 3 days}
//! steps:
//!   - wait: 1 hour
//!   - send: {channels: [email], messages: {email: {html_file: cart.html}}}
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::journey::Action;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for machine in context.machines {
        let Some(goal) = &machine.goal else {
            continue;
        };
        let window = goal.window;
        let arrival = machine.earliest_arrival();
        for state in machine.states.iter().filter(|s| s.action == Action::Send) {
            let Some(at) = arrival[state.index] else {
                continue;
            };
            if at > window.approximate_minutes() {
                out.push(
                    Diagnostic::new(
                        Code::WaitBeyondGoal,
                        state.span,
                        format!(
                            "{} of journey `{}` sends {} after entry at the earliest, after the goal window of {window}",
                            state.describe(),
                            machine.journey,
                            describe_minutes(at)
                        ),
                    )
                    .label("sent after the goal window closed")
                    .with_secondary(goal.window_span, "the goal window")
                    .help("shorten the waits before this step, or widen the goal's `within`"),
                );
            }
        }
    }
}

fn describe_minutes(minutes: i64) -> String {
    if minutes % (24 * 60) == 0 {
        let days = minutes / (24 * 60);
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if minutes % 60 == 0 {
        format!("{} hours", minutes / 60)
    } else {
        format!("{minutes} minutes")
    }
}
