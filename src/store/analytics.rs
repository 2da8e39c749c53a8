//! What `herald report` reads: one campaign's or journey's messages in a
//! period with the delivery feedback about each, its held-out contacts, its
//! run records, the goal events of its contacts, and how far a journey's
//! enrolments got; and the feedback summary that makes the first cheap.
//!
//! Every read goes through an index, and a campaign of N messages costs
//! one pass over index ranges, not N lookups:
//! - the messages from `outbox_by_source_contact (kind, name,
//!   contact_id, send_at, …)` alone, in contact order: since schema
//!   version 14 it holds every column the report reads, so no message's
//!   row is looked up;
//! - the goal events from `events_by_type_contact (event, contact_id,
//!   amount, at)` alone (schema version 13), in the same contact order as
//!   the messages and merge-joined with them in Rust ([`GoalMerge`]), as
//!   with the held-out contacts, in batches that seek to the contact asked
//!   about ([`ContactBatches`]);
//! - the delivery feedback about each message from its own outbox row: the
//!   first moment it arrived, was opened, clicked, failed, bounced or drew
//!   a complaint, which [`Store::add_event`] keeps up to date as each
//!   feedback event is stored (schema version 12, which also filled it in
//!   from the events stored before). The events stay the record; the
//!   summary is what a per-message join through `events_by_message` would
//!   compute, at the cost of one primary-key update per feedback event
//!   instead of an index lookup per message and per report;
//! - unsubscribes through the suppressions' key: the contacts who ever
//!   unsubscribed in batches as the goal events, and for them the
//!   suppression of the message's channel.
//!
//! A contact's messages and goal events are attributed together and
//! alone, so the report can read ranges of contacts
//! ([`Store::contact_boundaries`], [`ContactRange`]) on separate
//! connections at once and add the sums up.
//!
//! The queries are plain SQL a PostgreSQL backend runs as they are (with
//! `properties->>'message_key'` for `json_extract` and without the
//! `INDEXED BY` hints); a merge join in the application is what either
//! backend's planner would do with both sides sorted on the same key.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// The delivery feedback events (written by `herald serve` from provider
/// webhooks), each naming its message in the `message_key` property.
pub const FEEDBACK_EVENTS: [&str; 7] = [
    "message_delivered",
    "message_read",
    "message_failed",
    "email_bounced",
    "email_complained",
    "email_opened",
    "email_clicked",
];

/// One message with what feedback says about it, borrowed from the row
/// being read (the report turns it into counts at once).
#[derive(Clone, Debug)]
pub struct MessageFacts<'a> {
    pub contact_id: &'a str,
    pub step: Option<&'a str>,
    pub channel: &'a str,
    pub variant: Option<&'a str>,
    pub state: &'a str,
    pub reason: Option<&'a str>,
    /// An intent the plan wrote (a `skipped` row the planner wrote for an
    /// excluded contact has no provider and was never planned to go out).
    pub planned: bool,
    /// The planned cost (the channel's price × SMS parts).
    pub cost: f64,
    /// The planned send time, unix seconds.
    pub send_at: i64,
    /// The first feedback that shows it arrived (delivered, read, opened,
    /// clicked), unix seconds.
    pub delivered_at: Option<i64>,
    pub opened: bool,
    pub clicked: bool,
    /// A provider reported it failed after accepting it.
    pub failed: bool,
    pub bounced: bool,
    pub complained: bool,
    /// When the contact unsubscribed on the message's channel after it was
    /// sent and before any later message on that channel reached them.
    pub unsubscribed: bool,
}

/// What [`Store::each_reported_message`] hands over, in contact order.
#[derive(Debug)]
pub enum Reported<'a> {
    /// One of the contact's messages.
    Message(MessageFacts<'a>),
    /// After a contact's last message: the contact's goal events (those of
    /// the [`GoalQuery`], by time), empty without a goal.
    ContactEnd {
        contact_id: &'a str,
        goals: &'a [GoalEvent],
    },
}

