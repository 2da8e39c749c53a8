//! Lapses: contacts `herald contacts clean` found not to have converted for
//! the configured period, and what it reads to decide (a page of contacts
//! with their addresses, last conversion and lapse mark).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::channel::ChannelKind;

/// The address columns `contacts clean` checks, in
/// [`ContactActivity::addresses`] order: every channel's address field.
pub fn address_columns() -> Vec<&'static str> {
    ChannelKind::ALL
        .into_iter()
        .filter_map(ChannelKind::address_field)
        .collect()
}

/// One contact as `contacts clean` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactActivity {
    /// The row number to continue the next page after.
    pub row: i64,
    pub id: String,
    /// One per [`address_columns`].
    pub addresses: Vec<Option<String>>,
    pub created_at: Option<i64>,
    /// The latest conversion event.
    pub converted_at: Option<i64>,
    pub first_event_at: Option<i64>,
    /// `Some(true)` lapsed now, `Some(false)` lapsed once and cleared.
    pub lapsed: Option<bool>,
}

/// A lapse mark as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lapse {
    pub reason: String,
    pub last_activity: Option<i64>,
    pub at: i64,
    pub cleared_at: Option<i64>,
}

impl Store {
    /// Up to `limit` contacts after row number `after`, in storage order,
    /// with the latest of their `conversions` events.
    pub fn contact_activity(
        &self,
        after: i64,
        conversions: &[String],
        limit: usize,
    ) -> Result<Vec<ContactActivity>, StoreError> {
        let columns = address_columns();
        let conversion_list = if conversions.is_empty() {
            "NULL".to_string()
        } else {
            (2..2 + conversions.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT c.rowid, c.id, {},
                c.created_at,
                (SELECT max(e.at) FROM events AS e WHERE e.contact_id = c.id AND e.event IN ({conversion_list})),
                (SELECT min(e.at) FROM events AS e WHERE e.contact_id = c.id),
                (SELECT l.cleared_at IS NULL FROM lapses AS l WHERE l.contact_id = c.id)
             FROM contacts AS c WHERE c.rowid > ?1 ORDER BY c.rowid LIMIT {limit}",
            columns
                .iter()
                .map(|a| format!("c.{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.run(|| {
            let mut statement = self.connection.prepare_cached(&sql)?;
            let mut parameters: Vec<rusqlite::types::Value> = vec![after.into()];
            parameters.extend(conversions.iter().map(|e| e.clone().into()));
            let mut rows = statement.query(rusqlite::params_from_iter(parameters))?;
            let mut page = Vec::new();
            while let Some(row) = rows.next()? {
                let addresses = (0..columns.len())
                    .map(|i| row.get::<_, Option<String>>(2 + i))
                    .collect::<Result<_, _>>()?;
                let base = 2 + columns.len();
                page.push(ContactActivity {
                    row: row.get(0)?,
                    id: row.get(1)?,
                    addresses,
                    created_at: row.get(base)?,
                    converted_at: row.get(base + 1)?,
                    first_event_at: row.get(base + 2)?,
                    lapsed: row.get(base + 3)?,
                });
            }
            Ok(page)
        })
    }

    /// Marks a contact lapsed (again), as of `at`.
    pub fn lapse(
        &self,
        contact: &str,
        last_activity: Option<i64>,
        at: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO lapses (contact_id, last_activity, at, reason, cleared_at)
                     VALUES (?1, ?2, ?3, ?4, NULL)
                     ON CONFLICT (contact_id) DO UPDATE SET last_activity = excluded.last_activity,
                       at = excluded.at, reason = excluded.reason, cleared_at = NULL",
                )?
                .execute(params![contact, last_activity, at, reason])?;
            Ok(())
        })
    }

    /// Clears a contact's lapse mark (the row keeps when it was lapsed).
    pub fn clear_lapse(&self, contact: &str, at: i64) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("UPDATE lapses SET cleared_at = ?2 WHERE contact_id = ?1")?
                .execute(params![contact, at])?;
            Ok(())
        })
    }

    /// A contact's lapse mark, current or cleared.
    pub fn lapse_of(&self, contact: &str) -> Result<Option<Lapse>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT reason, last_activity, at, cleared_at FROM lapses WHERE contact_id = ?1",
                )?
                .query_row([contact], |row| {
                    Ok(Lapse {
                        reason: row.get(0)?,
                        last_activity: row.get(1)?,
                        at: row.get(2)?,
                        cleared_at: row.get(3)?,
                    })
                })
                .optional()
        })
    }
}
