//! The SQLite schema of the contact store, as a list of forward migrations.
//!
//! Representation, chosen so that SQL comparisons are the natural ones:
//! - dates are ISO text `YYYY-MM-DD` (text order is date order);
//! - datetimes (`created_at`, datetime attributes, `events.at`) are INTEGER
//!   unix seconds, UTC (fast range scans on the events index); datetime
//!   *event properties* stay RFC 3339 text inside the JSON;
//! - booleans are INTEGER 0/1, lists are JSON arrays of strings (TEXT);
//! - every declared attribute is one typed column of `contacts`, added when
//!   the manifest declares a new one; `attribute_types` remembers the type
//!   each column was created for, so a changed declaration is noticed
//!   ([`super::attributes`]).
//!
//! A store records every migration it has had in `schema_version`. Opening a
//! store applies the missing ones in order, each in its own transaction, so a
//! store is always at one version or the next, never between.

use crate::segment::catalog::FieldType;

/// One step forward: the version it produces and the SQL that gets there.
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Never edit a published one: add another.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "contacts, consent, suppressions, events",
        sql: "
CREATE TABLE IF NOT EXISTS contacts (
    id               TEXT PRIMARY KEY NOT NULL,
    email            TEXT,
    phone            TEXT,
    telegram_chat_id TEXT,
    whatsapp         TEXT,
    viber_id         TEXT,
    vk_id            TEXT,
    push_token       TEXT,
    timezone         TEXT,
    locale           TEXT,
    created_at       INTEGER
);
-- The current consent per channel; consent_history keeps every change.
CREATE TABLE IF NOT EXISTS consents (
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('granted', 'revoked')),
    at         INTEGER,
    source     TEXT,
    PRIMARY KEY (contact_id, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consent_history (
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('granted', 'revoked')),
    at         INTEGER,
    source     TEXT
);
-- `channel` is a channel name, or `*` for every channel.
CREATE TABLE IF NOT EXISTS suppressions (
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel    TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'invalid')),
    at         INTEGER,
    PRIMARY KEY (contact_id, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id         TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT NOT NULL,
    event      TEXT NOT NULL,
    at         INTEGER NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}'
);
-- Event predicates and aggregates look up one contact's events of one type
-- in a time window: this index answers them without scanning.
CREATE INDEX IF NOT EXISTS events_by_contact ON events (contact_id, event, at);
",
    },
    Migration {
        version: 2,
        description: "merge keys, aliases, attribute types, suppression details, lapses, runner tables",
        sql: "
-- Imports merge duplicates by email and phone: look them up without scanning.
CREATE INDEX IF NOT EXISTS contacts_by_email ON contacts (email);
CREATE INDEX IF NOT EXISTS contacts_by_phone ON contacts (phone);
CREATE INDEX IF NOT EXISTS consent_history_by_contact ON consent_history (contact_id, channel, at);
-- An id a file used for a contact that was merged into another by email
-- or phone; events for the alias belong to that contact.
CREATE TABLE IF NOT EXISTS contact_aliases (
    alias      TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id)
) WITHOUT ROWID;
-- The type each declared attribute's column holds values of.
CREATE TABLE IF NOT EXISTS attribute_types (
    name        TEXT PRIMARY KEY NOT NULL,
    type        TEXT NOT NULL,
    enum_values TEXT
) WITHOUT ROWID;
ALTER TABLE suppressions ADD COLUMN detail TEXT;
-- Contacts `herald contacts clean` found not to have converted for the
-- configured period. `cleared_at` is set, not the row deleted, when the
-- contact converts again.
CREATE TABLE IF NOT EXISTS lapses (
    contact_id     TEXT PRIMARY KEY NOT NULL REFERENCES contacts (id),
    last_activity  INTEGER,
    at             INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    cleared_at     INTEGER
) WITHOUT ROWID;
-- The runner: each contact's position in each journey.
CREATE TABLE IF NOT EXISTS journey_state (
    journey    TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    step       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'exited', 'completed')),
    entered_at INTEGER NOT NULL,
    wake_at    INTEGER,
    trigger    TEXT,
    PRIMARY KEY (journey, contact_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journey_state_by_wake ON journey_state (wake_at) WHERE wake_at IS NOT NULL;
-- Every message decided on, keyed by its idempotency key, before any
-- provider is called.
CREATE TABLE IF NOT EXISTS outbox (
    key             TEXT PRIMARY KEY NOT NULL,
    source          TEXT NOT NULL,
    step            TEXT,
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    channel         TEXT NOT NULL,
    variant         TEXT,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'ambiguous', 'skipped')),
    reason          TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_by_status ON outbox (status, next_attempt_at);
