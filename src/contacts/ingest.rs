//! `herald events ingest FILE`: events from JSONL into the store, each line
//! `{"id", "contact_id", "event", "at", "properties"}`. Every line is checked
//! against the declared event type (unknown events and properties, missing
//! required ones, wrong types); an event for a contact the store does not
//! know is rejected, never invented. The event id makes ingestion
//! idempotent: the same event again is unchanged, a different event under a
//! known id is rejected.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::batch::{Change, Outcome};
use super::normalise::{self, Rules};
use crate::model::Manifest;
use crate::segment::catalog::FieldType;
use crate::store::{Store, StoreError};
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

#[derive(Debug)]
pub struct EventRecord {
    id: String,
    contact_id: String,
    event: String,
    at: i64,
    properties: String,
}

impl EventRecord {
    /// When it happened, unix seconds.
    pub fn at(&self) -> i64 {
        self.at
    }

    pub fn contact_id(&self) -> &str {
        &self.contact_id
    }
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
    for (what, text) in [("id", &id), ("contact_id", &contact_id), ("event", &event)] {
        if let Err(problem) = normalise::key(what, text) {
            problems.push(problem);
        }
    }
    let at = match object.get("at") {
        Some(Json::String(text)) => match normalise::rfc3339(text.trim()) {
            Ok(seconds) => seconds,
            Err(reason) => {
                problems.push(format!("at: {reason}"));
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
                let mut refused = Vec::new();
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
                        Err(problem) => {
                            problems.push(format!("{key}: {problem}"));
                            refused.push(key);
                        }
                    }
                }
                for (key, (_, required)) in declared {
                    // A required property given with a wrong value was
                    // reported as such: it is not missing as well.
                    if *required && !properties.contains_key(key) && !refused.contains(&key) {
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

/// Stores one event: `Ok(Err(reason))` rejects it.
pub fn write(store: &Store, record: &EventRecord) -> Result<Result<Outcome, String>, StoreError> {
    let Some(contact) = store.resolve_contact(&record.contact_id)? else {
        return Ok(Err(format!(
            "unknown contact `{}`; import the contact first",
            record.contact_id
        )));
    };
    let event = crate::store::EventRecord {
        id: &record.id,
        contact: &contact,
        event: &record.event,
        at: record.at,
        properties: &record.properties,
    };
    if store.add_event(&event)? {
        return Ok(Ok(Change::Inserted.into()));
    }
    let Some(stored) = store.stored_event(&record.id)? else {
        return Ok(Err(format!(
            "event `{}` could not be stored; try again",
            record.id
        )));
    };
    let same_properties = stored.properties == record.properties
        || serde_json::from_str::<Json>(&stored.properties).ok()
            == serde_json::from_str::<Json>(&record.properties).ok();
    if stored.contact == contact
        && stored.event == record.event
        && stored.at == record.at
        && same_properties
    {
        Ok(Ok(Change::Unchanged.into()))
    } else {
        Ok(Err(format!(
            "event `{}` was already ingested with different content (contact `{}`, `{}`); event ids must be unique",
            record.id, stored.contact, stored.event
        )))
    }
}
