//! Journey enrolments (SPEC section 5): each contact's passage through a
//! journey, what happened on the way (`journey_log`), the segment members a
//! segment trigger compares against, how far the runtime has read events,
//! and the attribute changes `update` steps made.
//!
//! An enrolment is `active` until it ends `completed` (it ran past the last
//! step) or `exited` (an exit event, an `exit` step, a removed step). At most
//! one enrolment per journey and contact is active: a partial unique index
//! enforces it, so a second [`Store::insert_enrolment`] is refused by the
//! store itself. Due work is found through the partial index on `wake_at`
//! ([`Store::due_enrolments`]), never by reading every enrolment.
//!
//! ## `journey_log.kind`
//!
//! One row per thing that happened, `at` on the runner's (possibly virtual)
//! clock, `step` the step id where it happened, `detail` a JSON object:
//!
//! - `entered`: `{"trigger": "event" | "segment" | "anniversary", "event_id"?, "date"?}`;
//! - `sent`: `{"key", "channel", "send_at"}` (a message written to the outbox);
//! - `deferred`: `{"key", "channel", "until"}` (quiet hours moved the message);
//! - `skipped`: `{"reason", "channel"?, "error"?}`, reason one of `unreachable`,
//!   `suppressed`, `no_consent`, `frequency_cap`, `sms_too_long`, `render_failed`;
//! - `waited`: `{"until"}` (a timer), or `{"event", "until"?}` (a `wait_for`);
//! - `woke`: `{"cause": "timer" | "timeout" | "event", "event_id"?}`;
//! - `branch`: `{"case": N | null, "goto"}` (`null`: `otherwise`);
//! - `split`: `{"arm": N, "goto"}`;
//! - `updated`: `{"attribute", "from", "to"}`;
//! - `converted`: `{"event", "event_id", "message"}` (the goal event, and the
//!   key of the last message the enrolment received, if any);
//! - `exited`: `{"reason": "exit_event" | "exit_step" | "completed" |
//!   "removed_step" | "removed_journey" | "loop", "event"?, "event_id"?,
//!   "message"?}`.
//!
//! ## PostgreSQL
//!
//! The same tables; the partial indexes exist there too. Workers sharing the
//! due enrolments would take them with `SELECT … FOR UPDATE SKIP LOCKED`
//! ordered by `wake_at`, as the outbox's claim does; the runner here has one
//! writer, so it reads a batch inside its write transaction.

use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, schema};
use crate::contact::Value;
use crate::segment::sql::Query;

/// Where an enrolment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Completed,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Completed => "completed",
            Status::Exited => "exited",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "completed" => Status::Completed,
            "exited" => Status::Exited,
            _ => Status::Active,
        }
    }
}

/// One contact's passage through a journey.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrolment {
    pub id: String,
    pub journey: String,
    pub contact_id: String,
    /// The current step's id; `None` once it ended.
    pub step: Option<String>,
    pub step_index: Option<usize>,
    /// When the contact reached the current step (unix seconds).
    pub step_at: i64,
    pub status: Status,
    pub entered_at: i64,
    /// When a timer ends the current step.
    pub wake_at: Option<i64>,
    /// The event a `wait_for` step waits for.
    pub waiting_for: Option<String>,
    /// The trigger event as JSON (`{}` for segment and anniversary triggers).
    pub trigger: String,
    /// The key of the last message it sent.
    pub last_message: Option<String>,
    pub converted_at: Option<i64>,
    pub converted_message: Option<String>,
    pub ended_at: Option<i64>,
    pub exit_reason: Option<String>,
}

/// One `journey_log` row.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub enrolment: String,
    pub journey: String,
    pub contact_id: String,
    pub at: i64,
    pub step: Option<String>,
    pub kind: String,
    /// A JSON object.
    pub detail: String,
}

/// An event as the journey runtime reads it, with its position in the
/// store's insertion order.
#[derive(Clone, Debug, PartialEq)]
pub struct JourneyEvent {
    pub rowid: i64,
    pub id: String,
    pub contact_id: String,
    pub event: String,
    pub at: i64,
    /// A JSON object.
    pub properties: String,
}

