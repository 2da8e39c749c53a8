//! The journey runtime (SPEC section 5): enrols contacts and moves each
//! enrolment through its journey's state machine ([`crate::journey`]) up to
//! a tick's `now`, writing every message into the outbox and every step
//! into the journey log ([`crate::store::enrolments`]).
//!
//! A tick handles, in time order (events before timers of the same second):
//!
//! 1. contacts in a removed step (`on_removed_step`; without it the tick
//!    refuses, [`JourneyError::RemovedSteps`]) or in a removed journey;
//! 2. date anniversaries whose local time fell in the window since the last
//!    tick (29 February counts on 28 February in common years);
//! 3. events not yet handled ([`Store::journey_events`]): a goal event
//!    converts the enrolments within their goal window, an exit event ends
//!    the active enrolment at once (even during a wait), a `wait_for` event
//!    moves its waiting enrolment on, a trigger event enrols; between events
//!    the timers that end before the next one ([`Store::due_enrolments`],
//!    through the index on `wake_at`);
//! 4. entries into trigger segments, evaluated at `now` against the members
//!    stored at the last evaluation.
//!
//! Steps that take no time (send, branch, split, update, exit) run at once
//! until the enrolment waits or ends. Sends go through the campaign
//! policies ([`crate::plan::policy`]): suppression and consent by message
//! type, the channel mode, quiet hours (defer; not for transactional
//! journeys), frequency caps (skip and move on) and the SMS part limit.
//!
//! Work is committed in batches with the position in the event stream, and
//! every identifier is derived from what caused it (enrolment ids from the
//! journey, contact and trigger; message keys from those), so a runner
//! killed at any moment and started again at the same `now` carries on
//! where the last commit left it and ends with the same outbox and log.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;

use crate::compiler::Compilation;
use crate::contact::{Contact, Event};
use crate::duration::{Reentry, Wait};
use crate::journey::{Action, Cause, StateMachine, Target, Trigger};
use crate::model::{ChannelMode, Journey, MessageType, RemovedStep};
use crate::plan::policy::{self, Sent, Zones};
use crate::plan::{CATCH_UP, Reason};
use crate::provider::{Message, Origin};
use crate::segment::ast::Expr;
use crate::segment::catalog::channel_address;
use crate::segment::check::Site;
use crate::segment::eval::{Evaluator, json_value};
use crate::segment::functions::Clock;
use crate::segment::typecheck::Context;
use crate::signed_link::Links;
use crate::store::enrolments::{Enrolment, JourneyEvent, LogEntry, Progress, Status};
use crate::store::outbox::{Intent, Kind};
use crate::store::{Durability, Store, StoreError};
use crate::template::renderer::Renderer;
use crate::template::{Templates, contact_value, vars_value};

/// Events and timers handled per batch read from the store.
const BATCH: usize = 256;
/// Units of work per commit.
const COMMIT_EVERY: usize = 1024;
/// Steps one enrolment may take without waiting before it is stopped (a
/// loop without a wait, which `check` warns about).
const MAX_STEPS: usize = 1_000;

/// The idempotency key of a journey message.
pub fn journey_key(journey: &str, enrolment: &str, step: &str, channel: &str) -> String {
    format!("journey/{journey}/{enrolment}/{step}/{channel}")
}

/// What a tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Advanced {
    pub entered: u64,
    pub sent: u64,
    pub deferred: u64,
    pub skipped: u64,
    pub woken: u64,
    pub converted: u64,
    pub exited: u64,
    pub completed: u64,
    /// Trigger events, anniversaries and segment entries that did not enrol
    /// (filter, entry segment, re-entry rule, an active enrolment).
    pub not_entered: u64,
}

/// A step an edit removed while contacts wait in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemovedWaiting {
    pub journey: String,
    pub step: String,
    pub waiting: u64,
    /// `None` when the journey does not say what to do.
    #[serde(skip)]
    pub policy: Option<RemovedStep>,
}

#[derive(Debug)]
pub enum JourneyError {
    Store(StoreError),
    /// Contacts wait in removed steps of journeys without `on_removed_step`.
    RemovedSteps(Vec<RemovedWaiting>),
    /// A trigger segment could not be turned into SQL.
    Segment {
        journey: String,
        reason: String,
    },
}

impl std::fmt::Display for JourneyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JourneyError::Store(error) => write!(f, "{error}"),
            JourneyError::RemovedSteps(removed) => {
                let list: Vec<String> = removed
                    .iter()
                    .map(|r| format!("`{}` step `{}` ({} waiting)", r.journey, r.step, r.waiting))
                    .collect();
                write!(
                    f,
                    "contacts wait in steps that no longer exist: {}; set `on_removed_step: exit` \
                     or `on_removed_step: next` in the journey",
                    list.join(", ")
                )
            }
            JourneyError::Segment { journey, reason } => {
                write!(f, "the trigger segment of journey `{journey}`: {reason}")
            }
        }
    }
}

impl std::error::Error for JourneyError {}

impl From<StoreError> for JourneyError {
    fn from(error: StoreError) -> JourneyError {
        JourneyError::Store(error)
    }
}

