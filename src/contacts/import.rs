//! `herald contacts import FILE`: what a contacts file's columns mean, how a
//! record is normalised, and how it is merged into the store.
//!
//! A column (CSV) or key (JSONL) is a built-in field, a declared attribute,
//! or `consent.<channel>` with optional `consent.<channel>.at` and
//! `consent.<channel>.source`. An empty cell, `null` or `""` means "not
//! given": the stored value is kept. A record is merged into the contact
//! with the same id, else the same email, else the same phone; the file's id
//! of a contact merged under another id is kept as an alias, so events sent
//! with it still find the contact. A consent that differs from the current
//! one is appended to the history; the current one follows the latest.

use serde_json::Value as Json;

use super::batch::{Change, Outcome};
use super::keys::{Keys, Written};
use super::normalise::{self, Rules};
use crate::model::Manifest;
use crate::segment::catalog::FieldType;
use crate::store::{ConsentChange, ContactRef, MergeKey as Key, Scalar, Store, StoreError};
use crate::suggestion::did_you_mean;

/// The columns of `contacts` an import writes (every attribute but `id`,
/// in the store's order) and the declared channels.
pub struct Layout {
    pub columns: Vec<(String, FieldType)>,
    pub channels: Vec<String>,
    /// The columns declared `required: true`, which a new contact must give.
    required: Vec<usize>,
}

