//! The planner: which campaign messages are due at a given `now`, to whom,
//! on which channel, when and at what cost, rendered; and how many contacts
//! wait at each journey step, how many of them are due. Pure over a read-only
//! store and the [`Compilation`]: no clock (`now` comes in), no randomness
//! (holdout and variants are stable hashes), no writes. `herald plan`
//! prints a plan; the runner will enqueue the very same messages, so the
//! two decide alike.
//!
//! The stages: [`due`] (occurrences in the catch-up window, missed ones,
//! the next ones), [`policy`] (per contact, in order: suppression, consent,
//! holdout, variant, channel, frequency caps, quiet hours; then SMS parts
//! once rendered), [`stream`] (the audience streamed from the store and
//! rendered on several threads, handed on in contact order) and
//! [`summary`] (what a plan counts).

pub mod due;
pub mod policy;
pub mod stream;
pub mod summary;

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Serialize, Serializer};

use crate::compiler::Compilation;
use crate::store::{Store, StoreError};
use crate::template::Rendered;

pub use self::due::Occurrence;
pub use self::stream::PlanError;
pub use self::summary::{CampaignPlan, ChannelTotals, Reason, RenderFailure};

/// How long after its scheduled time an occurrence is still sent: a runner
/// that was down for a day still sends that morning's campaign, one that
/// was down for a week does not send stale promotions.
pub const CATCH_UP: SignedDuration = SignedDuration::from_hours(24);

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub now: Timestamp,
    /// Only these campaigns; every campaign when empty.
    pub only: Vec<String>,
    pub catch_up: SignedDuration,
    /// Rendered messages kept per campaign and channel as samples.
    pub samples: usize,
    /// Render threads; 0 for one per core.
    pub threads: usize,
    /// The signed addresses of `herald serve` that messages carry; `None`
    /// renders the placeholder unsubscribe link.
    pub links: Option<crate::signed_link::Links>,
}

impl PlanRequest {
    pub fn new(now: Timestamp) -> PlanRequest {
        PlanRequest {
            now,
            only: Vec::new(),
            catch_up: CATCH_UP,
            samples: 1,
            threads: 0,
            links: None,
        }
    }
}

/// A plan: every due occurrence's decisions, and what is missed or comes next.
#[derive(Debug, Serialize)]
pub struct Plan {
    #[serde(serialize_with = "rfc3339")]
    pub now: Timestamp,
    pub campaigns: Vec<CampaignPlan>,
    /// Occurrences older than the catch-up window that were never enqueued.
    pub missed: Vec<Occurrence>,
    /// The next occurrences after `now`.
    pub coming_up: Vec<Occurrence>,
    /// Contacts inside journeys, per step (empty when nobody is in one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub journeys: Vec<JourneyStep>,
}

/// Contacts waiting at one journey step at the plan's `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JourneyStep {
    pub journey: String,
    pub step: String,
    pub waiting: u64,
    /// Of those, how many a timer moves on by `now` (at the next tick).
    pub due: u64,
    /// The step no longer exists: an edit removed it (`on_removed_step`).
    pub removed: bool,
}

/// The journey steps contacts wait at, in each journey's step order.
fn journey_steps(
    compilation: &Compilation,
    store: &Store,
    now: Timestamp,
) -> Result<Vec<JourneyStep>, StoreError> {
    let mut steps: Vec<(usize, usize, JourneyStep)> = store
        .waiting_by_step(now.as_second())?
        .into_iter()
        .map(|count| {
            let journey = compilation
                .journeys
                .iter()
                .position(|m| m.journey == count.journey);
            let state = journey.and_then(|index| {
                compilation.journeys[index]
                    .states
                    .iter()
                    .position(|s| s.key == count.step)
            });
            (
                journey.unwrap_or(usize::MAX),
                state.unwrap_or(usize::MAX),
                JourneyStep {
                    journey: count.journey,
                    step: count.step,
                    waiting: count.waiting,
                    due: count.due,
                    removed: state.is_none(),
                },
            )
        })
        .collect();
    steps.sort_by(|a, b| (a.0, a.1, &a.2.journey).cmp(&(b.0, b.1, &b.2.journey)));
    Ok(steps.into_iter().map(|(_, _, step)| step).collect())
}

impl Plan {
    /// Messages planned across every campaign.
    pub fn messages(&self) -> u64 {
        self.campaigns.iter().map(|c| c.messages).sum()
    }

