//! Two journeys on the same trigger, or two campaigns sent close together,
//! whose audiences can overlap and which send on the same channel within the
//! conflict window.
//!
//! ## Why it matters
//! A contact in both audiences gets both messages at once: two "you left
//! something in your cart" emails, or a welcome discount next to a holiday
//! one. Scenarios must not contradict each other.
//!
//! herald tries to prove the audiences disjoint with the segment language's
//! static analysis (`orders_count = 0` against `orders_count > 0`); what it
//! cannot prove disjoint is reported as a possible overlap. A campaign's
//! `exclude:` and a filter's `not in segment` rule the excluded audience
//! out. Conditions on values that change with the clock (`age`,
//! `days_since`, `days_until_anniversary`, `within`, `… ago`) prove nothing
//! for campaigns, which send at different moments: a contact in
//! `days_until_anniversary(birthday) > 7` yesterday is in `= 7` today. They
//! still count for journeys on one trigger, entered at the same moment.
//! The window is
//! `policies.conflict_window` (default `1 day`); campaigns are compared over
//! a year of their schedules.
//!
//! ## Example
//! ```yaml
//! # journeys/cart.yaml            # journeys/cart_vip.yaml
//! trigger: {event: cart_abandoned} trigger: {event: cart_abandoned}
//! steps:                          steps:
//!   - wait: 1 hour                  - wait: 2 hours
//!   - send: {channels: [email]}     - send: {channels: [email]}
//! ```
//!
//! ## Fix
//! Make the audiences exclusive, e.g. `filter: loyalty != "gold"` on one and
//! `filter: loyalty = "gold"` on the other, or send on different channels.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

use super::Context;
use super::audience::{Audience, Audiences};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::Duration;
use crate::journey::{Action, StateMachine};
use crate::source::Span;

/// The channels a journey sends on, with the earliest minute after entry.
fn first_sends(journey: &crate::model::Journey, machine: &StateMachine) -> Vec<(String, i64)> {
    let arrival = machine.earliest_arrival();
    let mut sends: Vec<(String, i64)> = Vec::new();
    for state in machine.states.iter().filter(|s| s.action == Action::Send) {
        let (Some(at), Some(send)) = (
            arrival[state.index],
            journey.steps[state.index].send.as_ref(),
        ) else {
            continue;
        };
        for channel in &send.channels {
            match sends.iter_mut().find(|(c, _)| *c == channel.value) {
                Some((_, earliest)) => *earliest = (*earliest).min(at),
                None => sends.push((channel.value.clone(), at)),
            }
        }
    }
    sends
}

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    let window = context.policies.conflict_window;
    let window_minutes = window.approximate_minutes();
    let audiences = &context.audiences;
    journeys(context, audiences, window, window_minutes, out);
    campaigns(context, audiences, window, window_minutes, out);
}

/// Journeys on the same trigger that can both send on a channel within the
/// window. Each journey is reported once, with the first earlier journey it
/// collides with, so a crowded trigger gives one line per journey, not one
/// per pair.
fn journeys(
    context: &Context,
    audiences: &Audiences,
    window: Duration,
    window_minutes: i64,
    out: &mut Diagnostics,
) {
    struct Facts<'a> {
        journey: &'a crate::loader::Definition<crate::model::Journey>,
        trigger: String,
        sends: Vec<(String, i64)>,
        audience: Option<Audience>,
    }
    let facts: Vec<Facts> = context
        .journeys()
        .filter_map(|(journey, machine)| {
            Some(Facts {
                journey,
                trigger: trigger_key(&journey.value)?,
                sends: first_sends(&journey.value, machine),
                audience: audiences.journey(journey),
            })
        })
        .collect();
    for (index, second) in facts.iter().enumerate() {
        let collision = facts[..index].iter().find_map(|first| {
            if first.trigger != second.trigger {
                return None;
            }
            let (channel, gap) = closest_common(&first.sends, &second.sends)?;
            if gap > window_minutes {
                return None;
            }
            let (Some(a), Some(b)) = (&first.audience, &second.audience) else {
                return None;
            };
            (!audiences.disjoint(a, b)).then_some((first, channel))
        });
        let Some((first, channel)) = collision else {
            continue;
        };
        out.push(
            Diagnostic::new(
                Code::OverlappingTriggers,
                trigger_span(second.journey),
                format!(
                    "journeys `{}` and `{}` both start on {} and may both send `{channel}` to the same contact within {window}",
                    first.journey.name, second.journey.name, first.trigger
                ),
            )
            .label("same trigger, overlapping audience")
            .with_secondary(
                trigger_span(first.journey),
                format!("`{}` starts on the same trigger", first.journey.name),
            )
            .help("make the audiences exclusive with trigger filters or entry segments, or send on different channels"),
        );
    }
}

