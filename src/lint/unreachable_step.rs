//! A journey step that no path from the first step reaches.
//!
//! Not reported for a journey whose `goto`, `next` or `on_timeout` names no
//! step (R009 `unknown-step`): the step it misspells is not unreachable.
//!
//! ## Why it matters
//! A step nobody reaches never sends its message: usually a `goto` points at
//! the wrong id, or an `exit` or a `next:` jumps over the step by mistake.
//!
//! ## Example
//! ```yaml
//! steps:
//!   - send: {channels: [email], messages: {email: {html_file: welcome.html}}}
//!   - exit: done
//!   - send: {channels: [sms], messages: {sms: {text: "Скидка 10%"}}}   # never reached
//! ```
//!
//! ## Fix
//! Remove the step, or make a `goto`/`next:` lead to it:
//! ```yaml
//!   - send: {channels: [email], messages: {email: {html_file: welcome.html}}}
//!   - send: {channels: [sms], messages: {sms: {text: "Скидка 10%"}}}
//!   - exit: done
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for (journey, machine) in context.journeys() {
        // The step a misspelt `goto` meant is not unreachable: R009 says so already.
        if machine.unresolved_targets {
            continue;
        }
        let reachable = machine.reachable();
        for state in &machine.states {
            if !reachable[state.index] {
                out.push(
                    Diagnostic::new(
                        Code::UnreachableStep,
                        state.span,
                        format!(
                            "{} of journey `{}` can never be reached",
                            state.describe(),
                            journey.name
                        ),
                    )
                    .label("no path leads here")
                    .help("remove the step, or point a `goto` or `next:` at its `id`"),
                );
            }
        }
    }
}