/// Steps of the project's journeys that contacts wait in but that no
/// longer exist, with how many wait there (`check --store` and `run`).
pub fn removed_steps(
    compilation: &Compilation,
    store: &Store,
) -> Result<Vec<RemovedWaiting>, StoreError> {
    let mut removed = Vec::new();
    for (journey, step) in store.active_steps()? {
        let Some(machine) = compilation.journeys.iter().find(|m| m.journey == journey) else {
            continue;
        };
        if machine.states.iter().any(|state| state.key == step) {
            continue;
        }
        removed.push(RemovedWaiting {
            waiting: store.waiting_at(&journey, &step)?,
            journey,
            step,
            policy: machine.on_removed_step,
        });
    }
    Ok(removed)
}

/// Advances every journey to `now`: see the module documentation.
pub fn advance(
    compilation: &Compilation,
    store: &Store,
    now: Timestamp,
) -> Result<Advanced, JourneyError> {
    advance_with_links(compilation, store, now, None)
}

/// [`advance`], the messages of send steps carrying `links`: each
/// contact's signed unsubscribe address, and click tracking where the
/// links track clicks.
pub fn advance_with_links(
    compilation: &Compilation,
    store: &Store,
    now: Timestamp,
    links: Option<&Links>,
) -> Result<Advanced, JourneyError> {
    let removed = removed_steps(compilation, store)?;
    let refused: Vec<RemovedWaiting> = removed
        .iter()
        .filter(|r| r.policy.is_none())
        .cloned()
        .collect();
    if !refused.is_empty() {
        return Err(JourneyError::RemovedSteps(refused));
    }
    let Some(mut engine) = Engine::new(compilation, store, now, links) else {
        return Ok(Advanced::default());
    };
    store.tune_for_batches()?;
    store.set_durability(Durability::Deferred)?;
    store.begin()?;
    let result = engine.tick(&removed);
    match result {
        Ok(()) => {
            store.commit()?;
            store.set_durability(Durability::Full)?;
            Ok(engine.advanced)
        }
        Err(error) => {
            store.rollback();
            let _ = store.set_durability(Durability::Full);
            Err(error)
        }
    }
}

/// A journey with what its steps need at run time.
struct Prepared<'c> {
    machine: &'c StateMachine,
    journey: &'c Journey,
    trigger_filter: Option<&'c Expr>,
    /// Per state: the filter of a `wait_for`, the conditions of a branch.
    wait_filters: HashMap<usize, &'c Expr>,
    cases: HashMap<(usize, usize), &'c Expr>,
    /// Per state: the renderer of a send step.
    renderers: HashMap<usize, Renderer<'c>>,
}

impl Prepared<'_> {
    fn name(&self) -> &str {
        &self.machine.journey
    }

    fn state_of(&self, step: &str) -> Option<usize> {
        self.machine.states.iter().position(|s| s.key == step)
    }

    fn trigger_event(&self) -> Option<&str> {
        match &self.machine.trigger {
            Some(Trigger::Event(name)) => Some(name),
            _ => None,
        }
    }
}

struct Engine<'c> {
    compilation: &'c Compilation,
    store: &'c Store,
    now: Timestamp,
    /// The links of `herald serve` that sent messages carry.
    links: Option<&'c Links>,
    journeys: Vec<Prepared<'c>>,
    segments: BTreeMap<String, Expr>,
    zone: TimeZone,
    zones: Zones,
    providers: HashMap<&'static str, String>,
    costs: HashMap<&'static str, f64>,
    customer_attribute: String,
    advanced: Advanced,
    pending: usize,
    progress: Progress,
}

