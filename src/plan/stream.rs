//! One campaign occurrence planned over its audience as a stream: the
//! reading thread takes each member from the store in id order and applies
//! the policies that need no rendering ([`super::policy`]); batches of
//! members go through a bounded channel to render threads (each with its
//! own renderers, one per variant, rendering only the chosen channels);
//! the rendered batches come back and are handed on in the order they were
//! read, so the sink (the JSON output, the outbox) sees a deterministic
//! order and memory stays flat whatever the audience.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::policy::{self, ChannelFacts, Sent, Zones};
use super::summary::{CampaignPlan, ChannelTotals, FAILURES_KEPT, Reason, RenderFailure};
use super::{PlanRequest, PlannedMessage, Sink, Skipped, campaign_key};
use crate::campaign::Campaign;
use crate::compiler::Compilation;
use crate::contact::Contact;
use crate::model::{Manifest, MessageType};
use crate::segment::ast::{Expr, ExprKind, Name, Range};
use crate::segment::catalog::channel_address;
use crate::segment::functions::Clock;
use crate::segment::sql::{Query, SqlCompiler, Sqlite};
use crate::store::{Store, StoreError};
use crate::template::renderer::Renderer;
use crate::template::{Part, Rendered, Target, Templates, vars_value};

/// Members per batch handed to a render thread.
const BATCH: usize = 256;
/// Batches read ahead of the oldest one not handed on yet.
const AHEAD: u64 = 16;

/// A planning failure that is not about one contact.
#[derive(Debug)]
pub enum PlanError {
    Store(StoreError),
    /// The audience could not be turned into SQL (`check` reports why).
    Audience {
        campaign: String,
        reason: String,
    },
    /// The journeys of a tick may not be advanced (contacts wait in a step
    /// an edit removed, and the journey does not say what to do with them).
    Journeys(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Store(error) => write!(f, "{error}"),
            PlanError::Audience { campaign, reason } => {
                write!(f, "the audience of campaign `{campaign}`: {reason}")
            }
            PlanError::Journeys(reason) => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for PlanError {}

impl From<StoreError> for PlanError {
    fn from(error: StoreError) -> PlanError {
        PlanError::Store(error)
    }
}

/// A message decided on, waiting to be rendered.
#[derive(Clone, Debug)]
struct Pending {
    channel: &'static str,
    address: String,
    send_at: Timestamp,
    deferred: bool,
}

/// A member with its decisions, on its way to a render thread.
struct Item {
    contact: Contact,
    variant: usize,
    pending: Vec<Pending>,
    /// SMS parts the contact may get (`None`: no limit).
    sms_limit: Option<usize>,
}

/// A member back from rendering.
struct Done {
    contact_id: String,
    variant: usize,
    pending: Vec<Pending>,
    sms_limit: Option<usize>,
    rendered: Result<Vec<Rendered>, (Part, minijinja::Error)>,
}

/// The SQL condition of a campaign's audience: the segment, minus every
/// `exclude` segment, and the extra filter; everyone without a segment.
pub fn audience_condition(
    compilation: &Compilation,
    campaign: &Campaign,
    now: Timestamp,
) -> Result<Query, PlanError> {
    let name = |text: &str| Name {
        text: text.to_string(),
        range: Range::default(),
    };
    let expr = |kind| Expr {
        kind,
        range: Range::default(),
    };
    let audience = &campaign.audience;
    let mut items = Vec::new();
    if let Some(segment) = &audience.segment {
        items.push(expr(ExprKind::InSegment(name(segment))));
    }
    for excluded in &audience.exclude {
        items.push(expr(ExprKind::Not(Box::new(expr(ExprKind::InSegment(
            name(excluded),
        ))))));
    }
    items.extend(audience.filter.clone());
    let whole = match items.len() {
        0 => {
            return Ok(Query {
                sql: "1".into(),
                parameters: Vec::new(),
            });
        }
        1 => items.remove(0),
        _ => expr(ExprKind::And(items)),
    };
    condition(compilation, &whole, now).map_err(|reason| PlanError::Audience {
        campaign: campaign.name.clone(),
        reason,
    })
}

/// The SQL condition (over `contacts AS c`) of a filter at `now`.
pub fn condition(
    compilation: &Compilation,
    filter: &Expr,
    now: Timestamp,
) -> Result<Query, String> {
    let catalog = &compilation.filters.catalog;
    let clock = Clock::new(now, &catalog.timezone);
    let segments = compilation.filters.segment_exprs();
    SqlCompiler {
        catalog,
        clock: &clock,
        segments: &segments,
        dialect: &Sqlite,
    }
    .condition(filter)
    .map_err(|error| error.0)
}

/// The SQL condition of membership in a segment at `now`.
pub fn segment_condition(
    compilation: &Compilation,
    segment: &str,
    now: Timestamp,
) -> Result<Query, String> {
    let filter = Expr {
        kind: ExprKind::InSegment(Name {
            text: segment.to_string(),
            range: Range::default(),
        }),
        range: Range::default(),
    };
    condition(compilation, &filter, now)
}

/// The template of each variant of the campaign (one without variants).
fn targets<'t>(templates: &'t Templates, campaign: &Campaign) -> Vec<Option<&'t Target>> {
    let find = |variant: Option<&str>| {
        templates.targets.iter().find(|target| {
            target.kind == "campaign"
                && target.name == campaign.name
                && target.variant.as_deref() == variant
        })
    };
    if campaign.variants.is_empty() {
        vec![find(None)]
    } else {
        campaign
            .variants
            .iter()
            .map(|variant| find(Some(&variant.name)))
            .collect()
    }
}