/// How far the runtime has read events (see the `journey_progress` table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub until: i64,
    pub rowid_seen: i64,
    /// The tick in progress, when one was interrupted, and the last event it handled.
    pub tick: Option<i64>,
    pub cursor: Option<(i64, i64)>,
}

/// Active enrolments at one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepCount {
    pub journey: String,
    pub step: String,
    pub waiting: u64,
    /// Of those, how many a timer wakes by the time asked.
    pub due: u64,
}

/// One change an `update` step made to a contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeChange {
    pub attribute: String,
    /// The values before and after, as JSON (`null` when unset).
    pub from: String,
    pub to: String,
    pub at: i64,
    /// `journey/<name>/<enrolment id>`.
    pub source: String,
}

/// The index of `attribute`'s month and day ([`Store::anniversaries`]),
/// quoted; a change of the attribute's column drops it first.
pub(super) fn anniversary_index(attribute: &str) -> String {
    schema::identifier(&format!("contacts_anniversary_{attribute}"))
}

/// A contact whose date attribute may have its anniversary in a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anniversary {
    pub contact_id: String,
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    pub timezone: Option<String>,
}

const COLUMNS: &str = "id, journey, contact_id, step, step_index, step_at, status, entered_at,
    wake_at, waiting_for, trigger, last_message, converted_at, converted_message, ended_at,
    exit_reason";

fn read_enrolment(row: &rusqlite::Row<'_>) -> rusqlite::Result<Enrolment> {
    Ok(Enrolment {
        id: row.get(0)?,
        journey: row.get(1)?,
        contact_id: row.get(2)?,
        step: row.get(3)?,
        step_index: row.get::<_, Option<i64>>(4)?.map(|i| i.max(0) as usize),
        step_at: row.get(5)?,
        status: Status::parse(&row.get::<_, String>(6)?),
        entered_at: row.get(7)?,
        wake_at: row.get(8)?,
        waiting_for: row.get(9)?,
        trigger: row.get(10)?,
        last_message: row.get(11)?,
        converted_at: row.get(12)?,
        converted_message: row.get(13)?,
        ended_at: row.get(14)?,
        exit_reason: row.get(15)?,
    })
}

