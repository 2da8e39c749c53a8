//! Campaign schedules that, for audiences that can overlap, send more often
//! than a frequency cap allows.
//!
//! ## Why it matters
//! Caps (`policies.frequency_caps`) protect contacts from fatigue; at run
//! time the messages over the cap are skipped. If the schedules themselves
//! exceed a cap, some planned sends will never go out, and which ones is an
//! accident of timing. Better to know while planning the calendar.
//!
//! herald lays every campaign's schedule out over a year (from the
//! campaign's `from` date or its one-off date, else from 1 January of next
//! year) and counts, for each send, the sends to possibly overlapping
//! audiences within the cap's period; a campaign with `once_per` counts at
//! most once per contact in each `once_per` (a daily birthday campaign with
//! `once_per: 365 days` is one message a year). Audiences are compared as for X001:
//! exclusions count, conditions on the clock do not.
//!
//! ## Example
//! ```yaml
//! # herald.yaml
//! policies:
//!   frequency_caps:
//!     - {channel: email, max: 2, per: 7 days}
//! # three weekly email campaigns on Monday, Wednesday and Friday to all customers
//! ```
//!
//! ## Fix
//! Merge campaigns, move one to another week, or make their audiences exclusive.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::Context;
use super::audience::Audience;
use crate::campaign::Schedule;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// The send times of every campaign over its year, as timestamps.
pub(super) fn campaign_times(context: &Context, zone: &TimeZone) -> Vec<Vec<Timestamp>> {
    let default_start = jiff::civil::date(2027, 1, 1)
        .to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    context
        .campaigns
        .iter()
        .map(|campaign| {
            let Some(schedule) = &campaign.schedule else {
                return Vec::new();
            };
            let (start, end) = match schedule {
                Schedule::Once(_) => (Timestamp::MIN, Timestamp::MAX),
                Schedule::Recurring(_) => {
                    let start = schedule
                        .first_date()
                        .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
                        .map_or(default_start, |z| z.timestamp());
                    let end = start
                        .checked_add(SignedDuration::from_hours(24 * 366))
                        .unwrap_or(Timestamp::MAX);
                    (start, end)
                }
            };
            schedule
                .occurrences(start, end, zone)
                .iter()
                .map(|z| z.timestamp())
                .collect()
        })
        .collect()
}

/// How many times one contact can get `campaign` within `period`: every
/// occurrence, unless `once_per` spaces them out.
fn reaches_per_contact(campaign: &crate::campaign::Campaign, period: SignedDuration) -> usize {
    let Some(once_per) = campaign.once_per else {
        return usize::MAX;
    };
    let spacing = once_per.approximate_minutes().max(1);
    let period = period.as_mins().max(0);
    usize::try_from((period + spacing - 1) / spacing).unwrap_or(usize::MAX)
}

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    if context.policies.frequency_caps.is_empty() {
        return;
    }
    let Some(zone) = context.timezone else {
        return;
    };
    let times = campaign_times(context, zone);
    let audiences = &context.audiences;
    let texts: Vec<Option<Audience>> = context
        .project
        .campaigns
        .iter()
        .map(|c| audiences.campaign(c))
        .collect();
    let campaigns = &context.project.campaigns;
    for cap in &context.policies.frequency_caps {
        // Calendar periods count as 30 and 365 days: a cap is a rate, not a calendar.
        let period = SignedDuration::from_mins(cap.window.period.approximate_minutes());
        let on_channel = |index: usize| {
            cap.channel
                .as_ref()
                .is_none_or(|channel| context.campaigns[index].channels.contains(channel))
        };
        for index in (0..campaigns.len()).filter(|&i| on_channel(i)) {
            // The campaigns that may reach the same contacts on the cap's channel.
            let mut overlapping: Vec<usize> = vec![index];
            let limit = cap.window.count as usize;
            let mut worst: Option<(Timestamp, usize)> = None;
            for &at in &times[index] {
                let end = at.checked_add(period).unwrap_or(Timestamp::MAX);
                let mut count = 0;
                for other in (0..campaigns.len()).filter(|&o| on_channel(o)) {
                    let sends = times[other]
                        .iter()
                        .filter(|t| **t >= at && **t < end)
                        .count()
                        .min(reaches_per_contact(&context.campaigns[other], period));
                    if sends == 0 {
                        continue;
                    }
                    if other != index && !overlapping.contains(&other) {
                        let (Some(a), Some(b)) = (&texts[index], &texts[other]) else {
                            continue;
                        };
                        if audiences.disjoint_at_any_times(a, b) {
                            continue;
                        }
                        overlapping.push(other);
                    }
                    count += sends;
                    if count > limit {
                        break;
                    }
                }
                if count > limit && worst.is_none_or(|(_, c)| count > c) {
                    worst = Some((at, count));
                }
                if worst.is_some() {
                    break;
                }
            }
            let Some((at, _)) = worst else { continue };
            let campaign = &campaigns[index];
            let span = context.campaigns[index].schedule_span;
            let scope = cap
                .channel
                .as_ref()
                .map_or("all channels".to_string(), |c| format!("`{c}`"));
            let others: Vec<&str> = overlapping
                .iter()
                .filter(|&&o| o != index)
                .take(3)
                .map(|&o| campaigns[o].name.as_str())
                .collect();
            out.push(
                Diagnostic::new(
                    Code::FrequencyCapExceeded,
                    span,
                    format!(
                        "from {} campaign `{}` and campaigns with overlapping audiences send more than {} messages on {scope} within {}",
                        at.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%d %H:%M"),
                        campaign.name,
                        cap.window.count,
                        cap.window.period
                    ),
                )
                .label("schedule exceeds a frequency cap")
                .with_secondary(cap.span, "the cap")
                .help(if others.is_empty() {
                    "send less often, or raise the cap".to_string()
                } else {
                    format!("overlapping with {}; merge or move campaigns, or make audiences exclusive", others.join(", "))
                }),
            );
            // One report per cap is enough to act on; the rest follow from it.
            break;
        }
    }
}
