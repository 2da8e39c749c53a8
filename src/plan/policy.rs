//! The policies applied to each member of an audience, in the order the
//! design fixes: suppression, consent by message type and channel, holdout,
//! variant, channel by `mode`, frequency caps, quiet hours; and, once a
//! message is rendered, the SMS part limit. Each function decides for one
//! contact from its stored values and the compiled policies only, so two
//! plans of the same store decide alike.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Reason;
use crate::campaign::{Campaign, Variant};
use crate::contact::{Contact, Value};
use crate::duration::TimeOfDay;
use crate::model::{ChannelMode, Manifest, MessageType};
use crate::policy::{FrequencyCap, Policies, QuietHours};
use crate::segment::catalog::channel_address;
use crate::segment::functions::Clock;

/// Seeds of the two stable hashes: different, so that being held out says
/// nothing about the variant one would have had.
const HOLDOUT_SEED: u64 = 0x686f_6c64_6f75_7401;
const VARIANT_SEED: u64 = 0x7661_7269_616e_7402;

/// A stable number in `0..10_000` for a contact in a campaign.
fn bucket(seed: u64, campaign: &str, contact: &str) -> u64 {
    let mut bytes = Vec::with_capacity(campaign.len() + contact.len() + 1);
    bytes.extend_from_slice(campaign.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(contact.as_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, seed) % 10_000
}

/// Whether the contact is in the campaign's control group:
/// `hash(campaign, contact) % 10000 < holdout% × 100`.
pub fn held_out(campaign: &str, contact: &str, holdout: Option<f64>) -> bool {
    holdout.is_some_and(|share| (bucket(HOLDOUT_SEED, campaign, contact) as f64) < share * 100.0)
}

/// The index of the contact's variant among `variants` (by their weights in
/// percent); 0 when there are none.
pub fn variant(campaign: &str, contact: &str, variants: &[Variant]) -> usize {
    let weights: Vec<f64> = variants.iter().map(|v| v.weight).collect();
    weighted(campaign, contact, &weights)
}

/// The index of the contact's share among `weights` (in percent), by a
/// stable hash of `name` and the contact: campaign variants and journey
/// split arms (named `journey#step`); 0 when there is one or none.
pub fn weighted(name: &str, contact: &str, weights: &[f64]) -> usize {
    if weights.len() < 2 {
        return 0;
    }
    let point = bucket(VARIANT_SEED, name, contact) as f64;
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let scale = if total > 0.0 { 10_000.0 / total } else { 0.0 };
    let mut edge = 0.0;
    for (index, weight) in weights.iter().enumerate() {
        edge += weight.max(0.0) * scale;
        if point < edge {
            return index;
        }
    }
    weights.len() - 1
}

/// A text attribute of a contact.
pub fn text<'c>(contact: &'c Contact, name: &str) -> Option<&'c str> {
    match contact.attributes.get(name) {
        Some(Value::String(text)) if !text.is_empty() => Some(text),
        _ => None,
    }
}

/// The channels of the campaign the contact may get a message on, in the
/// campaign's order, or why none.
pub fn eligible_channels(
    contact: &Contact,
    channels: &[&'static str],
    kind: MessageType,
    policies: &Policies,
) -> Result<Vec<&'static str>, Reason> {
    let addressed: Vec<&'static str> = channels
        .iter()
        .copied()
        .filter(|channel| {
            channel_address(channel).is_some_and(|field| text(contact, field).is_some())
        })
        .collect();
    if addressed.is_empty() {
        return Err(Reason::Unreachable);
    }
    let everywhere = contact.suppressions.contains("*");
    let unsuppressed: Vec<&'static str> = addressed
        .into_iter()
        .filter(|channel| !everywhere && !contact.suppressions.contains(*channel))
        .collect();
    if unsuppressed.is_empty() {
        return Err(Reason::Suppressed);
    }
    let consent = policies.needs_consent(kind);
    let consented: Vec<&'static str> = unsuppressed
        .into_iter()
        .filter(|channel| !consent || contact.consents.get(*channel) == Some(&true))
        .collect();
    if consented.is_empty() {
        return Err(Reason::NoConsent);
    }
    Ok(consented)
}

