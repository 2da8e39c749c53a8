//! One tick of the runner, shared by `herald run` and `herald simulate`:
//! recover expired leases, plan the campaigns due at `now`, enqueue the
//! plan (decisions and intents in one transaction, or nothing when the plan
//! has errors), advance the journeys to `now` ([`super::journeys`]), then
//! hand every due message to a [`Delivery`]. A tick refuses before anything
//! when contacts wait in a journey step an edit removed and the journey has
//! no `on_removed_step`.
//!
//! The delivery is what differs between the two commands: `run` sends
//! through the project's providers ([`Providers`]); `simulate` records
//! every due message as sent at the virtual time without calling anyone
//! ([`VirtualSink`]). Both claim and complete through the outbox, so the
//! consent and suppression checks at claim time, the ledger the frequency
//! caps read and the rows `herald status` counts are the same in a
//! simulation as in a live run.
//!
//! Syncing the manifest's sources and compiling the project stay with the
//! commands: they decide which store a tick works on (the real one, or a
//! simulation's copy).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use serde::Serialize;
use tokio::runtime::Runtime;

use super::journeys::{self, Advanced, JourneyError};
use super::statuses::{self, Polled};
use super::{Clock, Options, Tally, build_routes, deliver, enqueue};
use crate::compiler::Compilation;
use crate::plan::{Plan, PlanError, PlanRequest};
use crate::store::outbox::{Completion, Recovered, Resolution};
use crate::store::{Store, StoreError};

/// What one tick did.
#[derive(Debug, Default, Serialize)]
pub struct TickReport {
    /// The tick's planning time, RFC 3339.
    pub now: String,
    /// Messages the plan decided on, and how many were new to the outbox.
    pub planned: u64,
    pub enqueued: u64,
    /// The campaigns with an occurrence planned in this tick.
    pub campaigns: Vec<String>,
    pub recovered: Recovered,
    /// What the journeys did.
    pub journeys: Advanced,
    #[serde(flatten)]
    pub tally: Tally,
    /// Providers that could not be set up, with why; their messages wait.
    pub unavailable: BTreeMap<String, String>,
    /// What the providers that report only when asked said of sent messages.
    #[serde(skip_serializing_if = "Polled::is_empty")]
    pub statuses: Polled,
}

/// What a delivery reports back to the tick.
#[derive(Debug, Default)]
pub struct Delivered {
    pub tally: Tally,
    /// Providers that could not be set up, with why.
    pub unavailable: BTreeMap<String, String>,
    pub statuses: Polled,
}

/// How a tick delivers the messages due.
pub trait Delivery {
    /// Delivers every message in `store`'s outbox that is due by `now` (the
    /// tick's planning time; a delivery that takes real time may follow its
    /// own clock from there).
    fn deliver(&mut self, store: &Store, now: Timestamp) -> Result<Delivered, StoreError>;
}

/// What a tick is asked.
#[derive(Clone, Debug)]
pub struct Tick<'a> {
    /// The planning time (whole seconds, so that `--now` plans exactly it).
    pub now: Timestamp,
    /// Wall-clock unix seconds: leases that expired by then are recovered.
    pub wall: i64,
    /// Providers that deliver a key once however often it is sent: their
    /// recovered messages go back to the queue.
    pub honouring: &'a [&'a str],
    pub at_least_once: bool,
    /// The signed addresses of `herald serve` the planned messages carry
    /// (`None`: the placeholder unsubscribe link).
    pub links: Option<crate::signed_link::Links>,
}

/// Runs one tick over `store` (a writable store; the planner reads through
/// a read-only connection of its own to the same file). `Ok(Err(plan))`
/// when the plan has errors (render failures, a campaign over budget):
/// nothing of it was enqueued and nothing was delivered.
pub fn tick(
    compilation: &Compilation,
    store: &Store,
    request: &Tick<'_>,
    delivery: &mut dyn Delivery,
) -> Result<Result<TickReport, Plan>, PlanError> {
    // Refused before anything is enqueued: nothing of the tick happens.
    let refused: Vec<_> = journeys::removed_steps(compilation, store)?
        .into_iter()
        .filter(|removed| removed.policy.is_none())
        .collect();
    if !refused.is_empty() {
        return Err(PlanError::Journeys(
            JourneyError::RemovedSteps(refused).to_string(),
        ));
    }
    let recovered = store.recover(request.wall, request.honouring, request.at_least_once)?;
    let enqueued = {
        let reader = Store::open_read_only(store.path(), store.catalog().clone())?;
        enqueue(
            compilation,
            &reader,
            store,
            &PlanRequest {
                links: request.links.clone(),
                ..PlanRequest::new(request.now)
            },
            request.wall,
        )?
    };
    let enqueued = match enqueued {
        Ok(enqueued) => enqueued,
        Err(plan) => return Ok(Err(plan)),
    };
    // Journeys after the campaigns, before delivery: their messages go out
    // in the same tick, and both count against the same frequency caps.
    let journeys =
        match journeys::advance_with_links(compilation, store, request.now, request.links.as_ref())
        {
            Ok(advanced) => advanced,
            Err(JourneyError::Store(error)) => return Err(error.into()),
            Err(other) => return Err(PlanError::Journeys(other.to_string())),
        };
    let delivered = delivery.deliver(store, request.now)?;
    Ok(Ok(TickReport {
        now: request.now.to_string(),
        planned: enqueued.plan.messages(),
        enqueued: enqueued.added,
        campaigns: enqueued
            .plan
            .campaigns
            .iter()
            .map(|campaign| campaign.campaign.clone())
            .collect(),
        recovered,
        journeys,
        tally: delivered.tally,
        unavailable: delivered.unavailable,
        statuses: delivered.statuses,
    }))
}