/// The common channel whose first sends are closest in time, with the gap in minutes.
fn closest_common(first: &[(String, i64)], second: &[(String, i64)]) -> Option<(String, i64)> {
    first
        .iter()
        .filter_map(|(channel, a)| {
            second
                .iter()
                .find(|(c, _)| c == channel)
                .map(|(_, b)| (channel.clone(), (a - b).abs()))
        })
        .min_by_key(|(_, gap)| *gap)
}

fn trigger_key(journey: &crate::model::Journey) -> Option<String> {
    let trigger = &journey.trigger;
    if let Some(event) = &trigger.event {
        return Some(format!("event `{}`", event.value));
    }
    if let Some(segment) = &trigger.segment {
        return Some(format!("entering segment `{}`", segment.value));
    }
    trigger
        .anniversary
        .as_ref()
        .map(|a| format!("the anniversary of `{}`", a.value))
}

fn trigger_span(journey: &crate::loader::Definition<crate::model::Journey>) -> Span {
    let trigger = &journey.value.trigger;
    [&trigger.event, &trigger.segment, &trigger.anniversary]
        .into_iter()
        .flatten()
        .next()
        .map_or(Span::new(journey.file, 0, 0), |t| t.span(journey.file))
}

/// Campaign pairs with sends on a shared channel within the window. Each
/// campaign is reported once, with the first campaign it collides with.
fn campaigns(
    context: &Context,
    audiences: &Audiences,
    window: Duration,
    window_minutes: i64,
    out: &mut Diagnostics,
) {
    let Some(zone) = context.timezone else {
        return;
    };
    let schedules = super::frequency_cap_exceeded::campaign_times(context, zone);
    let window_span = SignedDuration::from_mins(window_minutes);
    let mut reported: BTreeSet<usize> = BTreeSet::new();
    let texts: Vec<Option<Audience>> = context
        .project
        .campaigns
        .iter()
        .map(|c| audiences.campaign(c))
        .collect();
    for (index, (first, first_times)) in
        context.project.campaigns.iter().zip(&schedules).enumerate()
    {
        if reported.contains(&index) {
            continue;
        }
        for (other, (second, second_times)) in context
            .project
            .campaigns
            .iter()
            .zip(&schedules)
            .enumerate()
            .skip(index + 1)
        {
            let Some(channel) = first
                .value
                .channels
                .iter()
                .find(|c| second.value.channels.iter().any(|d| d.value == c.value))
            else {
                continue;
            };
            let close = first_times.iter().find_map(|a: &Timestamp| {
                second_times
                    .iter()
                    .find(|b| {
                        let later = a.checked_add(window_span).ok();
                        let earlier = a.checked_sub(window_span).ok();
                        later.is_some_and(|l| **b < l) && earlier.is_some_and(|e| **b > e)
                    })
                    .map(|b| (*a, *b))
            });
            let Some((at, _)) = close else { continue };
            let (Some(a), Some(b)) = (&texts[index], &texts[other]) else {
                continue;
            };
            if audiences.disjoint_at_any_times(a, b) {
                continue;
            }
            let schedule_span = |c: &crate::loader::Definition<crate::model::Campaign>| {
                c.node
                    .entry("schedule")
                    .map_or(Span::new(c.file, 0, 0), |(key, _)| key.span(c.file))
            };
            out.push(
                Diagnostic::new(
                    Code::OverlappingTriggers,
                    schedule_span(second),
                    format!(
                        "campaigns `{}` and `{}` may both send `{}` to the same contact within {window} (first around {})",
                        first.name,
                        second.name,
                        channel.value,
                        at.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%d %H:%M")
                    ),
                )
                .label("sends close to another campaign with an overlapping audience")
                .with_secondary(schedule_span(first), format!("`{}` is scheduled here", first.name))
                .help("move one of the schedules, make the audiences exclusive, or rely on a frequency cap"),
            );
            reported.insert(index);
            reported.insert(other);
            break;
        }
    }
}
