//! The durable outbox (SPEC section 8): every message is written here as an
//! intent before any provider is called, claimed with a lease, and ends in
//! one of the states `sent`, `failed`, `dead`, `skipped` or `unknown`. The
//! outbox is the single source of truth for delivery: progress is recorded
//! only when a provider's answer is completed into it, never when a batch
//! is claimed.
//!
//! Each function is one transaction:
//!
//! - [`Store::insert_intent`] and [`Store::record_campaign_run`] run inside
//!   the caller's transaction, so the runner writes a whole plan (the
//!   decision and the intent, a transactional outbox) or nothing;
//! - [`Store::claim`] re-checks consent and suppression (a message whose
//!   contact revoked consent since planning becomes `skipped`), leases a
//!   batch of due messages to one holder and writes each attempt's row
//!   *before* the provider is called, so a crash leaves evidence;
//! - [`Store::complete`] records outcomes, only for rows the holder still
//!   leases (a lost lease means another runner owns the row now), and
//!   suppresses an address a provider refused permanently in the same
//!   transaction;
//! - [`Store::recover`] finds leases that expired (the runner died
//!   mid-request): a provider that honours the idempotency key gets the
//!   message again, any other leaves it `unknown`, reported and not resent
//!   unless the user opts into at-least-once delivery;
//! - [`Store::outbox_status`] aggregates for `herald status`.
//!
//! ## PostgreSQL
//!
//! The functions keep their signatures on a PostgreSQL backend. Claiming is
//! the one statement that differs: SQLite has a single writer, so an
//! `UPDATE … WHERE key IN (SELECT … LIMIT n) RETURNING …` inside `BEGIN
//! IMMEDIATE` cannot race. PostgreSQL lets several runners claim at once
//! without blocking each other:
//!
//! ```sql
//! WITH due AS (
//!     SELECT key FROM outbox
//!     WHERE provider = $1 AND state = 'queued' AND not_before <= $2
//!     ORDER BY not_before LIMIT $3
//!     FOR UPDATE SKIP LOCKED)
//! UPDATE outbox SET state = 'sending', lease_holder = $4,
//!        lease_expires_at = $5, attempts = attempts + 1
//! FROM due WHERE outbox.key = due.key
//! RETURNING outbox.key, outbox.payload, outbox.attempts;
//! ```
//!
//! Rows another transaction has locked are skipped rather than waited for,
//! so two runners never claim the same message; the lease (holder and
//! expiry) then protects it after the claiming transaction commits.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, SuppressionReason};

/// What wrote a message: a campaign occurrence or a journey step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Campaign,
    Journey,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::Journey => "journey",
        }
    }
}

/// One message to enqueue.
#[derive(Clone, Debug)]
pub struct Intent<'a> {
    /// The idempotency key, the outbox's primary key.
    pub key: &'a str,
    pub kind: Kind,
    /// The campaign or journey.
    pub name: &'a str,
    /// The occurrence (RFC 3339 UTC) or the enrolment id.
    pub occurrence: &'a str,
    pub step: Option<&'a str>,
    pub contact_id: &'a str,
    pub channel: &'a str,
    /// The provider's name under `providers:`.
    pub provider: &'a str,
    pub variant: Option<&'a str>,
    /// The message as the provider clients take it, as JSON.
    pub payload: &'a str,
    pub cost: f64,
    /// Whether the message's type needs the contact's consent on the
    /// channel, checked again when it is claimed.
    pub needs_consent: bool,
    /// The planned send time (unix seconds): the earliest claim.
    pub send_at: i64,
}

/// A contact or message a policy kept from an occurrence, recorded as
/// `skipped` with its reason. `channel` is empty when the contact gets
/// nothing at all; such a row's key has no channel part.
#[derive(Clone, Debug)]
pub struct Skip<'a> {
    pub key: &'a str,
    pub kind: Kind,
    pub name: &'a str,
    pub occurrence: &'a str,
    pub step: Option<&'a str>,
    pub contact_id: &'a str,
    pub channel: &'a str,
    /// The reason in snake case (`no_consent`, `frequency_cap`, …).
    pub reason: &'a str,
    /// When the message would have gone out (unix seconds).
    pub at: i64,
}

