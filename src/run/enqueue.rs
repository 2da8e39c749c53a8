//! A plan written into the outbox: the planner runs over a read-only
//! connection while each message it decides on is inserted through the
//! writing one, inside a single transaction that also records every
//! occurrence in `campaign_runs`. A plan with errors (a render failure, a
//! campaign over budget) is rolled back whole: nothing of it is enqueued.
//!
//! Every contact a policy kept from an occurrence is recorded too, in the
//! same transaction: an outbox row in state `skipped` whose `reason` is
//! the planner's [`crate::plan::Reason`] in snake case (`no_consent`,
//! `suppressed`, `unreachable`, `held_out`, `received_recently`,
//! `frequency_cap`, `sms_too_long`). A contact that gets nothing has one
//! row keyed `campaign/<name>/<occurrence>/<contact id>` with an empty
//! `channel`; a message skipped on one channel (caps, SMS length) has its
//! own message key and channel. They are never claimed and never count
//! against the frequency caps; `herald status` counts them by reason, and a
//! report finds them per campaign through the `outbox_by_origin` index
//! (`kind, name, state, reason`); the held-out rows are the control group.
//!
//! Planning reads through its own connection so that it does not see the
//! messages this plan is inserting: the planner counts those itself against
//! the frequency caps.

use std::collections::HashMap;

use crate::compiler::Compilation;
use crate::plan::{self, Plan, PlanError, PlanRequest, PlannedMessage, Sink, Skipped};
use crate::provider::{Message, Origin, Parts};
use crate::signed_link::Links;
use crate::store::outbox::{CampaignRun, Intent, Kind, Skip};
use crate::store::{Store, StoreError};
use crate::template::PartKind;

/// A plan and what enqueueing it added.
#[derive(Debug)]
pub struct Enqueued {
    pub plan: Plan,
    /// Messages new to the outbox.
    pub added: u64,
}

/// Plans at `request.now` over `reader` and enqueues the plan through
/// `writer`. `Ok(Err(plan))` when the plan has errors and nothing was written.
pub fn enqueue(
    compilation: &Compilation,
    reader: &Store,
    writer: &Store,
    request: &PlanRequest,
    now: i64,
) -> Result<Result<Enqueued, Plan>, PlanError> {
    let routing = Routing::new(compilation, request.links.as_ref());
    writer.begin()?;
    let mut sink = Outbox {
        routing: &routing,
        writer,
        now,
        added: 0,
        failure: None,
    };
    let planned = plan::plan(compilation, reader, request, &mut sink);
    let Outbox { added, failure, .. } = sink;
    let plan = match (planned, failure) {
        (Ok(plan), None) => plan,
        (Err(error), _) => {
            writer.rollback();
            return Err(error);
        }
        (_, Some(error)) => {
            writer.rollback();
            return Err(error.into());
        }
    };
    if plan.has_errors() {
        writer.rollback();
        return Ok(Err(plan));
    }
    let recorded = plan.campaigns.iter().try_for_each(|campaign| {
        let mut excluded = serde_json::Map::new();
        for (reason, count) in campaign.excluded.iter().chain(&campaign.skipped) {
            let name = reason.as_str().to_string();
            let before = excluded.get(&name).and_then(|v| v.as_u64()).unwrap_or(0);
            excluded.insert(name, (before + count).into());
        }
        let excluded = serde_json::Value::Object(excluded).to_string();
        let held_out = campaign
            .excluded
            .get(&plan::Reason::HeldOut)
            .copied()
            .unwrap_or(0);
        writer.record_campaign_run(
            &CampaignRun {
                campaign: &campaign.campaign,
                occurrence: campaign.occurrence,
                planned: campaign.messages,
                held_out,
                excluded: &excluded,
                cost: campaign.cost,
            },
            now,
        )
    });
    if let Err(error) = recorded.and_then(|()| writer.commit()) {
        writer.rollback();
        return Err(error.into());
    }
    Ok(Ok(Enqueued { plan, added }))
}

/// The plan's decisions written through the writing connection: messages
/// as intents, skips as `skipped` rows with their reason.
struct Outbox<'r, 'c> {
    routing: &'r Routing<'c>,
    writer: &'r Store,
    now: i64,
    /// Messages new to the outbox.
    added: u64,
    /// The first write that failed; later decisions are dropped.
    failure: Option<StoreError>,
}