/// Which goal events to hand over with each contact: those of type `event`
/// at or before `until` (unix seconds; the report's now).
#[derive(Clone, Copy, Debug)]
pub struct GoalQuery<'a> {
    pub event: &'a str,
    pub until: i64,
}

/// A campaign occurrence's run record.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub occurrence: String,
    pub planned: u64,
    pub held_out: u64,
    /// Exclusions and skips by reason, as JSON.
    pub excluded: String,
}

/// Enrolments of a journey that stand or ended alike: at one step, with one
/// status and exit reason.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrolmentOutcome {
    /// Where it is or where it ended (`None` for an enrolment that never
    /// reached a step).
    pub step: Option<String>,
    /// `active`, `completed` or `exited`.
    pub status: String,
    /// Why it ended (`journey_log`'s `exited` reasons).
    pub reason: Option<String>,
    /// It converted at the moment it ended: the goal event was also an exit
    /// event.
    pub at_goal: bool,
    pub enrolments: u64,
}

/// A goal event: when, and its `amount` property.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GoalEvent {
    pub at: i64,
    pub amount: Option<f64>,
}

impl Store {
    /// Hands every message of `kind`/`name` planned for `[from, until)`
    /// (unix seconds) to `each`, with its feedback, in contact order (the
    /// report attributes one contact at a time), straight from the
    /// `outbox_by_source_contact` index alone: no sort, no row read. After
    /// a contact's last message comes [`Reported::ContactEnd`] with its
    /// `goal` events, merged from a second stream in the same contact order
    /// (see [`GoalMerge`]).
    pub fn each_reported_message(
        &self,
        kind: &str,
        name: &str,
        period: (i64, i64),
        goal: Option<GoalQuery<'_>>,
        each: impl FnMut(Reported<'_>),
    ) -> Result<(), StoreError> {
        self.each_reported_message_of(kind, name, period, ContactRange::ALL, goal, each)
    }

    /// [`Store::each_reported_message`] for the contacts in `contacts`
    /// only (their goal events and unsubscribes too): a report reads
    /// several ranges on separate connections at once.
    pub fn each_reported_message_of(
        &self,
        kind: &str,
        name: &str,
        (from, until): (i64, i64),
        contacts: ContactRange<'_>,
        goal: Option<GoalQuery<'_>>,
        mut each: impl FnMut(Reported<'_>),
    ) -> Result<(), StoreError> {
        self.run(|| {
            let mut goal_statement = self.goal_statement(goal)?;
            let mut goals = GoalMerge::new(goal_statement.as_mut(), goal);
            // The feedback facts come as one number, a bit each (every
            // column read costs a few calls into SQLite). Whether a message
            // led to an unsubscribe is asked only for contacts who ever
            // unsubscribed (a third stream in contact order): asked for
            // every message, the lookup was a sixth of the report's time.
            let mut unsubscribers = self.connection.prepare_cached(
                "SELECT contact_id FROM suppressions
                 WHERE contact_id >= :from AND reason = 'unsubscribed'
                 ORDER BY contact_id LIMIT :limit",
            )?;
            let mut unsubscribers = ContactBatches::new(&mut unsubscribers, Vec::new(), |_| Ok(()));
            // `+s.channel`: a contact's few suppressions are read through
            // the key's first column and compared; as an index constraint
            // the IN list would be built into a temporary b-tree each time.
            let mut unsubscribed = self.connection.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM suppressions AS s
                   WHERE s.contact_id = ?1 AND +s.channel IN (?2, '*')
                     AND s.reason = 'unsubscribed' AND s.at >= ?3
                     AND NOT EXISTS (SELECT 1 FROM outbox AS later
                       WHERE later.contact_id = ?1 AND later.send_at > ?3
                         AND later.send_at <= s.at AND later.channel = ?2
                         AND later.state = 'sent'))",
            )?;
            let upper = if contacts.until.is_some() {
                "AND o.contact_id < ?6"
            } else {
                ""
            };
            let mut statement = self.connection.prepare_cached(&format!(
                "SELECT o.contact_id, o.step, o.channel, o.variant, o.state, o.reason, o.cost,
                   o.send_at, o.state != 'skipped' OR o.provider != '', o.delivered_at,
                   CASE WHEN o.opened_at IS NULL THEN 0 ELSE 1 END
                     + CASE WHEN o.clicked_at IS NULL THEN 0 ELSE 2 END
                     + CASE WHEN o.failed_at IS NULL THEN 0 ELSE 4 END
                     + CASE WHEN o.bounced_at IS NULL THEN 0 ELSE 8 END
                     + CASE WHEN o.complained_at IS NULL THEN 0 ELSE 16 END
                 FROM outbox AS o INDEXED BY outbox_by_source_contact
                 WHERE o.kind = ?1 AND o.name = ?2 AND o.contact_id >= ?5 {upper}
                   AND o.send_at >= ?3 AND o.send_at < ?4
                 ORDER BY o.contact_id"
            ))?;
            let mut rows = match contacts.until {
                Some(last) => {
                    statement.query(params![kind, name, from, until, contacts.from, last])?
                }
                None => statement.query(params![kind, name, from, until, contacts.from])?,
            };
            // The contact whose messages are being read, and its goal events.
            let mut contact = String::new();
            let mut started = false;
            let mut contact_goals = Vec::new();
            let mut unsubscriber = false;
            while let Some(row) = rows.next()? {
                let contact_id = row.get_ref(0)?.as_str()?;
                if !started || contact_id != contact {
                    if started {
                        each(Reported::ContactEnd {
                            contact_id: &contact,
                            goals: &contact_goals,
                        });
                    }
                    started = true;
                    contact.clear();
                    contact.push_str(contact_id);
                    goals.of(&contact, &mut contact_goals)?;
                    unsubscriber = false;
                    unsubscribers.of(&contact, |()| unsubscriber = true)?;
                }
                let channel = row.get_ref(2)?.as_str()?;
                let send_at: i64 = row.get(7)?;
                let unsubscribed = unsubscriber
                    && unsubscribed
                        .query_row(params![contact, channel, send_at], |row| row.get(0))?;
                let facts: i64 = row.get(10)?;
                let fact = |bit: i64| facts & bit != 0;
                each(Reported::Message(MessageFacts {
                    contact_id,
                    step: row.get_ref(1)?.as_str_or_null()?,
                    channel,
                    variant: row.get_ref(3)?.as_str_or_null()?,
                    state: row.get_ref(4)?.as_str()?,
                    reason: row.get_ref(5)?.as_str_or_null()?,
                    cost: row.get(6)?,
                    send_at,
                    planned: row.get(8)?,
                    delivered_at: row.get(9)?,
                    opened: fact(1),
                    clicked: fact(2),
                    failed: fact(4),
                    bounced: fact(8),
                    complained: fact(16),
                    unsubscribed,
                }));
            }
            if started {
                each(Reported::ContactEnd {
                    contact_id: &contact,
                    goals: &contact_goals,
                });
            }
            Ok(())
        })
    }