/// How far a delivery through the providers has come, for a progress bar.
#[derive(Debug)]
pub enum Progress<'t> {
    /// Messages due at the start.
    Due(u64),
    /// After each recorded batch.
    Delivered(&'t Tally),
}

/// Delivery through the project's providers (`herald run`).
pub struct Providers<'a> {
    pub compilation: &'a Compilation,
    /// The project directory (the `file` provider's paths are relative to it).
    pub root: &'a Path,
    pub runtime: &'a Runtime,
    pub clock: Clock,
    pub options: &'a Options,
    /// Set on SIGINT or SIGTERM: finish what is in flight, claim nothing more.
    pub stop: &'a AtomicBool,
    pub progress: &'a mut dyn FnMut(Progress<'_>),
}

impl Delivery for Providers<'_> {
    fn deliver(&mut self, store: &Store, _now: Timestamp) -> Result<Delivered, StoreError> {
        // Clients with a connection pool (SMTP) start and stop it on the runtime.
        let _entered = self.runtime.enter();
        let mut names = store.queued_providers()?;
        names.extend(store.unknown_providers()?);
        names.extend(statuses::awaiting(
            self.compilation,
            store,
            self.clock.now().as_second(),
        )?);
        names.sort();
        names.dedup();
        let (routes, unavailable) = build_routes(self.compilation, self.root, &names);
        let due_now = self.clock.now().as_second();
        let mut total = 0;
        for name in routes.keys() {
            total += store.queued(name, due_now)?;
        }
        (self.progress)(Progress::Due(total));
        let progress = &mut *self.progress;
        let tally = deliver(
            store,
            self.runtime,
            &routes,
            &self.clock,
            self.options,
            self.stop,
            &mut |tally| progress(Progress::Delivered(tally)),
        )?;
        let statuses = if self.stop.load(Ordering::Relaxed) {
            Polled::default()
        } else {
            self.runtime
                .block_on(statuses::poll(store, &routes, self.clock.now().as_second()))?
        };
        Ok(Delivered {
            tally,
            unavailable,
            statuses,
        })
    }
}

/// Who holds the leases of a simulation's claims.
const SIMULATOR: &str = "herald-simulate";
/// Messages claimed at once by the virtual sink.
const VIRTUAL_BATCH: usize = 1024;

/// Delivery to nobody (`herald simulate`): every message due by `now` is
/// claimed (so consent revoked or an address suppressed since planning
/// still skips it) and recorded as sent at `now`, the virtual time.
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualSink;

impl Delivery for VirtualSink {
    fn deliver(&mut self, store: &Store, now: Timestamp) -> Result<Delivered, StoreError> {
        let now = now.as_second();
        let mut tally = Tally::default();
        for provider in store.queued_providers()? {
            loop {
                let claim = store.claim(SIMULATOR, &provider, VIRTUAL_BATCH, now, now + 60, now)?;
                tally.skipped += claim.skipped;
                // A batch can be all skips with more due behind it.
                if claim.messages.is_empty() && claim.skipped == 0 {
                    break;
                }
                let completions: Vec<Completion> = claim
                    .messages
                    .into_iter()
                    .map(|claimed| Completion {
                        key: claimed.key,
                        attempt: claimed.attempt,
                        resolution: Resolution::Sent {
                            provider_message_id: None,
                        },
                    })
                    .collect();
                tally.sent += store.complete(SIMULATOR, &completions, now)?;
            }
        }
        Ok(Delivered {
            tally,
            unavailable: BTreeMap::new(),
            statuses: Polled::default(),
        })
    }
}
