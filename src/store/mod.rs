//! The contact store: it owns every SQL statement herald runs. One SQLite
//! file in WAL mode holds contacts with typed attributes, consent,
//! suppressions, events, lapses and the runner's tables ([`schema`]).
//!
//! Callers see a narrow API grouped by table family, each family an `impl
//! Store` block in its own file, taking and returning domain values
//! ([`Scalar`], [`crate::contact::Contact`], the families' row
//! structs) and [`StoreError`], never rusqlite types:
//!
//! - [`contacts`]: contacts and their aliases: merge-key lookups, inserts
//!   and coalescing updates, streaming every contact or every merge key, and
//!   the bulk-load mode of an import into an empty store;
//! - [`consents`]: the current consent per channel, its history, and
//!   suppressions;
//! - [`events`]: idempotent event ingestion and reading a contact's events;
//! - [`feedback`]: what `herald serve` hears back: unsubscribes and
//!   delivery statuses linked to outbox messages;
//! - [`lapses`]: what `contacts clean` reads (a page of contacts with their
//!   last conversion) and the lapse marks it writes;
//! - [`snapshot`]: the planner's reads: a read-only open, an audience
//!   streamed with consents and suppressions, and the ledger questions
//!   (answered by the outbox);
//! - [`sources`]: the content hash of each source file a sync imported;
//! - [`analytics`]: what `herald report` reads (messages with their
//!   delivery feedback, held-out contacts, run records, goal events);
//! - [`outbox`]: the runner's durable outbox: intents, claims with leases,
//!   outcomes, recovery of expired leases, and its status;
//! - [`enrolments`]: journey enrolments (at most one active per journey
//!   and contact), woken through an index on `wake_at`, their log, segment
//!   memberships, the runtime's event cursor and attribute history.
//!
//! Writes run inside explicit transactions ([`Store::begin`],
//! [`Store::commit`], [`Store::rollback`]) so that a caller batches
//! thousands of rows into one commit; statements are prepared once per
//! connection and cached.
//!
//! ## A PostgreSQL backend
//!
//! Every family's functions are written so that a second backend can
//! implement them with the same signatures; the segment SQL already has a
//! [`crate::segment::sql::Dialect`]. How each family would map:
//!
//! - **contacts and aliases**: the same tables; `rowid` (the row number a
//!   bulk import keys its in-memory map on) becomes a `bigserial` column;
//!   the coalescing update is the same `UPDATE … SET c = coalesce($n, c)`;
//!   [`Store::change_counter`] (SQLite's `PRAGMA data_version`) becomes a
//!   counter row bumped by a statement trigger (or a fresh value on every
//!   call, which only costs the import its Bloom-filter shortcut); the
//!   bulk-load mode drops and
//!   rebuilds the same indexes (`CREATE INDEX CONCURRENTLY` is not needed:
//!   the table is empty).
//! - **consents and suppressions**: `INSERT … ON CONFLICT … DO UPDATE`
//!   is the same statement in both dialects.
//! - **events**: `INSERT … ON CONFLICT (id) DO NOTHING`, the same; large
//!   ingests would use `COPY` into a staging table, behind the same
//!   per-record function.
//! - **lapses**: plain keyed reads and upserts; the activity page is a
//!   keyset-paginated query with correlated sub-selects, valid PostgreSQL.
//! - **source files**: one keyed upsert, the same statement in both dialects.
//! - **outbox**: a sender leases rows with `SELECT … FOR UPDATE SKIP
//!   LOCKED` and a lease deadline; SQLite, with one writer, leases with an
//!   `UPDATE … RETURNING` inside `BEGIN IMMEDIATE` ([`outbox`] shows both).
//! - **enrolments**: the same tables and partial indexes; workers sharing
//!   due enrolments take them with the same `SKIP LOCKED` as the outbox.
//!
//! Durability ([`Durability`]) and the page cache are SQLite's; a
//! PostgreSQL backend maps `Deferred` to `synchronous_commit = off` for the
//! transaction and ignores the cache sizes.
//!
//! Opening a store registers herald's SQL functions (Unicode case folding,
//! calendar functions) on the connection: SQLite's own `lower` and `LIKE`
//! are ASCII-only, and sharing the Rust code of
//! [`crate::segment::functions`] keeps SQL and in-memory evaluation equal.