impl Store {
    /// Adds an enrolment unless its id is taken or the contact has an active
    /// one in the journey; returns whether it was added.
    pub fn insert_enrolment(&self, enrolment: &Enrolment) -> Result<bool, StoreError> {
        self.run(|| {
            let changed = self
                .connection
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO enrolments ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ))?
                .execute(rusqlite::params_from_iter(enrolment_params(enrolment)))?;
            Ok(changed > 0)
        })
    }

    /// Writes an enrolment's new position and state (its contact, entry
    /// time and trigger are fixed when it is inserted).
    pub fn update_enrolment(&self, enrolment: &Enrolment) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    // Who, when it entered and why never change: leaving them
                    // out of the SET spares `enrolments_by_contact` a delete
                    // and insert at every step (SQLite rewrites the indexes
                    // of every column set, changed or not).
                    "UPDATE enrolments SET step = ?4, step_index = ?5, step_at = ?6, status = ?7,
                     wake_at = ?9, waiting_for = ?10, last_message = ?12, converted_at = ?13,
                     converted_message = ?14, ended_at = ?15, exit_reason = ?16
                     WHERE id = ?1 AND journey = ?2",
                )?
                .execute(rusqlite::params_from_iter(enrolment_params(enrolment)))?;
            Ok(())
        })
    }

    /// Active enrolments whose timer ends by `until`, earliest first, at
    /// most `limit`: read through the `wake_at` index.
    pub fn due_enrolments(&self, until: i64, limit: usize) -> Result<Vec<Enrolment>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM enrolments INDEXED BY enrolments_due
                 WHERE status = 'active' AND wake_at IS NOT NULL AND wake_at <= ?1
                 ORDER BY wake_at, journey, id LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![until, limit as i64], read_enrolment)?;
            rows.collect()
        })
    }

    /// The earliest timer of an active enrolment, if any.
    pub fn next_wake(&self) -> Result<Option<i64>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT min(wake_at) FROM enrolments
                     WHERE status = 'active' AND wake_at IS NOT NULL",
                )?
                .query_row([], |row| row.get(0))
        })
    }

    /// A contact's enrolments in a journey entered at or after `since`,
    /// oldest first.
    pub fn enrolments_of(
        &self,
        contact: &str,
        journey: &str,
        since: i64,
    ) -> Result<Vec<Enrolment>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM enrolments
                 WHERE contact_id = ?1 AND journey = ?2 AND entered_at >= ?3
                 ORDER BY entered_at, id"
            ))?;
            let rows = statement.query_map(params![contact, journey, since], read_enrolment)?;
            rows.collect()
        })
    }

    /// A contact's active enrolment in a journey.
    pub fn active_enrolment(
        &self,
        contact: &str,
        journey: &str,
    ) -> Result<Option<Enrolment>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM enrolments
                     WHERE journey = ?1 AND contact_id = ?2 AND status = 'active'"
                ))?
                .query_row(params![journey, contact], read_enrolment)
                .optional()
        })
    }

    /// When the contact last entered the journey, if ever.
    pub fn last_entered(&self, contact: &str, journey: &str) -> Result<Option<i64>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT max(entered_at) FROM enrolments WHERE contact_id = ?1 AND journey = ?2",
                )?
                .query_row(params![contact, journey], |row| row.get(0))
        })
    }

    /// Active enrolments per journey and step, with how many a timer wakes
    /// by `due_by`.
    pub fn waiting_by_step(&self, due_by: i64) -> Result<Vec<StepCount>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT journey, coalesce(step, ''), count(*),
                        sum(CASE WHEN wake_at IS NOT NULL AND wake_at <= ?1 THEN 1 ELSE 0 END)
                 FROM enrolments WHERE status = 'active'
                 GROUP BY journey, step ORDER BY journey, step",
            )?;
            let rows = statement.query_map([due_by], |row| {
                Ok(StepCount {
                    journey: row.get(0)?,
                    step: row.get(1)?,
                    waiting: row.get::<_, i64>(2)?.max(0) as u64,
                    due: row.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// The distinct steps active enrolments stand at, as `(journey, step)`
    /// (`""` for an enrolment at no step), in order. A skip-scan of
    /// `enrolments_by_step` (which the planner picks for these queries; a
    /// store opened for inspection may predate it, so it is not forced):
    /// one index seek per distinct step, so a tick that looks for removed
    /// steps does not count a million waiting contacts first.
    pub fn active_steps(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.run(|| {
            let mut next_journey = self.connection.prepare_cached(
                "SELECT journey, step FROM enrolments
                 WHERE status = 'active' AND journey > ?1 ORDER BY journey, step LIMIT 1",
            )?;
            let mut next_step = self.connection.prepare_cached(
                "SELECT step FROM enrolments
                 WHERE status = 'active' AND journey = ?1 AND step > ?2
                 ORDER BY step LIMIT 1",
            )?;
            let mut steps = Vec::new();
            // Every journey name is greater than the empty string.
            let mut journey = String::new();
            while let Some((name, first)) = next_journey
                .query_row([&journey], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })
                .optional()?
            {
                journey = name;
                // NULL sorts first; any step id is greater than the empty string.
                let mut step = first.unwrap_or_default();
                loop {
                    steps.push((journey.clone(), step.clone()));
                    match next_step
                        .query_row(params![journey, step], |row| row.get::<_, String>(0))
                        .optional()?
                    {
                        Some(next) => step = next,
                        None => break,
                    }
                }
            }
            Ok(steps)
        })
    }

    /// How many active enrolments of `journey` stand at `step` (`""` for
    /// none): asked only about removed steps, so reading the journey's
    /// enrolments is fine.
    pub fn waiting_at(&self, journey: &str, step: &str) -> Result<u64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT count(*) FROM enrolments
                     WHERE status = 'active' AND journey = ?1 AND step IS ?2",
                )?
                .query_row(
                    params![journey, Some(step).filter(|step| !step.is_empty())],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| count.max(0) as u64)
        })
    }

    /// Active enrolments of a journey at one step, in id order, at most `limit`.
    pub fn enrolments_at(
        &self,
        journey: &str,
        step: &str,
        limit: usize,
    ) -> Result<Vec<Enrolment>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM enrolments
                 WHERE journey = ?1 AND step = ?2 AND status = 'active' ORDER BY id LIMIT ?3"
            ))?;
            let rows = statement.query_map(params![journey, step, limit as i64], read_enrolment)?;
            rows.collect()
        })
    }

    /// Active enrolments of journeys the project no longer has, at most `limit`.
    pub fn enrolments_outside(
        &self,
        journeys: &[&str],
        limit: usize,
    ) -> Result<Vec<Enrolment>, StoreError> {
        let placeholders = (0..journeys.len())
            .map(|i| format!("?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let condition = if journeys.is_empty() {
            String::new()
        } else {
            format!("AND journey NOT IN ({placeholders})")
        };
        self.run(|| {
            let mut statement = self.connection.prepare(&format!(
                "SELECT {COLUMNS} FROM enrolments WHERE status = 'active' {condition}
                 ORDER BY journey, id LIMIT ?1"
            ))?;
            let limit = limit as i64;
            let mut values: Vec<&dyn ToSql> = vec![&limit];
            values.extend(journeys.iter().map(|j| j as &dyn ToSql));
            let rows = statement.query_map(values.as_slice(), read_enrolment)?;
            rows.collect()
        })
    }

    /// Appends a `journey_log` row.
    pub fn log_journey(&self, entry: &LogEntry) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO journey_log (enrolment, journey, contact_id, at, step, kind, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    entry.enrolment,
                    entry.journey,
                    entry.contact_id,
                    entry.at,
                    entry.step,
                    entry.kind,
                    entry.detail
                ])?;
            Ok(())
        })
    }

    /// The journey log in the order it was written, with `at` in `[from, until]`.
    pub fn journey_log(&self, from: i64, until: i64) -> Result<Vec<LogEntry>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT enrolment, journey, contact_id, at, step, kind, detail FROM journey_log
                 WHERE at >= ?1 AND at <= ?2 ORDER BY rowid",
            )?;
            let rows = statement.query_map(params![from, until], |row| {
                Ok(LogEntry {
                    enrolment: row.get(0)?,
                    journey: row.get(1)?,
                    contact_id: row.get(2)?,
                    at: row.get(3)?,
                    step: row.get(4)?,
                    kind: row.get(5)?,
                    detail: row.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The journey log rows written after row `rowid`, in the order written.
    pub fn journey_log_after(&self, rowid: i64) -> Result<Vec<LogEntry>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare(
                "SELECT enrolment, journey, contact_id, at, step, kind, detail FROM journey_log
                 WHERE rowid > ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([rowid], |row| {
                Ok(LogEntry {
                    enrolment: row.get(0)?,
                    journey: row.get(1)?,
                    contact_id: row.get(2)?,
                    at: row.get(3)?,
                    step: row.get(4)?,
                    kind: row.get(5)?,
                    detail: row.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn journey_progress(&self) -> Result<Option<Progress>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT until, rowid_seen, tick, cursor_at, cursor_rowid
                     FROM journey_progress WHERE id = 1",
                )?
                .query_row([], |row| {
                    let cursor_at: Option<i64> = row.get(3)?;
                    let cursor_rowid: Option<i64> = row.get(4)?;
                    Ok(Progress {
                        until: row.get(0)?,
                        rowid_seen: row.get(1)?,
                        tick: row.get(2)?,
                        cursor: cursor_at.zip(cursor_rowid),
                    })
                })
                .optional()
        })
    }

    pub fn set_journey_progress(&self, progress: &Progress) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO journey_progress (id, until, rowid_seen, tick, cursor_at, cursor_rowid)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET until = ?1, rowid_seen = ?2, tick = ?3,
                     cursor_at = ?4, cursor_rowid = ?5",
                )?
                .execute(params![
                    progress.until,
                    progress.rowid_seen,
                    progress.tick,
                    progress.cursor.map(|c| c.0),
                    progress.cursor.map(|c| c.1)
                ])?;
            Ok(())
        })
    }

    /// The newest event's position in insertion order (0 for none).
    pub fn last_event_rowid(&self) -> Result<i64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("SELECT coalesce(max(rowid), 0) FROM events")?
                .query_row([], |row| row.get(0))
        })
    }

    /// Events of the types `names` not yet handled at a tick at `now`: those
    /// after `progress.until`, and those ingested since the last tick with an
    /// earlier time (a late export); in time order, after `after`
    /// (`(at, rowid)`), at most `limit`. Events ingested after the tick
    /// started (`rowid > rowid_limit`) wait for the next tick.
    pub fn journey_events(
        &self,
        names: &[&str],
        progress: &Progress,
        now: i64,
        rowid_limit: i64,
        after: (i64, i64),
        limit: usize,
    ) -> Result<Vec<JourneyEvent>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (0..names.len())
            .map(|i| format!("?{}", i + 8))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT rowid, id, contact_id, event, at, properties FROM events
             WHERE at <= ?1 AND rowid <= ?7 AND (at > ?2 OR rowid > ?3)
             AND (at, rowid) > (?4, ?5)
             AND event IN ({placeholders})
             ORDER BY at, rowid LIMIT ?6"
        );
        self.run(|| {
            let mut statement = self.connection.prepare_cached(&sql)?;
            let limit = limit as i64;
            let mut values: Vec<&dyn ToSql> = vec![
                &now,
                &progress.until,
                &progress.rowid_seen,
                &after.0,
                &after.1,
                &limit,
                &rowid_limit,
            ];
            values.extend(names.iter().map(|n| n as &dyn ToSql));
            let rows = statement.query_map(values.as_slice(), |row| {
                Ok(JourneyEvent {
                    rowid: row.get(0)?,
                    id: row.get(1)?,
                    contact_id: row.get(2)?,
                    event: row.get(3)?,
                    at: row.get(4)?,
                    properties: row.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Whether a segment-triggered journey's segment was evaluated before.
    pub fn segment_evaluated(&self, journey: &str) -> Result<bool, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM journey_segments WHERE journey = ?1)",
                )?
                .query_row([journey], |row| row.get(0))
        })
    }

    /// Evaluates a segment-triggered journey's segment (`condition` over
    /// `contacts AS c`) at `now`: stores the members and returns, in id
    /// order, those who were not members at the last evaluation. The first
    /// evaluation only records the members: a journey that starts does not
    /// sweep up everyone already in its segment.
    pub fn segment_entries(
        &self,
        journey: &str,
        condition: &Query,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let first = !self.segment_evaluated(journey)?;
        let next = condition.parameters.len() + 1;
        let insert = format!(
            "INSERT INTO journey_members (journey, contact_id)
             SELECT ?{next}, c.id FROM contacts AS c WHERE ({})
             AND NOT EXISTS (SELECT 1 FROM journey_members AS m
                             WHERE m.journey = ?{next} AND m.contact_id = c.id)
             ORDER BY c.id
             RETURNING contact_id",
            condition.sql
        );
        let remove = format!(
            "DELETE FROM journey_members WHERE journey = ?{next} AND contact_id NOT IN
             (SELECT c.id FROM contacts AS c WHERE ({}))",
            condition.sql
        );
        self.run(|| {
            let mut values: Vec<&dyn ToSql> = condition
                .parameters
                .iter()
                .map(|p| p as &dyn ToSql)
                .collect();
            values.push(&journey);
            self.connection.execute(&remove, values.as_slice())?;
            let mut statement = self.connection.prepare(&insert)?;
            let rows = statement.query_map(values.as_slice(), |row| row.get::<_, String>(0))?;
            let mut entered: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
            self.connection.execute(
                "INSERT INTO journey_segments (journey, evaluated_at) VALUES (?1, ?2)
                 ON CONFLICT (journey) DO UPDATE SET evaluated_at = ?2",
                params![journey, now],
            )?;
            if first {
                entered.clear();
            }
            entered.sort();
            Ok(entered)
        })
    }

    /// Contacts whose date (or datetime) attribute `attribute` falls on one of
    /// `month_days` (`MM-DD`), in id order.
    pub fn anniversaries(
        &self,
        attribute: &str,
        month_days: &[String],
    ) -> Result<Vec<Anniversary>, StoreError> {
        if month_days.is_empty() || !self.catalog.attributes.contains_key(attribute) {
            return Ok(Vec::new());
        }
        let column = schema::identifier(attribute);
        let date = format!(
            "CASE typeof({column}) WHEN 'integer' THEN date({column}, 'unixepoch')
             ELSE substr({column}, 1, 10) END"
        );
        // The month and day of every contact's date, in an index made the
        // first time a tick asks (SQLite uses it for the same expression):
        // a tick reads the contacts of its few days instead of computing
        // the date of every contact. A store opened read-only scans.
        let index = format!(
            "CREATE INDEX IF NOT EXISTS {} ON contacts (substr({date}, 6, 5))
             WHERE {column} IS NOT NULL",
            anniversary_index(attribute)
        );
        self.run(|| match self.connection.execute_batch(&index) {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::ReadOnly =>
            {
                Ok(())
            }
            result => result,
        })?;
        let placeholders = (1..=month_days.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, {date}, timezone FROM contacts
             WHERE {column} IS NOT NULL AND substr({date}, 6, 5) IN ({placeholders})
             ORDER BY id"
        );
        self.run(|| {
            let mut statement = self.connection.prepare(&sql)?;
            let values: Vec<&dyn ToSql> = month_days.iter().map(|d| d as &dyn ToSql).collect();
            let rows = statement.query_map(values.as_slice(), |row| {
                Ok(Anniversary {
                    contact_id: row.get(0)?,
                    date: row.get(1)?,
                    timezone: row.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Sets a declared attribute of a contact and records the change, with
    /// the value before, in `attribute_history`. Returns the value before
    /// as JSON (`null` when unset).
    pub fn set_attribute(
        &self,
        contact: &str,
        attribute: &str,
        value: Option<&Value>,
        at: i64,
        source: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let Some(kind) = self.catalog.attributes.get(attribute).cloned() else {
            return Ok(serde_json::Value::Null);
        };
        let column = schema::identifier(attribute);
        self.run(|| {
            let before = self
                .connection
                .query_row(
                    &format!("SELECT {column} FROM contacts WHERE id = ?1"),
                    [contact],
                    |row| Ok(super::read_value(row.get_ref(0)?, &kind)),
                )
                .optional()?
                .flatten();
            let old = before.as_ref().map_or(serde_json::Value::Null, Value::to_json);
            let new = value.map_or(serde_json::Value::Null, Value::to_json);
            self.connection.execute(
                &format!("UPDATE contacts SET {column} = ?2 WHERE id = ?1"),
                params![
                    contact,
                    value.map(super::sql_value).unwrap_or(rusqlite::types::Value::Null)
                ],
            )?;
            self.connection
                .prepare_cached(
                    "INSERT INTO attribute_history (contact_id, attribute, old_value, new_value, at, source)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    contact,
                    attribute,
                    old.to_string(),
                    new.to_string(),
                    at,
                    source
                ])?;
            Ok(old)
        })
    }

    /// A contact's attribute changes, oldest first.
    pub fn attribute_history(&self, contact: &str) -> Result<Vec<AttributeChange>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT attribute, coalesce(old_value, 'null'), coalesce(new_value, 'null'), at, source
                 FROM attribute_history WHERE contact_id = ?1 ORDER BY at, rowid",
            )?;
            let rows = statement.query_map([contact], |row| {
                Ok(AttributeChange {
                    attribute: row.get(0)?,
                    from: row.get(1)?,
                    to: row.get(2)?,
                    at: row.get(3)?,
                    source: row.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}

fn enrolment_params(enrolment: &Enrolment) -> Vec<Box<dyn ToSql + '_>> {
    vec![
        Box::new(&enrolment.id),
        Box::new(&enrolment.journey),
        Box::new(&enrolment.contact_id),
        Box::new(&enrolment.step),
        Box::new(enrolment.step_index.map(|i| i as i64)),
        Box::new(enrolment.step_at),
        Box::new(enrolment.status.as_str()),
        Box::new(enrolment.entered_at),
        Box::new(enrolment.wake_at),
        Box::new(&enrolment.waiting_for),
        Box::new(&enrolment.trigger),
        Box::new(&enrolment.last_message),
        Box::new(enrolment.converted_at),
        Box::new(&enrolment.converted_message),
        Box::new(enrolment.ended_at),
        Box::new(&enrolment.exit_reason),
    ]
}
