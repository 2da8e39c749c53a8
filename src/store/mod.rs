//! The contact store: one SQLite file in WAL mode holding contacts with
//! typed attributes, consent, suppressions and events ([`schema`]).
//!
//! Opening a store registers herald's SQL functions (Unicode case folding,
//! calendar functions) on the connection: SQLite's own `lower` and `LIKE`
//! are ASCII-only, and sharing the Rust code of
//! [`crate::segment::functions`] keeps SQL and in-memory evaluation equal.

pub mod attributes;
pub mod schema;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};

use crate::contact::{Contact, Event, Value};
use crate::model::Manifest;
use crate::segment::catalog::{Catalog, FieldType};
use crate::segment::functions;
use crate::segment::sql::Query;

/// A store that could not be opened, read or written.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "contact store {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for StoreError {}

pub struct Store {
    connection: Connection,
    path: PathBuf,
    catalog: Catalog,
}

impl Store {
    /// Opens (creating if needed) the store at `path` for the manifest's data model.
    pub fn open(path: &Path, manifest: &Manifest) -> Result<Store, StoreError> {
        Store::open_with_catalog(path, Catalog::from_manifest(manifest))
    }

    pub fn open_with_catalog(path: &Path, catalog: Catalog) -> Result<Store, StoreError> {
        let error = |reason: String| StoreError {
            path: path.to_path_buf(),
            reason,
        };
        let connection = Connection::open(path).map_err(|e| error(e.to_string()))?;
        let store = Store {
            connection,
            path: path.to_path_buf(),
            catalog,
        };
        store.initialise().map_err(error)?;
        Ok(store)
    }