pub mod analytics;
pub mod attributes;
pub mod consents;
pub mod contacts;
pub mod enrolments;
pub mod events;
pub mod feedback;
pub mod lapses;
mod locks;
pub mod outbox;
pub mod schema;
pub mod snapshot;
pub mod sources;
pub mod statuses;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::contact::{Contact, Value};
use crate::model::Manifest;
use crate::segment::catalog::{Catalog, FieldType};
use crate::segment::functions;
use crate::segment::sql::Query;

pub use consents::{ConsentChange, ConsentRecord, Suppression, SuppressionReason};
pub use contacts::{ContactKeys, ContactRef, MergeKey};
pub use events::{EventRecord, StoredEvent};
pub use lapses::{ContactActivity, Lapse};

/// How long an operation waits for another connection's write lock before
/// it gives up and says who holds it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The store's failures end a command like any other runtime failure; the
/// conversion lives here so that [`crate::error`] does not depend on the store.
impl From<StoreError> for crate::error::Error {
    fn from(error: StoreError) -> crate::error::Error {
        crate::error::Error::Store(Box::new(error))
    }
}

/// One column value as the store keeps it: what an import writes and
/// compares against, free of the database library's types.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl rusqlite::ToSql for Scalar {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Scalar::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Scalar::Integer(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Scalar::Real(value) => ToSqlOutput::Borrowed(ValueRef::Real(*value)),
            Scalar::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

