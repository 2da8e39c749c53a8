//! A branch case (or `otherwise`) that can never be taken because an earlier
//! case always matches first.
//!
//! ## Why it matters
//! Cases are tried in order and the first that holds wins. After a case that
//! holds for everyone (`email is set or email is not set`), or after the
//! same condition written twice, the later cases are dead: the contacts the
//! author meant for them all take the earlier path.
//!
//! ## Example
//! ```yaml
//! - branch:
//!     cases:
//!       - when: orders_count >= 0 or orders_count is not set
//!         goto: generic
//!       - when: loyalty = "gold"
//!         goto: vip_offer
//! ```
//!
//! ## Fix
//! Put the specific case first:
//! ```yaml
//! - branch:
//!     cases:
//!       - when: loyalty = "gold"
//!         goto: vip_offer
//!     otherwise: generic
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::segment::analysis::analyse;
use crate::segment::ast::ExprKind;
use crate::segment::check::Site;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for journey in &context.project.journeys {
        for (index, step) in journey.value.steps.iter().enumerate() {
            let Some(branch) = &step.branch else { continue };
            let filter = |case: usize| {
                context.filters.filters.iter().find(|f| {
                    f.site
                        == Site::Branch {
                            journey: journey.name.clone(),
                            step: index,
                            case,
                        }
                })
            };
            let normal = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut shadowing: Option<usize> = None;
            for (case_index, case) in branch.cases.iter().enumerate() {
                if let Some(earlier) = shadowing {
                    out.push(never_taken(
                        journey.file,
                        case.when.span(journey.file),
                        &branch.cases[earlier].when,
                        journey.file,
                        "always matches first",
                    ));
                    continue;
                }
                if let Some(earlier) = branch.cases[..case_index]
                    .iter()
                    .position(|c| normal(&c.when.value) == normal(&case.when.value))
                {
                    out.push(never_taken(
                        journey.file,
                        case.when.span(journey.file),
                        &branch.cases[earlier].when,
                        journey.file,
                        "has the same condition",
                    ));
                    continue;
                }
                let always = filter(case_index)
                    .filter(|f| f.valid)
                    .and_then(|f| f.expr.as_ref().map(|expr| (expr, f)))
                    .is_some_and(|(expr, f)| {
                        // Only a tautology among the top-level alternatives
                        // makes the whole condition hold for everyone.
                        let ExprKind::Or(items) = &expr.kind else {
                            return false;
                        };
                        analyse(expr, &f.text).iter().any(|issue| {
                            issue.code == Code::AlwaysMatches
                                && items.iter().any(|item| item.range == issue.range)
                        })
                    });
                if always {
                    shadowing = Some(case_index);
                }
            }
            if let (Some(earlier), Some(otherwise)) = (shadowing, &branch.otherwise) {
                out.push(never_taken(
                    journey.file,
                    otherwise.span(journey.file),
                    &branch.cases[earlier].when,
                    journey.file,
                    "always matches first",
                ));
            }
        }
    }
}

fn never_taken(
    file: crate::source::FileId,
    span: crate::source::Span,
    earlier: &crate::model::Text,
    earlier_file: crate::source::FileId,
    why: &str,
) -> Diagnostic {
    let _ = file;
    Diagnostic::new(
        Code::BranchNeverTaken,
        span,
        "this branch can never be taken",
    )
    .label("never reached")
    .with_secondary(
        earlier.span(earlier_file),
        format!("this earlier case {why}"),
    )
    .help("cases are tried in order; put the more specific case first, or remove the dead one")
}