    /// Whether the plan must not be carried out: a render failure or a
    /// campaign over its budget.
    pub fn has_errors(&self) -> bool {
        self.campaigns.iter().any(CampaignPlan::has_errors)
    }
}

/// One message the plan decided on.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedMessage {
    /// `campaign/<name>/<occurrence, RFC 3339 UTC>/<contact id>/<channel>`:
    /// the outbox's primary key, the same in every plan of this occurrence.
    pub key: String,
    pub campaign: String,
    #[serde(serialize_with = "rfc3339")]
    pub occurrence: Timestamp,
    pub contact_id: String,
    pub channel: &'static str,
    /// The address on the channel (email, phone, chat id, …).
    pub address: String,
    /// The variant's name; `None` for a campaign without variants.
    pub variant: Option<String>,
    /// When it may go out: the occurrence, or the end of the contact's
    /// quiet hours.
    #[serde(serialize_with = "rfc3339")]
    pub send_at: Timestamp,
    /// Whether quiet hours moved it.
    pub deferred: bool,
    /// SMS parts (1 for other channels).
    pub sms_parts: usize,
    /// Estimated cost in the project currency.
    pub cost: f64,
    pub rendered: Rendered,
}

/// A contact, or one of its messages, that a policy kept from an
/// occurrence: the contact gets nothing (`channel: None`: no consent,
/// suppressed, unreachable, held out, got it recently) or nothing on that
/// channel (frequency cap, SMS too long).
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub campaign: String,
    #[serde(serialize_with = "rfc3339")]
    pub occurrence: Timestamp,
    pub contact_id: String,
    pub channel: Option<&'static str>,
    pub reason: Reason,
}

impl Skipped {
    /// Its outbox key: the message's key for a skipped message, the key
    /// without a channel for a contact that gets nothing.
    pub fn key(&self) -> String {
        match self.channel {
            Some(channel) => {
                campaign_key(&self.campaign, self.occurrence, &self.contact_id, channel)
            }
            None => format!(
                "campaign/{}/{}/{}",
                self.campaign, self.occurrence, self.contact_id
            ),
        }
    }
}

/// Where a plan's decisions go: every message, and (for a sink that keeps
/// them, as the runner's outbox does) every contact or message a policy
/// skipped. A closure over messages is a sink that ignores the skips.
pub trait Sink {
    fn message(&mut self, message: PlannedMessage);

    fn skipped(&mut self, _skipped: Skipped) {}
}

impl<F: FnMut(PlannedMessage)> Sink for F {
    fn message(&mut self, message: PlannedMessage) {
        self(message)
    }
}

/// The idempotency key of a campaign message.
pub fn campaign_key(campaign: &str, occurrence: Timestamp, contact: &str, channel: &str) -> String {
    format!("campaign/{campaign}/{occurrence}/{contact}/{channel}")
}

/// Plans every due occurrence at `request.now`, handing each message to
/// `sink` in campaign order and, within a campaign, in contact id order
/// (skips as they are decided, before the messages of their batch).
pub fn plan(
    compilation: &Compilation,
    store: &Store,
    request: &PlanRequest,
    sink: &mut dyn Sink,
) -> Result<Plan, PlanError> {
    let due = due::due(compilation, store, request)?;
    let mut campaigns = Vec::new();
    // Messages of this plan per contact, for the frequency caps of the
    // campaigns after the first (a single campaign counts per contact).
    let mut planned: HashMap<String, Vec<policy::Sent>> = HashMap::new();
    for (index, occurrence) in due.occurrences.iter().enumerate() {
        let Some(campaign) = compilation
            .campaigns
            .iter()
            .find(|campaign| campaign.name == occurrence.campaign)
        else {
            continue;
        };
        let remember = index + 1 < due.occurrences.len();
        campaigns.push(stream::plan_campaign(
            compilation,
            store,
            request,
            campaign,
            occurrence.at,
            &mut planned,
            remember,
            sink,
        )?);
    }
    Ok(Plan {
        now: request.now,
        campaigns,
        missed: due.missed,
        coming_up: due.coming_up,
        journeys: journey_steps(compilation, store, request.now)?,
    })
}

/// Serialises a timestamp as RFC 3339 in UTC.
pub fn rfc3339<S: Serializer>(timestamp: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(timestamp)
}