impl Scalar {
    fn read(value: ValueRef<'_>) -> Scalar {
        match value {
            ValueRef::Null => Scalar::Null,
            ValueRef::Integer(value) => Scalar::Integer(value),
            ValueRef::Real(value) => Scalar::Real(value),
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                Scalar::Text(String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }
}

/// How hard a commit insists on reaching the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Survives a killed process; a power loss may take back the last
    /// commits until the next [`Durability::Full`] one (WAL `synchronous =
    /// NORMAL`).
    Deferred,
    /// Survives a power loss, with every commit before it (`synchronous = FULL`).
    Full,
}

pub struct Store {
    connection: Connection,
    path: PathBuf,
    catalog: Catalog,
    /// The prepared SQL of the `contacts` row, built once from the catalog.
    statements: contacts::Statements,
    /// While a bulk load runs ([`Store::start_bulk_load`]): the page cache
    /// size to restore after it.
    bulk_cache: std::cell::Cell<Option<i64>>,
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
        // SQLite falls back to reading a file it may not write: say so now
        // rather than at the first write.
        if connection
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|e| error(e.to_string()))?
        {
            return Err(error(locks::read_only()));
        }
        let store = Store::new(connection, path, catalog);
        store.initialise().map_err(error)?;
        Ok(store)
    }

    /// Opens an existing store for reading only: it is neither created nor
    /// migrated, and in WAL mode another program's write transaction does
    /// not block it. A store that a writing command has to bring up to date
    /// first (an older schema, attributes herald.yaml changed) is an error
    /// that says so.
    pub fn open_read_only(path: &Path, catalog: Catalog) -> Result<Store, StoreError> {
        let error = |reason: String| StoreError {
            path: path.to_path_buf(),
            reason,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|e| error(e.to_string()))?;
        let store = Store::new(connection, path, catalog);
        store.check_current().map_err(error)?;
        Ok(store)
    }

    /// Opens an existing store for reading only, without checking its
    /// schema version or attribute columns: for questions about tables
    /// that have kept their shape since they appeared (`herald check`
    /// counting the contacts in journey steps), which must not fail on a
    /// store a writing command has not brought up to date yet.
    pub fn open_for_inspection(path: &Path) -> Result<Store, StoreError> {
        let error = |reason: String| StoreError {
            path: path.to_path_buf(),
            reason,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|e| error(e.to_string()))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| error(e.to_string()))?;
        Ok(Store::new(connection, path, Catalog::default()))
    }

    fn new(connection: Connection, path: &Path, catalog: Catalog) -> Store {
        let statements = contacts::Statements::new(&catalog);
        Store {
            connection,
            path: path.to_path_buf(),
            catalog,
            statements,
            bulk_cache: std::cell::Cell::new(None),
        }
    }

    /// A store error for `error`, met by an operation that started at `started`.
    fn failure(&self, error: rusqlite::Error, started: Instant) -> StoreError {
        StoreError {
            path: self.path.clone(),
            reason: locks::explain(&self.path, &error, started.elapsed()),
        }
    }

    /// Runs `work` and turns its SQLite error into a [`StoreError`].
    fn run<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let started = Instant::now();
        work().map_err(|error| self.failure(error, started))
    }

    fn initialise(&self) -> Result<(), String> {
        let started = Instant::now();
        let sql = |error: rusqlite::Error| locks::explain(&self.path, &error, started.elapsed());
        register_functions(&self.connection).map_err(sql)?;
        self.connection.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
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
        migrate(&self.connection, &sql)?;
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

    /// What [`Store::open_read_only`] checks instead of migrating: the
    /// schema and the attribute columns are the ones this herald and
    /// herald.yaml expect.
    fn check_current(&self) -> Result<(), String> {
        let started = Instant::now();
        let sql = |error: rusqlite::Error| locks::explain(&self.path, &error, started.elapsed());
        register_functions(&self.connection).map_err(sql)?;
        self.connection.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let current = version(&self.connection).map_err(sql)?;
        if current > schema::VERSION {
            return Err(too_new(current));
        }
        if current < schema::VERSION {
            return Err(format!(
                "the store is at schema version {current} and this herald reads version {}; \
                 run a command that writes to it (such as `herald contacts import`) first, \
                 which upgrades it",
                schema::VERSION
            ));
        }
        let pending = attributes::pending(&self.connection, &self.catalog)?;
        if !pending.is_empty() {
            return Err(format!(
                "the store does not have herald.yaml's attributes {} yet; run a command that \
                 writes to it (such as `herald contacts import`) first, which adds or converts \
                 their columns",
                pending
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }

    /// Readies the connection for a batch over many rows: an import (every
    /// row looked up by id, email and phone) or a journey tick (enrolments,
    /// outbox and journey log written per contact). The indexes stay in
    /// memory (64 MB of page cache), every statement stays prepared, and
    /// the WAL is copied back every 8,192 pages (128 MB) rather than every
    /// 1,000, so pages rewritten throughout the batch are copied fewer times.
    pub fn tune_for_batches(&self) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .execute_batch("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192")?;
            self.connection.set_prepared_statement_cache_capacity(64);
            // SQLite 3.54 weighs `column = ?` terms outside an index by their
            // bound value and then re-prepares the statement at every new
            // binding: the per-row lookups spent a third of the import
            // re-parsing SQL. The query-planner stability guarantee keeps one
            // plan per statement.
            self.connection.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            Ok(())
        })
    }

    /// The raw connection, for tests, benchmarks and examples that seed a
    /// store directly; herald's own code goes through the typed families.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction, taking the write lock now rather than at
    /// the first write (so a conflict shows here, not halfway through).
    pub fn begin(&self) -> Result<(), StoreError> {
        self.run(|| self.connection.execute_batch("BEGIN IMMEDIATE"))
    }

    pub fn commit(&self) -> Result<(), StoreError> {
        self.run(|| self.connection.execute_batch("COMMIT"))
    }

    /// Abandons the open transaction; a store with none open is left as is.
    pub fn rollback(&self) {
        if !self.connection.is_autocommit() {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }

    /// How the next commits are synced.
    pub fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        let level = match durability {
            Durability::Deferred => "NORMAL",
            Durability::Full => "FULL",
        };
        self.run(|| {
            self.connection
                .execute_batch(&format!("PRAGMA synchronous = {level}"))
        })
    }

    /// Runs a compiled count query.
    pub fn count(&self, query: &Query) -> Result<u64, StoreError> {
        let started = Instant::now();
        self.connection
            .query_row(
                &query.sql,
                rusqlite::params_from_iter(query.parameters.iter()),
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count.max(0) as u64)
            .map_err(|e| self.failure(e, started))
    }

    /// Runs a compiled id query.
    pub fn ids(&self, query: &Query) -> Result<Vec<String>, StoreError> {
        let started = Instant::now();
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut statement = self.connection.prepare(&query.sql)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(query.parameters.iter()), |row| {
                    row.get::<_, String>(0)
                })?;
            rows.collect()
        };
        run().map_err(|e| self.failure(e, started))
    }

    /// The query plan SQLite would use, one line per step.
    pub fn plan(&self, query: &Query) -> Result<Vec<String>, StoreError> {
        let started = Instant::now();
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
        run().map_err(|e| self.failure(e, started))
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

fn too_new(current: i64) -> String {
    format!(
        "the store is at schema version {current}, newer than this herald knows ({}); \
         use a newer herald",
        schema::VERSION
    )
}

/// Applies the migrations the store has not had, each in its own
/// transaction with its version, so a store is never between two versions.
fn migrate(connection: &Connection, sql: &dyn Fn(rusqlite::Error) -> String) -> Result<(), String> {
    let current = version(connection).map_err(sql)?;
    if current > schema::VERSION {
        return Err(too_new(current));
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