/// The channels a message goes out on: every eligible one for `all`; for
/// `first_reachable` the contact's `preferred_channel` when eligible, else
/// the first eligible in the campaign's order.
pub fn choose_channels(
    contact: &Contact,
    eligible: Vec<&'static str>,
    mode: ChannelMode,
) -> Vec<&'static str> {
    match mode {
        ChannelMode::All => eligible,
        ChannelMode::FirstReachable => {
            let preferred = text(contact, "preferred_channel")
                .and_then(|name| eligible.iter().copied().find(|channel| *channel == name));
            preferred
                .or_else(|| eligible.first().copied())
                .into_iter()
                .collect()
        }
    }
}

/// When a message to a contact in `zone` may go out: `send_at`, or the end
/// of the quiet hours it falls in, in the contact's local time. A local end
/// that does not exist (a DST gap) moves forward by the gap.
pub fn after_quiet_hours(
    send_at: Timestamp,
    zone: &TimeZone,
    quiet: &QuietHours,
) -> Option<Timestamp> {
    let local = send_at.to_zoned_datetime(zone.clone());
    let time = TimeOfDay {
        hour: local.hour() as u8,
        minute: local.minute() as u8,
    };
    if !quiet.contains(time) {
        return None;
    }
    let date = if time < quiet.end {
        local.date()
    } else {
        local.date().tomorrow().ok()?
    };
    date.at(quiet.end.hour as i8, quiet.end.minute as i8, 0, 0)
        .to_zoned_datetime(zone.clone())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// When one message on `channel` planned for `at` goes out: `Some((time,
/// deferred))`, the time moved to the end of the contact's quiet hours when
/// it falls inside them, or `None` when a frequency cap skips it (caps skip,
/// never defer). Transactional messages are neither deferred nor capped.
/// `earlier(cap, from, until)` counts the ledger's messages in the cap's window.
#[allow(clippy::too_many_arguments)]
pub fn schedule(
    at: Timestamp,
    channel: &'static str,
    transactional: bool,
    policies: &Policies,
    zone: &TimeZone,
    clock: &mut Clock,
    planned: &[Sent],
    earlier: &mut dyn FnMut(&FrequencyCap, Timestamp, Timestamp) -> u32,
) -> Option<(Timestamp, bool)> {
    if transactional {
        return Some((at, false));
    }
    let (send_at, deferred) = match policies
        .quiet_hours
        .as_ref()
        .and_then(|quiet| after_quiet_hours(at, zone, quiet))
    {
        Some(later) => (later, true),
        None => (at, false),
    };
    let mut count = |cap: &FrequencyCap, from: Timestamp| earlier(cap, from, send_at);
    within_caps(
        &policies.frequency_caps,
        channel,
        send_at,
        clock,
        planned,
        &mut count,
    )
    .then_some((send_at, deferred))
}

/// A message already decided on for a contact in this plan.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub channel: &'static str,
    pub at: Timestamp,
}

/// Whether one more message on `channel` at `at` stays within every cap
/// that applies, counting `earlier` (sent, from the ledger, per cap) and
/// `planned` (this plan's messages to the contact).
pub fn within_caps(
    caps: &[FrequencyCap],
    channel: &str,
    at: Timestamp,
    clock: &mut Clock,
    planned: &[Sent],
    earlier: &mut dyn FnMut(&FrequencyCap, Timestamp) -> u32,
) -> bool {
    clock.now = at;
    caps.iter()
        .filter(|cap| cap.channel.as_deref().is_none_or(|c| c == channel))
        .all(|cap| {
            let from = clock.ago(cap.window.period);
            let in_plan = planned
                .iter()
                .filter(|sent| cap.channel.as_deref().is_none_or(|c| c == sent.channel))
                .filter(|sent| sent.at > from)
                .count() as u32;
            earlier(cap, from) + in_plan < cap.window.count
        })
}

