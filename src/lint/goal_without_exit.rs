//! A journey whose goal event does not also end it.
//!
//! Not reported while `exit:` names an undeclared event (R005
//! `unknown-event`): it may be the goal misspelt.
//!
//! ## Why it matters
//! Once the contact has done what the journey was for (bought, say), the
//! remaining steps keep going: the customer who just paid gets "you left
//! something in your cart" or "we miss you" mail.
//!
//! ## Example
//! ```yaml
//! goal: {event: purchase, within: 7 days}
//! exit: []
//! ```
//!
//! ## Fix
//! ```yaml
//! goal: {event: purchase, within: 7 days}
//! exit: [purchase]
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for journey in &context.project.journeys {
        let Some(goal) = &journey.value.goal else {
            continue;
        };
        // A journey triggered by its goal event (post-purchase) cannot exit on it.
        if journey
            .value
            .trigger
            .event
            .as_ref()
            .is_some_and(|t| t.value == goal.event.value)
        {
            continue;
        }
        // An `exit:` event that is not declared is R005; it may be the goal
        // misspelt, so this rule would only repeat it with wrong advice.
        if !journey
            .value
            .exit
            .iter()
            .any(|exit| exit.value == goal.event.value || !context.event_declared(&exit.value))
        {
            out.push(
                Diagnostic::new(
                    Code::GoalWithoutExit,
                    goal.event.span(journey.file),
                    format!(
                        "journey `{}` has the goal `{}` but does not exit on it",
                        journey.name, goal.event.value
                    ),
                )
                .label("reaching the goal does not end the journey")
                .help(format!(
                    "add `{}` to `exit:` so converted contacts stop getting its messages",
                    goal.event.value
                )),
            );
        }
    }
}
