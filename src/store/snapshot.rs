//! The store as the planner reads it (opened with
//! [`Store::open_read_only`]: a plan writes nothing): the members of an audience
//! streamed with what the policies need (attributes, granted consents,
//! suppressions), and the ledger questions the planner asks of past sends.
//!
//! The ledger questions are answered by the outbox ([`super::outbox`]): a
//! message counts against the frequency caps from the moment it is
//! enqueued (it is going out, whichever campaign wrote it), and an
//! occurrence in `campaign_runs` is never due again.

use std::ops::ControlFlow;

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError, read_attributes, schema};
use crate::contact::Contact;
use crate::segment::catalog::FieldType;
use crate::segment::sql::Query;

impl Store {
    /// Copies the store at `source` into a new file at `target` without
    /// writing to `source`: `VACUUM INTO` over a read-only connection, a
    /// consistent snapshot even while a runner writes (what `herald
    /// simulate` works on).
    pub fn copy_into(source: &Path, target: &Path) -> Result<(), StoreError> {
        let error = |reason: String| StoreError {
            path: source.to_path_buf(),
            reason,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(source, flags).map_err(|e| error(e.to_string()))?;
        let target = target
            .to_str()
            .ok_or_else(|| error(format!("the copy's path {} is not UTF-8", target.display())))?;
        connection
            .execute("VACUUM INTO ?1", [target])
            .map_err(|e| error(format!("could not copy the store: {e}")))?;
        Ok(())
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
        let run = || -> rusqlite::Result<()> {
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
        self.run(run)
    }

    /// Messages the ledger holds as sent or going out (queued, being
    /// sent, of unknown outcome) to `contact`, on `channel` or on any
    /// channel, planned for `[from, until)`, whatever campaign or journey
    /// wrote them.
    pub fn sent_messages(
        &self,
        contact: &str,
        channel: Option<&str>,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u32, StoreError> {
        self.ledger_count(contact, channel, from, until)
    }

    /// Whether the ledger holds a message of `campaign` to `contact`, sent
    /// or going out, planned for `[from, until)` (a campaign's `once_per`).
    pub fn campaign_sent(
        &self,
        contact: &str,
        campaign: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.ledger_has_campaign(contact, campaign, from, until)
    }

    /// Whether a campaign occurrence has been enqueued already
    /// (`campaign_runs`).
    pub fn occurrence_enqueued(
        &self,
        campaign: &str,
        occurrence: Timestamp,
    ) -> Result<bool, StoreError> {
        self.campaign_run_recorded(campaign, occurrence)
    }
}