impl<'c> Engine<'c> {
    fn new(
        compilation: &'c Compilation,
        store: &'c Store,
        now: Timestamp,
        links: Option<&'c Links>,
    ) -> Option<Engine<'c>> {
        let manifest = &compilation.project.manifest.as_ref()?.value;
        let templates: Option<&'c Templates> = compilation.templates.as_ref();
        let vars = vars_value(manifest);
        let now_text = now.to_string();
        let filter = |site: &Site| {
            compilation
                .filters
                .filters
                .iter()
                .find(|f| &f.site == site && f.valid)
                .and_then(|f| f.expr.as_ref())
        };
        let journeys = compilation
            .journeys
            .iter()
            .zip(&compilation.project.journeys)
            .map(|(machine, definition)| {
                let name = machine.journey.clone();
                let journey = &definition.value;
                let mut wait_filters = HashMap::new();
                let mut cases = HashMap::new();
                let mut renderers = HashMap::new();
                for (index, step) in journey.steps.iter().enumerate() {
                    if let Some(expr) = filter(&Site::WaitFor {
                        journey: name.clone(),
                        step: index,
                    }) {
                        wait_filters.insert(index, expr);
                    }
                    if let Some(branch) = &step.branch {
                        for case in 0..branch.cases.len() {
                            if let Some(expr) = filter(&Site::Branch {
                                journey: name.clone(),
                                step: index,
                                case,
                            }) {
                                cases.insert((index, case), expr);
                            }
                        }
                    }
                    if step.send.is_some() {
                        let key = crate::journey::step_key(step, index);
                        let renderer = templates.and_then(|templates| {
                            let target = templates.targets.iter().find(|t| {
                                t.kind == "journey"
                                    && t.name == name
                                    && t.step.as_deref() == Some(key.as_str())
                            })?;
                            Renderer::new(templates, target, &vars, &now_text)
                                .ok()
                                .map(|renderer| renderer.with_links(links.cloned()))
                        });
                        if let Some(renderer) = renderer {
                            renderers.insert(index, renderer);
                        }
                    }
                }
                Prepared {
                    machine,
                    journey,
                    trigger_filter: filter(&Site::Trigger {
                        journey: name.clone(),
                    }),
                    wait_filters,
                    cases,
                    renderers,
                }
            })
            .collect();
        let costs = manifest
            .channels
            .declared()
            .into_iter()
            .map(|(name, channel)| (name, channel.cost.unwrap_or(0.0)))
            .collect();
        Some(Engine {
            compilation,
            store,
            now,
            links,
            journeys,
            segments: compilation.filters.segment_exprs(),
            zone: compilation.timezone.clone().unwrap_or(TimeZone::UTC),
            zones: Zones::default(),
            providers: super::enqueue::channel_providers(compilation),
            costs,
            customer_attribute: manifest.greeting.customer_attribute.clone(),
            advanced: Advanced::default(),
            pending: 0,
            progress: Progress::default(),
        })
    }

    fn tick(&mut self, removed: &[RemovedWaiting]) -> Result<(), JourneyError> {
        let now = self.now.as_second();
        for step in removed {
            self.migrate(step)?;
        }
        self.removed_journeys()?;
        let rowid_limit = self.store.last_event_rowid()?;
        let start = self.now.saturating_sub(CATCH_UP).unwrap_or(self.now);
        self.progress = self.store.journey_progress()?.unwrap_or(Progress {
            until: start.as_second(),
            rowid_seen: rowid_limit,
            tick: None,
            cursor: None,
        });
        let resumed = self.progress.tick == Some(now);
        let mut after = match (resumed, self.progress.cursor) {
            (true, Some(cursor)) => cursor,
            _ => (i64::MIN, i64::MIN),
        };
        self.progress.tick = Some(now);
        self.anniversaries(self.progress.until.max(start.as_second()))?;
        let names = self.event_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        loop {
            let batch = self.store.journey_events(
                &names,
                &self.progress,
                now,
                rowid_limit,
                after,
                BATCH,
            )?;
            for event in &batch {
                self.timers(event.at - 1, Some(after))?;
                self.event(event)?;
                after = (event.at, event.rowid);
                self.done(Some(after))?;
            }
            if batch.len() < BATCH {
                break;
            }
        }
        self.timers(now, Some(after))?;
        self.segment_entries()?;
        self.progress = Progress {
            until: now.max(self.progress.until),
            rowid_seen: rowid_limit,
            tick: None,
            cursor: None,
        };
        self.store.set_journey_progress(&self.progress)?;
        Ok(())
    }

    /// Counts one unit of work, committing every [`COMMIT_EVERY`] with the
    /// position in the event stream a resumed tick starts after.
    fn done(&mut self, cursor: Option<(i64, i64)>) -> Result<(), StoreError> {
        self.pending += 1;
        if self.pending < COMMIT_EVERY {
            return Ok(());
        }
        self.pending = 0;
        self.progress.cursor = cursor;
        self.store.set_journey_progress(&self.progress)?;
        self.store.commit()?;
        self.store.begin()
    }

    fn event_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for prepared in &self.journeys {
            let machine = prepared.machine;
            names.extend(prepared.trigger_event().map(str::to_string));
            names.extend(machine.exit.iter().cloned());
            names.extend(machine.goal.as_ref().map(|g| g.event.clone()));
            for step in &prepared.journey.steps {
                names.extend(step.wait_for.as_ref().map(|w| w.event.value.clone()));
            }
        }
        names.sort();
        names.dedup();
        names
    }

    fn log(
        &self,
        enrolment: &Enrolment,
        at: i64,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.store.log_journey(&LogEntry {
            enrolment: enrolment.id.clone(),
            journey: enrolment.journey.clone(),
            contact_id: enrolment.contact_id.clone(),
            at,
            step: enrolment.step.clone(),
            kind: kind.to_string(),
            detail: detail.to_string(),
        })
    }

    fn clock(&self, at: i64, zone: &TimeZone) -> Clock {
        Clock {
            now: Timestamp::from_second(at).unwrap_or(self.now),
            timezone: zone.clone(),
            timezone_name: self.compilation.filters.catalog.timezone.clone(),
        }
    }

    fn evaluate(&self, expr: &Expr, contact: &Contact, at: i64, trigger: Option<&Event>) -> bool {
        let clock = self.clock(at, &self.zone);
        Evaluator {
            catalog: &self.compilation.filters.catalog,
            clock: &clock,
            segments: &self.segments,
            context: Context {
                trigger_event: trigger.map(|event| event.event.as_str()),
            },
            trigger,
        }
        .matches(expr, contact)
    }

    fn in_segment(&self, segment: &str, contact: &Contact, at: i64) -> bool {
        self.segments
            .get(segment)
            .is_some_and(|expr| self.evaluate(expr, contact, at, None))
    }

    // ---- enrolment -------------------------------------------------------

    /// Enrols `contact` in journey `index` at `at` unless a rule keeps it
    /// out, and runs it to its first wait.
    fn enrol(
        &mut self,
        index: usize,
        contact_id: &str,
        at: i64,
        source: &str,
        trigger: Option<&Event>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let Some(contact) = self.store.contact(contact_id)? else {
            return Ok(());
        };
        let prepared = &self.journeys[index];
        let machine = prepared.machine;
        let journey = machine.journey.clone();
        let admitted = prepared
            .trigger_filter
            .is_none_or(|filter| self.evaluate(filter, &contact, at, trigger))
            && machine
                .entry_segment
                .as_ref()
                .is_none_or(|segment| self.in_segment(segment, &contact, at))
            && self.reentry_allows(machine, contact_id, at)?;
        if !admitted || machine.states.is_empty() {
            self.advanced.not_entered += 1;
            return Ok(());
        }
        let id = enrolment_id(&journey, contact_id, source);
        let enrolment = Enrolment {
            id,
            journey,
            contact_id: contact_id.to_string(),
            step: Some(machine.states[0].key.clone()),
            step_index: Some(0),
            step_at: at,
            status: Status::Active,
            entered_at: at,
            wake_at: None,
            waiting_for: None,
            trigger: trigger.map_or_else(|| "{}".to_string(), event_json),
            last_message: None,
            converted_at: None,
            converted_message: None,
            ended_at: None,
            exit_reason: None,
        };
        if !self.store.insert_enrolment(&enrolment)? {
            self.advanced.not_entered += 1;
            return Ok(());
        }
        self.advanced.entered += 1;
        self.log(&enrolment, at, "entered", detail)?;
        self.run(index, enrolment, contact, at, Target::Step(0))
    }

    fn reentry_allows(
        &self,
        machine: &StateMachine,
        contact: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        if self
            .store
            .active_enrolment(contact, &machine.journey)?
            .is_some()
        {
            return Ok(false);
        }
        let Some(last) = self.store.last_entered(contact, &machine.journey)? else {
            return Ok(true);
        };
        Ok(match machine.reentry {
            Reentry::Never => false,
            Reentry::Always => true,
            Reentry::After(period) => self.clock(last, &self.zone).later(period).as_second() <= at,
        })
    }

    fn anniversaries(&mut self, from: i64) -> Result<(), StoreError> {
        let now = self.now.as_second();
        let mut due: Vec<(i64, usize, String, i16, jiff::civil::Date)> = Vec::new();
        for (index, prepared) in self.journeys.iter().enumerate() {
            let Some(Trigger::Anniversary { attribute, at }) = &prepared.machine.trigger else {
                continue;
            };
            let first = Timestamp::from_second(from - 86_400)
                .unwrap_or(self.now)
                .to_zoned_datetime(TimeZone::UTC)
                .date();
            let last = Timestamp::from_second(now + 86_400)
                .unwrap_or(self.now)
                .to_zoned_datetime(TimeZone::UTC)
                .date();
            let mut days = Vec::new();
            let mut day = first;
            while day <= last && days.len() < 800 {
                days.push(format!("{:02}-{:02}", day.month(), day.day()));
                if day.month() == 2 && day.day() == 28 && !day.in_leap_year() {
                    days.push("02-29".to_string());
                }
                day = match day.tomorrow() {
                    Ok(next) => next,
                    Err(_) => break,
                };
            }
            days.sort();
            days.dedup();
            for found in self.store.anniversaries(attribute, &days)? {
                let Ok(date) = found.date.parse::<jiff::civil::Date>() else {
                    continue;
                };
                let zone = found
                    .timezone
                    .as_deref()
                    .and_then(|name| TimeZone::get(name).ok())
                    .unwrap_or_else(|| self.zone.clone());
                for year in first.year()..=last.year() {
                    let day = jiff::civil::Date::new(year, date.month(), date.day())
                        .or_else(|_| jiff::civil::Date::new(year, date.month(), 28));
                    let Ok(day) = day else { continue };
                    if day <= date {
                        continue;
                    }
                    let Ok(zoned) = day
                        .at(at.hour as i8, at.minute as i8, 0, 0)
                        .to_zoned_datetime(zone.clone())
                    else {
                        continue;
                    };
                    let instant = zoned.timestamp().as_second();
                    if instant > from && instant <= now {
                        due.push((instant, index, found.contact_id.clone(), year, day));
                    }
                }
            }
        }
        due.sort();
        for (instant, index, contact, year, day) in due {
            self.enrol(
                index,
                &contact,
                instant,
                &format!("anniversary:{year}"),
                None,
                json!({"trigger": "anniversary", "date": day.to_string()}),
            )?;
            self.done(self.progress.cursor)?;
        }
        Ok(())
    }

    fn segment_entries(&mut self) -> Result<(), JourneyError> {
        let now = self.now.as_second();
        for index in 0..self.journeys.len() {
            let Some(Trigger::Segment(segment)) = &self.journeys[index].machine.trigger else {
                continue;
            };
            let journey = self.journeys[index].name().to_string();
            let condition =
                crate::plan::stream::segment_condition(self.compilation, segment, self.now)
                    .map_err(|reason| JourneyError::Segment {
                        journey: journey.clone(),
                        reason,
                    })?;
            let entered = self.store.segment_entries(&journey, &condition, now)?;
            for contact in entered {
                self.enrol(
                    index,
                    &contact,
                    now,
                    &format!("segment:{now}"),
                    None,
                    json!({"trigger": "segment"}),
                )?;
            }
        }
        Ok(())
    }

    // ---- events and timers ----------------------------------------------

    fn event(&mut self, stored: &JourneyEvent) -> Result<(), StoreError> {
        let event = Event {
            id: stored.id.clone(),
            event: stored.event.clone(),
            at: stored.at,
            properties: match serde_json::from_str(&stored.properties) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            },
        };
        let contact = stored.contact_id.as_str();
        let at = stored.at;
        for index in 0..self.journeys.len() {
            let machine = self.journeys[index].machine;
            if let Some(goal) = machine.goal.as_ref().filter(|g| g.event == event.event) {
                let since = self.clock(at, &self.zone).ago(goal.window).as_second();
                for mut enrolment in self.store.enrolments_of(contact, &machine.journey, since)? {
                    if enrolment.converted_at.is_some() || enrolment.entered_at > at {
                        continue;
                    }
                    enrolment.converted_at = Some(at);
                    enrolment.converted_message = enrolment.last_message.clone();
                    self.store.update_enrolment(&enrolment)?;
                    self.advanced.converted += 1;
                    self.log(
                        &enrolment,
                        at,
                        "converted",
                        json!({"event": event.event, "event_id": event.id,
                               "message": enrolment.last_message}),
                    )?;
                }
            }
            if machine.exit.contains(&event.event)
                && let Some(enrolment) = self.store.active_enrolment(contact, &machine.journey)?
                && enrolment.entered_at <= at
                && trigger_event(&enrolment.trigger).is_none_or(|trigger| trigger.id != event.id)
            {
                self.end(
                    enrolment,
                    Status::Exited,
                    at,
                    json!({"reason": "exit_event", "event": event.event, "event_id": event.id}),
                )?;
                continue;
            }
            if let Some(enrolment) = self.store.active_enrolment(contact, &machine.journey)?
                && enrolment.waiting_for.as_deref() == Some(event.event.as_str())
                && at >= enrolment.step_at
            {
                self.awaited(index, enrolment, &event)?;
            }
            if self.journeys[index].trigger_event() == Some(event.event.as_str()) {
                self.enrol(
                    index,
                    contact,
                    at,
                    &format!("event:{}", event.id),
                    Some(&event),
                    json!({"trigger": "event", "event_id": event.id}),
                )?;
            }
        }
        Ok(())
    }

    /// A `wait_for` event came for a waiting enrolment.
    fn awaited(
        &mut self,
        index: usize,
        enrolment: Enrolment,
        event: &Event,
    ) -> Result<(), StoreError> {
        let prepared = &self.journeys[index];
        let Some(state) = enrolment.step.as_deref().and_then(|s| prepared.state_of(s)) else {
            return Ok(());
        };
        let Some(contact) = self.store.contact(&enrolment.contact_id)? else {
            return Ok(());
        };
        if let Some(filter) = prepared.wait_filters.get(&state)
            && !self.evaluate(filter, &contact, event.at, Some(event))
        {
            return Ok(());
        }
        let target = prepared.machine.states[state]
            .transitions
            .iter()
            .find(|t| matches!(t.cause, Cause::Event(_)))
            .map_or(Target::End, |t| t.target);
        self.advanced.woken += 1;
        self.log(
            &enrolment,
            event.at,
            "woke",
            json!({"cause": "event", "event_id": event.id}),
        )?;
        self.run(index, enrolment, contact, event.at, target)
    }

    /// Wakes every enrolment whose timer ends by `until`, in time order.
    fn timers(&mut self, until: i64, cursor: Option<(i64, i64)>) -> Result<(), StoreError> {
        loop {
            let due = self.store.due_enrolments(until, BATCH)?;
            if due.is_empty() {
                return Ok(());
            }
            for enrolment in due {
                self.wake(enrolment)?;
                self.done(cursor)?;
            }
        }
    }

    fn wake(&mut self, enrolment: Enrolment) -> Result<(), StoreError> {
        let at = enrolment.wake_at.unwrap_or(enrolment.step_at);
        let Some(index) = self.journey_index(&enrolment.journey) else {
            return self.end(
                enrolment,
                Status::Exited,
                at,
                json!({"reason": "removed_journey"}),
            );
        };
        let prepared = &self.journeys[index];
        let Some(state) = enrolment.step.as_deref().and_then(|s| prepared.state_of(s)) else {
            return self.end(
                enrolment,
                Status::Exited,
                at,
                json!({"reason": "removed_step"}),
            );
        };
        let Some(contact) = self.store.contact(&enrolment.contact_id)? else {
            return self.end(
                enrolment,
                Status::Exited,
                at,
                json!({"reason": "removed_contact"}),
            );
        };
        let machine = prepared.machine;
        let (cause, target) = match machine.states[state].action {
            Action::Wait => ("timer", machine.states[state].transitions[0].target),
            Action::WaitFor => (
                "timeout",
                machine.states[state]
                    .transitions
                    .iter()
                    .find(|t| t.cause == Cause::Timeout)
                    .map_or(Target::End, |t| t.target),
            ),
            // A step that does not wait was interrupted: run it again.
            _ => ("timer", Target::Step(state)),
        };
        self.advanced.woken += 1;
        self.log(&enrolment, at, "woke", json!({"cause": cause}))?;
        self.run(index, enrolment, contact, at, target)
    }

    fn journey_index(&self, journey: &str) -> Option<usize> {
        self.journeys.iter().position(|p| p.name() == journey)
    }

    /// Contacts in a step an edit removed, as `on_removed_step` says.
    fn migrate(&mut self, removed: &RemovedWaiting) -> Result<(), StoreError> {
        let Some(index) = self.journey_index(&removed.journey) else {
            return Ok(());
        };
        let now = self.now.as_second();
        loop {
            let waiting = self
                .store
                .enrolments_at(&removed.journey, &removed.step, BATCH)?;
            if waiting.is_empty() {
                return Ok(());
            }
            for enrolment in waiting {
                let detail = json!({"reason": "removed_step", "step": removed.step});
                match removed.policy {
                    Some(RemovedStep::Next) => {
                        let states = self.journeys[index].machine.states.len();
                        let target = match enrolment.step_index {
                            Some(position) if position < states => Target::Step(position),
                            _ => Target::End,
                        };
                        let Some(contact) = self.store.contact(&enrolment.contact_id)? else {
                            self.end(enrolment, Status::Exited, now, detail)?;
                            continue;
                        };
                        self.log(&enrolment, now, "woke", json!({"cause": "removed_step"}))?;
                        self.run(index, enrolment, contact, now, target)?;
                    }
                    _ => self.end(enrolment, Status::Exited, now, detail)?,
                }
            }
        }
    }

    fn removed_journeys(&mut self) -> Result<(), StoreError> {
        let names: Vec<String> = self.journeys.iter().map(|p| p.name().to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let now = self.now.as_second();
        loop {
            let orphans = self.store.enrolments_outside(&names, BATCH)?;
            if orphans.is_empty() {
                return Ok(());
            }
            for enrolment in orphans {
                self.end(
                    enrolment,
                    Status::Exited,
                    now,
                    json!({"reason": "removed_journey"}),
                )?;
            }
        }
    }

    // ---- execution -------------------------------------------------------

    fn end(
        &mut self,
        mut enrolment: Enrolment,
        status: Status,
        at: i64,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        enrolment.status = status;
        enrolment.ended_at = Some(at);
        enrolment.wake_at = None;
        enrolment.waiting_for = None;
        enrolment.exit_reason = detail
            .get("reason")
            .and_then(|r| r.as_str())
            .map(str::to_string);
        self.store.update_enrolment(&enrolment)?;
        match status {
            Status::Completed => self.advanced.completed += 1,
            _ => self.advanced.exited += 1,
        }
        self.log(&enrolment, at, "exited", detail)
    }

    /// Runs an enrolment from `target` at `at` until it waits or ends.
    fn run(
        &mut self,
        index: usize,
        mut enrolment: Enrolment,
        mut contact: Contact,
        at: i64,
        mut target: Target,
    ) -> Result<(), StoreError> {
        let trigger = trigger_event(&enrolment.trigger);
        for _ in 0..MAX_STEPS {
            let Target::Step(state_index) = target else {
                return self.end(
                    enrolment,
                    Status::Completed,
                    at,
                    json!({"reason": "completed"}),
                );
            };
            let prepared = &self.journeys[index];
            let machine = prepared.machine;
            let Some(state) = machine.states.get(state_index) else {
                return self.end(
                    enrolment,
                    Status::Completed,
                    at,
                    json!({"reason": "completed"}),
                );
            };
            enrolment.step = Some(state.key.clone());
            enrolment.step_index = Some(state_index);
            enrolment.step_at = at;
            enrolment.wake_at = None;
            enrolment.waiting_for = None;
            let step = &prepared.journey.steps[state_index];
            let done = state.transitions.first().map_or(Target::End, |t| t.target);
            match state.action {
                Action::Send => {
                    self.send(
                        index,
                        state_index,
                        &mut enrolment,
                        &contact,
                        trigger.as_ref(),
                        at,
                    )?;
                    target = done;
                }
                Action::Wait => {
                    let zone = self.zones.of(&contact, &self.zone);
                    let Some(wait) = state.wait else {
                        target = done;
                        continue;
                    };
                    let until = self.wake_time(wait, at, &zone);
                    enrolment.wake_at = Some(until);
                    self.store.update_enrolment(&enrolment)?;
                    return self.log(&enrolment, at, "waited", json!({"until": text(until)}));
                }
                Action::WaitFor => {
                    let Some(wait_for) = &step.wait_for else {
                        target = done;
                        continue;
                    };
                    let zone = self.zones.of(&contact, &self.zone);
                    let timeout = state
                        .transitions
                        .iter()
                        .find(|t| t.cause == Cause::Timeout)
                        .and_then(|t| t.delay)
                        .map(|delay| self.clock(at, &zone).later(delay).as_second());
                    enrolment.wake_at = timeout;
                    enrolment.waiting_for = Some(wait_for.event.value.clone());
                    self.store.update_enrolment(&enrolment)?;
                    return self.log(
                        &enrolment,
                        at,
                        "waited",
                        json!({"event": wait_for.event.value, "until": timeout.map(text)}),
                    );
                }
                Action::Branch => {
                    let cases = step.branch.as_ref().map_or(0, |b| b.cases.len());
                    let taken = (0..cases).find(|case| {
                        prepared
                            .cases
                            .get(&(state_index, *case))
                            .is_some_and(|expr| self.evaluate(expr, &contact, at, trigger.as_ref()))
                    });
                    let transition = match taken {
                        Some(case) => state
                            .transitions
                            .iter()
                            .find(|t| t.cause == Cause::Case(case)),
                        None => state
                            .transitions
                            .iter()
                            .find(|t| t.cause == Cause::Otherwise),
                    };
                    target = transition.map_or(Target::End, |t| t.target);
                    let goto = self.describe(index, target);
                    self.log(
                        &enrolment,
                        at,
                        "branch",
                        json!({"case": taken, "goto": goto}),
                    )?;
                }
                Action::Split => {
                    let weights: Vec<f64> = state
                        .transitions
                        .iter()
                        .map(|t| match t.cause {
                            Cause::Split(weight) => weight,
                            _ => 0.0,
                        })
                        .collect();
                    let arm = policy::weighted(
                        &format!("{}#{}", machine.journey, state.key),
                        &contact.id,
                        &weights,
                    );
                    target = state.transitions.get(arm).map_or(Target::End, |t| t.target);
                    let goto = self.describe(index, target);
                    self.log(&enrolment, at, "split", json!({"arm": arm, "goto": goto}))?;
                }
                Action::Update => {
                    if let Some(update) = &step.update {
                        self.update(&enrolment, &mut contact, update, at)?;
                    }
                    target = done;
                }
                Action::Exit => {
                    let message = step.exit.as_ref().map(|e| e.value.clone());
                    return self.end(
                        enrolment,
                        Status::Exited,
                        at,
                        json!({"reason": "exit_step", "message": message}),
                    );
                }
            }
        }
        self.end(enrolment, Status::Exited, at, json!({"reason": "loop"}))
    }

    fn describe(&self, index: usize, target: Target) -> Option<String> {
        match target {
            Target::Step(state) => self.journeys[index]
                .machine
                .states
                .get(state)
                .map(|s| s.key.clone()),
            Target::End => None,
        }
    }

    fn wake_time(&self, wait: Wait, at: i64, zone: &TimeZone) -> i64 {
        match wait {
            Wait::For(duration) => self.clock(at, zone).later(duration).as_second(),
            Wait::Until { weekday, time } => {
                let start = Timestamp::from_second(at).unwrap_or(self.now);
                let mut day = start.to_zoned_datetime(zone.clone()).date();
                for _ in 0..9 {
                    let instant = day
                        .at(time.hour as i8, time.minute as i8, 0, 0)
                        .to_zoned_datetime(zone.clone())
                        .map(|zoned| zoned.timestamp().as_second());
                    if let Ok(instant) = instant
                        && instant >= at
                        && weekday.is_none_or(|w| day.weekday() == w)
                    {
                        return instant;
                    }
                    match day.tomorrow() {
                        Ok(next) => day = next,
                        Err(_) => break,
                    }
                }
                at
            }
        }
    }

    fn update(
        &mut self,
        enrolment: &Enrolment,
        contact: &mut Contact,
        update: &BTreeMap<crate::model::Text, serde_json::Value>,
        at: i64,
    ) -> Result<(), StoreError> {
        let catalog = &self.compilation.filters.catalog;
        for (attribute, value) in update {
            let Some(kind) = catalog.attributes.get(&attribute.value) else {
                continue;
            };
            let typed = json_value(value, kind);
            let source = format!("journey/{}/{}", enrolment.journey, enrolment.id);
            let before = self.store.set_attribute(
                &contact.id,
                &attribute.value,
                typed.as_ref(),
                at,
                &source,
            )?;
            match &typed {
                Some(typed) => contact
                    .attributes
                    .insert(attribute.value.clone(), typed.clone()),
                None => contact.attributes.remove(&attribute.value),
            };
            self.log(
                enrolment,
                at,
                "updated",
                json!({"attribute": attribute.value, "from": before, "to": value}),
            )?;
        }
        Ok(())
    }

    fn skip(
        &mut self,
        enrolment: &Enrolment,
        at: i64,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.advanced.skipped += 1;
        self.log(enrolment, at, "skipped", detail)
    }

    /// A send step: the campaign policies, then one outbox intent per channel.
    fn send(
        &mut self,
        index: usize,
        state_index: usize,
        enrolment: &mut Enrolment,
        contact: &Contact,
        trigger: Option<&Event>,
        at: i64,
    ) -> Result<(), StoreError> {
        let prepared = &self.journeys[index];
        let machine = prepared.machine;
        let Some(send) = &prepared.journey.steps[state_index].send else {
            return Ok(());
        };
        let step_key = machine.states[state_index].key.clone();
        let channels: Vec<&'static str> = send
            .channels
            .iter()
            .filter_map(|name| self.costs.keys().find(|c| **c == name.value).copied())
            .collect();
        let policies = &self.compilation.policies;
        let eligible = match policy::eligible_channels(contact, &channels, machine.kind, policies) {
            Ok(eligible) => eligible,
            Err(reason) => {
                return self.skip(enrolment, at, json!({"reason": reason_name(reason)}));
            }
        };
        let mode: ChannelMode = send.mode;
        let chosen = policy::choose_channels(contact, eligible, mode);
        let transactional = machine.kind == MessageType::Transactional;
        let zone = self.zones.of(contact, &self.zone);
        let mut clock = self.clock(at, &zone);
        let mut planned: Vec<Sent> = Vec::new();
        let event_value = trigger.map(|event| {
            crate::template::json_value(&serde_json::Value::Object(event.properties.clone()))
        });
        let prospect = policy::is_prospect(contact, &self.customer_attribute);
        let journey = machine.journey.clone();
        let needs_consent = policies.needs_consent(machine.kind);
        for channel in chosen {
            let store = self.store;
            let mut failure = None;
            let mut earlier = |cap: &crate::policy::FrequencyCap, from, until| match store
                .sent_messages(&contact.id, cap.channel.as_deref(), from, until)
            {
                Ok(count) => count,
                Err(error) => {
                    failure.get_or_insert(error);
                    0
                }
            };
            let at_time = Timestamp::from_second(at).unwrap_or(self.now);
            let scheduled = policy::schedule(
                at_time,
                channel,
                transactional,
                policies,
                &zone,
                &mut clock,
                &planned,
                &mut earlier,
            );
            if let Some(error) = failure {
                return Err(error);
            }
            let Some((send_at, deferred)) = scheduled else {
                self.skip(
                    enrolment,
                    at,
                    json!({"reason": "frequency_cap", "channel": channel}),
                )?;
                continue;
            };
            let Some(renderer) = self.journeys[index].renderers.get(&state_index) else {
                self.skip(
                    enrolment,
                    at,
                    json!({"reason": "render_failed", "channel": channel,
                           "error": "the step's templates do not compile"}),
                )?;
                continue;
            };
            let rendered = match renderer.render_channels(
                contact_value(contact.clone()),
                event_value.clone(),
                &[channel],
            ) {
                Ok(mut rendered) if !rendered.is_empty() => rendered.remove(0),
                Ok(_) => continue,
                Err((part, error)) => {
                    let error = format!("{}: {error}", part.kind.as_str());
                    self.skip(
                        enrolment,
                        at,
                        json!({"reason": "render_failed", "channel": channel, "error": error}),
                    )?;
                    continue;
                }
            };
            let parts = rendered.sms.as_ref().map_or(1, |sms| sms.parts.max(1));
            let max_parts = renderer
                .target()
                .messages
                .iter()
                .find(|m| m.channel == "sms")
                .and_then(|m| m.max_parts);
            if channel == "sms"
                && policy::sms_limit(prospect, max_parts).is_some_and(|limit| parts > limit)
            {
                self.skip(
                    enrolment,
                    at,
                    json!({"reason": "sms_too_long", "channel": channel, "parts": parts}),
                )?;
                continue;
            }
            let key = journey_key(&journey, &enrolment.id, &step_key, channel);
            let address = channel_address(channel)
                .and_then(|field| policy::text(contact, field))
                .unwrap_or_default()
                .to_string();
            let mut message = Message {
                key: key.clone(),
                origin: Origin::Journey {
                    journey: journey.clone(),
                    step: step_key.clone(),
                },
                contact_id: contact.id.clone(),
                channel: channel.to_string(),
                variant: None,
                recipient: address,
                parts: super::enqueue::parts(&rendered),
                headers: rendered.headers.iter().cloned().collect(),
            };
            super::enqueue::track_clicks(&mut message, self.links);
            let payload = serde_json::to_string(&message).unwrap_or_default();
            let provider = self.providers.get(channel).map_or("", String::as_str);
            let cost = self.costs.get(channel).copied().unwrap_or(0.0) * parts as f64;
            self.store.insert_intent(
                &Intent {
                    key: &key,
                    kind: Kind::Journey,
                    name: &journey,
                    occurrence: &enrolment.id,
                    step: Some(&step_key),
                    contact_id: &contact.id,
                    channel,
                    provider,
                    variant: None,
                    payload: &payload,
                    cost,
                    needs_consent,
                    send_at: send_at.as_second(),
                },
                at,
            )?;
            planned.push(Sent {
                channel,
                at: send_at,
            });
            self.advanced.sent += 1;
            self.log(
                enrolment,
                at,
                "sent",
                json!({"key": key, "channel": channel, "send_at": send_at.to_string()}),
            )?;
            if deferred {
                self.advanced.deferred += 1;
                self.log(
                    enrolment,
                    at,
                    "deferred",
                    json!({"key": key, "channel": channel, "until": send_at.to_string()}),
                )?;
            }
            enrolment.last_message = Some(key);
        }
        Ok(())
    }
}

/// A stable enrolment id: the same journey, contact and cause give the same
/// id, so a resumed tick cannot enrol twice for one cause.
fn enrolment_id(journey: &str, contact: &str, source: &str) -> String {
    let bytes = [journey.as_bytes(), contact.as_bytes(), source.as_bytes()].join(&0u8);
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

fn event_json(event: &Event) -> String {
    json!({
        "id": event.id,
        "event": event.event,
        "at": event.at,
        "properties": event.properties,
    })
    .to_string()
}

fn trigger_event(json: &str) -> Option<Event> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    Some(Event {
        id: value.get("id")?.as_str()?.to_string(),
        event: value.get("event")?.as_str()?.to_string(),
        at: value.get("at")?.as_i64()?,
        properties: value.get("properties")?.as_object()?.clone(),
    })
}

fn text(seconds: i64) -> String {
    crate::contact::timestamp_text(seconds).unwrap_or_default()
}

fn reason_name(reason: Reason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
