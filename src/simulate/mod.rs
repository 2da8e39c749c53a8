//! `herald simulate`: the whole project run in virtual time on a copy of
//! the store. The store is copied into a temporary file (SQLite's `VACUUM
//! INTO` over a read-only connection, so the real store is never written),
//! the manifest's sources are synced into the copy, and the runner's own
//! [`crate::run::tick`] runs at every step from `from` to `to` with the
//! [`crate::run::VirtualSink`]: the same plans, policies and outbox as a
//! live run, with every due message recorded as sent at the virtual time
//! and no provider called. Events of an optional file are ingested into
//! the copy as virtual time reaches them, through the same checks as
//! `herald events ingest`.
//!
//! What happened is read back from the copy's outbox into a [`Timeline`]
//! ([`timeline`]): messages sent, contacts skipped with their reason,
//! messages deferred by quiet hours.

pub mod timeline;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::compiler::Compilation;
use crate::contacts::ingest::{self, EventRecord};
use crate::error::Error;
use crate::plan::{Plan, PlanError};
use crate::run::{Tick, VirtualSink, tick};
use crate::store::Store;

pub use self::timeline::{Entry, EntryKind, Timeline};

/// What to simulate.
#[derive(Debug)]
pub struct Request {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Virtual time between ticks.
    pub step: SignedDuration,
    /// Events to ingest as virtual time reaches them, by time.
    pub events: Vec<FileEvent>,
    /// Import the manifest's `sources:` into the copy first.
    pub sync: bool,
    /// Where to keep the simulated copy (for `herald report`), a new file.
    pub keep: Option<PathBuf>,
}

/// An event of the `--events` file, checked, with its line number.
#[derive(Debug)]
pub struct FileEvent {
    pub line: usize,
    pub record: EventRecord,
}

/// How a simulation ended.
#[derive(Debug)]
pub enum Outcome {
    Finished(Simulated),
    /// A tick's plan had errors (render failures, a campaign over budget):
    /// `run` would refuse it too. The simulation stops at that tick.
    Refused {
        at: Timestamp,
        plan: Box<Plan>,
    },
}

/// A finished simulation.
#[derive(Debug)]
pub struct Simulated {
    pub timeline: Timeline,
    pub ticks: u64,
    /// Events of the file ingested into the copy.
    pub events: u64,
}

/// Every scheduled campaign occurrence in `[from, to]`.
fn occurrences(compilation: &Compilation, from: Timestamp, to: Timestamp) -> BTreeSet<Timestamp> {
    let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
    let until = to.checked_add(SignedDuration::from_secs(1)).unwrap_or(to);
    compilation
        .campaigns
        .iter()
        .filter_map(|campaign| campaign.schedule.as_ref())
        .flat_map(|schedule| schedule.occurrences(from, until, &zone))
        .map(|at| at.timestamp())
        .collect()
}

/// Runs the simulation over a copy of the store at `store` (`None`: no
/// store yet; the simulation starts from an empty one, filled by the sync).
pub fn simulate(
    compilation: &Compilation,
    store: Option<&Path>,
    request: &Request,
) -> Result<Outcome, Error> {
    let directory = tempfile::tempdir().map_err(|source| Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let copy = directory.path().join("simulation.db");
    if let Some(store) = store {
        Store::copy_into(store, &copy)?;
    }
    let catalog = compilation.filters.catalog.clone();
    let store = Store::open_with_catalog(&copy, catalog)?;
    if request.sync {
        let options = crate::sync::Options {
            force: false,
            now: Timestamp::now().as_second(),
        };
        crate::sync::sync(compilation, &store, &options)?;
    }
    // An event for a contact the store does not know would be rejected
    // halfway through; say so before anything runs.
    for event in &request.events {
        if store.resolve_contact(event.record.contact_id())?.is_none() {
            return Err(Error::Usage(format!(
                "--events line {}: unknown contact `{}`; the store (after sync) has no such contact",
                event.line,
                event.record.contact_id()
            )));
        }
    }
    let occurrences = occurrences(compilation, request.from, request.to);
    let before = store.outbox_watermark()?;
    let mut events = request.events.iter().peekable();
    let mut ingested = 0;
    let mut ticks = 0;
    let mut now = request.from;
    loop {
        while let Some(event) = events.next_if(|event| event.record.at() <= now.as_second()) {
            match ingest::write(&store, &event.record)? {
                Ok(_) => ingested += 1,
                Err(reason) => {
                    return Err(Error::Usage(format!(
                        "--events line {}: {reason}",
                        event.line
                    )));
                }
            }
        }
        let request_tick = Tick {
            now,
            wall: now.as_second(),
            honouring: &[],
            at_least_once: false,
            // Nothing leaves a simulation: the placeholder unsubscribe link does.
            links: None,
        };
        match tick(compilation, &store, &request_tick, &mut VirtualSink) {
            Ok(Ok(_)) => {}
            Ok(Err(plan)) => {
                return Ok(Outcome::Refused {
                    at: now,
                    plan: Box::new(plan),
                });
            }
            Err(PlanError::Store(error)) => return Err(error.into()),
            Err(other) => return Err(Error::Usage(other.to_string())),
        }
        ticks += 1;
        if now >= request.to {
            break;
        }
        let stepped = now
            .checked_add(request.step)
            .map_or(request.to, |next| next.min(request.to));
        // A campaign's occurrence gets a tick of its own, so that it is
        // planned at its time whatever the step.
        now = occurrences
            .range((std::ops::Bound::Excluded(now), std::ops::Bound::Unbounded))
            .next()
            .map_or(stepped, |occurrence| stepped.min(*occurrence));
    }
    let timeline = timeline::read(&store, &before, request.from)?;
    if let Some(keep) = &request.keep {
        drop(store);
        Store::copy_into(&copy, keep)?;
    }
    Ok(Outcome::Finished(Simulated {
        timeline,
        ticks,
        events: ingested,
    }))
}
