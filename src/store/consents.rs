//! Consent and suppressions: the current consent per contact and channel,
//! the history of every change, and the channels a contact must not be sent
//! on (`*` for all of them).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::contact::Contact;

/// A consent as stored: current (one per channel) or a history entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    pub channel: String,
    pub granted: bool,
    pub at: Option<i64>,
    pub source: Option<String>,
}

/// A consent change to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentChange<'a> {
    pub channel: &'a str,
    pub granted: bool,
    pub at: i64,
    pub source: Option<&'a str>,
}

/// Why a channel is suppressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionReason {
    Unsubscribed,
    Bounced,
    Complained,
    Invalid,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::Bounced => "bounced",
            SuppressionReason::Complained => "complained",
            SuppressionReason::Invalid => "invalid",
        }
    }
}

/// A suppression as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub channel: String,
    /// As stored (`unsubscribed`, `bounced`, `complained`, `invalid`).
    pub reason: String,
    pub at: Option<i64>,
    pub detail: Option<String>,
}

fn status(granted: bool) -> &'static str {
    if granted { "granted" } else { "revoked" }
}

fn consent_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConsentRecord> {
    Ok(ConsentRecord {
        channel: row.get(0)?,
        granted: row.get::<_, String>(1)? == "granted",
        at: row.get(2)?,
        source: row.get(3)?,
    })
}

impl Store {
    /// The current consent of a contact on a channel.
    pub fn current_consent(
        &self,
        contact: &str,
        channel: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT channel, status, at, source FROM consents
                     WHERE contact_id = ?1 AND channel = ?2",
                )?
                .query_row(params![contact, channel], consent_row)
                .optional()
        })
    }

    /// Whether the history already holds this change (the same file imported twice).
    pub fn consent_recorded(
        &self,
        contact: &str,
        change: &ConsentChange<'_>,
    ) -> Result<bool, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM consent_history
                     WHERE contact_id = ?1 AND channel = ?2 AND status = ?3 AND at = ?4)",
                )?
                .query_row(
                    params![contact, change.channel, status(change.granted), change.at],
                    |row| row.get(0),
                )
        })
    }

    /// Appends a change to the consent history.
    pub fn append_consent_history(
        &self,
        contact: &str,
        change: &ConsentChange<'_>,
    ) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO consent_history (contact_id, channel, status, at, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    contact,
                    change.channel,
                    status(change.granted),
                    change.at,
                    change.source
                ])?;
            Ok(())
        })
    }

    /// Makes a change the current consent of its channel.
    pub fn set_current_consent(
        &self,
        contact: &str,
        change: &ConsentChange<'_>,
    ) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO consents (contact_id, channel, status, at, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (contact_id, channel) DO UPDATE SET
                       status = excluded.status, at = excluded.at, source = excluded.source",
                )?
                .execute(params![
                    contact,
                    change.channel,
                    status(change.granted),
                    change.at,
                    change.source
                ])?;
            Ok(())
        })
    }

    /// Builds the consent-history index early, inside the current
    /// transaction: a bulk load that must look the history up (a merged
    /// record's dated consent) would otherwise scan it for every record.
    pub fn index_consent_history(&self) -> Result<(), StoreError> {
        self.run(|| {
            self.connection.execute_batch(
                "CREATE INDEX IF NOT EXISTS consent_history_by_contact
                 ON consent_history (contact_id, channel, at)",
            )
        })
    }

    /// A contact's current consents, by channel.
    pub fn consents(&self, contact: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        self.consent_rows(
            "SELECT channel, status, at, source FROM consents WHERE contact_id = ?1 ORDER BY channel",
            contact,
        )
    }

    /// A contact's consent history, by channel and time.
    pub fn consent_history(&self, contact: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        self.consent_rows(
            "SELECT channel, status, at, source FROM consent_history WHERE contact_id = ?1
             ORDER BY channel, at, rowid",
            contact,
        )
    }

    fn consent_rows(&self, sql: &str, contact: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(sql)?;
            let rows = statement.query_map([contact], consent_row)?;
            rows.collect()
        })
    }

    /// Whether a channel (or `*`) of a contact is suppressed.
    pub fn suppressed(&self, contact: &str, channel: &str) -> Result<bool, StoreError> {
        self.run(|| {
            Ok(self
                .connection
                .prepare_cached(
                    "SELECT 1 FROM suppressions WHERE contact_id = ?1 AND channel = ?2",
                )?
                .query_row(params![contact, channel], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Suppresses a channel (or `*`) of a contact; an existing suppression
    /// of the channel is kept as it is.
    pub fn suppress(
        &self,
        contact: &str,
        channel: &str,
        reason: SuppressionReason,
        at: i64,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO suppressions (contact_id, channel, reason, at, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (contact_id, channel) DO NOTHING",
                )?
                .execute(params![contact, channel, reason.as_str(), at, detail])?;
            Ok(())
        })
    }

    /// A contact's suppressions, by channel.
    pub fn suppressions(&self, contact: &str) -> Result<Vec<Suppression>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT channel, reason, at, detail FROM suppressions WHERE contact_id = ?1
                 ORDER BY channel",
            )?;
            let rows = statement.query_map([contact], |row| {
                Ok(Suppression {
                    channel: row.get(0)?,
                    reason: row.get(1)?,
                    at: row.get(2)?,
                    detail: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Writes the consents and unsubscriptions a contact built in memory
    /// holds, over the stored ones (for fixtures and benchmarks).
    pub(super) fn put_consents_and_suppressions(
        &self,
        contact: &Contact,
    ) -> Result<(), StoreError> {
        self.run(|| {
            for (channel, granted) in &contact.consents {
                self.connection.execute(
                    "INSERT OR REPLACE INTO consents (contact_id, channel, status) VALUES (?1, ?2, ?3)",
                    params![contact.id, channel, status(*granted)],
                )?;
            }
            for channel in &contact.suppressions {
                self.connection.execute(
                    "INSERT OR REPLACE INTO suppressions (contact_id, channel, reason) VALUES (?1, ?2, 'unsubscribed')",
                    params![contact.id, channel],
                )?;
            }
            Ok(())
        })
    }
}
