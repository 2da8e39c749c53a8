//! Events: what contacts did, each with an id that makes ingestion
//! idempotent, a type, a time and JSON properties.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::contact::Event;

/// An event to ingest, validated, for a known contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord<'a> {
    pub id: &'a str,
    pub contact: &'a str,
    pub event: &'a str,
    /// Unix seconds, UTC.
    pub at: i64,
    /// A JSON object.
    pub properties: &'a str,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub contact: String,
    pub event: String,
    pub at: i64,
    pub properties: String,
}

impl Store {
    /// Adds an event unless its id is taken; returns whether it was added.
    /// A delivery feedback event is also summed up on the outbox row of
    /// the message it names (what `herald report` reads).
    pub fn add_event(&self, event: &EventRecord<'_>) -> Result<bool, StoreError> {
        self.run(|| {
            let added = self
                .connection
                .prepare_cached(
                    "INSERT INTO events (id, contact_id, event, at, properties)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    event.id,
                    event.contact,
                    event.event,
                    event.at,
                    event.properties
                ])?
                > 0;
            if added {
                self.summarise_feedback(event.event, event.at, event.properties)?;
            }
            Ok(added)
        })
    }

    /// The event stored under an id.
    pub fn stored_event(&self, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT contact_id, event, at, properties FROM events WHERE id = ?1",
                )?
                .query_row([id], |row| {
                    Ok(StoredEvent {
                        contact: row.get(0)?,
                        event: row.get(1)?,
                        at: row.get(2)?,
                        properties: row.get(3)?,
                    })
                })
                .optional()
        })
    }

    /// Inserts or replaces an event of a contact (for fixtures and benchmarks).
    pub fn put_event(&self, contact_id: &str, event: &Event) -> Result<(), StoreError> {
        self.run(|| {
            let properties = serde_json::Value::Object(event.properties.clone()).to_string();
            self.connection.execute(
                "INSERT OR REPLACE INTO events (id, contact_id, event, at, properties) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![event.id, contact_id, event.event, event.at, properties],
            )?;
            self.summarise_feedback(&event.event, event.at, &properties)
        })
    }

    /// A contact's events, oldest first.
    pub fn events_of(&self, contact: &str) -> Result<Vec<Event>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT id, event, at, properties FROM events WHERE contact_id = ?1 ORDER BY at, id",
            )?;
            let rows = statement.query_map([contact], |row| {
                let properties: String = row.get(3)?;
                Ok(Event {
                    id: row.get(0)?,
                    event: row.get(1)?,
                    at: row.get(2)?,
                    properties: match serde_json::from_str(&properties) {
                        Ok(serde_json::Value::Object(map)) => map,
                        _ => serde_json::Map::new(),
                    },
                })
            })?;
            rows.collect()
        })
    }

    /// When the contact's latest event of type `event` at or before `at`
    /// happened (unix seconds): WhatsApp's customer-service window opens
    /// with the contact's last inbound message.
    pub fn last_event_at(
        &self,
        contact: &str,
        event: &str,
        at: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT max(at) FROM events WHERE contact_id = ?1 AND event = ?2 AND at <= ?3",
                )?
                .query_row(params![contact, event, at], |row| row.get(0))
        })
    }
}