    /// Sums a feedback event up on the outbox row of the message its
    /// `message_key` property names (schema version 12): the first moment
    /// of each fact it shows. Other events, and feedback naming no
    /// message, change nothing. Called with every event stored.
    pub(super) fn summarise_feedback(
        &self,
        event: &str,
        at: i64,
        properties: &str,
    ) -> rusqlite::Result<()> {
        if !FEEDBACK_EVENTS.contains(&event) {
            return Ok(());
        }
        let properties: serde_json::Value =
            serde_json::from_str(properties).unwrap_or(serde_json::Value::Null);
        let Some(key) = properties.get("message_key").and_then(|key| key.as_str()) else {
            return Ok(());
        };
        // The same facts as migration 12's backfill.
        self.connection
            .prepare_cached(
                "UPDATE outbox SET
                   delivered_at = CASE WHEN ?2 IN ('message_delivered', 'message_read',
                       'email_opened', 'email_clicked')
                     AND (delivered_at IS NULL OR ?3 < delivered_at) THEN ?3 ELSE delivered_at END,
                   opened_at = CASE WHEN ?2 IN ('message_read', 'email_opened', 'email_clicked')
                     AND (opened_at IS NULL OR ?3 < opened_at) THEN ?3 ELSE opened_at END,
                   clicked_at = CASE WHEN ?2 = 'email_clicked'
                     AND (clicked_at IS NULL OR ?3 < clicked_at) THEN ?3 ELSE clicked_at END,
                   failed_at = CASE WHEN ?2 IN ('message_failed', 'email_bounced')
                     AND (failed_at IS NULL OR ?3 < failed_at) THEN ?3 ELSE failed_at END,
                   bounced_at = CASE WHEN ?2 = 'email_bounced'
                     AND (bounced_at IS NULL OR ?3 < bounced_at) THEN ?3 ELSE bounced_at END,
                   complained_at = CASE WHEN ?2 = 'email_complained'
                     AND (complained_at IS NULL OR ?3 < complained_at) THEN ?3
                     ELSE complained_at END
                 WHERE key = ?1",
            )?
            .execute(params![key, event, at])?;
        Ok(())
    }

