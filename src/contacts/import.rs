//! `herald contacts import FILE`: contacts from CSV or JSONL into the store.
//!
//! A column (CSV) or key (JSONL) is a built-in field, a declared attribute,
//! or `consent.<channel>` with optional `consent.<channel>.at` and
//! `consent.<channel>.source`. An empty cell, `null` or `""` means "not
//! given": the stored value is kept. A record is merged into the contact
//! with the same id, else the same email, else the same phone; the file's id
//! of a contact merged under another id is kept as an alias, so events sent
//! with it still find the contact. A consent that differs from the current
//! one is appended to the history; the current one follows the latest.

use std::io::{BufRead, Read};
use std::path::Path;

use serde_json::Value as Json;

use super::batch::{Line, Outcome, Raw, Reader};
use super::normalise::{self, Rules};
use crate::segment::catalog::FieldType;
use crate::store::{ConsentChange, MergeKey as Key, Scalar, Store, StoreError};
use crate::suggestion::did_you_mean;

/// The columns of `contacts` an import writes (every attribute but `id`,
/// in the store's order) and the declared channels.
pub struct Layout {
    pub columns: Vec<(String, FieldType)>,
    pub channels: Vec<String>,
}

impl Layout {
    pub fn new(store: &Store) -> Layout {
        Layout {
            columns: store.contact_columns().to_vec(),
            channels: store.catalog().channels.clone(),
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
                Json::String(_) => record.id = text.map(str::to_string),
                Json::Number(number) => record.id = Some(number.to_string()),
                other => problems.push(format!("id `{other}` is not a string")),
            },
            Field::Column(index) => {
                let (name, kind) = &layout.columns[*index];
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

/// Which ids (and aliases), emails and phones the store may hold: a Bloom
/// filter over every key, filled from the store when the import starts and
/// with every key the import writes. A key it has never seen is certainly
/// not in the store, so a new contact costs one insert instead of four
/// lookups; a key it may have seen is looked up as before. Another
/// connection that commits between two batches (`PRAGMA data_version`
/// changes) makes it reload from the store.
pub struct Keys {
    bits: Vec<u64>,
    /// The number of bits minus one (a power of two minus one).
    mask: u64,
    version: i64,
    /// While an import into an empty store runs without the email and
    /// phone indexes ([`Keys::bulk`]): where each email and phone this
    /// import wrote may be.
    exact: Option<Exact>,
}

/// An exact multimap from an email or phone to the rowids of every contact
/// this import gave it: a hash fingerprint (high 32 bits) and a rowid (low
/// 32 bits) per slot, open addressing. A fingerprint match is confirmed by
/// reading the row, so a collision costs a lookup, never a wrong merge; a
/// rowid listed for a key the contact no longer has is skipped the same way.
struct Exact {
    slots: Vec<u64>,
    len: usize,
    /// Whether the consent-history index was built early, for a merge
    /// that must look the history up.
    history_indexed: bool,
}

impl Exact {
    fn new() -> Exact {
        Exact {
            slots: vec![0; 1 << 20],
            len: 0,
            history_indexed: false,
        }
    }

    fn fingerprint(kind: Key, key: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (kind as u8 + 16).hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish() >> 32
    }

    /// Adds a rowid for a key; `false` if the rowid does not fit.
    fn add(&mut self, kind: Key, key: &str, rowid: i64) -> bool {
        if !(1..=i64::from(u32::MAX)).contains(&rowid) {
            return false;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![0; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            for entry in old.into_iter().filter(|entry| *entry != 0) {
                self.place(entry);
            }
        }
        self.place(Exact::fingerprint(kind, key) << 32 | rowid as u64);
        self.len += 1;
        true
    }

    fn place(&mut self, entry: u64) {
        let mask = self.slots.len() - 1;
        let mut at = (entry >> 32) as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = entry;
    }

    /// Every rowid listed for the key's fingerprint, smallest first.
    fn candidates(&self, kind: Key, key: &str) -> Vec<i64> {
        let fingerprint = Exact::fingerprint(kind, key);
        let mask = self.slots.len() - 1;
        let mut at = fingerprint as usize & mask;
        let mut found = Vec::new();
        while self.slots[at] != 0 {
            if self.slots[at] >> 32 == fingerprint {
                found.push((self.slots[at] & 0xffff_ffff) as i64);
            }
            at = (at + 1) & mask;
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Bits set per key: with 16 bits per expected key, about 1 lookup in
/// 5,000 of a new key is wasted.
const HASHES: u64 = 6;

impl Keys {
    pub fn load(store: &Store) -> Result<Keys, StoreError> {
        let version = store.change_counter()?;
        // Room for the store's keys and as many again from the file, at
        // least 8 MB: 4 million keys at 16 bits each.
        let expected = (store.merge_key_count()? * 2).max(1 << 22);
        let size = (expected * 16).next_power_of_two();
        let mut keys = Keys {
            bits: vec![0; (size / 64) as usize],
            mask: size - 1,
            version,
            exact: None,
        };
        store.each_merge_key(|kind, text| keys.insert(kind, text))?;
        Ok(keys)
    }

    /// For an empty store: the store drops its email, phone and
    /// consent-history indexes until [`Keys::finish`]
    /// ([`Store::start_bulk_load`]), and email and phone lookups are served
    /// from an exact in-memory map of the keys this import writes. Returns
    /// whether it did.
    pub fn bulk(&mut self, store: &Store) -> Result<bool, StoreError> {
        let empty = store.start_bulk_load()?;
        self.version = store.change_counter()?;
        if empty {
            self.exact = Some(Exact::new());
        }
        Ok(empty)
    }

    /// Builds the indexes [`Keys::bulk`] dropped, in its own transaction.
    pub fn finish(&mut self, store: &Store) -> Result<(), StoreError> {
        self.exact = None;
        store.finish_bulk_load()
    }

    /// Leaves bulk mode inside the current transaction: builds the indexes.
    fn leave_bulk(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.exact.take().is_some() {
            store.leave_bulk_load()?;
        }
        Ok(())
    }

    /// Reloads when another connection has written since the last check.
    fn refresh(&mut self, store: &Store) -> Result<(), StoreError> {
        if store.change_counter()? != self.version {
            // The in-memory map misses what the other connection wrote.
            self.leave_bulk(store)?;
            *self = Keys::load(store)?;
        }
        Ok(())
    }

    /// Lists the email and phone of a contact written at `row` in the exact map.
    fn note(
        &mut self,
        store: &Store,
        email: Option<&str>,
        phone: Option<&str>,
        row: i64,
    ) -> Result<(), StoreError> {
        let Some(exact) = &mut self.exact else {
            return Ok(());
        };
        let mut fits = true;
        if let Some(email) = email {
            fits &= exact.add(Key::Email, email, row);
        }
        if let Some(phone) = phone {
            fits &= exact.add(Key::Phone, phone, row);
        }
        if !fits {
            self.leave_bulk(store)?;
        }
        Ok(())
    }

    fn positions(&self, kind: Key, key: &str) -> impl Iterator<Item = u64> + use<> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (kind as u8).hash(&mut hasher);
        key.hash(&mut hasher);
        let first = hasher.finish();
        let step = first.rotate_left(32) | 1;
        let mask = self.mask;
        (0..HASHES).map(move |i| first.wrapping_add(i.wrapping_mul(step)) & mask)
    }

    fn insert(&mut self, kind: Key, key: &str) {
        for bit in self.positions(kind, key) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    fn may_hold(&self, kind: Key, key: &str) -> bool {
        self.positions(kind, key)
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// Merges one record into the store: `Ok(Err(reason))` rejects it.
pub fn write(
    store: &Store,
    layout: &Layout,
    keys: &mut Keys,
    now: i64,
    record: &Record,
) -> Result<Result<Outcome, String>, StoreError> {
    keys.refresh(store)?;
    let find =
        |keys: &Keys, kind: Key, key: &Option<String>| -> Result<Option<String>, StoreError> {
            match key {
                Some(key) if !keys.may_hold(kind, key) => Ok(None),
                Some(key) => match (&keys.exact, kind) {
                    (Some(exact), Key::Email | Key::Phone) => exact_lookup(store, exact, kind, key),
                    _ => store.contact_with(kind, key),
                },
                None => Ok(None),
            }
        };
    let by_id = find(keys, Key::Id, &record.id)?;
    let by_email = find(keys, Key::Email, &record.email)?;
    let by_phone = find(keys, Key::Phone, &record.phone)?;
    let mut target: Option<(&str, String)> = None;
    for (key, found) in [("id", by_id), ("email", by_email), ("phone", by_phone)] {
        let Some(found) = found else { continue };
        match &target {
            Some((first, existing)) if *existing != found => {
                return Ok(Err(format!(
                    "the {first} matches contact `{existing}` but the {key} matches contact `{found}`; \
                     merge or correct them by hand"
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
            remember(keys, record);
            if keys.exact.is_some() {
                keys.note(store, record.email.as_deref(), record.phone.as_deref(), row)?;
            }
            write_consents(store, id, &record.consents, now, true)?;
            Outcome::Inserted
        }
        Some((_, id)) => {
            let existing = store.contact_values(&id)?.unwrap_or_default();
            let changed = record
                .values
                .iter()
                .zip(&existing)
                .any(|(given, stored)| given.as_ref().is_some_and(|given| given != stored));
            if changed {
                store.update_contact(&id, &record.values)?;
                remember(keys, record);
                if keys.exact.is_some() {
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
                    if (email.is_some() || phone.is_some())
                        && let Some(row) = store.contact_row(&id)?
                    {
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
            if let Some(exact) = &mut keys.exact
                && !exact.history_indexed
                && record.consents.iter().any(|consent| consent.at.is_some())
            {
                store.index_consent_history()?;
                exact.history_indexed = true;
            }
            let consented = write_consents(store, &id, &record.consents, now, false)?;
            if changed || aliased || consented {
                Outcome::Updated
            } else {
                Outcome::Unchanged
            }
        }
    };
    Ok(Ok(outcome))
}

/// The id of the first contact (by row number) with this email or phone, from the exact map.
fn exact_lookup(
    store: &Store,
    exact: &Exact,
    kind: Key,
    key: &str,
) -> Result<Option<String>, StoreError> {
    for row in exact.candidates(kind, key) {
        let Some(stored) = store.contact_keys_at(row)? else {
            continue;
        };
        let value = match kind {
            Key::Email => &stored.email,
            Key::Phone => &stored.phone,
            Key::Id => return Ok(None),
        };
        if value.as_deref() == Some(key) {
            return Ok(Some(stored.id));
        }
    }
    Ok(None)
}

/// Adds the email and phone a record wrote to the filter.
fn remember(keys: &mut Keys, record: &Record) {
    if let Some(email) = &record.email {
        keys.insert(Key::Email, email);
    }
    if let Some(phone) = &record.phone {
        keys.insert(Key::Phone, phone);
    }
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

/// Guesses the delimiter from the header: `;` (spreadsheets in many
/// locales) when it has more of them than commas, else `,`.
fn delimiter(path: &Path) -> std::io::Result<u8> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| first.iter().filter(|b| **b == c).count();
    Ok(if count(b';') > count(b',') {
        b';'
    } else {
        b','
    })
}

/// An opened CSV file: its header, the header mapped to fields, and a record reader.
pub type CsvInput<'a> = (Vec<String>, Vec<Field>, Box<Reader<'a>>);

/// Opens a CSV file. An unknown column is an error for the whole file.
pub fn csv_reader<'a>(
    path: &Path,
    map_field: &dyn Fn(&str) -> Result<Field, String>,
) -> Result<CsvInput<'a>, Vec<String>> {
    let io = |error: std::io::Error| vec![format!("cannot read {}: {error}", path.display())];
    let delimiter = delimiter(path).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(vec![format!("{} is empty", path.display())]),
        Err(error) => return Err(vec![format!("{}: {error}", path.display())]),
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(index, cell)| {
            let text = String::from_utf8_lossy(cell).into_owned();
            let text = if index == 0 {
                text.trim_start_matches('\u{feff}').to_string()
            } else {
                text
            };
            text.trim().to_string()
        })
        .collect();
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match map_field(name) {
            Ok(field) if fields.contains(&field) => {
                problems.push(format!("column {} `{name}` is given twice", index + 1))
            }
            Ok(field) => fields.push(field),
            Err(problem) => problems.push(format!("column {}: {problem}", index + 1)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let width = names.len();
    let mut record = csv::ByteRecord::new();
    let read = move || -> Result<Option<(Line, u64)>, String> {
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    let number = record.position().map_or(0, |p| p.line());
                    let at = reader.position().byte();
                    // A blank line between records is no record.
                    if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    let mut problem = None;
                    let cells: Vec<String> = record
                        .iter()
                        .map(|cell| match std::str::from_utf8(cell) {
                            Ok(text) => text.to_string(),
                            Err(_) => {
                                problem = Some("not valid UTF-8 (save the file as UTF-8)".into());
                                String::from_utf8_lossy(cell).into_owned()
                            }
                        })
                        .collect();
                    if cells.len() != width {
                        problem = Some(format!(
                            "{} fields where the header has {width}",
                            cells.len()
                        ));
                    }
                    return Ok(Some((
                        Line {
                            number,
                            raw: Raw::Csv(cells),
                            problem,
                        },
                        at,
                    )));
                }
                Err(error) => {
                    // A malformed record (an unclosed quote) ends the file's
                    // readable part; the error says where.
                    return Err(format!("cannot read CSV: {error}"));
                }
            }
        }
    };
    Ok((names, fields, Box::new(read)))
}

/// A JSONL reader: one line per record; blank lines are skipped.
pub fn jsonl_reader<'a>(path: &Path) -> Result<Box<Reader<'a>>, String> {
    let file = std::fs::File::open(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buffer = Vec::new();
    let mut number = 0u64;
    let mut at = 0u64;
    let display = path.display().to_string();
    Ok(Box::new(move || -> Result<Option<(Line, u64)>, String> {
        loop {
            buffer.clear();
            let read = reader
                .read_until(b'\n', &mut buffer)
                .map_err(|error| format!("cannot read {display}: {error}"))?;
            if read == 0 {
                return Ok(None);
            }
            number += 1;
            at += read as u64;
            let bytes = if number == 1 {
                buffer.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buffer)
            } else {
                &buffer
            };
            let (text, problem) = match std::str::from_utf8(bytes) {
                Ok(text) => (text.trim().to_string(), None),
                Err(_) => (
                    String::from_utf8_lossy(bytes).trim().to_string(),
                    Some("not valid UTF-8".to_string()),
                ),
            };
            if text.is_empty() {
                continue;
            }
            return Ok(Some((
                Line {
                    number,
                    raw: Raw::Json(text),
                    problem,
                },
                at,
            )));
        }
    }))
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