-- Every send attempt and delivery event, append-only.
CREATE TABLE IF NOT EXISTS deliveries (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    provider    TEXT,
    status      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    provider_id TEXT,
    detail      TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (key);
CREATE INDEX IF NOT EXISTS deliveries_by_contact ON deliveries (contact_id, channel, at);
",
    },
    Migration {
        version: 3,
        description: "source files a sync imported",
        sql: "
-- `herald sync` imports a source file only when its content hash differs
-- from the one recorded here at its last successful import.
CREATE TABLE IF NOT EXISTS source_files (
    path      TEXT PRIMARY KEY NOT NULL,
    hash      TEXT NOT NULL,
    synced_at INTEGER NOT NULL
) WITHOUT ROWID;
",
    },
    Migration {
        version: 4,
        description: "the runner's outbox, its attempts ledger and campaign runs",
        sql: "
-- Version 2's outbox and deliveries were placeholders nothing wrote to:
-- they are replaced by the shapes the runner uses.
DROP TABLE IF EXISTS deliveries;
DROP TABLE IF EXISTS outbox;
-- Every message decided on, keyed by its idempotency key, written before
-- any provider is called. `send_at` is the planned send time (what the
-- frequency caps count), `not_before` when it may be claimed next (moved
-- by retries); both in unix seconds on the runner's (possibly virtual)
-- clock. `lease_expires_at` is wall-clock unix seconds.
CREATE TABLE outbox (
    key                 TEXT PRIMARY KEY NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('campaign', 'journey')),
    name                TEXT NOT NULL,
    occurrence          TEXT NOT NULL,
    step                TEXT,
    contact_id          TEXT NOT NULL,
    channel             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    variant             TEXT,
    payload             TEXT NOT NULL,
    cost                REAL NOT NULL DEFAULT 0,
    needs_consent       INTEGER NOT NULL DEFAULT 0,
    state               TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'dead', 'skipped', 'unknown')),
    reason              TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    send_at             INTEGER NOT NULL,
    not_before          INTEGER NOT NULL,
    lease_holder        TEXT,
    lease_expires_at    INTEGER,
    last_error          TEXT,
    provider_message_id TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, provider, not_before);