    /// Hands each contact held out of `kind`/`name` in `[from, until)` (the
    /// planner's `skipped` rows with reason `held_out`, found through
    /// `outbox_by_origin`) to `each`, in contact order, with the moment it
    /// was first held out (the occurrence, unix seconds) and its `goal`
    /// events, merged as in [`Store::each_reported_message`].
    pub fn each_held_out_contact(
        &self,
        kind: &str,
        name: &str,
        (from, until): (i64, i64),
        goal: Option<GoalQuery<'_>>,
        mut each: impl FnMut(&str, i64, &[GoalEvent]),
    ) -> Result<(), StoreError> {
        self.run(|| {
            let mut goal_statement = self.goal_statement(goal)?;
            let mut goals = GoalMerge::new(goal_statement.as_mut(), goal);
            let mut statement = self.connection.prepare_cached(
                "SELECT contact_id, min(send_at) FROM outbox
                 WHERE kind = ?1 AND name = ?2 AND state = 'skipped' AND reason = 'held_out'
                   AND send_at >= ?3 AND send_at < ?4
                 GROUP BY contact_id ORDER BY contact_id",
            )?;
            let mut rows = statement.query(params![kind, name, from, until])?;
            let mut contact_goals = Vec::new();
            while let Some(row) = rows.next()? {
                let contact = row.get_ref(0)?.as_str()?;
                goals.of(contact, &mut contact_goals)?;
                each(contact, row.get(1)?, &contact_goals);
            }
            Ok(())
        })
    }

