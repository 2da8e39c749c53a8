//! What a plan counts per campaign occurrence: the audience, exclusions by
//! reason, messages per channel and variant, SMS parts, cost against the
//! budget, samples and render failures.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{PlannedMessage, rfc3339};

/// Why a contact (or one of its messages) gets nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No address on any of the campaign's channels.
    Unreachable,
    /// Suppressed (unsubscribed, bounced, complained, invalid) on every
    /// channel it has an address for.
    Suppressed,
    /// No granted consent on any channel left, for a type that needs it.
    NoConsent,
    /// In the campaign's control group.
    HeldOut,
    /// Got this campaign within its `once_per`.
    ReceivedRecently,
    /// The message would exceed a frequency cap (caps skip, never defer).
    FrequencyCap,
    /// The SMS takes more parts than the contact may get.
    SmsTooLong,
}

impl Reason {
    /// The name in snake case, as JSON and the outbox's `reason` have it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreachable => "unreachable",
            Reason::Suppressed => "suppressed",
            Reason::NoConsent => "no_consent",
            Reason::HeldOut => "held_out",
            Reason::ReceivedRecently => "received_recently",
            Reason::FrequencyCap => "frequency_cap",
            Reason::SmsTooLong => "sms_too_long",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Reason::Unreachable => "unreachable (no address on the campaign's channels)",
            Reason::Suppressed => "suppressed (unsubscribed, bounced, complained, invalid)",
            Reason::NoConsent => "no consent",
            Reason::HeldOut => "held out (control group)",
            Reason::ReceivedRecently => "got this campaign within its once_per",
            Reason::FrequencyCap => "frequency cap reached (policies.frequency_caps)",
            Reason::SmsTooLong => {
                "SMS longer than allowed (1 part for prospects, max_parts for customers)"
            }
        }
    }
}

/// One channel's share of a campaign.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelTotals {
    pub channel: &'static str,
    pub messages: u64,
    /// Billed SMS parts (messages for other channels).
    pub parts: u64,
    pub cost: f64,
}

/// A contact whose message did not render.
#[derive(Clone, Debug, Serialize)]
pub struct RenderFailure {
    pub contact_id: String,
    pub channel: &'static str,
    /// The part (`subject`, `html`, …) and its template.
    pub part: &'static str,
    pub template: String,
    pub error: String,
}

/// Render failures kept with their details; the rest are counted.
pub const FAILURES_KEPT: usize = 100;

/// The plan of one campaign occurrence.
#[derive(Clone, Debug, Serialize)]
pub struct CampaignPlan {
    pub campaign: String,
    #[serde(serialize_with = "rfc3339")]
    pub occurrence: Timestamp,
    /// Contacts matching the audience (segment, minus exclusions, and filter).
    pub audience: u64,
    /// Contacts that get nothing, by reason.
    pub excluded: BTreeMap<Reason, u64>,
    /// Messages not sent to contacts that get others, by reason.
    pub skipped: BTreeMap<Reason, u64>,
    /// Contacts that get at least one message.
    pub recipients: u64,
    pub messages: u64,
    /// Messages moved to the end of the contact's quiet hours.
    pub deferred: u64,
    /// In the campaign's channel order.
    pub channels: Vec<ChannelTotals>,
    /// Messages per variant (`default` without variants).
    pub variants: BTreeMap<String, u64>,
    pub cost: f64,
    pub budget: Option<f64>,
    /// Held-out share in percent.
    pub holdout: Option<f64>,
    /// The first messages of each channel, rendered (in the JSON output
    /// every message is listed, so samples are left out of it).
    #[serde(skip)]
    pub samples: Vec<PlannedMessage>,
    /// Contacts whose messages failed to render (the first [`FAILURES_KEPT`]).
    pub render_failures: Vec<RenderFailure>,
    pub render_failure_count: u64,
}

impl CampaignPlan {
    pub fn over_budget(&self) -> bool {
        self.budget.is_some_and(|budget| self.cost > budget + 1e-9)
    }

    pub fn has_errors(&self) -> bool {
        self.render_failure_count > 0 || self.over_budget()
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn reason_names_are_their_json_names() {
        for reason in [
            Reason::Unreachable,
            Reason::Suppressed,
            Reason::NoConsent,
            Reason::HeldOut,
            Reason::ReceivedRecently,
            Reason::FrequencyCap,
            Reason::SmsTooLong,
        ] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }
}
