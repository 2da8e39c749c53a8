//! A loop of journey steps with no `wait` or `wait_for` on it.
//!
//! ## Why it matters
//! A contact caught in such a loop goes round it at machine speed: if the
//! loop sends, they get the same message over and over until a frequency cap
//! or a provider stops it; if it does not, the runner spins.
//!
//! ## Example
//! ```yaml
//! steps:
//!   - id: remind
//!     send: {channels: [email], messages: {email: {html_file: remind.html}}}
//!   - branch:
//!       cases:
//!         - when: orders_count = 0
//!           goto: remind
//! ```
//!
//! ## Fix
//! Put a wait on the loop:
//! ```yaml
//!   - id: remind
//!     send: {channels: [email], messages: {email: {html_file: remind.html}}}
//!   - wait: 3 days
//!   - branch:
//!       cases:
//!         - when: orders_count = 0
//!           goto: remind
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::journey::Target;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for (journey, machine) in context.journeys() {
        for cycle in machine.cycles() {
            if cycle.iter().any(|&index| machine.states[index].waits()) {
                continue;
            }
            // Point at the step whose transition closes the loop: the last
            // state in the cycle that jumps back to an earlier one.
            let closing = cycle
                .iter()
                .rev()
                .find(|&&index| {
                    machine.states[index]
                        .transitions
                        .iter()
                        .any(|t| matches!(t.target, Target::Step(next) if next <= index && cycle.contains(&next)))
                })
                .copied()
                .unwrap_or(cycle[0]);
            let mut diagnostic = Diagnostic::new(
                Code::LoopWithoutWait,
                machine.states[closing].span,
                format!(
                    "journey `{}` loops through {} without waiting",
                    journey.name,
                    cycle
                        .iter()
                        .map(|&i| machine.states[i].describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .label("this step closes the loop");
            for &index in cycle.iter().filter(|&&index| index != closing) {
                diagnostic = diagnostic.with_secondary(machine.states[index].span, "on the loop");
            }
            out.push(
                diagnostic.help("add a `wait` or a `wait_for` with a timeout inside the loop"),
            );
        }
    }
}