impl Sink for Outbox<'_, '_> {
    fn message(&mut self, message: PlannedMessage) {
        if self.failure.is_some() {
            return;
        }
        match self.routing.insert(self.writer, &message, self.now) {
            Ok(new) => self.added += u64::from(new),
            Err(error) => self.failure = Some(error),
        }
    }

    fn skipped(&mut self, skipped: Skipped) {
        if self.failure.is_some() {
            return;
        }
        let occurrence = skipped.occurrence.to_string();
        let skip = Skip {
            key: &skipped.key(),
            kind: Kind::Campaign,
            name: &skipped.campaign,
            occurrence: &occurrence,
            step: None,
            contact_id: &skipped.contact_id,
            channel: skipped.channel.unwrap_or_default(),
            reason: skipped.reason.as_str(),
            at: skipped.occurrence.as_second(),
        };
        if let Err(error) = self.writer.insert_skip(&skip, self.now) {
            self.failure = Some(error);
        }
    }
}

/// Which provider delivers each channel, which campaigns need consent,
/// and the links of `herald serve` (which may track clicks in sent email).
struct Routing<'c> {
    providers: HashMap<&'static str, String>,
    consent: HashMap<&'c str, bool>,
    clicks: Option<&'c Links>,
}

impl<'c> Routing<'c> {
    fn new(compilation: &'c Compilation, links: Option<&'c Links>) -> Routing<'c> {
        let providers = channel_providers(compilation);
        let consent = compilation
            .campaigns
            .iter()
            .map(|campaign| {
                let needs = compilation.policies.needs_consent(campaign.kind);
                (campaign.name.as_str(), needs)
            })
            .collect();
        Routing {
            providers,
            consent,
            clicks: links,
        }
    }

    fn insert(
        &self,
        writer: &Store,
        planned: &PlannedMessage,
        now: i64,
    ) -> Result<bool, StoreError> {
        let provider = self
            .providers
            .get(planned.channel)
            .map_or("", String::as_str);
        let mut message = message(planned);
        track_clicks(&mut message, self.clicks);
        let payload = serde_json::to_string(&message).unwrap_or_default();
        let occurrence = planned.occurrence.to_string();
        writer.insert_intent(
            &Intent {
                key: &planned.key,
                kind: Kind::Campaign,
                name: &planned.campaign,
                occurrence: &occurrence,
                step: None,
                contact_id: &planned.contact_id,
                channel: planned.channel,
                provider,
                variant: planned.variant.as_deref(),
                payload: &payload,
                cost: planned.cost,
                needs_consent: self
                    .consent
                    .get(planned.campaign.as_str())
                    .copied()
                    .unwrap_or(true),
                send_at: planned.send_at.as_second(),
            },
            now,
        )
    }
}

/// A rendered message's parts as the provider clients take them.
pub fn parts(rendered: &crate::template::Rendered) -> Parts {
    let parts = &rendered.parts;
    let text = parts.get(&PartKind::Text).cloned().unwrap_or_default();
    match parts.get(&PartKind::Subject) {
        Some(subject) => Parts::Email {
            subject: subject.clone(),
            text,
            html: parts.get(&PartKind::Html).cloned(),
        },
        None => Parts::Text { text },
    }
}

/// Which provider delivers each declared channel.
pub fn channel_providers(compilation: &Compilation) -> HashMap<&'static str, String> {
    compilation
        .project
        .manifest
        .as_ref()
        .map(|manifest| {
            manifest
                .value
                .channels
                .declared()
                .into_iter()
                .map(|(name, channel)| (name, channel.provider.value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Points the links of an email at the click redirect when `links` track
/// clicks. Only what is sent is rewritten: the plan shows the links as
/// written.
pub fn track_clicks(message: &mut Message, links: Option<&Links>) {
    if let (
        Some(links),
        Parts::Email {
            html: Some(html), ..
        },
    ) = (
        links.filter(|links| links.tracks_clicks()),
        &mut message.parts,
    ) {
        *html = links.track_clicks_in(&message.key, html);
    }
}

/// The message the provider clients take.
pub fn message(planned: &PlannedMessage) -> Message {
    let parts = parts(&planned.rendered);
    Message {
        key: planned.key.clone(),
        origin: Origin::Campaign {
            campaign: planned.campaign.clone(),
        },
        contact_id: planned.contact_id.clone(),
        channel: planned.channel.to_string(),
        variant: planned.variant.clone(),
        recipient: planned.address.clone(),
        parts,
        headers: planned.rendered.headers.iter().cloned().collect(),
    }
}
