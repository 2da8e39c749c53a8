//! Delivery from the outbox: per provider, claim a batch of due messages
//! with a lease, send each on the tokio runtime (at most `concurrency` at a
//! time, spaced by the provider's rate limit), and record outcomes as they
//! arrive. Each round is one transaction ([`Store::exchange`]): the outcomes
//! received since the last round, then the claims that refill the lanes.
//! Nothing is recorded as sent before the provider said so; a message whose
//! answer never came stays `sending` under a lease that expires, and
//! [`crate::store::Store::recover`] decides what becomes of it.
//!
//! The store stays on the calling thread (a SQLite connection is used from
//! one thread); the sends run on the runtime and report back through a
//! channel. Retries go back to the outbox with a `not_before` (exponential
//! backoff with full jitter, or the provider's `Retry-After`), so a retry
//! survives a restart like any other queued message.
//!
//! Durability follows what a lost commit would cost after a power loss (a
//! killed process loses nothing either way: SQLite's WAL has every commit).
//! Outcomes commit deferred: a lost one leaves its message `sending`, and
//! recovery resends it where the provider honours the key or reports it
//! `unknown`, never a silent double. A claim is the evidence that a request
//! may have left, so it commits in full for a provider without a key; for
//! one with a key a lost claim only means a resend that the key absorbs.
//! Syncing every small commit held the runner to a few thousand messages a
//! second on this machine's disk.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;
use tokio::runtime::Runtime;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use super::{Clock, Route, wall_seconds};
use crate::provider::{Backoff, Client, Message, Outcome, WhatsappProvider};
use crate::store::outbox::{ClaimRequest, Claimed, Completion, Resolution};
use crate::store::{Durability, Store, StoreError, SuppressionReason};

/// How the runner delivers.
#[derive(Clone, Debug)]
pub struct Options {
    /// Who holds the leases: unique per runner process.
    pub holder: String,
    /// How long a claimed message stays with this runner.
    pub lease: Duration,
    pub backoff: Backoff,
    /// Send again a message whose outcome is unknown, even through a
    /// provider that may deliver it twice.
    pub at_least_once: bool,
    /// Keep going while a queued message falls due within this (a retry
    /// waiting out its backoff); stop when the next is later.
    pub horizon: Duration,
    /// Messages claimed at once per provider.
    pub batch: usize,
    /// Requests in flight at once per provider.
    pub concurrency: usize,
}

impl Options {
    pub fn new(holder: String) -> Options {
        Options {
            holder,
            lease: Duration::from_secs(60),
            backoff: Backoff::default(),
            at_least_once: false,
            horizon: Duration::from_secs(60),
            batch: 256,
            concurrency: 64,
        }
    }
}

/// What a delivery did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    pub sent: u64,
    /// Attempts that will be tried again.
    pub retried: u64,
    pub failed: u64,
    pub dead: u64,
    pub unknown: u64,
    /// Found at claim time to have lost consent or been suppressed.
    pub skipped: u64,
    /// Addresses suppressed after a provider's permanent refusal.
    pub suppressed: u64,
    /// Outcomes not recorded because the lease had passed to another runner.
    pub lost_leases: u64,
    /// Providers that refused everything, with why.
    pub stopped: BTreeMap<String, String>,
}

impl Tally {
    /// Messages that reached an end in this delivery.
    pub fn finished(&self) -> u64 {
        self.sent + self.failed + self.dead + self.unknown + self.skipped
    }
}

/// One attempt's answer, back from the runtime.
struct Done {
    provider: Arc<str>,
    key: String,
    attempt: u32,
    channel: String,
    honours_key: bool,
    outcome: Outcome,
}

