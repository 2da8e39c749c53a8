//! `herald events ingest FILE`: events from JSONL into the store, each line
//! `{"id", "contact_id", "event", "at", "properties"}`. Every line is checked
//! against the declared event type (unknown events and properties, missing
//! required ones, wrong types); an event for a contact the store does not
//! know is rejected, never invented. The event id makes ingestion
//! idempotent: the same event again is unchanged, a different event under a
//! known id is rejected.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

use super::batch::Outcome;
use super::normalise::{self, Rules};
use crate::model::Manifest;
use crate::segment::catalog::FieldType;
use crate::suggestion::did_you_mean;

/// The declared event types: properties with their types and which are required.
pub struct EventTypes {
    types: BTreeMap<String, BTreeMap<String, (FieldType, bool)>>,
}

impl EventTypes {
    pub fn new(manifest: &Manifest) -> EventTypes {
        EventTypes {
            types: manifest
                .events
                .iter()
                .map(|(name, event)| {
                    let properties = event
                        .properties
                        .iter()
                        .map(|(key, property)| {
                            (
                                key.value.clone(),
                                (FieldType::from_attribute(property), property.required()),
                            )
                        })
                        .collect();
                    (name.value.clone(), properties)
                })
                .collect(),
        }
    }
}

pub struct EventRecord {
    id: String,
    contact_id: String,
    event: String,
    at: i64,
    properties: String,
}

/// Validates and normalises one line.
pub fn normalise(types: &EventTypes, rules: &Rules, text: &str) -> Result<EventRecord, String> {
    let object = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".into()),
        Err(error) => return Err(format!("not valid JSON: {error}")),
    };
    let mut problems = Vec::new();
    for key in object.keys() {
        if !["id", "contact_id", "event", "at", "properties"].contains(&key.as_str()) {
            problems.push(format!(
                "unknown key `{key}`; an event has id, contact_id, event, at and properties"
            ));
        }
    }
    let text_of = |key: &str, problems: &mut Vec<String>| -> String {
        match object.get(key) {
            Some(Json::String(text)) if !text.trim().is_empty() => text.trim().to_string(),
            Some(Json::Number(number)) if key != "event" => number.to_string(),
            Some(other) => {
                problems.push(format!("`{key}` must be a non-empty string, not `{other}`"));
                String::new()
            }
            None => {
                problems.push(format!("`{key}` is missing"));
                String::new()
            }
        }
    };
    let id = text_of("id", &mut problems);
    let contact_id = text_of("contact_id", &mut problems);
    let event = text_of("event", &mut problems);
    let at = match object.get("at") {
        Some(Json::String(text)) => match text.trim().parse::<jiff::Timestamp>() {
            Ok(timestamp) => timestamp.as_second(),
            Err(_) => {
                problems.push(format!("at: `{text}` is not an RFC 3339 time"));
                0
            }
        },
        Some(other) => {
            problems.push(format!("at: `{other}` is not an RFC 3339 time"));
            0
        }
        None => {
            problems.push("`at` is missing".into());
            0
        }
    };
    let mut properties = serde_json::Map::new();
    if !event.is_empty() {
        match types.types.get(&event) {
            None => problems.push(
                match did_you_mean(&event, types.types.keys().map(String::as_str)) {
                    Some(close) => format!("unknown event `{event}`; did you mean `{close}`?"),
                    None => format!("unknown event `{event}`"),
                },
            ),
            Some(declared) => {
                let given = match object.get("properties") {
                    Some(Json::Object(given)) => given.clone(),
                    None | Some(Json::Null) => serde_json::Map::new(),
                    Some(other) => {
                        problems.push(format!("properties: `{other}` is not an object"));
                        serde_json::Map::new()
                    }
                };
                for (key, value) in &given {
                    let Some((kind, _)) = declared.get(key) else {
                        problems.push(
                            match did_you_mean(key, declared.keys().map(String::as_str)) {
                                Some(close) => format!(
                                    "unknown property `{key}` of `{event}`; did you mean `{close}`?"
                                ),
                                None => format!("unknown property `{key}` of `{event}`"),
                            },
                        );
                        continue;
                    };
                    match normalise::property(value, kind, rules) {
                        Ok(Some(value)) => {
                            properties.insert(key.clone(), value);
                        }
                        Ok(None) => {}
                        Err(problem) => problems.push(format!("{key}: {problem}")),
                    }
                }
                for (key, (_, required)) in declared {
                    if *required && !properties.contains_key(key) {
                        problems.push(format!("required property `{key}` of `{event}` is missing"));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(EventRecord {
        id,
        contact_id,
        event,
        at,
        properties: Json::Object(properties).to_string(),
    })
}

/// Stores one event.
pub fn write(
    connection: &Connection,
    record: &EventRecord,
) -> rusqlite::Result<Result<Outcome, String>> {
    let lookup = |sql: &str| -> rusqlite::Result<Option<String>> {
        connection
            .prepare_cached(sql)?
            .query_row([&record.contact_id], |row| row.get::<_, String>(0))
            .optional()
    };
    let contact = match lookup("SELECT id FROM contacts WHERE id = ?1")? {
        Some(contact) => contact,
        None => match lookup("SELECT contact_id FROM contact_aliases WHERE alias = ?1")? {
            Some(contact) => contact,
            None => {
                return Ok(Err(format!(
                    "unknown contact `{}`; import the contact first",
                    record.contact_id
                )));
            }
        },
    };
    let inserted = connection
        .prepare_cached(
            "INSERT INTO events (id, contact_id, event, at, properties) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            record.id,
            contact,
            record.event,
            record.at,
            record.properties
        ])?;
    if inserted > 0 {
        return Ok(Ok(Outcome::Inserted));
    }
    let stored: (String, String, i64, String) = connection
        .prepare_cached("SELECT contact_id, event, at, properties FROM events WHERE id = ?1")?
        .query_row([&record.id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    let same_properties = stored.3 == record.properties
        || serde_json::from_str::<Json>(&stored.3).ok()
            == serde_json::from_str::<Json>(&record.properties).ok();
    if stored.0 == contact && stored.1 == record.event && stored.2 == record.at && same_properties {
        Ok(Ok(Outcome::Unchanged))
    } else {
        Ok(Err(format!(
            "event `{}` was already ingested with different content (contact `{}`, `{}`); event ids must be unique",
            record.id, stored.0, stored.1
        )))
    }
}
