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
//! audiences within the cap's period.
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
use super::audience::{Audiences, disjoint};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::Duration;
use crate::source::Span;

pub(super) fn project_zone(context: &Context) -> Option<TimeZone> {
    context
        .manifest
        .and_then(|m| TimeZone::get(&m.timezone.value).ok())
}

/// The send times of every campaign over its year, as timestamps.
pub(super) fn campaign_times(context: &Context, zone: &TimeZone) -> Vec<Vec<Timestamp>> {
    let default_start = jiff::civil::date(2027, 1, 1)
        .to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    context
        .project
        .campaigns
        .iter()
        .map(|campaign| {
            let schedule = &campaign.value.schedule;
            let start = schedule
                .from
                .as_ref()
                .and_then(|d| jiff::civil::Date::strptime("%Y-%m-%d", d.value.trim()).ok())
                .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
                .map_or(default_start, |z| z.timestamp());
            if schedule.at.is_some() {
                return crate::campaign::occurrences(
                    schedule,
                    zone,
                    Timestamp::MIN,
                    Timestamp::MAX,
                )
                .iter()
                .map(|z| z.timestamp())
                .collect();
            }
            let end = start
                .checked_add(SignedDuration::from_hours(24 * 366))
                .unwrap_or(Timestamp::MAX);
            crate::campaign::occurrences(schedule, zone, start, end)
                .iter()
                .map(|z| z.timestamp())
                .collect()
        })
        .collect()
}

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    let Some(manifest) = context.manifest else {
        return;
    };
    if manifest.policies.frequency_caps.is_empty() {
        return;
    }
    let Some(zone) = project_zone(context) else {
        return;
    };
    let times = campaign_times(context, &zone);
    let audiences = Audiences::new(context.project, context.filters);
    let texts: Vec<Option<String>> = context
        .project
        .campaigns
        .iter()
        .map(|c| audiences.campaign(c))
        .collect();
    let campaigns = &context.project.campaigns;
    for cap in &manifest.policies.frequency_caps {
        let Ok(period) = Duration::parse(&cap.per.value) else {
            continue;
        };
        // Calendar periods count as 30 and 365 days: a cap is a rate, not a calendar.
        let period = SignedDuration::from_mins(period.approximate_minutes());
        let on_channel = |index: usize| {
            cap.channel.as_ref().is_none_or(|channel| {
                campaigns[index]
                    .value
                    .channels
                    .iter()
                    .any(|c| c.value == channel.value)
            })
        };
        for index in (0..campaigns.len()).filter(|&i| on_channel(i)) {
            // The campaigns that may reach the same contacts on the cap's channel.
            let mut overlapping: Vec<usize> = vec![index];
            let limit = cap.max as usize;
            let mut worst: Option<(Timestamp, usize)> = None;
            for &at in &times[index] {
                let end = at.checked_add(period).unwrap_or(Timestamp::MAX);
                let mut count = 0;
                for other in (0..campaigns.len()).filter(|&o| on_channel(o)) {
                    let sends = times[other]
                        .iter()
                        .filter(|t| **t >= at && **t < end)
                        .count();
                    if sends == 0 {
                        continue;
                    }
                    if other != index && !overlapping.contains(&other) {
                        let (Some(a), Some(b)) = (&texts[index], &texts[other]) else {
                            continue;
                        };
                        if disjoint(a, b) {
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
            let span = campaign
                .node
                .entry("schedule")
                .map_or(Span::new(campaign.file, 0, 0), |(key, _)| {
                    key.span(campaign.file)
                });
            let scope = cap
                .channel
                .as_ref()
                .map_or("all channels".to_string(), |c| format!("`{}`", c.value));
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
                        cap.max,
                        cap.per.value
                    ),
                )
                .label("schedule exceeds a frequency cap")
                .with_secondary(cap.per.span(context.project.manifest_file().unwrap_or(campaign.file)), "the cap")
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