    fn failure(&self, error: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    fn initialise(&self) -> Result<(), String> {
        let sql = |error: rusqlite::Error| error.to_string();
        register_functions(&self.connection).map_err(sql)?;
        self.connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        // Larger pages for a new store (ignored for an existing one): fewer,
        // shallower b-tree pages for the contact indexes. Set before WAL
        // mode, which fixes the page size once the file has a header.
        self.connection
            .execute_batch("PRAGMA page_size = 16384")
            .map_err(sql)?;
        self.connection
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(sql)?;
        // A committed consent change or import batch must survive a power
        // loss; with WAL this costs one sync per transaction.
        self.connection
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(sql)?;
        migrate(&self.connection)?;
        // An import into an empty store killed before it rebuilt its merge
        // indexes left them out: build them now.
        if !merge_indexes_present(&self.connection).map_err(sql)? {
            self.connection
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; {} COMMIT",
                    schema::MERGE_INDEXES
                ))
                .map_err(|error| {
                    let _ = self.connection.execute_batch("ROLLBACK");
                    error.to_string()
                })?;
        }
        self.connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql)?;
        match attributes::synchronise(&self.connection, &self.catalog) {
            Ok(()) => self.connection.execute_batch("COMMIT").map_err(sql),
            Err(reason) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(reason)
            }
        }
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Inserts or replaces a contact with its consent, suppressions and events.
    pub fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        self.put_contact_inner(contact).map_err(|e| self.failure(e))
    }

    fn put_contact_inner(&self, contact: &Contact) -> rusqlite::Result<()> {
        let mut columns = vec!["id".to_string()];
        let mut values: Vec<rusqlite::types::Value> = vec![contact.id.clone().into()];
        for (name, value) in &contact.attributes {
            if name == "id" || !self.catalog.attributes.contains_key(name) {
                continue;
            }
            columns.push(schema::identifier(name));
            values.push(sql_value(value));
        }
        let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        self.connection.execute(
            &format!(
                "INSERT OR REPLACE INTO contacts ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            ),
            rusqlite::params_from_iter(values),
        )?;
        for (channel, granted) in &contact.consents {
            self.connection.execute(
                "INSERT OR REPLACE INTO consents (contact_id, channel, status) VALUES (?1, ?2, ?3)",
                params![
                    contact.id,
                    channel,
                    if *granted { "granted" } else { "revoked" }
                ],
            )?;
        }
        for channel in &contact.suppressions {
            self.connection.execute(
                "INSERT OR REPLACE INTO suppressions (contact_id, channel, reason) VALUES (?1, ?2, 'unsubscribed')",
                params![contact.id, channel],
            )?;
        }
        for event in &contact.events {
            self.put_event_inner(&contact.id, event)?;
        }
        Ok(())
    }

    pub fn put_event(&self, contact_id: &str, event: &Event) -> Result<(), StoreError> {
        self.put_event_inner(contact_id, event)
            .map_err(|e| self.failure(e))
    }

    fn put_event_inner(&self, contact_id: &str, event: &Event) -> rusqlite::Result<()> {
        self.connection.execute(
            "INSERT OR REPLACE INTO events (id, contact_id, event, at, properties) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                event.id,
                contact_id,
                event.event,
                event.at,
                serde_json::Value::Object(event.properties.clone()).to_string()
            ],
        )?;
        Ok(())
    }

    /// Runs a compiled count query.
    pub fn count(&self, query: &Query) -> Result<u64, StoreError> {
        self.connection
            .query_row(
                &query.sql,
                rusqlite::params_from_iter(query.parameters.iter()),
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count.max(0) as u64)
            .map_err(|e| self.failure(e))
    }

    /// Runs a compiled id query.
    pub fn ids(&self, query: &Query) -> Result<Vec<String>, StoreError> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut statement = self.connection.prepare(&query.sql)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(query.parameters.iter()), |row| {
                    row.get::<_, String>(0)
                })?;
            rows.collect()
        };
        run().map_err(|e| self.failure(e))
    }

    /// The query plan SQLite would use, one line per step.
    pub fn plan(&self, query: &Query) -> Result<Vec<String>, StoreError> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut statement = self
                .connection
                .prepare(&format!("EXPLAIN QUERY PLAN {}", query.sql))?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(query.parameters.iter()), |row| {
                    row.get::<_, String>(3)
                })?;
            rows.collect()
        };
        run().map_err(|e| self.failure(e))
    }

    /// Reads one contact with its consent, suppressions and events, for in-memory evaluation.
    pub fn contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        self.contact_inner(id).map_err(|e| self.failure(e))
    }

    fn contact_inner(&self, id: &str) -> rusqlite::Result<Option<Contact>> {
        let names: Vec<(&String, &FieldType)> = self.catalog.attributes.iter().collect();
        let columns: Vec<String> = names.iter().map(|(n, _)| schema::identifier(n)).collect();
        let sql = format!("SELECT {} FROM contacts WHERE id = ?1", columns.join(", "));
        let contact = self
            .connection
            .query_row(&sql, [id], |row| {
                read_attributes(id.to_string(), row, 0, &names)
            })
            .optional()?;
        let Some(mut contact) = contact else {
            return Ok(None);
        };
        let mut statement = self
            .connection
            .prepare("SELECT channel, status FROM consents WHERE contact_id = ?1")?;
        for row in statement.query_map([id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })? {
            let (channel, status) = row?;
            contact.consents.insert(channel, status == "granted");
        }
        let mut statement = self
            .connection
            .prepare("SELECT channel FROM suppressions WHERE contact_id = ?1")?;
        for row in statement.query_map([id], |row| row.get::<_, String>(0))? {
            contact.suppressions.insert(row?);
        }
        let mut statement = self.connection.prepare(
            "SELECT id, event, at, properties FROM events WHERE contact_id = ?1 ORDER BY at, id",
        )?;
        for row in statement.query_map([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
            ))
        })? {
            let (event_id, event, at, properties) = row?;
            let properties = match serde_json::from_str(&properties) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            contact.events.push(Event {
                id: event_id,
                event,
                at,
                properties,
            });
        }
        Ok(Some(contact))
    }

    /// Streams every contact's attributes, in storage order, one row at a
    /// time: a send (or the render benchmark) over millions of contacts
    /// holds one row in memory, not the table. Consent, suppressions and
    /// events are not read; [`Store::contact`] reads them for one contact.
    /// `visit` breaks to stop early.
    pub fn each_contact(
        &self,
        visit: impl FnMut(Contact) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.each_contact_inner(visit).map_err(|e| self.failure(e))
    }

    fn each_contact_inner(
        &self,
        mut visit: impl FnMut(Contact) -> ControlFlow<()>,
    ) -> rusqlite::Result<()> {
        let names: Vec<(&String, &FieldType)> = self.catalog.attributes.iter().collect();
        let columns: Vec<String> = names.iter().map(|(n, _)| schema::identifier(n)).collect();
        let sql = format!(
            "SELECT id, {} FROM contacts ORDER BY rowid",
            columns.join(", ")
        );
        let mut statement = self.connection.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let contact = read_attributes(row.get(0)?, row, 1, &names)?;
            if visit(contact).is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Whether every index of [`schema::MERGE_INDEXES`] exists.
pub fn merge_indexes_present(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT count(*) = 3 FROM sqlite_master WHERE type = 'index' AND name IN
         ('contacts_by_email', 'contacts_by_phone', 'consent_history_by_contact')",
        [],
        |row| row.get(0),
    )
}

/// The schema version of the store.
pub fn version(connection: &Connection) -> rusqlite::Result<i64> {
    let exists: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    connection.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
}

/// Applies the migrations the store has not had, each in its own
/// transaction with its version, so a store is never between two versions.
fn migrate(connection: &Connection) -> Result<(), String> {
    let sql = |error: rusqlite::Error| error.to_string();
    let current = version(connection).map_err(sql)?;
    if current > schema::VERSION {
        return Err(format!(
            "the store is at schema version {current}, newer than this herald knows ({}); \
             use a newer herald",
            schema::VERSION
        ));
    }
    for migration in schema::MIGRATIONS {
        if migration.version <= current {
            continue;
        }
        connection.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
        let apply = || -> rusqlite::Result<()> {
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
            )?;
            // Another process may have migrated while this one waited.
            if version(connection)? >= migration.version {
                return Ok(());
            }
            connection.execute_batch(migration.sql)?;
            connection.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [migration.version],
            )?;
            Ok(())
        };
        match apply() {
            Ok(()) => connection.execute_batch("COMMIT").map_err(sql)?,
            Err(error) => {
                let _ = connection.execute_batch("ROLLBACK");
                return Err(format!(
                    "migrating to schema version {} ({}) failed: {error}",
                    migration.version, migration.description
                ));
            }
        }
    }
    Ok(())
}