    /// The statement of a goal stream's batch: the `event`s up to a moment
    /// from a contact on, in contact order, a range of
    /// `events_by_type_contact`.
    fn goal_statement(
        &self,
        goal: Option<GoalQuery<'_>>,
    ) -> rusqlite::Result<Option<rusqlite::CachedStatement<'_>>> {
        goal.map(|_| {
            self.connection.prepare_cached(
                "SELECT contact_id, at, json_extract(properties, '$.amount'), rowid
                 FROM events INDEXED BY events_by_type_contact
                 WHERE event = :event AND contact_id >= :from AND at <= :until
                 ORDER BY contact_id LIMIT :limit",
            )
        })
        .transpose()
    }

    /// The contact ids that cut the contacts, in id order, into `parts`
    /// ranges of about equal size (fewer ids when there are fewer contacts
    /// than parts; none for one part): a report reads the ranges on
    /// separate connections at once. A count and a walk of the primary
    /// key's index to each boundary (SQLite counts and skips whole pages).
    pub fn contact_boundaries(&self, parts: usize) -> Result<Vec<String>, StoreError> {
        self.run(|| {
            let contacts: i64 = self
                .connection
                .prepare_cached("SELECT count(*) FROM contacts")?
                .query_row([], |row| row.get(0))?;
            let parts = i64::try_from(parts)
                .unwrap_or(i64::MAX)
                .min(contacts)
                .max(1);
            let mut at = self
                .connection
                .prepare_cached("SELECT id FROM contacts ORDER BY id LIMIT 1 OFFSET ?1")?;
            let mut boundaries = Vec::new();
            for part in 1..parts {
                let offset = contacts * part / parts;
                if let Some(id) = at.query_row([offset], |row| row.get(0)).optional()? {
                    boundaries.push(id);
                }
            }
            Ok(boundaries)
        })
    }

    /// Whether `kind`/`name` planned at least `count` messages in `[from,
    /// until)`: a count of its index range that stops at `count`.
    pub fn messages_at_least(
        &self,
        kind: &str,
        name: &str,
        (from, until): (i64, i64),
        count: u64,
    ) -> Result<bool, StoreError> {
        self.run(|| {
            let limit = i64::try_from(count).unwrap_or(i64::MAX);
            let found: i64 = self
                .connection
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM outbox INDEXED BY outbox_by_source_contact
                       WHERE kind = ?1 AND name = ?2 AND send_at >= ?3 AND send_at < ?4
                       LIMIT ?5)",
                )?
                .query_row(params![kind, name, from, until, limit], |row| row.get(0))?;
            Ok(found >= limit)
        })
    }

    /// The run records of `campaign`'s occurrences enqueued in `[from, until)`.
    pub fn campaign_run_records(
        &self,
        campaign: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT occurrence, planned, held_out, excluded FROM campaign_runs
                 WHERE campaign = ?1 AND unixepoch(occurrence) >= ?2
                   AND unixepoch(occurrence) < ?3
                 ORDER BY occurrence",
            )?;
            let rows = statement.query_map(params![campaign, from, until], |row| {
                Ok(RunRecord {
                    occurrence: row.get(0)?,
                    planned: row.get::<_, i64>(1)?.max(0) as u64,
                    held_out: row.get::<_, i64>(2)?.max(0) as u64,
                    excluded: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Messages of `kind`/`name` still on their way (queued or sending).
    pub fn pending_messages(&self, kind: &str, name: &str) -> Result<u64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT count(*) FROM outbox WHERE kind = ?1 AND name = ?2
                     AND state IN ('queued', 'sending')",
                )?
                .query_row(params![kind, name], |row| row.get::<_, i64>(0))
                .map(|count| count.max(0) as u64)
        })
    }

    /// How many enrolments of `journey` that entered in `[from, until)`
    /// reached each step: the distinct enrolments with something logged at
    /// the step (every step logs when it is reached), through
    /// `journey_log_by_step`.
    pub fn journey_step_reach(
        &self,
        journey: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT l.step, count(DISTINCT l.enrolment)
                 FROM journey_log AS l INDEXED BY journey_log_by_step
                 JOIN enrolments AS e ON e.journey = l.journey AND e.id = l.enrolment
                 WHERE l.journey = ?1 AND l.step IS NOT NULL
                   AND e.entered_at >= ?2 AND e.entered_at < ?3
                 GROUP BY l.step",
            )?;
            let rows = statement.query_map(params![journey, from, until], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u64))
            })?;
            rows.collect()
        })
    }

    /// Where the enrolments of `journey` that entered in `[from, until)`
    /// stand or ended, grouped (one range of the enrolments' primary key).
    pub fn journey_outcomes(
        &self,
        journey: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<EnrolmentOutcome>, StoreError> {
        self.run(|| {
            // An exit event that is also the goal records the conversion and
            // the exit at the event's moment: the contact left on reaching it.
            let mut statement = self.connection.prepare_cached(
                "SELECT step, status, exit_reason,
                   coalesce(status = 'exited' AND converted_at = ended_at, 0), count(*)
                 FROM enrolments
                 WHERE journey = ?1 AND entered_at >= ?2 AND entered_at < ?3
                 GROUP BY 1, 2, 3, 4",
            )?;
            let rows = statement.query_map(params![journey, from, until], |row| {
                Ok(EnrolmentOutcome {
                    step: row.get(0)?,
                    status: row.get(1)?,
                    reason: row.get(2)?,
                    at_goal: row.get(3)?,
                    enrolments: row.get::<_, i64>(4)?.max(0) as u64,
                })
            })?;
            rows.collect()
        })
    }
}

