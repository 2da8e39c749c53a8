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

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

use super::batch::{Line, Outcome, Raw, Reader};
use super::normalise::{self, Rules};
use crate::segment::catalog::{Catalog, FieldType};
use crate::store::merge_indexes_present;
use crate::store::schema::{self, identifier};
use crate::suggestion::did_you_mean;

/// The columns of `contacts` an import writes (every attribute but `id`).
pub struct Layout {
    pub columns: Vec<(String, FieldType)>,
    pub channels: Vec<String>,
    insert: String,
    update: String,
    select: String,
}

impl Layout {
    pub fn new(catalog: &Catalog) -> Layout {
        let columns: Vec<(String, FieldType)> = catalog
            .attributes
            .iter()
            .filter(|(name, _)| name.as_str() != "id")
            .map(|(name, kind)| (name.clone(), kind.clone()))
            .collect();
        let names: Vec<String> = columns.iter().map(|(name, _)| identifier(name)).collect();
        let insert = format!(
            "INSERT INTO contacts (id, {}) VALUES (?1, {})",
            names.join(", "),
            (2..=names.len() + 1)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let update = format!(
            "UPDATE contacts SET {} WHERE id = ?1",
            names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{name} = coalesce(?{}, {name})", i + 2))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let select = format!("SELECT {} FROM contacts WHERE id = ?1", names.join(", "));
        Layout {
            columns,
            channels: catalog.channels.clone(),
            insert,
            update,
            select,
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
    values: Vec<Option<Sql>>,
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
                        Some(Sql::Text(email))
                    }),
                    ("phone", Some(text)) => normalise::phone(text, rules).map(|phone| {
                        record.phone = Some(phone.clone());
                        Some(Sql::Text(phone))
                    }),
                    ("email" | "phone", None) => Err(format!("{name} `{value}` is not a string")),
                    ("timezone", Some(text)) => match jiff::tz::TimeZone::get(text) {
                        Ok(_) => Ok(Some(Sql::Text(text.to_string()))),
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
    /// The page cache size to restore after the load.
    cache: i64,
    /// Whether the consent-history index was built early, for a merge
    /// that must look the history up.
    history_indexed: bool,
}

impl Exact {
    fn new(cache: i64) -> Exact {
        Exact {
            slots: vec![0; 1 << 20],
            len: 0,
            cache,
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

#[derive(Clone, Copy)]
enum Key {
    Id = 1,
    Email = 2,
    Phone = 3,
}

/// Bits set per key: with 16 bits per expected key, about 1 lookup in
/// 5,000 of a new key is wasted.
const HASHES: u64 = 6;

impl Keys {
    pub fn load(connection: &Connection) -> rusqlite::Result<Keys> {
        let version = data_version(connection)?;
        let contacts: i64 =
            connection.query_row("SELECT count(*) FROM contacts", [], |row| row.get(0))?;
        let aliases: i64 =
            connection.query_row("SELECT count(*) FROM contact_aliases", [], |row| row.get(0))?;
        // Room for the store's keys and as many again from the file, at
        // least 8 MB: 4 million keys at 16 bits each.
        let expected = ((contacts.max(0) as u64 * 3 + aliases.max(0) as u64) * 2).max(1 << 22);
        let size = (expected * 16).next_power_of_two();
        let mut keys = Keys {
            bits: vec![0; (size / 64) as usize],
            mask: size - 1,
            version,
            exact: None,
        };
        let mut statement = connection.prepare("SELECT id, email, phone FROM contacts")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            for (index, kind) in [(0, Key::Id), (1, Key::Email), (2, Key::Phone)] {
                if let Ok(text) = row.get_ref(index)?.as_str() {
                    keys.insert(kind, text);
                }
            }
        }
        let mut statement = connection.prepare("SELECT alias FROM contact_aliases")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            if let Ok(text) = row.get_ref(0)?.as_str() {
                keys.insert(Key::Id, text);
            }
        }
        Ok(keys)
    }

    /// For an empty store: drops the email, phone and consent-history
    /// indexes, to be built once by [`Keys::finish`] after the load, and
    /// serves email and phone lookups from an exact in-memory map of the
    /// keys this import writes. Returns whether it did. A store left
    /// without them (a killed import) gets them back when next opened.
    pub fn bulk(&mut self, connection: &Connection) -> rusqlite::Result<bool> {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        let empty = || -> rusqlite::Result<bool> {
            connection.query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM contacts)
                   AND NOT EXISTS (SELECT 1 FROM contact_aliases)
                   AND NOT EXISTS (SELECT 1 FROM consent_history)",
                [],
                |row| row.get(0),
            )
        };
        let result = empty().and_then(|empty| {
            if empty {
                connection.execute_batch(schema::DROP_MERGE_INDEXES)?;
            }
            Ok(empty)
        });
        match result {
            Ok(empty) => {
                connection.execute_batch("COMMIT")?;
                self.version = data_version(connection)?;
                if empty {
                    // Without the email and phone indexes the load touches
                    // fewer pages: a quarter of the cache is as fast and leaves
                    // room for the map.
                    let cache: i64 =
                        connection.query_row("PRAGMA cache_size", [], |row| row.get(0))?;
                    connection.execute_batch("PRAGMA cache_size = -16384")?;
                    self.exact = Some(Exact::new(cache));
                }
                Ok(empty)
            }
            Err(error) => {
                let _ = connection.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    /// Builds the indexes [`Keys::bulk`] dropped, in its own transaction.
    pub fn finish(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        let bulk = self.exact.take().map(|exact| exact.cache);
        if bulk.is_some() || !merge_indexes_present(connection)? {
            // The index sorter holds as much as the page cache: a smaller
            // cache while building keeps the two under the import's peak.
            let cache = match bulk {
                Some(cache) => cache,
                None => connection.query_row("PRAGMA cache_size", [], |row| row.get(0))?,
            };
            connection.execute_batch("PRAGMA cache_size = -16384")?;
            let built = connection.execute_batch(&format!(
                "BEGIN IMMEDIATE; {} COMMIT",
                schema::MERGE_INDEXES
            ));
            if built.is_err() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            connection.pragma_update(None, "cache_size", cache)?;
            built?;
        }
        Ok(())
    }

    /// Leaves bulk mode inside the current transaction: builds the indexes.
    fn leave_bulk(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        if let Some(exact) = self.exact.take() {
            connection.execute_batch(schema::MERGE_INDEXES)?;
            connection.pragma_update(None, "cache_size", exact.cache)?;
        }
        Ok(())
    }

    /// Reloads when another connection has written since the last check.
    fn refresh(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        if data_version(connection)? != self.version {
            // The in-memory map misses what the other connection wrote.
            self.leave_bulk(connection)?;
            *self = Keys::load(connection)?;
        }
        Ok(())
    }

    /// Lists the email and phone of a contact written at `rowid` in the exact map.
    fn note(
        &mut self,
        connection: &Connection,
        email: Option<&str>,
        phone: Option<&str>,
        rowid: i64,
    ) -> rusqlite::Result<()> {
        let Some(exact) = &mut self.exact else {
            return Ok(());
        };
        let mut fits = true;
        if let Some(email) = email {
            fits &= exact.add(Key::Email, email, rowid);
        }
        if let Some(phone) = phone {
            fits &= exact.add(Key::Phone, phone, rowid);
        }
        if !fits {
            self.leave_bulk(connection)?;
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

fn data_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))
}

/// Merges one record into the store.
pub fn write(
    connection: &Connection,
    layout: &Layout,
    keys: &mut Keys,
    now: i64,
    record: &Record,
) -> rusqlite::Result<Result<Outcome, String>> {
    keys.refresh(connection)?;
    let lookup = |sql: &str, key: &str| -> rusqlite::Result<Option<String>> {
        connection
            .prepare_cached(sql)?
            .query_row([key], |row| row.get::<_, String>(0))
            .optional()
    };
    let by_id = match &record.id {
        Some(id) if !keys.may_hold(Key::Id, id) => None,
        Some(id) => match lookup("SELECT id FROM contacts WHERE id = ?1", id)? {
            Some(found) => Some(found),
            None => lookup(
                "SELECT contact_id FROM contact_aliases WHERE alias = ?1",
                id,
            )?,
        },
        None => None,
    };
    let by_email = match &record.email {
        Some(email) if !keys.may_hold(Key::Email, email) => None,
        Some(email) => match &keys.exact {
            Some(exact) => exact_lookup(connection, exact, Key::Email, email)?,
            None => lookup(
                "SELECT id FROM contacts WHERE email = ?1 ORDER BY rowid LIMIT 1",
                email,
            )?,
        },
        None => None,
    };
    let by_phone = match &record.phone {
        Some(phone) if !keys.may_hold(Key::Phone, phone) => None,
        Some(phone) => match &keys.exact {
            Some(exact) => exact_lookup(connection, exact, Key::Phone, phone)?,
            None => lookup(
                "SELECT id FROM contacts WHERE phone = ?1 ORDER BY rowid LIMIT 1",
                phone,
            )?,
        },
        None => None,
    };
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
                .clone()
                .or_else(|| record.email.clone())
                .or_else(|| record.phone.clone())
            else {
                return Ok(Err("no id, email or phone to identify the contact".into()));
            };
            let created = Sql::Integer(now);
            let created_at = layout.index("created_at");
            let id_value = Sql::Text(id);
            let parameters =
                std::iter::once(&id_value).chain(record.values.iter().enumerate().map(
                    |(index, value)| match value {
                        Some(value) => value,
                        None if Some(index) == created_at => &created,
                        None => &Sql::Null,
                    },
                ));
            connection
                .prepare_cached(&layout.insert)?
                .execute(rusqlite::params_from_iter(parameters))?;
            let Sql::Text(id) = id_value else {
                unreachable!("the id is text")
            };
            keys.insert(Key::Id, &id);
            remember(keys, record);
            if keys.exact.is_some() {
                let rowid = connection.last_insert_rowid();
                keys.note(
                    connection,
                    record.email.as_deref(),
                    record.phone.as_deref(),
                    rowid,
                )?;
            }
            write_consents(connection, &id, &record.consents, now, true)?;
            Outcome::Inserted
        }
        Some((_, id)) => {
            let existing: Vec<Sql> =
                connection
                    .prepare_cached(&layout.select)?
                    .query_row([&id], |row| {
                        (0..layout.columns.len())
                            .map(|i| row.get::<_, Sql>(i))
                            .collect()
                    })?;
            let changed = record
                .values
                .iter()
                .zip(&existing)
                .any(|(given, stored)| given.as_ref().is_some_and(|given| given != stored));
            if changed {
                let id_value = Sql::Text(id.clone());
                let parameters = std::iter::once(&id_value).chain(
                    record
                        .values
                        .iter()
                        .map(|value| value.as_ref().unwrap_or(&Sql::Null)),
                );
                connection
                    .prepare_cached(&layout.update)?
                    .execute(rusqlite::params_from_iter(parameters))?;
                remember(keys, record);
                if keys.exact.is_some() {
                    // An email or phone the contact did not have yet.
                    let new = |name: &str, given: &Option<String>| match (layout.index(name), given)
                    {
                        (Some(index), Some(given)) => {
                            !matches!(&existing[index], Sql::Text(stored) if stored == given)
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
                        let rowid: i64 = connection
                            .prepare_cached("SELECT rowid FROM contacts WHERE id = ?1")?
                            .query_row([&id], |row| row.get(0))?;
                        keys.note(connection, email, phone, rowid)?;
                    }
                }
            }
            let mut aliased = false;
            if let Some(alias) = &record.id
                && *alias != id
            {
                aliased = connection
                    .prepare_cached(
                        "INSERT OR IGNORE INTO contact_aliases (alias, contact_id) VALUES (?1, ?2)",
                    )?
                    .execute(params![alias, id])?
                    > 0;
                keys.insert(Key::Id, alias);
            }
            // A merged record's dated consent is looked up in the history:
            // without its index that would scan the history for every one.
            if let Some(exact) = &mut keys.exact
                && !exact.history_indexed
                && record.consents.iter().any(|consent| consent.at.is_some())
            {
                connection.execute_batch(
                    "CREATE INDEX IF NOT EXISTS consent_history_by_contact
                     ON consent_history (contact_id, channel, at)",
                )?;
                exact.history_indexed = true;
            }
            let consented = write_consents(connection, &id, &record.consents, now, false)?;
            if changed || aliased || consented {
                Outcome::Updated
            } else {
                Outcome::Unchanged
            }
        }
    };
    Ok(Ok(outcome))
}

/// The id of the first contact (by rowid) with this email or phone, from the exact map.
fn exact_lookup(
    connection: &Connection,
    exact: &Exact,
    kind: Key,
    key: &str,
) -> rusqlite::Result<Option<String>> {
    let column = match kind {
        Key::Email => 1,
        Key::Phone => 2,
        Key::Id => return Ok(None),
    };
    for rowid in exact.candidates(kind, key) {
        let row: Option<(String, Option<String>)> = connection
            .prepare_cached("SELECT id, email, phone FROM contacts WHERE rowid = ?1")?
            .query_row([rowid], |row| Ok((row.get(0)?, row.get(column)?)))
            .optional()?;
        if let Some((id, Some(stored))) = row
            && stored == key
        {
            return Ok(Some(id));
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
    connection: &Connection,
    contact: &str,
    consents: &[Consent],
    now: i64,
    new: bool,
) -> rusqlite::Result<bool> {
    let mut changed = false;
    for consent in consents {
        let status = if consent.granted {
            "granted"
        } else {
            "revoked"
        };
        let current: Option<(String, Option<i64>)> = if new {
            None
        } else {
            connection
                .prepare_cached(
                    "SELECT status, at FROM consents WHERE contact_id = ?1 AND channel = ?2",
                )?
                .query_row(params![contact, consent.channel], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?
        };
        if current
            .as_ref()
            .is_some_and(|(current, _)| current == status)
        {
            continue;
        }
        let at = consent.at.unwrap_or(now);
        // An older change given again (the same file twice) is already in
        // the history.
        if consent.at.is_some() && !new {
            let recorded: bool = connection
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM consent_history
                     WHERE contact_id = ?1 AND channel = ?2 AND status = ?3 AND at = ?4)",
                )?
                .query_row(params![contact, consent.channel, status, at], |row| {
                    row.get(0)
                })?;
            if recorded {
                continue;
            }
        }
        connection
            .prepare_cached(
                "INSERT INTO consent_history (contact_id, channel, status, at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                contact,
                consent.channel,
                status,
                at,
                consent.source
            ])?;
        let latest = match &current {
            Some((_, Some(current_at))) => at >= *current_at,
            _ => true,
        };
        if latest {
            connection
                .prepare_cached(
                    "INSERT INTO consents (contact_id, channel, status, at, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (contact_id, channel) DO UPDATE SET
                       status = excluded.status, at = excluded.at, source = excluded.source",
                )?
                .execute(params![
                    contact,
                    consent.channel,
                    status,
                    at,
                    consent.source
                ])?;
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