/// A campaign occurrence as enqueued.
#[derive(Clone, Debug)]
pub struct CampaignRun<'a> {
    pub campaign: &'a str,
    pub occurrence: Timestamp,
    pub planned: u64,
    pub held_out: u64,
    /// Exclusions and skips by reason, as JSON.
    pub excluded: &'a str,
    pub cost: f64,
}

/// A message leased to a runner.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub key: String,
    pub contact_id: String,
    pub channel: String,
    pub payload: String,
    /// This attempt's number, 1 for the first.
    pub attempt: u32,
    /// Claimed to ask the provider what became of an `unknown` message,
    /// not to send it.
    pub reconcile: bool,
}

impl Claimed {
    /// A row of `RETURNING key, contact_id, channel, payload, attempts`.
    fn from_row(row: &rusqlite::Row<'_>, reconcile: bool) -> rusqlite::Result<Claimed> {
        Ok(Claimed {
            key: row.get(0)?,
            contact_id: row.get(1)?,
            channel: row.get(2)?,
            payload: row.get(3)?,
            attempt: row.get(4)?,
            reconcile,
        })
    }
}

/// What [`Store::claim`] took.
#[derive(Debug, Default)]
pub struct Claim {
    pub messages: Vec<Claimed>,
    /// Messages found not to be sendable any more (consent revoked, address
    /// suppressed) and recorded as `skipped`.
    pub skipped: u64,
}

/// What a round of [`Store::exchange`] leases for one provider.
#[derive(Clone, Debug)]
pub struct ClaimRequest<'a> {
    pub provider: &'a str,
    /// Messages at most, the `unknown` ones looked up included.
    pub limit: usize,
    /// The runner's clock (unix seconds): what is due by then is claimed.
    pub now: i64,
    /// Until when the lease holds (wall clock, unix seconds).
    pub lease_until: i64,
    /// Lease the provider's `unknown` messages first, to ask its status API.
    pub reconcile_unknown: bool,
}

/// What a round of [`Store::exchange`] did.
#[derive(Debug, Default)]
pub struct Exchange {
    /// Completions recorded (the others had lost their lease).
    pub recorded: u64,
    /// One claim per request, in order.
    pub claims: Vec<Claim>,
}

/// How an attempt ends, as the runner resolved the provider's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    Sent {
        provider_message_id: Option<String>,
    },
    /// Back to `queued`, claimable again from `not_before` (unix seconds).
    Retry {
        not_before: i64,
        error: String,
    },
    /// A permanent refusal; `suppress` the address on the message's channel
    /// when the refusal was about it.
    Failed {
        error: String,
        suppress: Option<(SuppressionReason, String)>,
    },
    /// Retries exhausted.
    Dead {
        error: String,
    },
    /// The request may have reached a provider that cannot be asked.
    Unknown {
        error: String,
    },
}

impl Resolution {
    fn state(&self) -> &'static str {
        match self {
            Resolution::Sent { .. } => "sent",
            Resolution::Retry { .. } => "queued",
            Resolution::Failed { .. } => "failed",
            Resolution::Dead { .. } => "dead",
            Resolution::Unknown { .. } => "unknown",
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Resolution::Sent { .. } => None,
            Resolution::Retry { error, .. }
            | Resolution::Failed { error, .. }
            | Resolution::Dead { error }
            | Resolution::Unknown { error } => Some(error),
        }
    }

    /// The attempt's outcome in the ledger.
    fn outcome(&self) -> &'static str {
        match self {
            Resolution::Retry { .. } => "retry",
            other => other.state(),
        }
    }
}

/// One attempt's end.
#[derive(Clone, Debug)]
pub struct Completion {
    pub key: String,
    pub attempt: u32,
    pub resolution: Resolution,
}

/// What [`Store::recover`] did with expired leases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// Back to `queued`: the provider honours the key, or at-least-once.
    pub requeued: u64,
    /// Left `unknown`, to be reported.
    pub unknown: u64,
}

/// Why a message recovered from an expired lease is `unknown`.
pub const STOPPED_MID_REQUEST: &str = "the runner stopped after the request may have left";