/// The contacts a report reads: ids from `from` (inclusive) up to `until`
/// (exclusive; `None` for no end), in the stores' binary text order.
#[derive(Clone, Copy, Debug)]
pub struct ContactRange<'a> {
    pub from: &'a str,
    pub until: Option<&'a str>,
}

impl ContactRange<'_> {
    /// Every contact (the empty id sorts before any other).
    pub const ALL: ContactRange<'static> = ContactRange {
        from: "",
        until: None,
    };
}

/// The rows of one statement in contact order, read beside a stream of
/// contacts in the same order (a merge join) instead of a lookup per
/// contact, whose statement SQLite would also re-prepare at every binding
/// once `ANALYZE` has run (with STAT4, a plan that depends on the bound
/// values is re-planned for each). Both sides order contact ids by
/// SQLite's BINARY collation, byte by byte, as Rust orders strings.
///
/// The rows come in batches, each an index range that starts at the
/// contact asked about: a contact beyond the batch read last is found by
/// one index seek, so a campaign of a thousand contacts reads about its own
/// contacts' rows, not every purchase or unsubscribe in the store. A batch
/// grows (to [`ContactBatches::MOST`]) while its rows go to the contacts
/// asked about and shrinks (to [`ContactBatches::FEWEST`]) while they are
/// passed by.
///
/// The statement's first column is the contact id; it reads from the
/// contact `:from` on, at most `:limit` rows, ordered by contact.
struct ContactBatches<'s, 'c, T> {
    statement: &'s mut rusqlite::CachedStatement<'c>,
    /// The statement's other parameters, by name.
    parameters: Vec<(&'static str, rusqlite::types::Value)>,
    /// What is kept of a row (after its contact id).
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    /// The batch: each row with its contact (a range of `contacts`), and
    /// how far it has been read.
    batch: Vec<(std::ops::Range<usize>, T)>,
    contacts: String,
    next: usize,
    /// The batch holds every row of the contacts before this one (`None`:
    /// of every contact from its first on, to the end of the range).
    complete_before: Option<String>,
    limit: i64,
    /// Rows of the batch handed out (the others were passed by), to size
    /// the next.
    handed_out: usize,
}

impl<'s, 'c, T> ContactBatches<'s, 'c, T> {
    const FEWEST: i64 = 16;
    const MOST: i64 = 4096;

    fn new(
        statement: &'s mut rusqlite::CachedStatement<'c>,
        parameters: Vec<(&'static str, rusqlite::types::Value)>,
        read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Self {
        ContactBatches {
            statement,
            parameters,
            read,
            batch: Vec::new(),
            contacts: String::new(),
            next: 0,
            // Nothing read yet: the first contact asked about starts a batch.
            complete_before: Some(String::new()),
            limit: Self::FEWEST,
            handed_out: 0,
        }
    }

    /// Hands `contact`'s rows to `each`, in the statement's order;
    /// contacts are asked about in ascending order, and the rows of
    /// contacts skipped over are passed by.
    fn of(&mut self, contact: &str, mut each: impl FnMut(&T)) -> rusqlite::Result<()> {
        if self
            .complete_before
            .as_deref()
            .is_some_and(|end| contact >= end)
        {
            self.read_batch(contact)?;
        }
        while let Some((range, row)) = self.batch.get(self.next) {
            match self.contacts[range.clone()].cmp(contact) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    each(row);
                    self.handed_out += 1;
                }
                std::cmp::Ordering::Greater => break,
            }
            self.next += 1;
        }
        Ok(())
    }