/// A contact with the attributes of a `contacts` row whose columns, from
/// `offset` on, are the attributes `names`.
fn read_attributes(
    id: String,
    row: &rusqlite::Row<'_>,
    offset: usize,
    names: &[(&String, &FieldType)],
) -> rusqlite::Result<Contact> {
    let mut contact = Contact {
        id,
        ..Contact::default()
    };
    for (index, (name, kind)) in names.iter().enumerate() {
        if name.as_str() == "id" {
            continue;
        }
        if let Some(value) = read_value(row.get_ref(offset + index)?, kind) {
            contact.attributes.insert((*name).clone(), value);
        }
    }
    Ok(contact)
}

fn sql_value(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match value {
        Value::String(text) => Sql::Text(text.clone()),
        Value::Integer(value) | Value::Datetime(value) => Sql::Integer(*value),
        Value::Number(value) => Sql::Real(*value),
        Value::Boolean(value) => Sql::Integer(i64::from(*value)),
        Value::Date(date) => Sql::Text(date.to_string()),
        Value::List(items) => Sql::Text(serde_json::to_string(items).unwrap_or_default()),
    }
}

fn read_value(value: ValueRef, kind: &FieldType) -> Option<Value> {
    let text = || match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().map(str::to_string),
        _ => None,
    };
    let integer = || match value {
        ValueRef::Integer(value) => Some(value),
        _ => None,
    };
    Some(match kind {
        FieldType::String | FieldType::Enum(_) => Value::String(text()?),
        FieldType::Integer => Value::Integer(integer()?),
        FieldType::Number => match value {
            ValueRef::Real(value) => Value::Number(value),
            ValueRef::Integer(value) => Value::Number(value as f64),
            _ => return None,
        },
        FieldType::Boolean => Value::Boolean(integer()? != 0),
        FieldType::Datetime => Value::Datetime(integer()?),
        FieldType::Date => Value::Date(functions::parse_date(&text()?)?),
        FieldType::List => Value::List(serde_json::from_str(&text()?).ok()?),
    })
}

fn text_argument(context: &Context, index: usize) -> Option<String> {
    match context.get_raw(index) {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().map(str::to_string),
        _ => None,
    }
}

fn integer_argument(context: &Context, index: usize) -> Option<i64> {
    match context.get_raw(index) {
        ValueRef::Integer(value) => Some(value),
        _ => None,
    }
}

fn date_argument(context: &Context, index: usize) -> Option<jiff::civil::Date> {
    functions::parse_date(&text_argument(context, index)?)
}

/// Registers herald's SQL functions on a connection. They are deterministic,
/// so SQLite may use them in expression indexes.
pub fn register_functions(connection: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    connection.create_scalar_function("herald_fold", 1, flags, |context| {
        Ok(text_argument(context, 0).map(|text| functions::fold(&text)))
    })?;
    connection.create_scalar_function("herald_local_date", 3, flags, |context| {
        let seconds = integer_argument(context, 0);
        let zone = text_argument(context, 1);
        let project = text_argument(context, 2).unwrap_or_default();
        Ok(seconds
            .and_then(|seconds| functions::local_date(seconds, zone.as_deref(), &project))
            .map(|date| date.to_string()))
    })?;
    connection.create_scalar_function("herald_local_instant", 3, flags, |context| {
        let civil =
            text_argument(context, 0).and_then(|text| text.parse::<jiff::civil::DateTime>().ok());
        let zone = text_argument(context, 1);
        let project = text_argument(context, 2).unwrap_or_default();
        Ok(civil.and_then(|civil| functions::local_instant(civil, zone.as_deref(), &project)))
    })?;
    connection.create_scalar_function("herald_instant", 1, flags, |context| {
        Ok(text_argument(context, 0).and_then(|text| functions::parse_instant(&text)))
    })?;
    connection.create_scalar_function("herald_age", 2, flags, |context| {
        Ok(date_argument(context, 0)
            .zip(date_argument(context, 1))
            .map(|(birth, today)| functions::age(birth, today)))
    })?;
    connection.create_scalar_function("herald_days_between", 2, flags, |context| {
        Ok(date_argument(context, 0)
            .zip(date_argument(context, 1))
            .and_then(|(from, to)| functions::days_between(from, to)))
    })?;
    connection.create_scalar_function("herald_days_until_anniversary", 2, flags, |context| {
        Ok(date_argument(context, 0)
            .zip(date_argument(context, 1))
            .and_then(|(date, today)| functions::days_until_anniversary(date, today)))
    })?;
    connection.create_scalar_function("herald_days_since_instant", 2, flags, |context| {
        Ok(integer_argument(context, 0)
            .zip(integer_argument(context, 1))
            .map(|(then, now)| functions::days_since_instant(then, now)))
    })?;
    Ok(())
}