/// The outbox counted for `herald status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OutboxStatus {
    /// Per campaign or journey, counts by state.
    pub groups: Vec<GroupStatus>,
    /// The message waiting longest (`queued` or `sending`).
    pub oldest_pending: Option<Pending>,
    /// `dead` and `unknown` messages with their last error, most recent first
    /// (at most [`PROBLEMS_SHOWN`]).
    pub problems: Vec<Problem>,
    pub problem_count: u64,
}

/// Problems listed by [`Store::outbox_status`].
pub const PROBLEMS_SHOWN: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct GroupStatus {
    pub kind: String,
    pub name: String,
    pub counts: BTreeMap<String, u64>,
    /// The `skipped` ones by reason.
    pub skipped: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Pending {
    pub key: String,
    pub state: String,
    pub attempts: u32,
    /// Unix seconds.
    pub created_at: i64,
    pub not_before: i64,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub key: String,
    pub state: String,
    pub provider: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// Where the outbox stood before a simulation: rows written later and the
/// messages pending then are the simulation's.
#[derive(Clone, Debug, Default)]
pub struct Watermark {
    rowid: i64,
    pending: Vec<String>,
    /// The last `journey_log` row then.
    pub journey_log: i64,
}

/// An outbox row as a simulation's timeline reads it (times in unix seconds).
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub occurrence: String,
    pub step: Option<String>,
    pub contact_id: String,
    pub channel: String,
    pub variant: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub send_at: i64,
    pub not_before: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The states a message holds before it ends: the frequency caps count them
/// with the sent ones, since they are going out.
const GOING_OUT: &str = "('queued', 'sending', 'sent', 'unknown')";

impl Store {
    /// Writes one intent (`queued`) unless its key is in the outbox already.
    /// Runs inside the caller's transaction. Returns whether it was new.
    pub fn insert_intent(&self, intent: &Intent<'_>, now: i64) -> Result<bool, StoreError> {
        self.run(|| {
            let changed = self
                .connection
                .prepare_cached(
                    "INSERT INTO outbox (key, kind, name, occurrence, step, contact_id, channel,
                     provider, variant, payload, cost, needs_consent, state, send_at, not_before,
                     created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'queued', ?13,
                     ?13, ?14, ?14)
                     ON CONFLICT (key) DO NOTHING",
                )?
                .execute(params![
                    intent.key,
                    intent.kind.as_str(),
                    intent.name,
                    intent.occurrence,
                    intent.step,
                    intent.contact_id,
                    intent.channel,
                    intent.provider,
                    intent.variant,
                    intent.payload,
                    intent.cost,
                    intent.needs_consent,
                    intent.send_at,
                    now,
                ])?;
            Ok(changed > 0)
        })
    }

    /// Writes one skip (`skipped`, with its reason) unless its key is in the
    /// outbox already. Runs inside the caller's transaction.
    pub fn insert_skip(&self, skip: &Skip<'_>, now: i64) -> Result<bool, StoreError> {
        self.run(|| {
            let changed = self
                .connection
                .prepare_cached(
                    "INSERT INTO outbox (key, kind, name, occurrence, step, contact_id, channel,
                     provider, payload, state, reason, send_at, not_before, created_at,
                     updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', '', 'skipped', ?8, ?9, ?9, ?10, ?10)
                     ON CONFLICT (key) DO NOTHING",
                )?
                .execute(params![
                    skip.key,
                    skip.kind.as_str(),
                    skip.name,
                    skip.occurrence,
                    skip.step,
                    skip.contact_id,
                    skip.channel,
                    skip.reason,
                    skip.at,
                    now,
                ])?;
            Ok(changed > 0)
        })
    }

    /// Records that a campaign occurrence was enqueued, so that it is never
    /// due again. Runs inside the caller's transaction.
    pub fn record_campaign_run(&self, run: &CampaignRun<'_>, now: i64) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO campaign_runs (campaign, occurrence, enqueued_at, planned,
                     held_out, excluded, cost) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (campaign, occurrence) DO NOTHING",
                )?
                .execute(params![
                    run.campaign,
                    run.occurrence.to_string(),
                    now,
                    run.planned as i64,
                    run.held_out as i64,
                    run.excluded,
                    run.cost,
                ])?;
            Ok(())
        })
    }

    /// Enqueues a plan in one transaction: every campaign run and every
    /// intent, or nothing.
    pub fn enqueue(
        &self,
        runs: &[CampaignRun<'_>],
        intents: &[Intent<'_>],
        now: i64,
    ) -> Result<u64, StoreError> {
        self.begin()?;
        let write = || -> Result<u64, StoreError> {
            for run in runs {
                self.record_campaign_run(run, now)?;
            }
            let mut added = 0;
            for intent in intents {
                added += u64::from(self.insert_intent(intent, now)?);
            }
            Ok(added)
        };
        match write() {
            Ok(added) => {
                self.commit()?;
                Ok(added)
            }
            Err(error) => {
                self.rollback();
                Err(error)
            }
        }
    }

    /// Leases up to `limit` messages of `provider` due at `now` (the
    /// runner's clock, unix seconds) to `holder` until `lease_until` (wall
    /// clock, unix seconds), after skipping those whose contact revoked
    /// consent or got suppressed on the channel since planning. Each claimed
    /// message is `sending` with its attempt counted and `updated_at` =
    /// `started_at` before this returns: the evidence that a request may
    /// leave. Its ledger row is written once, with the outcome
    /// ([`Store::complete`]) or as interrupted ([`Store::recover`]), not
    /// twice (a row at the claim and its update cost a B-tree write per
    /// message on the runner's one thread).
    pub fn claim(
        &self,
        holder: &str,
        provider: &str,
        limit: usize,
        now: i64,
        lease_until: i64,
        started_at: i64,
    ) -> Result<Claim, StoreError> {
        self.begin()?;
        self.finish(|| self.claim_in(holder, provider, limit, now, lease_until, started_at))
    }

    /// [`Store::claim`] inside the caller's transaction.
    fn claim_in(
        &self,
        holder: &str,
        provider: &str,
        limit: usize,
        now: i64,
        lease_until: i64,
        started_at: i64,
    ) -> rusqlite::Result<Claim> {
        // In `outbox_due`'s order (ties by enqueue order): ordering by key
        // as well made every claim sort all due rows, 100,000 of them per
        // claim of 256 in the run benchmark. One pass over the due rows
        // decides each one: sendable ones are leased, those whose address
        // was suppressed or whose consent was withdrawn since the plan are
        // recorded as skipped (a pass for each read the due rows twice).
        let mut statement = self.connection.prepare_cached(
            "UPDATE outbox SET
               state = CASE WHEN due.verdict IS NULL THEN 'sending' ELSE 'skipped' END,
               reason = coalesce(due.verdict, outbox.reason),
               lease_holder = CASE WHEN due.verdict IS NULL THEN ?4 END,
               lease_expires_at = CASE WHEN due.verdict IS NULL THEN ?5 END,
               attempts = attempts + (due.verdict IS NULL),
               updated_at = ?6
             FROM (SELECT q.key AS key,
                     CASE WHEN EXISTS (SELECT 1 FROM suppressions AS s
                            WHERE s.contact_id = q.contact_id AND s.channel IN (q.channel, '*'))
                          THEN 'suppressed'
                          WHEN q.needs_consent = 1 AND NOT EXISTS (SELECT 1 FROM consents AS k
                            WHERE k.contact_id = q.contact_id AND k.channel = q.channel
                              AND k.status = 'granted')
                          THEN 'consent_revoked' END AS verdict
                   FROM outbox AS q
                   WHERE q.state = 'queued' AND q.provider = ?1 AND q.not_before <= ?2
                   ORDER BY q.not_before LIMIT ?3) AS due
             WHERE outbox.key = due.key
             RETURNING outbox.key, outbox.contact_id, outbox.channel, outbox.payload,
               outbox.attempts, outbox.state = 'skipped'",
        )?;
        let mut messages = Vec::new();
        let mut skipped = 0;
        let mut rows = statement.query(params![
            provider,
            now,
            limit as i64,
            holder,
            lease_until,
            started_at
        ])?;
        while let Some(row) = rows.next()? {
            if row.get::<_, bool>(5)? {
                skipped += 1;
            } else {
                messages.push(Claimed::from_row(row, false)?);
            }
        }
        Ok(Claim { messages, skipped })
    }

    /// Leases up to `limit` `unknown` messages of `provider` to `holder`
    /// until `lease_until`, to ask the provider's status API what became of
    /// them ([`Claimed::reconcile`]). The lookup is an attempt of its own
    /// (its row says what the provider answered). A runner that dies while
    /// asking leaves them `sending`; recovery makes them `unknown` again.
    pub fn claim_unknown(
        &self,
        holder: &str,
        provider: &str,
        limit: usize,
        lease_until: i64,
        started_at: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.begin()?;
        self.finish(|| self.claim_unknown_in(holder, provider, limit, lease_until, started_at))
    }

    /// [`Store::claim_unknown`] inside the caller's transaction.
    fn claim_unknown_in(
        &self,
        holder: &str,
        provider: &str,
        limit: usize,
        lease_until: i64,
        started_at: i64,
    ) -> rusqlite::Result<Vec<Claimed>> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE outbox SET state = 'sending', lease_holder = ?3, lease_expires_at = ?4,
             attempts = attempts + 1, updated_at = ?5
             WHERE key IN (SELECT key FROM outbox WHERE state = 'unknown' AND provider = ?1
                           ORDER BY updated_at LIMIT ?2)
             RETURNING key, contact_id, channel, payload, attempts",
        )?;
        let messages = statement
            .query_map(
                params![provider, limit as i64, holder, lease_until, started_at],
                |row| Claimed::from_row(row, true),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(messages)
    }

    /// Records outcomes of attempts `holder` made, in one transaction.
    /// A row the holder no longer leases is left alone (another runner owns
    /// it now). Returns how many were recorded.
    pub fn complete(
        &self,
        holder: &str,
        completions: &[Completion],
        now: i64,
    ) -> Result<u64, StoreError> {
        self.begin()?;
        self.finish(|| self.complete_in(holder, completions, now))
    }

    /// [`Store::complete`] inside the caller's transaction.
    fn complete_in(
        &self,
        holder: &str,
        completions: &[Completion],
        now: i64,
    ) -> rusqlite::Result<u64> {
        // The attempt's ledger row, only for a message `holder` still
        // leases; its start is when the claim took it (`updated_at`).
        let mut ledger = self.connection.prepare_cached(
            "INSERT INTO outbox_attempts (key, attempt, started_at, finished_at, outcome, detail)
             SELECT key, ?2, updated_at, ?4, ?5, ?6 FROM outbox
             WHERE key = ?1 AND lease_holder = ?3 AND state = 'sending'
             ON CONFLICT (key, attempt) DO UPDATE SET finished_at = excluded.finished_at,
             outcome = excluded.outcome, detail = excluded.detail",
        )?;
        let mut update = self.connection.prepare_cached(
            "UPDATE outbox SET state = ?2, last_error = ?3,
             provider_message_id = coalesce(?4, provider_message_id),
             not_before = coalesce(?5, not_before), lease_holder = NULL,
             lease_expires_at = NULL, updated_at = ?6
             WHERE key = ?1",
        )?;
        let mut suppress = self.connection.prepare_cached(
            "INSERT INTO suppressions (contact_id, channel, reason, at, detail)
             SELECT contact_id, channel, ?2, ?3, ?4 FROM outbox WHERE key = ?1
             ON CONFLICT (contact_id, channel) DO NOTHING",
        )?;
        let mut recorded = 0;
        for completion in completions {
            let resolution = &completion.resolution;
            let (provider_id, not_before) = match resolution {
                Resolution::Sent {
                    provider_message_id,
                } => (provider_message_id.as_deref(), None),
                Resolution::Retry { not_before, .. } => (None, Some(*not_before)),
                _ => (None, None),
            };
            let held = ledger.execute(params![
                completion.key,
                completion.attempt,
                holder,
                now,
                resolution.outcome(),
                resolution.error()
            ])?;
            if held == 0 {
                continue;
            }
            recorded += 1;
            update.execute(params![
                completion.key,
                resolution.state(),
                resolution.error(),
                provider_id,
                not_before,
                now
            ])?;
            if let Resolution::Failed {
                suppress: Some((reason, detail)),
                ..
            } = resolution
            {
                suppress.execute(params![completion.key, reason.as_str(), now, detail])?;
            }
        }
        Ok(recorded)
    }

    /// One round of a runner in one transaction: records `completions`
    /// ([`Store::complete`]), then leases what each of `requests` asks for
    /// ([`Store::claim_unknown`] first where it says so, then
    /// [`Store::claim`]), all to `holder` at `wall` (wall clock, unix
    /// seconds). One commit instead of one per step: the rows a round
    /// completes and the rows it claims next share their table and index
    /// pages, so the round writes most pages once, and a runner's thread
    /// spends its time on sends rather than on commits.
    pub fn exchange(
        &self,
        holder: &str,
        completions: &[Completion],
        requests: &[ClaimRequest<'_>],
        wall: i64,
    ) -> Result<Exchange, StoreError> {
        self.begin()?;
        self.finish(|| {
            let recorded = self.complete_in(holder, completions, wall)?;
            let mut claims = Vec::with_capacity(requests.len());
            for request in requests {
                let mut claim = Claim::default();
                if request.reconcile_unknown {
                    claim.messages = self.claim_unknown_in(
                        holder,
                        request.provider,
                        request.limit,
                        request.lease_until,
                        wall,
                    )?;
                }
                let limit = request.limit - claim.messages.len();
                let fresh = self.claim_in(
                    holder,
                    request.provider,
                    limit,
                    request.now,
                    request.lease_until,
                    wall,
                )?;
                claim.skipped = fresh.skipped;
                claim.messages.extend(fresh.messages);
                claims.push(claim);
            }
            Ok(Exchange { recorded, claims })
        })
    }

    /// Takes back the messages whose lease expired by `now` (wall clock,
    /// unix seconds): their runner died or lost them mid-request. Messages
    /// of the `honouring` providers (which deliver a key once however often
    /// it is sent) go back to `queued`; the others become `unknown`. With
    /// `at_least_once`, `unknown` messages go back to `queued` too.
    pub fn recover(
        &self,
        now: i64,
        honouring: &[&str],
        at_least_once: bool,
    ) -> Result<Recovered, StoreError> {
        let honouring = serde_json::to_string(honouring).unwrap_or_else(|_| "[]".into());
        self.begin()?;
        let work = || -> rusqlite::Result<Recovered> {
            let expired = "state = 'sending' AND lease_expires_at <= ?1";
            // The ledger row of each attempt cut short, started when its
            // claim took it.
            self.connection.execute(
                &format!(
                    "INSERT INTO outbox_attempts (key, attempt, started_at, finished_at, outcome, detail)
                     SELECT key, attempts, updated_at, ?1, 'interrupted', ?2 FROM outbox
                     WHERE {expired} ON CONFLICT (key, attempt) DO UPDATE SET
                     finished_at = excluded.finished_at, outcome = excluded.outcome,
                     detail = excluded.detail"
                ),
                params![now, STOPPED_MID_REQUEST],
            )?;
            let requeued = self.connection.execute(
                &format!(
                    "UPDATE outbox SET state = 'queued', lease_holder = NULL,
                     lease_expires_at = NULL, last_error = ?3, updated_at = ?1
                     WHERE {expired} AND (?2 OR provider IN (SELECT value FROM json_each(?4)))"
                ),
                params![now, at_least_once, STOPPED_MID_REQUEST, honouring],
            )?;
            let unknown = self.connection.execute(
                &format!(
                    "UPDATE outbox SET state = 'unknown', lease_holder = NULL,
                     lease_expires_at = NULL, last_error = ?2, updated_at = ?1 WHERE {expired}"
                ),
                params![now, STOPPED_MID_REQUEST],
            )?;
            let resent = if at_least_once {
                self.connection.execute(
                    "UPDATE outbox SET state = 'queued', updated_at = ?1 WHERE state = 'unknown'",
                    [now],
                )?
            } else {
                0
            };
            Ok(Recovered {
                requeued: (requeued + resent) as u64,
                unknown: unknown.saturating_sub(resent) as u64,
            })
        };
        self.finish(work)
    }

    /// The earliest `not_before` of a queued message of one of `providers`.
    pub fn next_due(&self, providers: &[&str]) -> Result<Option<i64>, StoreError> {
        let providers = serde_json::to_string(providers).unwrap_or_else(|_| "[]".into());
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT min(not_before) FROM outbox WHERE state = 'queued'
                     AND provider IN (SELECT value FROM json_each(?1))",
                )?
                .query_row([providers], |row| row.get(0))
        })
    }

    /// The providers that have `unknown` messages (to look up, where the
    /// provider has a status API).
    pub fn unknown_providers(&self) -> Result<Vec<String>, StoreError> {
        self.providers_in("unknown")
    }

    /// The providers that have queued messages.
    pub fn queued_providers(&self) -> Result<Vec<String>, StoreError> {
        self.providers_in("queued")
    }

    fn providers_in(&self, state: &str) -> Result<Vec<String>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT DISTINCT provider FROM outbox WHERE state = ?1 ORDER BY provider",
            )?;
            let rows = statement.query_map([state], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// Messages queued for `provider` and due by `now`.
    pub fn queued(&self, provider: &str, now: i64) -> Result<u64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT count(*) FROM outbox WHERE state = 'queued' AND provider = ?1
                     AND not_before <= ?2",
                )?
                .query_row(params![provider, now], |row| row.get::<_, i64>(0))
                .map(|count| count.max(0) as u64)
        })
    }

    /// Messages going out or sent to `contact` (on `channel`, or on any
    /// channel) with a planned send time in `[from, until)`.
    pub(super) fn ledger_count(
        &self,
        contact: &str,
        channel: Option<&str>,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u32, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(&format!(
                    "SELECT count(*) FROM outbox WHERE contact_id = ?1
                     AND (?2 IS NULL OR channel = ?2) AND send_at >= ?3 AND send_at < ?4
                     AND state IN {GOING_OUT}"
                ))?
                .query_row(
                    params![contact, channel, from.as_second(), until.as_second()],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| u32::try_from(count.max(0)).unwrap_or(u32::MAX))
        })
    }

    /// Whether a message of `campaign` to `contact`, going out or sent, is
    /// planned for `[from, until)`.
    pub(super) fn ledger_has_campaign(
        &self,
        contact: &str,
        campaign: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.run(|| {
            Ok(self
                .connection
                .prepare_cached(&format!(
                    "SELECT 1 FROM outbox WHERE contact_id = ?1 AND kind = 'campaign'
                     AND name = ?2 AND send_at >= ?3 AND send_at < ?4 AND state IN {GOING_OUT}
                     LIMIT 1"
                ))?
                .query_row(
                    params![contact, campaign, from.as_second(), until.as_second()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    /// Whether the occurrence is in `campaign_runs`.
    pub(super) fn campaign_run_recorded(
        &self,
        campaign: &str,
        occurrence: Timestamp,
    ) -> Result<bool, StoreError> {
        self.run(|| {
            Ok(self
                .connection
                .prepare_cached(
                    "SELECT 1 FROM campaign_runs WHERE campaign = ?1 AND occurrence = ?2",
                )?
                .query_row(params![campaign, occurrence.to_string()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Where the outbox and the journey log stand now, for
    /// [`Store::outbox_since`] and [`Store::journey_log_after`].
    pub fn outbox_watermark(&self) -> Result<Watermark, StoreError> {
        self.run(|| {
            let rowid: Option<i64> =
                self.connection
                    .query_row("SELECT max(rowid) FROM outbox", [], |row| row.get(0))?;
            let mut statement = self.connection.prepare(
                "SELECT key FROM outbox WHERE state IN ('queued', 'sending') ORDER BY key",
            )?;
            let pending = statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            let journey_log: Option<i64> =
                self.connection
                    .query_row("SELECT max(rowid) FROM journey_log", [], |row| row.get(0))?;
            Ok(Watermark {
                rowid: rowid.unwrap_or(0),
                pending,
                journey_log: journey_log.unwrap_or(0),
            })
        })
    }

    /// The rows written after `watermark`, and those pending then, in
    /// their planned order.
    pub fn outbox_since(&self, watermark: &Watermark) -> Result<Vec<OutboxRow>, StoreError> {
        let pending = serde_json::to_string(&watermark.pending).unwrap_or_else(|_| "[]".into());
        self.run(|| {
            let mut statement = self.connection.prepare(
                "SELECT key, kind, name, occurrence, step, contact_id, channel, variant, state,
                 reason, send_at, not_before, created_at, updated_at FROM outbox
                 WHERE rowid > ?1 OR key IN (SELECT value FROM json_each(?2))
                 ORDER BY send_at, key",
            )?;
            let rows = statement.query_map(params![watermark.rowid, pending], |row| {
                Ok(OutboxRow {
                    key: row.get(0)?,
                    kind: row.get(1)?,
                    name: row.get(2)?,
                    occurrence: row.get(3)?,
                    step: row.get(4)?,
                    contact_id: row.get(5)?,
                    channel: row.get(6)?,
                    variant: row.get(7)?,
                    state: row.get(8)?,
                    reason: row.get(9)?,
                    send_at: row.get(10)?,
                    not_before: row.get(11)?,
                    created_at: row.get(12)?,
                    updated_at: row.get(13)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The outbox by state per campaign and journey, the oldest pending
    /// message, and the dead and unknown ones with their last error.
    pub fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        self.run(|| {
            let mut groups: Vec<GroupStatus> = Vec::new();
            let mut statement = self.connection.prepare(
                "SELECT kind, name, state, count(*) FROM outbox
                 GROUP BY kind, name, state ORDER BY kind, name, state",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let (kind, name): (String, String) = (row.get(0)?, row.get(1)?);
                let (state, count): (String, i64) = (row.get(2)?, row.get(3)?);
                match groups.last_mut() {
                    Some(group) if group.kind == kind && group.name == name => {
                        group.counts.insert(state, count as u64);
                    }
                    _ => groups.push(GroupStatus {
                        kind,
                        name,
                        counts: BTreeMap::from([(state, count as u64)]),
                        skipped: BTreeMap::new(),
                    }),
                }
            }
            let mut statement = self.connection.prepare(
                "SELECT kind, name, coalesce(reason, ''), count(*) FROM outbox
                 WHERE state = 'skipped' GROUP BY kind, name, reason",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let (kind, name): (String, String) = (row.get(0)?, row.get(1)?);
                let (reason, count): (String, i64) = (row.get(2)?, row.get(3)?);
                if let Some(group) = groups
                    .iter_mut()
                    .find(|group| group.kind == kind && group.name == name)
                {
                    group.skipped.insert(reason, count as u64);
                }
            }
            let oldest_pending = self
                .connection
                .query_row(
                    "SELECT key, state, attempts, created_at, not_before, last_error FROM outbox
                     WHERE state IN ('queued', 'sending') ORDER BY created_at, not_before, key
                     LIMIT 1",
                    [],
                    |row| {
                        Ok(Pending {
                            key: row.get(0)?,
                            state: row.get(1)?,
                            attempts: row.get(2)?,
                            created_at: row.get(3)?,
                            not_before: row.get(4)?,
                            last_error: row.get(5)?,
                        })
                    },
                )
                .optional()?;
            let problem_count: i64 = self.connection.query_row(
                "SELECT count(*) FROM outbox WHERE state IN ('dead', 'unknown')",
                [],
                |row| row.get(0),
            )?;
            let mut statement = self.connection.prepare(
                "SELECT key, state, provider, attempts, last_error, updated_at FROM outbox
                 WHERE state IN ('dead', 'unknown') ORDER BY updated_at DESC, key LIMIT ?1",
            )?;
            let problems = statement
                .query_map([PROBLEMS_SHOWN as i64], |row| {
                    Ok(Problem {
                        key: row.get(0)?,
                        state: row.get(1)?,
                        provider: row.get(2)?,
                        attempts: row.get(3)?,
                        last_error: row.get(4)?,
                        updated_at: row.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(OutboxStatus {
                groups,
                oldest_pending,
                problems,
                problem_count: problem_count.max(0) as u64,
            })
        })
    }

    /// Runs `work` in the transaction [`Store::begin`] opened: commits on
    /// success, rolls back on failure.
    fn finish<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> Result<T, StoreError> {
        match self.run(work) {
            Ok(value) => {
                self.commit()?;
                Ok(value)
            }
            Err(error) => {
                self.rollback();
                Err(error)
            }
        }
    }
}