/// Spaces the requests to one provider by its rate limit.
struct Limiter {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Limiter {
    fn new(rate: Option<f64>) -> Limiter {
        Limiter {
            interval: rate.map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One provider's state during a delivery.
struct Lane {
    route: Route,
    limiter: Arc<Limiter>,
    permits: Arc<Semaphore>,
    batch: usize,
    in_flight: usize,
    stopped: bool,
    /// Whether this round already looked up the provider's `unknown` messages.
    reconciled: bool,
}

/// Delivers every message of the `routes`' providers that is due on
/// `clock`, until none is due within the horizon, or until `stop` is set
/// (then in-flight requests are finished and recorded, nothing more is
/// claimed). `progress` sees the tally after each recorded batch.
pub fn deliver(
    store: &Store,
    runtime: &Runtime,
    routes: &BTreeMap<String, Route>,
    clock: &Clock,
    options: &Options,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Tally),
) -> Result<Tally, StoreError> {
    // Every round touches the outbox's and the ledger's pages for hundreds
    // of messages: with the default 2 MB of page cache part of them would
    // be read again from the file each round (67–72 µs of CPU a message in
    // the run benchmark without it, 59–69 µs with it).
    store.tune_for_batches()?;
    let lease_seconds = options.lease.as_secs_f64().max(1.0);
    let mut lanes: BTreeMap<&str, Lane> = routes
        .iter()
        .map(|(name, route)| {
            // A batch must go out well within its lease.
            let batch = route.rate_limit.map_or(options.batch, |rate| {
                ((rate * lease_seconds / 2.0) as usize).clamp(1, options.batch)
            });
            let concurrency = match *route.client {
                // One file, appended under a lock: more would only queue.
                Client::File(_) => 1,
                _ => options.concurrency.max(1),
            };
            let lane = Lane {
                route: route.clone(),
                limiter: Arc::new(Limiter::new(route.rate_limit)),
                permits: Arc::new(Semaphore::new(concurrency)),
                batch,
                in_flight: 0,
                stopped: false,
                reconciled: false,
            };
            (name.as_str(), lane)
        })
        .collect();
    let (sender, receiver) = mpsc::channel::<Done>();
    let mut tally = Tally::default();
    let mut random = fastrand::Rng::new();
    // Outcomes received and not yet recorded: they go into the next round's
    // transaction, with the claims that replace them.
    let mut completions: Vec<Completion> = Vec::new();
    loop {
        let now = clock.now().as_second();
        let wall = wall_seconds();
        let lease_until = wall + options.lease.as_secs().max(1) as i64;
        let mut requests = Vec::new();
        if !stop.load(Ordering::SeqCst) {
            for (name, lane) in lanes.iter_mut() {
                if lane.stopped || lane.in_flight > lane.batch / 2 {
                    continue;
                }
                // `unknown` messages of a provider with a status API are
                // looked up once per delivery round, before new sends.
                let client = &lane.route.client;
                let reconcile_unknown =
                    !lane.reconciled && client.can_reconcile() && !client.honours_idempotency_key();
                lane.reconciled = true;
                requests.push(ClaimRequest {
                    provider: name,
                    limit: lane.batch - lane.in_flight,
                    now,
                    lease_until,
                    reconcile_unknown,
                });
            }
        }
        if !requests.is_empty() || !completions.is_empty() {
            // A claim is the evidence that a request may have left: for a
            // provider without a key it must survive a power loss.
            let full = requests.iter().any(|request| {
                !lanes[request.provider]
                    .route
                    .client
                    .honours_idempotency_key()
            });
            store.set_durability(if full {
                Durability::Full
            } else {
                Durability::Deferred
            })?;
            let exchange = store.exchange(&options.holder, &completions, &requests, wall)?;
            if !completions.is_empty() {
                tally.lost_leases += completions.len() as u64 - exchange.recorded;
                completions.clear();
                progress(&tally);
            }
            for (request, claim) in requests.iter().zip(exchange.claims) {
                let name = request.provider;
                tally.skipped += claim.skipped;
                if claim.messages.is_empty() {
                    continue;
                }
                let lane = lanes.get_mut(name).expect("a lane per request");
                let inbound = lane.route.client.inbound_event();
                let mut batch = Vec::with_capacity(claim.messages.len());
                for claimed in claim.messages {
                    let window_open = match inbound {
                        Some(event) => WhatsappProvider::window_open(
                            store.last_event_at(&claimed.contact_id, event, now)?,
                            now,
                        ),
                        None => false,
                    };
                    batch.push((claimed, window_open));
                }
                lane.in_flight += batch.len();
                spawn(runtime, name, lane, batch, &sender);
            }
        }
        let in_flight: usize = lanes.values().map(|lane| lane.in_flight).sum();
        if in_flight == 0 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let active: Vec<&str> = lanes
                .iter()
                .filter(|(_, lane)| !lane.stopped)
                .map(|(name, _)| *name)
                .collect();
            let horizon = options.horizon.as_secs() as i64;
            match store.next_due(&active)? {
                Some(due) if due <= now + horizon => {
                    let wait = Duration::from_secs((due - now).clamp(0, 1) as u64);
                    pause(wait.max(Duration::from_millis(20)), stop);
                    continue;
                }
                _ => break,
            }
        }
        let mut done = Vec::new();
        match receiver.recv_timeout(Duration::from_millis(100)) {
            Ok(first) => done.push(first),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        while done.len() < 1024 {
            match receiver.try_recv() {
                Ok(next) => done.push(next),
                Err(_) => break,
            }
        }
        let now = clock.now().as_second();
        for item in done {
            if let Some(lane) = lanes.get_mut(&*item.provider) {
                lane.in_flight -= 1;
                if let Outcome::StopProvider { reason, .. } = &item.outcome {
                    lane.stopped = true;
                    tally
                        .stopped
                        .insert(item.provider.to_string(), reason.clone());
                }
            }
            let resolution = resolve(&item, options, now, &mut random);
            count(&mut tally, &resolution);
            completions.push(Completion {
                key: item.key,
                attempt: item.attempt,
                resolution,
            });
        }
    }
    debug_assert!(completions.is_empty(), "every outcome recorded");
    Ok(tally)
}

/// Sleeps `wait`, waking early when `stop` is set.
fn pause(wait: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(20);
    let mut left = wait;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        let now = left.min(step);
        std::thread::sleep(now);
        left -= now;
    }
}

/// Sends a lease's messages, each with whether its contact wrote within the
/// provider's conversation window ([`Client::inbound_event`]), which the
/// store was asked on this thread.
fn spawn(
    runtime: &Runtime,
    provider: &str,
    lane: &Lane,
    batch: Vec<(Claimed, bool)>,
    sender: &mpsc::Sender<Done>,
) {
    let client = lane.route.client.clone();
    let limiter = lane.limiter.clone();
    let permits = lane.permits.clone();
    let provider: Arc<str> = Arc::from(provider);
    for (claimed, window_open) in batch {
        runtime.spawn(send(
            client.clone(),
            limiter.clone(),
            permits.clone(),
            provider.clone(),
            claimed,
            window_open,
            sender.clone(),
        ));
    }
}

/// Sends (or, for a message claimed to reconcile, looks up) one message
/// and reports its outcome.
async fn send(
    client: Arc<Client>,
    limiter: Arc<Limiter>,
    permits: Arc<Semaphore>,
    provider: Arc<str>,
    claimed: Claimed,
    window_open: bool,
    sender: mpsc::Sender<Done>,
) {
    let honours_key = client.honours_idempotency_key();
    let outcome = match serde_json::from_str::<Message>(&claimed.payload) {
        Ok(message) => {
            let _permit = permits.acquire_owned().await;
            limiter.wait().await;
            if claimed.reconcile {
                // Asked, not sent: "not found" comes back as a retry,
                // found as sent or failed, no answer as unknown again.
                client
                    .reconcile(&message)
                    .await
                    .unwrap_or(Outcome::Unknown {
                        reason: "the provider has no status API".into(),
                    })
            } else {
                match client.send_in_window(&message, window_open).await {
                    // A provider with a status API is asked before the
                    // message is given up as unknown.
                    outcome @ Outcome::Unknown { .. } if !honours_key => {
                        client.reconcile(&message).await.unwrap_or(outcome)
                    }
                    outcome => outcome,
                }
            }
        }
        Err(error) => Outcome::Failed {
            reason: format!("the outbox holds a message herald cannot read: {error}"),
            suppress: None,
        },
    };
    let _ = sender.send(Done {
        provider,
        key: claimed.key,
        attempt: claimed.attempt,
        channel: claimed.channel,
        honours_key,
        outcome,
    });
}

/// What an attempt's outcome makes of the message.
fn resolve(done: &Done, options: &Options, now: i64, random: &mut fastrand::Rng) -> Resolution {
    let retry = |hint: Option<Duration>, error: &str, random: &mut fastrand::Rng| match options
        .backoff
        .next_delay(done.attempt, hint, random)
    {
        Some(delay) => Resolution::Retry {
            not_before: now + delay.as_secs_f64().ceil() as i64,
            error: error.to_string(),
        },
        None => Resolution::Dead {
            error: format!("{error} (after {} attempts)", done.attempt),
        },
    };
    match &done.outcome {
        Outcome::Sent {
            provider_message_id,
        } => Resolution::Sent {
            provider_message_id: provider_message_id.clone(),
        },
        Outcome::Retry { after, reason } => retry(*after, reason, random),
        Outcome::Failed { reason, suppress } => Resolution::Failed {
            error: reason.clone(),
            suppress: suppress.as_ref().map(|detail| {
                let reason = if done.channel == "email" {
                    SuppressionReason::Bounced
                } else {
                    SuppressionReason::Invalid
                };
                (reason, detail.clone())
            }),
        },
        // Not the message's fault: it waits for the provider, without
        // spending its attempts.
        Outcome::StopProvider {
            reason,
            resume_after,
        } => Resolution::Retry {
            not_before: now + resume_after.map_or(0, |wait| wait.as_secs() as i64),
            error: reason.clone(),
        },
        Outcome::Unknown { reason } if done.honours_key || options.at_least_once => {
            retry(None, reason, random)
        }
        Outcome::Unknown { reason } => Resolution::Unknown {
            error: reason.clone(),
        },
    }
}

fn count(tally: &mut Tally, resolution: &Resolution) {
    match resolution {
        Resolution::Sent { .. } => tally.sent += 1,
        Resolution::Retry { .. } => tally.retried += 1,
        Resolution::Failed { suppress, .. } => {
            tally.failed += 1;
            tally.suppressed += u64::from(suppress.is_some());
        }
        Resolution::Dead { .. } => tally.dead += 1,
        Resolution::Unknown { .. } => tally.unknown += 1,
    }
}