    /// Reads the batch of rows that starts at `contact`'s.
    fn read_batch(&mut self, contact: &str) -> rusqlite::Result<()> {
        if !self.batch.is_empty() {
            // Most of the last batch went to the contacts asked about: the
            // rows are dense among them; mostly passed by: sparse.
            self.limit = if self.handed_out * 2 >= self.batch.len() {
                (self.limit * 2).min(Self::MOST)
            } else {
                (self.limit / 2).max(Self::FEWEST)
            };
        }
        loop {
            self.batch.clear();
            self.contacts.clear();
            let mut parameters: Vec<(&str, &dyn rusqlite::ToSql)> = self
                .parameters
                .iter()
                .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
                .collect();
            parameters.push((":from", &contact));
            parameters.push((":limit", &self.limit));
            let mut rows = self.statement.query(parameters.as_slice())?;
            while let Some(row) = rows.next()? {
                let start = self.contacts.len();
                self.contacts.push_str(row.get_ref(0)?.as_str()?);
                let kept = (self.read)(row)?;
                self.batch.push((start..self.contacts.len(), kept));
            }
            let full = self.batch.len() as i64 >= self.limit;
            let last = self.batch.last().map(|(range, _)| range.clone());
            let first = self.batch.first().map(|(range, _)| range.clone());
            match (full, first, last) {
                (true, Some(first), Some(last))
                    if self.contacts[first.clone()] == self.contacts[last.clone()] =>
                {
                    // One contact's rows fill the batch: read it whole.
                    self.limit *= 2;
                }
                (true, _, Some(last)) => {
                    // The last contact's rows may go on past the batch: a
                    // contact from it on starts the next one.
                    self.complete_before = Some(self.contacts[last].to_string());
                    break;
                }
                _ => {
                    self.complete_before = None;
                    break;
                }
            }
        }
        self.next = 0;
        self.handed_out = 0;
        Ok(())
    }
}

/// The goal events of one type up to a moment, each contact's by time (a
/// [`ContactBatches`] of `events_by_type_contact`).
struct GoalMerge<'s, 'c> {
    /// `None` without a goal.
    events: Option<ContactBatches<'s, 'c, (GoalEvent, i64)>>,
    /// The current contact's events with their rowids, to be ordered.
    found: Vec<(GoalEvent, i64)>,
}

impl<'s, 'c> GoalMerge<'s, 'c> {
    fn new(
        statement: Option<&'s mut rusqlite::CachedStatement<'c>>,
        goal: Option<GoalQuery<'_>>,
    ) -> Self {
        let events = statement.zip(goal).map(|(statement, goal)| {
            let parameters = vec![
                (":event", goal.event.to_string().into()),
                (":until", goal.until.into()),
            ];
            ContactBatches::new(statement, parameters, |row| {
                let event = GoalEvent {
                    at: row.get(1)?,
                    amount: amount(row.get_ref(2)?),
                };
                Ok((event, row.get(3)?))
            })
        });
        GoalMerge {
            events,
            found: Vec::new(),
        }
    }

    /// Puts `contact`'s goal events, by time (those at the same moment in
    /// the order they were stored), into `out`; contacts are asked for in
    /// ascending order, and the events of contacts skipped over (nothing
    /// to attribute them to) are passed by.
    fn of(&mut self, contact: &str, out: &mut Vec<GoalEvent>) -> rusqlite::Result<()> {
        out.clear();
        let Some(events) = &mut self.events else {
            return Ok(());
        };
        self.found.clear();
        events.of(contact, |event| self.found.push(*event))?;
        // The index orders a contact's events by amount first.
        self.found.sort_by_key(|(event, rowid)| (event.at, *rowid));
        out.extend(self.found.iter().map(|(event, _)| *event));
        Ok(())
    }
}

/// A goal event's `amount` property: a JSON number, or a string holding one.
fn amount(value: rusqlite::types::ValueRef<'_>) -> Option<f64> {
    match value {
        rusqlite::types::ValueRef::Integer(value) => Some(value as f64),
        rusqlite::types::ValueRef::Real(value) => Some(value),
        rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.trim().parse().ok()),
        _ => None,
    }
}
