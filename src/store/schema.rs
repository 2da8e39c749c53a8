//! The SQLite schema of the contact store.
//!
//! Representation, chosen so that SQL comparisons are the natural ones:
//! - dates are ISO text `YYYY-MM-DD` (text order is date order);
//! - datetimes (`created_at`, datetime attributes, `events.at`) are INTEGER
//!   unix seconds, UTC (fast range scans on the events index); datetime
//!   *event properties* stay RFC 3339 text inside the JSON;
//! - booleans are INTEGER 0/1, lists are JSON arrays of strings (TEXT);
//! - every declared attribute is one typed column of `contacts`, added when
//!   the manifest declares a new one.

use crate::segment::catalog::FieldType;

/// The version the DDL below creates; migrations move older stores to it.
pub const VERSION: i64 = 1;

pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
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
";

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