/// Whether the contact is a prospect, who gets one SMS part: the customer
/// attribute (`greeting.customer_attribute`, `orders_count` by default) is
/// 0 or false, or the lifecycle is a prospect stage.
pub fn is_prospect(contact: &Contact, customer_attribute: &str) -> bool {
    let no_orders = match contact.attributes.get(customer_attribute) {
        Some(Value::Integer(n)) => *n <= 0,
        Some(Value::Number(n)) => *n <= 0.0,
        Some(Value::Boolean(b)) => !b,
        _ => false,
    };
    no_orders || matches!(text(contact, "lifecycle"), Some("cold" | "warm" | "hot"))
}

/// The most SMS parts a contact may get: 1 for prospects, else the
/// message's (or channel's) `max_parts`; `None` for no limit.
pub fn sms_limit(prospect: bool, max_parts: Option<u32>) -> Option<usize> {
    let limit = max_parts.map(|parts| parts as usize);
    if prospect {
        Some(limit.map_or(1, |limit| limit.min(1)))
    } else {
        limit
    }
}

/// Channel facts the planner needs from the manifest.
#[derive(Clone, Debug)]
pub struct ChannelFacts {
    pub name: &'static str,
    /// Per message, per part for SMS.
    pub cost: f64,
}

/// The campaign's channels that the manifest declares, in campaign order.
pub fn channel_facts(manifest: &Manifest, campaign: &Campaign) -> Vec<ChannelFacts> {
    let declared = manifest.channels.declared();
    campaign
        .channels
        .iter()
        .filter_map(|name| {
            declared
                .iter()
                .find(|(kind, _)| kind == name)
                .map(|(kind, channel)| ChannelFacts {
                    name: kind,
                    cost: channel.cost.unwrap_or(0.0),
                })
        })
        .collect()
}

/// Time zones by name, looked up once per plan.
#[derive(Default)]
pub struct Zones {
    zones: HashMap<String, TimeZone>,
}

impl Zones {
    /// The contact's zone, else the project's.
    pub fn of(&mut self, contact: &Contact, project: &TimeZone) -> TimeZone {
        let Some(name) = text(contact, "timezone") else {
            return project.clone();
        };
        if let Some(zone) = self.zones.get(name) {
            return zone.clone();
        }
        let zone = TimeZone::get(name).unwrap_or_else(|_| project.clone());
        self.zones.insert(name.to_string(), zone.clone());
        zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> TimeOfDay {
        TimeOfDay::parse(text).expect("time")
    }

    #[test]
    fn quiet_hours_defer_to_the_local_end_of_the_window() {
        let night = QuietHours {
            start: time("21:00"),
            end: time("09:00"),
        };
        let zone = TimeZone::get("Asia/Vladivostok").expect("zone");
        // 11:00 in Moscow is 18:00 in Vladivostok: not quiet.
        let at: Timestamp = "2026-12-15T08:00:00Z".parse().expect("time");
        assert_eq!(after_quiet_hours(at, &zone, &night), None);
        // 16:00 UTC is 02:00 the next day there: deferred to 09:00 local.
        let at: Timestamp = "2026-12-15T16:00:00Z".parse().expect("time");
        assert_eq!(
            after_quiet_hours(at, &zone, &night).map(|t| t.to_string()),
            Some("2026-12-15T23:00:00Z".into())
        );
    }

    #[test]
    fn shares_are_stable_and_independent() {
        let variants = vec![
            Variant {
                name: "a".into(),
                weight: 50.0,
            },
            Variant {
                name: "b".into(),
                weight: 50.0,
            },
        ];
        assert_eq!(
            variant("promo", "c-1", &variants),
            variant("promo", "c-1", &variants)
        );
        assert!(held_out("promo", "c-1", Some(100.0)));
        assert!(!held_out("promo", "c-1", None));
    }
}
