//! The store as the planner reads it: opened read-only (a plan writes
//! nothing, not even a WAL or a migration), the members of an audience
//! streamed with what the policies need (attributes, granted consents,
//! suppressions), and the ledger questions the planner asks of past sends.
//!
//! The ledger (the outbox and its attempts) does not exist yet: until it
//! lands, [`Store::sent_messages`] answers 0 and
//! [`Store::occurrence_enqueued`] answers `false`, so a plan counts only the
//! messages of the plan itself against the frequency caps and every
//! occurrence in the catch-up window is due. The runner replaces the two
//! bodies; the planner does not change.

use std::ops::ControlFlow;
use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError, read_attributes, register_functions, schema};
use crate::contact::Contact;
use crate::segment::catalog::{Catalog, FieldType};
use crate::segment::sql::Query;

impl Store {
    /// Opens an existing store for reading only. Nothing is created or
    /// migrated: a store older than this herald must be opened for writing
    /// once (any import or `herald sync` does it).
    pub fn open_read_only(path: &Path, catalog: Catalog) -> Result<Store, StoreError> {
        let error = |reason: String| StoreError {
            path: path.to_path_buf(),
            reason,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|e| error(e.to_string()))?;
        register_functions(&connection).map_err(|e| error(e.to_string()))?;
        let version = super::version(&connection).map_err(|e| error(e.to_string()))?;
        if version != schema::VERSION {
            return Err(error(format!(
                "the store is at schema version {version}, this herald reads version {}; \
                 run `herald sync` (or any import) to migrate it",
                schema::VERSION
            )));
        }
        Ok(Store::new(connection, path, catalog))
    }

    /// Streams the contacts matching `condition` (the SQL condition of an
    /// audience over `contacts AS c`) in id order, each with its attributes,
    /// the channels it has granted consent on, and the channels it is
    /// suppressed on (`*` for all). One row is in memory at a time.
    pub fn each_member(
        &self,
        condition: &Query,
        mut visit: impl FnMut(Contact) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let mut run = || -> rusqlite::Result<()> {
            let names: Vec<(&String, &FieldType)> = self.catalog.attributes.iter().collect();
            let columns: Vec<String> = names
                .iter()
                .map(|(name, _)| format!("c.{}", schema::identifier(name)))
                .collect();
            let sql = format!(
                "SELECT c.id, {}, \
                 (SELECT group_concat(k.channel, ',') FROM consents AS k \
                  WHERE k.contact_id = c.id AND k.status = 'granted'), \
                 (SELECT group_concat(s.channel, ',') FROM suppressions AS s \
                  WHERE s.contact_id = c.id) \
                 FROM contacts AS c WHERE {} ORDER BY c.id",
                columns.join(", "),
                condition.sql
            );
            let mut statement = self.connection.prepare(&sql)?;
            let mut rows =
                statement.query(rusqlite::params_from_iter(condition.parameters.iter()))?;
            let consents = 1 + names.len();
            while let Some(row) = rows.next()? {
                let mut contact = read_attributes(row.get(0)?, row, 1, &names)?;
                if let Some(granted) = row.get::<_, Option<String>>(consents)? {
                    for channel in granted.split(',') {
                        contact.consents.insert(channel.to_string(), true);
                    }
                }
                if let Some(suppressed) = row.get::<_, Option<String>>(consents + 1)? {
                    contact
                        .suppressions
                        .extend(suppressed.split(',').map(str::to_string));
                }
                if visit(contact).is_break() {
                    break;
                }
            }
            Ok(())
        };
        run().map_err(|e| self.failure(e))
    }

    /// Messages the ledger holds as sent to `contact` (on `channel`, or on
    /// any channel) in `[from, until)`. Always 0 until the outbox lands.
    pub fn sent_messages(
        &self,
        _contact: &str,
        _channel: Option<&str>,
        _from: Timestamp,
        _until: Timestamp,
    ) -> Result<u32, StoreError> {
        Ok(0)
    }

    /// Whether a campaign occurrence has been enqueued already
    /// (`campaign_runs`). Always `false` until the outbox lands.
    pub fn occurrence_enqueued(
        &self,
        _campaign: &str,
        _occurrence: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
}
