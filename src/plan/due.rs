//! Which campaign occurrences a plan at `now` covers. An occurrence at `t`
//! is due when `now - catch_up < t <= now` and the store has no record of
//! it being enqueued; older ones (within [`MISSED_WINDOW`]) are reported as
//! missed and never sent; the next ones are listed so that a plan at a
//! quiet moment still says what comes. Schedules are in the project's time
//! zone (see [`crate::campaign::Schedule::occurrences`]).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{PlanRequest, rfc3339};
use crate::compiler::Compilation;
use crate::store::{Store, StoreError};

/// How far back missed occurrences are reported.
pub const MISSED_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 30);
/// How far ahead the "coming up" list looks.
const AHEAD: SignedDuration = SignedDuration::from_hours(24 * 400);
/// How many upcoming occurrences are listed.
pub const COMING_UP: usize = 5;

/// A campaign's scheduled send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    pub campaign: String,
    #[serde(serialize_with = "rfc3339")]
    pub at: Timestamp,
}

/// The occurrences of a plan.
#[derive(Debug, Default)]
pub struct Due {
    /// Due now, by time then campaign name.
    pub occurrences: Vec<Occurrence>,
    pub missed: Vec<Occurrence>,
    pub coming_up: Vec<Occurrence>,
}

pub fn due(
    compilation: &Compilation,
    store: &Store,
    request: &PlanRequest,
) -> Result<Due, StoreError> {
    let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
    let now = request.now;
    let start = now.saturating_sub(request.catch_up).unwrap_or(now);
    let missed_from = start.saturating_sub(MISSED_WINDOW).unwrap_or(start);
    let after = now
        .saturating_add(SignedDuration::from_secs(1))
        .unwrap_or(now);
    let until = now.saturating_add(AHEAD).unwrap_or(now);
    let mut due = Due::default();
    for campaign in &compilation.campaigns {
        if !request.only.is_empty() && !request.only.contains(&campaign.name) {
            continue;
        }
        let Some(schedule) = &campaign.schedule else {
            continue;
        };
        let occurrence = |at: Timestamp| Occurrence {
            campaign: campaign.name.clone(),
            at,
        };
        // `occurrences` is half-open `[from, until)`; the window is `(start, now]`.
        let window_from = start
            .saturating_add(SignedDuration::from_secs(1))
            .unwrap_or(start);
        for at in schedule.occurrences(missed_from, after, &zone) {
            let at = at.timestamp();
            if store.occurrence_enqueued(&campaign.name, at)? {
                continue;
            }
            if at >= window_from {
                due.occurrences.push(occurrence(at));
            } else {
                due.missed.push(occurrence(at));
            }
        }
        due.coming_up.extend(
            schedule
                .occurrences(after, until, &zone)
                .into_iter()
                .take(COMING_UP)
                .map(|at| occurrence(at.timestamp())),
        );
    }
    let order = |a: &Occurrence, b: &Occurrence| a.at.cmp(&b.at).then(a.campaign.cmp(&b.campaign));
    due.occurrences.sort_by(order);
    due.missed.sort_by(order);
    due.coming_up.sort_by(order);
    due.coming_up.truncate(COMING_UP);
    Ok(due)
}