CREATE INDEX outbox_by_contact ON outbox (contact_id, send_at);
-- The ledger: one row per attempt, written when the attempt starts (a
-- crash leaves one without `finished_at`) and completed with its outcome.
CREATE TABLE outbox_attempts (
    key         TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    detail      TEXT,
    PRIMARY KEY (key, attempt)
) WITHOUT ROWID;
-- A campaign occurrence once enqueued: never planned again.
CREATE TABLE campaign_runs (
    campaign    TEXT NOT NULL,
    occurrence  TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    planned     INTEGER NOT NULL,
    held_out    INTEGER NOT NULL,
    excluded    TEXT NOT NULL DEFAULT '{}',
    cost        REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, occurrence)
) WITHOUT ROWID;
",
    },
    Migration {
        version: 5,
        description: "delivery statuses find their outbox message by the provider's id",
        sql: "
-- `herald serve` links a provider's status callback (SMSC, Viber) to the
-- message it is about by the id the provider gave when it accepted it.
CREATE INDEX IF NOT EXISTS outbox_by_provider_message
    ON outbox (provider, provider_message_id) WHERE provider_message_id IS NOT NULL;
",
    },
    Migration {
        version: 6,
        description: "journey enrolments, their log, segment memberships, attribute history",
        sql: "
-- Version 2's journey_state was a placeholder nothing wrote to: one row per
-- journey and contact could not keep a contact's past enrolments, which
-- re-entry rules and goals read. Enrolments replace it.
DROP INDEX IF EXISTS journey_state_by_wake;
DROP TABLE IF EXISTS journey_state;
-- One contact's passage through a journey. `id` is part of the idempotency
-- key of every message it sends. `step` is the current step's id (its
-- 1-based position when it has none), `step_at` when the contact reached
-- it; `wake_at` (unix seconds, the runner's clock) when a timer ends the
-- step; `waiting_for` the event a `wait_for` step waits for; `trigger` the
-- JSON of the event that started it (`event.*` in branches and templates).
CREATE TABLE enrolments (
    id                TEXT NOT NULL,
    journey           TEXT NOT NULL,
    contact_id        TEXT NOT NULL,
    step              TEXT,
    step_index        INTEGER,
    step_at           INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'completed', 'exited')),
    entered_at        INTEGER NOT NULL,
    wake_at           INTEGER,
    waiting_for       TEXT,
    trigger           TEXT NOT NULL DEFAULT '{}',
    last_message      TEXT,
    converted_at      INTEGER,
    converted_message TEXT,
    ended_at          INTEGER,
    exit_reason       TEXT,
    PRIMARY KEY (journey, id)
) WITHOUT ROWID;
-- At most one active enrolment per journey and contact.
CREATE UNIQUE INDEX enrolments_one_active ON enrolments (journey, contact_id) WHERE status = 'active';
-- Due work: the timers that ended by a tick, found without a scan.
CREATE INDEX enrolments_due ON enrolments (wake_at) WHERE status = 'active' AND wake_at IS NOT NULL;
-- Re-entry rules and goals read a contact's enrolments of one journey.
CREATE INDEX enrolments_by_contact ON enrolments (contact_id, journey, entered_at);
-- How many wait at each step (plan, check --store, removed steps).
CREATE INDEX enrolments_by_step ON enrolments (journey, step) WHERE status = 'active';
-- What happened to each enrolment, in order (`kind` values: see store::enrolments).
CREATE TABLE journey_log (
    enrolment  TEXT NOT NULL,
    journey    TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    step       TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX journey_log_by_time ON journey_log (at);
CREATE INDEX journey_log_by_contact ON journey_log (contact_id, at);
-- The members of a segment-triggered journey's segment at its last
-- evaluation: entering is being in it now and not then.
CREATE TABLE journey_members (
    journey    TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    PRIMARY KEY (journey, contact_id)
) WITHOUT ROWID;
CREATE TABLE journey_segments (
    journey      TEXT PRIMARY KEY NOT NULL,
    evaluated_at INTEGER NOT NULL
) WITHOUT ROWID;
-- How far the journey runtime has read events: every event with
-- `at <= until` and `rowid <= rowid_seen` is handled; `cursor_*` is the
-- position inside a tick that a killed runner resumes from.
CREATE TABLE journey_progress (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    until        INTEGER NOT NULL,
    rowid_seen   INTEGER NOT NULL,
    tick         INTEGER,
    cursor_at    INTEGER,
    cursor_rowid INTEGER
);
-- Events of a time window in time order, for the journey runtime.
CREATE INDEX IF NOT EXISTS events_by_time ON events (at);
-- Every attribute change a journey's `update` made, with the value before.
CREATE TABLE attribute_history (
    contact_id TEXT NOT NULL,
    attribute  TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    at         INTEGER NOT NULL,
    source     TEXT NOT NULL
);
CREATE INDEX attribute_history_by_contact ON attribute_history (contact_id, at);
",
    },
    Migration {
        version: 7,
        description: "an index of the outbox by campaign or journey, state and reason",
        sql: "
-- Per campaign (or journey): counts by state for `herald status`, and the
-- contacts a policy skipped, by reason, for reports (the held-out ones are
-- the control group).
CREATE INDEX outbox_by_origin ON outbox (kind, name, state, reason);
",
    },
    Migration {
        version: 8,
        description: "the indexes `herald report` reads through",
        sql: "
-- One campaign's or journey's messages, in contact order: the report
-- attributes conversions one contact at a time as it streams them, so its
-- memory does not grow with the audience. A period's bound on send_at is
-- checked inside the index.
CREATE INDEX outbox_by_source_contact ON outbox (kind, name, contact_id, send_at);
-- Delivery feedback (`message_delivered`, `email_opened`, ...) names the
-- outbox message it is about in its `message_key` property: the report
-- joins it to each message through this index. Partial, so the other
-- events cost nothing.
CREATE INDEX events_by_message ON events (json_extract(properties, '$.message_key'), event, at)
    WHERE json_extract(properties, '$.message_key') IS NOT NULL;
",
    },
    Migration {
        version: 9,
        description: "delivery statuses the runner asks providers for",
        sql: "
-- When the runner last asked a provider that answers only when asked
-- (Unisender's checkSms) what became of a sent message; a final answer is
-- an event (`message_delivered`, `message_failed`), as from `herald serve`.
CREATE TABLE status_checks (
    key        TEXT PRIMARY KEY NOT NULL,
    checked_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The recent sends with a provider's id, which the poll scans by time.
CREATE INDEX outbox_sent_with_provider_id ON outbox (provider, updated_at)
    WHERE state = 'sent' AND provider_message_id IS NOT NULL;
",
    },
    Migration {
        version: 10,
        description: "journey log by journey and step, for the report's step drop-off",
        sql: "
-- How many enrolments reached each step of one journey (`herald report`):
-- one range of this index per journey, the distinct enrolments of a step
-- side by side, instead of a scan of every journey's log.
CREATE INDEX journey_log_by_step ON journey_log (journey, step, enrolment);
",
    },
    Migration {
        version: 11,
        description: "events by type and contact, for the report's conversions",
        sql: "
-- `herald report` reads a goal's events in contact order, beside the
-- campaign's messages in the same order (a merge join): one range of this
-- index per goal, instead of one lookup per contact. Without `at`, so a
-- lookup of one contact's events in a time window (segments, journeys)
-- keeps `events_by_contact`, which has it; the report reads each event's
-- row anyway (for its amount), and orders a contact's few events itself.
CREATE INDEX events_by_type_contact ON events (event, contact_id);
",
    },
    Migration {
        version: 12,
        description: "each message's delivery feedback summed up on its outbox row",
        sql: "
-- What the delivery feedback says about a message, on its outbox row: the
-- first moment of each fact, kept up to date as each feedback event is
-- stored (`Store::add_event`), so `herald report` reads it with the message
-- instead of looking its events up message by message. Arrived (delivered,
-- read, opened or clicked), opened (read, opened or clicked), clicked,
-- failed (failed or bounced), bounced, complained.
ALTER TABLE outbox ADD COLUMN delivered_at INTEGER;
ALTER TABLE outbox ADD COLUMN opened_at INTEGER;
ALTER TABLE outbox ADD COLUMN clicked_at INTEGER;
ALTER TABLE outbox ADD COLUMN failed_at INTEGER;
ALTER TABLE outbox ADD COLUMN bounced_at INTEGER;
ALTER TABLE outbox ADD COLUMN complained_at INTEGER;
-- The feedback stored before this version, through `events_by_message`.
UPDATE outbox SET delivered_at = f.delivered_at, opened_at = f.opened_at,
    clicked_at = f.clicked_at, failed_at = f.failed_at, bounced_at = f.bounced_at,
    complained_at = f.complained_at
FROM (SELECT json_extract(properties, '$.message_key') AS key,
        min(CASE WHEN event IN ('message_delivered', 'message_read', 'email_opened',
            'email_clicked') THEN at END) AS delivered_at,
        min(CASE WHEN event IN ('message_read', 'email_opened', 'email_clicked')
            THEN at END) AS opened_at,
        min(CASE WHEN event = 'email_clicked' THEN at END) AS clicked_at,
        min(CASE WHEN event IN ('message_failed', 'email_bounced') THEN at END) AS failed_at,
        min(CASE WHEN event = 'email_bounced' THEN at END) AS bounced_at,
        min(CASE WHEN event = 'email_complained' THEN at END) AS complained_at
    FROM events
    WHERE json_extract(properties, '$.message_key') IS NOT NULL
    GROUP BY 1) AS f
WHERE outbox.key = f.key;
",
    },
    Migration {
        version: 13,
        description: "the report's goal events from their index alone",
        sql: "
-- With each event's amount in the index (after contact, so a lookup of a
-- contact's events in a time window still prefers `events_by_contact`),
-- `herald report` reads a goal's events without reading their rows: a
-- goal's events are scattered over the whole events table, and reading
-- them was most of the report's I/O.
DROP INDEX events_by_type_contact;
CREATE INDEX events_by_type_contact
    ON events (event, contact_id, json_extract(properties, '$.amount'), at);
",
    },
    Migration {
        version: 14,
        description: "the report's messages from their index alone",
        sql: "
-- Every column `herald report` reads of a message, in the index it reads
-- the messages through, in contact order: the report no longer looks each
-- message's row up (a b-tree descent per message, and rows that carry the
-- rendered payload). The cost: the index is about twice as wide, and a
-- change of state or feedback rewrites its entry, as `outbox_by_origin`
-- already does for state.
DROP INDEX outbox_by_source_contact;
CREATE INDEX outbox_by_source_contact ON outbox (kind, name, contact_id, send_at, channel,
    variant, step, state, reason, provider, cost, delivered_at, opened_at, clicked_at,
    failed_at, bounced_at, complained_at);
",
    },
];

/// The indexes an import into an empty store drops and builds after its
/// last batch (one sort instead of a random b-tree insert per row). Opening
/// a store creates any that are missing, so an import killed in between
/// leaves a store that gets them back on the next open.
pub const MERGE_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS contacts_by_email ON contacts (email);
CREATE INDEX IF NOT EXISTS contacts_by_phone ON contacts (phone);
CREATE INDEX IF NOT EXISTS consent_history_by_contact ON consent_history (contact_id, channel, at);
";

/// Drops [`MERGE_INDEXES`].
pub const DROP_MERGE_INDEXES: &str = "
DROP INDEX IF EXISTS contacts_by_email;
DROP INDEX IF EXISTS contacts_by_phone;
DROP INDEX IF EXISTS consent_history_by_contact;
";

/// The version a store is at after every migration.
pub const VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The SQLite column type of an attribute.
pub fn column_type(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::Integer | FieldType::Boolean | FieldType::Datetime => "INTEGER",
        FieldType::Number => "REAL",
        FieldType::String | FieldType::Enum(_) | FieldType::Date | FieldType::List => "TEXT",
    }
}

/// A quoted SQL identifier.
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