/// Plans one occurrence of `campaign`.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_campaign(
    compilation: &Compilation,
    store: &Store,
    request: &PlanRequest,
    campaign: &Campaign,
    occurrence: Timestamp,
    planned: &mut HashMap<String, Vec<Sent>>,
    remember: bool,
    sink: &mut dyn Sink,
) -> Result<CampaignPlan, PlanError> {
    let facts = match compilation.project.manifest.as_ref() {
        Some(manifest) => policy::channel_facts(&manifest.value, campaign),
        None => Vec::new(),
    };
    let variant_names: Vec<String> = if campaign.variants.is_empty() {
        vec!["default".into()]
    } else {
        campaign.variants.iter().map(|v| v.name.clone()).collect()
    };
    let mut summary = CampaignPlan {
        campaign: campaign.name.clone(),
        occurrence,
        audience: 0,
        excluded: BTreeMap::new(),
        skipped: BTreeMap::new(),
        recipients: 0,
        messages: 0,
        deferred: 0,
        channels: facts
            .iter()
            .map(|facts| ChannelTotals {
                channel: facts.name,
                ..ChannelTotals::default()
            })
            .collect(),
        variants: variant_names.iter().map(|name| (name.clone(), 0)).collect(),
        cost: 0.0,
        budget: campaign.budget,
        holdout: campaign.holdout,
        samples: Vec::new(),
        render_failures: Vec::new(),
        render_failure_count: 0,
    };
    let (Some(manifest), Some(templates)) = (
        compilation.project.manifest.as_ref(),
        compilation.templates.as_ref(),
    ) else {
        return Ok(summary);
    };
    let manifest = &manifest.value;
    let condition = audience_condition(compilation, campaign, request.now)?;
    let targets = targets(templates, campaign);
    let mut decider = Decider {
        compilation,
        store,
        campaign,
        manifest,
        channels: facts.iter().map(|f| f.name).collect(),
        now: request.now,
        zone: compilation.timezone.clone().unwrap_or(TimeZone::UTC),
        zones: Zones::default(),
        clock: Clock::new(request.now, &compilation.filters.catalog.timezone),
        planned,
        remember,
        sms_max_parts: targets
            .iter()
            .map(|target| {
                target
                    .and_then(|t| t.messages.iter().find(|m| m.channel == "sms"))
                    .and_then(|m| m.max_parts)
            })
            .collect(),
        skipped: BTreeMap::new(),
        skipped_channels: Vec::new(),
        deferred: 0,
        error: None,
    };
    let mut emitter = Emitter {
        campaign,
        occurrence,
        facts: &facts,
        variant_names: &variant_names,
        samples: request.samples,
        summary: &mut summary,
        sink,
        buffer: BTreeMap::new(),
        next: 0,
    };
    let threads = match request.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let now_text = request.now.to_string();
    let (work, work_receiver) = mpsc::sync_channel::<(u64, Vec<Item>)>(AHEAD as usize / 2);
    let work_receiver = Arc::new(Mutex::new(work_receiver));
    let (done_sender, done) = mpsc::channel::<(u64, Vec<Done>)>();
    let read = std::thread::scope(|scope| {
        for _ in 0..threads {
            let work_receiver = work_receiver.clone();
            let done_sender = done_sender.clone();
            let targets = &targets;
            let now_text = &now_text;
            scope.spawn(move || {
                let vars = vars_value(manifest);
                let renderers: Vec<Option<Renderer<'_>>> = targets
                    .iter()
                    .map(|target| {
                        target.and_then(|target| {
                            Renderer::new(templates, target, &vars, now_text)
                                .ok()
                                .map(|renderer| renderer.with_links(request.links.clone()))
                        })
                    })
                    .collect();
                loop {
                    let next = work_receiver
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok((sequence, items)) = next else { break };
                    let rendered = items.into_iter().map(|item| render(&renderers, item));
                    if done_sender.send((sequence, rendered.collect())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_sender);
        let mut batch = Vec::with_capacity(BATCH);
        let mut sent = 0u64;
        let mut dispatch = |batch: Vec<Item>, emitter: &mut Emitter<'_, '_>| -> bool {
            if work.send((sent, batch)).is_err() {
                return false;
            }
            sent += 1;
            emitter.take(done.try_iter());
            while sent - emitter.next > AHEAD {
                match done.recv() {
                    Ok(result) => emitter.take(std::iter::once(result)),
                    Err(_) => return false,
                }
            }
            true
        };
        let read = store.each_member(&condition, |contact| {
            emitter.summary.audience += 1;
            let id = contact.id.clone();
            match decider.decide(contact) {
                Ok(Some(item)) => batch.push(item),
                Ok(None) => {}
                Err(reason) => {
                    *emitter.summary.excluded.entry(reason).or_default() += 1;
                    emitter.skip(&id, None, reason);
                }
            }
            for (channel, reason) in decider.skipped_channels.drain(..) {
                emitter.skip(&id, Some(channel), reason);
            }
            if decider.error.is_some() {
                return ControlFlow::Break(());
            }
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if !dispatch(full, &mut emitter) {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !batch.is_empty() {
            dispatch(batch, &mut emitter);
        }
        drop(work);
        emitter.take(done.iter());
        read
    });
    drop(emitter);
    read?;
    if let Some(error) = decider.error {
        return Err(error.into());
    }
    summary.deferred += decider.deferred;
    for (reason, count) in decider.skipped {
        *summary.skipped.entry(reason).or_default() += count;
    }
    Ok(summary)
}

/// The reading thread's part: the policies before rendering.
struct Decider<'a> {
    compilation: &'a Compilation,
    store: &'a Store,
    campaign: &'a Campaign,
    manifest: &'a Manifest,
    channels: Vec<&'static str>,
    now: Timestamp,
    zone: TimeZone,
    zones: Zones,
    clock: Clock,
    planned: &'a mut HashMap<String, Vec<Sent>>,
    remember: bool,
    /// The SMS message's `max_parts` per variant.
    sms_max_parts: Vec<Option<u32>>,
    /// Messages skipped before rendering (frequency caps), by reason.
    skipped: BTreeMap<Reason, u64>,
    /// The current member's skipped messages, for the sink.
    skipped_channels: Vec<(&'static str, Reason)>,
    deferred: u64,
    error: Option<StoreError>,
}

impl Decider<'_> {
    /// Whether the ledger holds this campaign as sent to the contact within
    /// `once_per` before now; a store failure is kept and answers no.
    fn received_within(&mut self, contact: &str, once_per: crate::duration::Duration) -> bool {
        self.clock.now = self.now;
        let from = self.clock.ago(once_per);
        match self
            .store
            .campaign_sent(contact, &self.campaign.name, from, self.now)
        {
            Ok(sent) => sent,
            Err(failure) => {
                self.error.get_or_insert(failure);
                false
            }
        }
    }

    /// The member's messages, `None` when every one is skipped, or the
    /// reason the member gets nothing.
    fn decide(&mut self, contact: Contact) -> Result<Option<Item>, Reason> {
        let campaign = self.campaign;
        let policies = &self.compilation.policies;
        let eligible =
            policy::eligible_channels(&contact, &self.channels, campaign.kind, policies)?;
        if policy::held_out(&campaign.name, &contact.id, campaign.holdout) {
            return Err(Reason::HeldOut);
        }
        if let Some(once_per) = campaign.once_per
            && self.received_within(&contact.id, once_per)
        {
            return Err(Reason::ReceivedRecently);
        }
        let variant = policy::variant(&campaign.name, &contact.id, &campaign.variants);
        let chosen = policy::choose_channels(&contact, eligible, campaign.mode);
        let transactional = campaign.kind == MessageType::Transactional;
        let zone = self.zones.of(&contact, &self.zone);
        let mut in_plan: Vec<Sent> = self.planned.get(&contact.id).cloned().unwrap_or_default();
        let mut pending = Vec::new();
        for channel in chosen {
            let store = self.store;
            let error = &mut self.error;
            let id = contact.id.as_str();
            let mut earlier = |cap: &crate::policy::FrequencyCap, from, until| match store
                .sent_messages(id, cap.channel.as_deref(), from, until)
            {
                Ok(count) => count,
                Err(failure) => {
                    error.get_or_insert(failure);
                    0
                }
            };
            let Some((send_at, deferred)) = policy::schedule(
                self.now,
                channel,
                transactional,
                policies,
                &zone,
                &mut self.clock,
                &in_plan,
                &mut earlier,
            ) else {
                *self.skipped.entry(Reason::FrequencyCap).or_default() += 1;
                self.skipped_channels.push((channel, Reason::FrequencyCap));
                continue;
            };
            in_plan.push(Sent {
                channel,
                at: send_at,
            });
            self.deferred += u64::from(deferred);
            pending.push(Pending {
                channel,
                address: channel_address(channel)
                    .and_then(|field| policy::text(&contact, field))
                    .unwrap_or_default()
                    .to_string(),
                send_at,
                deferred,
            });
        }
        if pending.is_empty() {
            return Ok(None);
        }
        if self.remember {
            self.planned.insert(contact.id.clone(), in_plan);
        }
        let prospect = policy::is_prospect(&contact, &self.manifest.greeting.customer_attribute);
        let sms_limit =
            policy::sms_limit(prospect, self.sms_max_parts.get(variant).copied().flatten());
        Ok(Some(Item {
            contact,
            variant,
            pending,
            sms_limit,
        }))
    }
}

/// Renders a member's chosen channels with its variant's renderer.
fn render(renderers: &[Option<Renderer<'_>>], item: Item) -> Done {
    let channels: Vec<&str> = item.pending.iter().map(|p| p.channel).collect();
    let contact_id = item.contact.id.clone();
    let rendered = match renderers.get(item.variant).and_then(Option::as_ref) {
        Some(renderer) => renderer.render_channels(
            crate::template::contact_value(item.contact),
            None,
            &channels,
        ),
        None => Ok(Vec::new()),
    };
    Done {
        contact_id,
        variant: item.variant,
        pending: item.pending,
        sms_limit: item.sms_limit,
        rendered,
    }
}

/// The reading thread's other part: rendered members handed on in order.
struct Emitter<'a, 's> {
    campaign: &'a Campaign,
    occurrence: Timestamp,
    facts: &'a [ChannelFacts],
    variant_names: &'a [String],
    samples: usize,
    summary: &'a mut CampaignPlan,
    sink: &'s mut dyn Sink,
    /// Rendered batches that came back before an earlier one.
    buffer: BTreeMap<u64, Vec<Done>>,
    /// The sequence number of the next batch to hand on.
    next: u64,
}

impl Emitter<'_, '_> {
    fn take(&mut self, results: impl Iterator<Item = (u64, Vec<Done>)>) {
        for (sequence, batch) in results {
            self.buffer.insert(sequence, batch);
            while let Some(batch) = self.buffer.remove(&self.next) {
                self.next += 1;
                for done in batch {
                    self.emit(done);
                }
            }
        }
    }

    fn skip(&mut self, contact_id: &str, channel: Option<&'static str>, reason: Reason) {
        self.sink.skipped(Skipped {
            campaign: self.campaign.name.clone(),
            occurrence: self.occurrence,
            contact_id: contact_id.to_string(),
            channel,
            reason,
        });
    }

    fn emit(&mut self, done: Done) {
        let rendered = match done.rendered {
            Ok(rendered) => rendered,
            Err((part, error)) => {
                self.summary.render_failure_count += 1;
                if self.summary.render_failures.len() < FAILURES_KEPT {
                    self.summary.render_failures.push(RenderFailure {
                        contact_id: done.contact_id,
                        channel: done.pending.first().map_or("", |p| p.channel),
                        part: part.kind.as_str(),
                        template: crate::template::base_name(&part.template).to_string(),
                        error: error.to_string(),
                    });
                }
                return;
            }
        };
        let variant_name = &self.variant_names[done.variant.min(self.variant_names.len() - 1)];
        let mut any = false;
        for rendered in rendered {
            let Some(pending) = done.pending.iter().find(|p| p.channel == rendered.channel) else {
                continue;
            };
            let parts = rendered.sms.as_ref().map_or(1, |sms| sms.parts.max(1));
            if rendered.channel == "sms" && done.sms_limit.is_some_and(|limit| parts > limit) {
                *self.summary.skipped.entry(Reason::SmsTooLong).or_default() += 1;
                self.skip(&done.contact_id, Some(rendered.channel), Reason::SmsTooLong);
                continue;
            }
            let Some(index) = self.facts.iter().position(|f| f.name == rendered.channel) else {
                continue;
            };
            let cost = self.facts[index].cost * parts as f64;
            let totals = &mut self.summary.channels[index];
            totals.messages += 1;
            totals.parts += parts as u64;
            totals.cost += cost;
            self.summary.messages += 1;
            self.summary.cost += cost;
            *self
                .summary
                .variants
                .entry(variant_name.clone())
                .or_default() += 1;
            any = true;
            let message = PlannedMessage {
                key: campaign_key(
                    &self.campaign.name,
                    self.occurrence,
                    &done.contact_id,
                    rendered.channel,
                ),
                campaign: self.campaign.name.clone(),
                occurrence: self.occurrence,
                contact_id: done.contact_id.clone(),
                channel: rendered.channel,
                address: pending.address.clone(),
                variant: (!self.campaign.variants.is_empty()).then(|| variant_name.clone()),
                send_at: pending.send_at,
                deferred: pending.deferred,
                sms_parts: parts,
                cost,
                rendered,
            };
            let shown = self
                .summary
                .samples
                .iter()
                .filter(|sample| sample.channel == message.channel)
                .count();
            if shown < self.samples {
                self.summary.samples.push(message.clone());
            }
            self.sink.message(message);
        }
        self.summary.recipients += u64::from(any);
    }
}