impl Layout {
    pub fn new(store: &Store, manifest: &Manifest) -> Layout {
        let columns = store.contact_columns().to_vec();
        let required = columns
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| {
                manifest
                    .contact
                    .attributes
                    .iter()
                    .any(|(declared, attribute)| declared.value == *name && attribute.required())
            })
            .map(|(index, _)| index)
            .collect();
        Layout {
            columns,
            channels: store.catalog().channels.clone(),
            required,
        }
    }

    /// Why a record cannot be a new contact: the required attributes it
    /// does not give. An update of a stored contact may leave them out.
    fn missing_required(&self, record: &Record) -> Option<String> {
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|index| record.values[**index].is_none())
            .map(|index| self.columns[*index].0.as_str())
            .collect();
        match missing.as_slice() {
            [] => None,
            [name] => Some(format!(
                "required attribute `{name}` is missing; a new contact needs it (`required: true` in herald.yaml)"
            )),
            names => Some(format!(
                "required attributes {} are missing; a new contact needs them (`required: true` in herald.yaml)",
                names
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(column, _)| column == name)
    }

    /// What a column or key of the file means; the error names the unknown one.
    pub fn field(&self, name: &str) -> Result<Field, String> {
        let name = name.trim();
        if name == "id" {
            return Ok(Field::Id);
        }
        if let Some(index) = self.index(name) {
            return Ok(Field::Column(index));
        }
        if let Some(rest) = name.strip_prefix("consent.") {
            let (channel, part) = match rest.split_once('.') {
                Some((channel, part)) => (channel, Some(part)),
                None => (rest, None),
            };
            if !self.channels.iter().any(|declared| declared == channel) {
                let hint = did_you_mean(channel, self.channels.iter().map(String::as_str))
                    .map(|close| format!("; did you mean `consent.{close}`?"))
                    .unwrap_or_else(|| {
                        format!("; the declared channels are: {}", self.channels.join(", "))
                    });
                return Err(format!(
                    "unknown channel `{channel}` in column `{name}`{hint}"
                ));
            }
            let channel = channel.to_string();
            return match part {
                None => Ok(Field::ConsentStatus(channel)),
                Some("at") => Ok(Field::ConsentAt(channel)),
                Some("source") => Ok(Field::ConsentSource(channel)),
                Some(other) => Err(format!(
                    "unknown column `{name}`: `consent.{channel}` takes `.at` or `.source`, not `.{other}`"
                )),
            };
        }
        let names =
            std::iter::once("id").chain(self.columns.iter().map(|(column, _)| column.as_str()));
        Err(match did_you_mean(name, names) {
            Some(close) => format!("unknown column `{name}`; did you mean `{close}`?"),
            None => format!(
                "unknown column `{name}`: not a built-in field, a declared attribute or `consent.<channel>`"
            ),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Id,
    Column(usize),
    ConsentStatus(String),
    ConsentAt(String),
    ConsentSource(String),
}

/// A consent change a record asks for.
#[derive(Debug)]
pub struct Consent {
    channel: String,
    granted: bool,
    at: Option<i64>,
    source: Option<String>,
}

/// A normalised record, ready to merge.
#[derive(Debug)]
pub struct Record {
    id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    /// One per layout column; `None` is "not given".
    values: Vec<Option<Scalar>>,
    consents: Vec<Consent>,
}

/// Normalises the fields of one record.
pub fn normalise(
    layout: &Layout,
    rules: &Rules,
    fields: &[(Field, Json)],
) -> Result<Record, String> {
    let mut record = Record {
        id: None,
        email: None,
        phone: None,
        values: vec![None; layout.columns.len()],
        consents: Vec::new(),
    };
    let mut problems = Vec::new();
    let mut consent_parts: Parts = Vec::new();
    type Parts = Vec<(String, Option<bool>, Option<i64>, Option<String>)>;
    fn part(parts: &mut Parts, channel: &str) -> usize {
        match parts.iter().position(|(c, ..)| c == channel) {
            Some(index) => index,
            None => {
                parts.push((channel.to_string(), None, None, None));
                parts.len() - 1
            }
        }
    }
    for (field, value) in fields {
        let text = match value {
            Json::String(text) if text.trim().is_empty() => continue,
            Json::Null => continue,
            Json::String(text) => Some(text.trim()),
            _ => None,
        };
        match field {
            Field::Id => match value {
                Json::String(_) => match text.map(|text| normalise::key("id", text)) {
                    Some(Err(problem)) => problems.push(problem),
                    _ => record.id = text.map(str::to_string),
                },
                Json::Number(number) => record.id = Some(number.to_string()),
                other => problems.push(format!("id `{other}` is not a string")),
            },
            Field::Column(index) => {
                let (name, kind) = &layout.columns[*index];
                if matches!(name.as_str(), "email" | "phone")
                    && let Some(text) = text
                    && let Err(problem) = normalise::key(name, text)
                {
                    problems.push(problem);
                    continue;
                }
                let converted = match (name.as_str(), text) {
                    ("email", Some(text)) => normalise::email(text).map(|email| {
                        record.email = Some(email.clone());
                        Some(Scalar::Text(email))
                    }),
                    ("phone", Some(text)) => normalise::phone(text, rules).map(|phone| {
                        record.phone = Some(phone.clone());
                        Some(Scalar::Text(phone))
                    }),
                    ("email" | "phone", None) => Err(format!("{name} `{value}` is not a string")),
                    ("timezone", Some(text)) => match jiff::tz::TimeZone::get(text) {
                        Ok(_) => Ok(Some(Scalar::Text(text.to_string()))),
                        Err(_) => Err(format!("`{text}` is not an IANA time zone")),
                    },
                    _ => normalise::value(value, kind, rules),
                };
                match converted {
                    Ok(converted) => record.values[*index] = converted,
                    Err(problem) if name == "email" || name == "phone" => problems.push(problem),
                    Err(problem) => problems.push(format!("{name}: {problem}")),
                }
            }
            Field::ConsentStatus(channel) => {
                let status = match (value, text.map(str::to_lowercase).as_deref()) {
                    (Json::Bool(flag), _) => Some(*flag),
                    (_, Some("granted" | "true" | "yes" | "1" | "да")) => Some(true),
                    (_, Some("revoked" | "false" | "no" | "0" | "нет")) => Some(false),
                    _ => None,
                };
                match status {
                    Some(status) => {
                        let index = part(&mut consent_parts, channel);
                        consent_parts[index].1 = Some(status);
                    }
                    None => problems.push(format!(
                        "consent.{channel}: `{}` is not `granted` or `revoked`",
                        text.map_or_else(|| value.to_string(), str::to_string)
                    )),
                }
            }
            Field::ConsentAt(channel) => match normalise::instant(value, rules) {
                Ok(at) => {
                    let index = part(&mut consent_parts, channel);
                    consent_parts[index].2 = Some(at);
                }
                Err(problem) => problems.push(format!("consent.{channel}.at: {problem}")),
            },
            Field::ConsentSource(channel) => {
                let source = text.map_or_else(|| value.to_string(), str::to_string);
                let index = part(&mut consent_parts, channel);
                consent_parts[index].3 = Some(source);
            }
        }
    }
    for (channel, granted, at, source) in consent_parts {
        match granted {
            Some(granted) => record.consents.push(Consent {
                channel,
                granted,
                at,
                source,
            }),
            None => problems.push(format!(
                "consent.{channel}.at or .source is given without consent.{channel}"
            )),
        }
    }
    if problems.is_empty()
        && record.id.is_none()
        && record.email.is_none()
        && record.phone.is_none()
    {
        problems.push("no id, email or phone to identify the contact".to_string());
    }
    if problems.is_empty() {
        Ok(record)
    } else {
        Err(problems.join("; "))
    }
}

/// Merges one record into the store: `Ok(Err(reason))` rejects it.
pub fn write(
    store: &Store,
    layout: &Layout,
    keys: &mut Keys,
    written: &mut Written,
    now: i64,
    record: &Record,
) -> Result<Result<Outcome, String>, StoreError> {
    keys.refresh(store)?;
    let find = |keys: &Keys, kind: Key, key: &Option<String>| match key {
        Some(key) => keys.find(store, kind, key),
        None => Ok(None),
    };
    // A record without an id is known by its email (else its phone), the
    // id a new contact gets from it: a contact that took that id earlier
    // and has since changed its email is still the same contact.
    let id = record
        .id
        .clone()
        .or_else(|| record.email.clone())
        .or_else(|| record.phone.clone());
    let by_id = find(keys, Key::Id, &id)?;
    let by_email = find(keys, Key::Email, &record.email)?;
    let by_phone = find(keys, Key::Phone, &record.phone)?;
    let mut target: Option<(&str, ContactRef)> = None;
    for (key, found) in [("id", by_id), ("email", by_email), ("phone", by_phone)] {
        let Some(found) = found else { continue };
        match &target {
            Some((first, existing)) if existing.id != found.id => {
                return Ok(Err(format!(
                    "the {first} matches contact `{}` but the {key} matches contact `{}`; \
                     merge or correct them by hand",
                    existing.id, found.id
                )));
            }
            Some(_) => {}
            None => target = Some((key, found)),
        }
    }
    let outcome = match target {
        None => {
            let Some(id) = record
                .id
                .as_deref()
                .or(record.email.as_deref())
                .or(record.phone.as_deref())
            else {
                return Ok(Err("no id, email or phone to identify the contact".into()));
            };
            if let Some(missing) = layout.missing_required(record) {
                return Ok(Err(missing));
            }
            let created = Scalar::Integer(now);
            let created_at = layout.index("created_at");
            let values = record
                .values
                .iter()
                .enumerate()
                .map(|(index, value)| match value {
                    Some(value) => value,
                    None if Some(index) == created_at => &created,
                    None => &Scalar::Null,
                });
            let row = store.insert_contact(id, values)?;
            keys.insert(Key::Id, id);
            keys.remember(record.email.as_deref(), record.phone.as_deref());
            if keys.bulk_loading() {
                keys.note(store, record.email.as_deref(), record.phone.as_deref(), row)?;
            }
            write_consents(store, id, &record.consents, now, true)?;
            Outcome {
                joined_now: created_at.is_some_and(|index| record.values[index].is_none()),
                ..Change::Inserted.into()
            }
        }
        Some((_, ContactRef { id, row })) => {
            let repeated = written.repeat(row);
            let existing = store.contact_values(&id)?.unwrap_or_default();
            let changed = record
                .values
                .iter()
                .zip(&existing)
                .any(|(given, stored)| given.as_ref().is_some_and(|given| given != stored));
            if changed {
                store.update_contact(&id, &record.values)?;
                keys.remember(record.email.as_deref(), record.phone.as_deref());
                if keys.bulk_loading() {
                    // An email or phone the contact did not have yet.
                    let new = |name: &str, given: &Option<String>| match (layout.index(name), given)
                    {
                        (Some(index), Some(given)) => {
                            !matches!(existing.get(index), Some(Scalar::Text(stored)) if stored == given)
                        }
                        _ => false,
                    };
                    let email = record
                        .email
                        .as_deref()
                        .filter(|_| new("email", &record.email));
                    let phone = record
                        .phone
                        .as_deref()
                        .filter(|_| new("phone", &record.phone));
                    if email.is_some() || phone.is_some() {
                        keys.note(store, email, phone, row)?;
                    }
                }
            }
            let mut aliased = false;
            if let Some(alias) = &record.id
                && *alias != id
            {
                aliased = store.add_alias(alias, &id)?;
                keys.insert(Key::Id, alias);
            }
            // A merged record's dated consent is looked up in the history:
            // without its index that would scan the history for every one.
            if record.consents.iter().any(|consent| consent.at.is_some())
                && keys.take_history_index_wanted()
            {
                store.index_consent_history()?;
            }
            let consented = write_consents(store, &id, &record.consents, now, false)?;
            let change = if changed || aliased || consented {
                Change::Updated
            } else {
                Change::Unchanged
            };
            Outcome {
                change,
                repeated,
                joined_now: false,
            }
        }
    };
    Ok(Ok(outcome))
}

/// Appends consent changes to the history and moves the current consent to
/// the latest. Returns whether anything changed. A contact just inserted
/// (`new`) has no consent or history yet, so nothing is looked up.
fn write_consents(
    store: &Store,
    contact: &str,
    consents: &[Consent],
    now: i64,
    new: bool,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for consent in consents {
        let current = if new {
            None
        } else {
            store.current_consent(contact, &consent.channel)?
        };
        if current
            .as_ref()
            .is_some_and(|current| current.granted == consent.granted)
        {
            continue;
        }
        let change = ConsentChange {
            channel: &consent.channel,
            granted: consent.granted,
            at: consent.at.unwrap_or(now),
            source: consent.source.as_deref(),
        };
        // An older change given again (the same file twice) is already in
        // the history.
        if consent.at.is_some() && !new && store.consent_recorded(contact, &change)? {
            continue;
        }
        store.append_consent_history(contact, &change)?;
        let latest = match current.and_then(|current| current.at) {
            Some(current_at) => change.at >= current_at,
            None => true,
        };
        if latest {
            store.set_current_consent(contact, &change)?;
        }
        changed = true;
    }
    Ok(changed)
}

/// The fields of a JSONL contact line; unknown keys reject the line.
pub fn json_fields(layout: &Layout, text: &str) -> Result<Vec<(Field, Json)>, String> {
    let object = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".into()),
        Err(error) => return Err(format!("not valid JSON: {error}")),
    };
    let mut fields = Vec::with_capacity(object.len());
    for (key, value) in object {
        if key == "consent"
            && let Json::Object(channels) = value
        {
            // `{"consent": {"email": "granted"}}` or `{"email": {"status": …, "at": …}}`.
            for (channel, consent) in channels {
                match consent {
                    Json::Object(parts) => {
                        for (part, value) in parts {
                            let name = if part == "status" {
                                format!("consent.{channel}")
                            } else {
                                format!("consent.{channel}.{part}")
                            };
                            fields.push((layout.field(&name)?, value));
                        }
                    }
                    other => fields.push((layout.field(&format!("consent.{channel}"))?, other)),
                }
            }
            continue;
        }
        fields.push((layout.field(&key)?, value));
    }
    Ok(fields)
}
