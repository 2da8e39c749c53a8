//! Contacts and their aliases: one row per contact with a typed column per
//! declared attribute, and the ids a file used for a contact that was
//! merged into another by email or phone.

use std::ops::ControlFlow;

use rusqlite::{OptionalExtension, ToSql, params};

use super::schema::{self, identifier};
use super::{Scalar, Store, StoreError, read_attributes, sql_value};
use crate::contact::Contact;
use crate::segment::catalog::{Catalog, FieldType};

/// A key an import merges records on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeKey {
    Id,
    Email,
    Phone,
}

/// A contact's merge keys, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactKeys {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A contact found by a merge key: its id and row number (see
/// [`Store::contact_keys_at`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRef {
    pub id: String,
    pub row: i64,
}

/// The SQL of a `contacts` row over the attribute columns (every
/// attribute but `id`, in the catalog's order): built once per store.
pub(super) struct Statements {
    columns: Vec<(String, FieldType)>,
    insert: String,
    update: String,
    select: String,
}

impl Statements {
    pub(super) fn new(catalog: &Catalog) -> Statements {
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
        Statements {
            columns,
            insert,
            update,
            select,
        }
    }
}

impl Store {
    /// The attribute columns the row functions below take and return
    /// values for, in order (every declared attribute but `id`).
    pub fn contact_columns(&self) -> &[(String, FieldType)] {
        &self.statements.columns
    }

    /// The contact an id names, directly or through an alias.
    pub fn resolve_contact(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.run(|| {
            let found = self
                .connection
                .prepare_cached("SELECT id FROM contacts WHERE id = ?1")?
                .query_row([id], |row| row.get::<_, String>(0))
                .optional()?;
            match found {
                Some(found) => Ok(Some(found)),
                None => self
                    .connection
                    .prepare_cached("SELECT contact_id FROM contact_aliases WHERE alias = ?1")?
                    .query_row([id], |row| row.get::<_, String>(0))
                    .optional(),
            }
        })
    }

    /// The contact a merge key names: by id (or alias), or the first (in
    /// storage order) with this email or phone.
    pub fn contact_with(
        &self,
        key: MergeKey,
        value: &str,
    ) -> Result<Option<ContactRef>, StoreError> {
        let (sql, fallback) = match key {
            MergeKey::Id => (
                "SELECT id, rowid FROM contacts WHERE id = ?1",
                Some(
                    "SELECT c.id, c.rowid FROM contact_aliases AS a
                     JOIN contacts AS c ON c.id = a.contact_id WHERE a.alias = ?1",
                ),
            ),
            MergeKey::Email => (
                "SELECT id, rowid FROM contacts WHERE email = ?1 ORDER BY rowid LIMIT 1",
                None,
            ),
            MergeKey::Phone => (
                "SELECT id, rowid FROM contacts WHERE phone = ?1 ORDER BY rowid LIMIT 1",
                None,
            ),
        };
        self.run(|| {
            for sql in std::iter::once(sql).chain(fallback) {
                let found = self
                    .connection
                    .prepare_cached(sql)?
                    .query_row([value], |row| {
                        Ok(ContactRef {
                            id: row.get(0)?,
                            row: row.get(1)?,
                        })
                    })
                    .optional()?;
                if found.is_some() {
                    return Ok(found);
                }
            }
            Ok(None)
        })
    }

    /// The highest row number a contact has: contacts inserted later have higher ones.
    pub fn last_contact_row(&self) -> Result<i64, StoreError> {
        self.run(|| {
            self.connection
                .query_row("SELECT coalesce(max(rowid), 0) FROM contacts", [], |row| {
                    row.get(0)
                })
        })
    }

    /// The merge keys of the contact at a row number (SQLite's `rowid`, a
    /// store-assigned integer that [`Store::insert_contact`] returns).
    pub fn contact_keys_at(&self, row: i64) -> Result<Option<ContactKeys>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("SELECT id, email, phone FROM contacts WHERE rowid = ?1")?
                .query_row([row], |row| {
                    Ok(ContactKeys {
                        id: row.get(0)?,
                        email: row.get(1)?,
                        phone: row.get(2)?,
                    })
                })
                .optional()
        })
    }

    /// Inserts a new contact with a value for every column of
    /// [`Store::contact_columns`], in order; returns its row number.
    pub fn insert_contact<'a>(
        &self,
        id: &str,
        values: impl IntoIterator<Item = &'a Scalar>,
    ) -> Result<i64, StoreError> {
        self.run(|| {
            let parameters = std::iter::once(&id as &dyn ToSql)
                .chain(values.into_iter().map(|value| value as &dyn ToSql));
            self.connection
                .prepare_cached(&self.statements.insert)?
                .execute(rusqlite::params_from_iter(parameters))?;
            Ok(self.connection.last_insert_rowid())
        })
    }

    /// The stored values of a contact's columns, in the order of
    /// [`Store::contact_columns`].
    pub fn contact_values(&self, id: &str) -> Result<Option<Vec<Scalar>>, StoreError> {
        let width = self.statements.columns.len();
        self.run(|| {
            self.connection
                .prepare_cached(&self.statements.select)?
                .query_row([id], |row| {
                    (0..width)
                        .map(|index| row.get_ref(index).map(Scalar::read))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .optional()
        })
    }

    /// Sets the given columns of a contact (`None` keeps the stored value).
    pub fn update_contact(&self, id: &str, values: &[Option<Scalar>]) -> Result<(), StoreError> {
        self.run(|| {
            let parameters = std::iter::once(&id as &dyn ToSql).chain(
                values
                    .iter()
                    .map(|value| value.as_ref().unwrap_or(&Scalar::Null) as &dyn ToSql),
            );
            self.connection
                .prepare_cached(&self.statements.update)?
                .execute(rusqlite::params_from_iter(parameters))?;
            Ok(())
        })
    }

    /// Records `alias` as another id of `contact`; `false` when it already was one.
    pub fn add_alias(&self, alias: &str, contact: &str) -> Result<bool, StoreError> {
        self.run(|| {
            Ok(self
                .connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO contact_aliases (alias, contact_id) VALUES (?1, ?2)",
                )?
                .execute(params![alias, contact])?
                > 0)
        })
    }

    /// The aliases of a contact, in order.
    pub fn aliases(&self, contact: &str) -> Result<Vec<String>, StoreError> {
        self.run(|| {
            let mut statement = self.connection.prepare_cached(
                "SELECT alias FROM contact_aliases WHERE contact_id = ?1 ORDER BY alias",
            )?;
            let rows = statement.query_map([contact], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// Whether the store holds any contact at all.
    pub fn has_contacts(&self) -> Result<bool, StoreError> {
        self.run(|| {
            self.connection
                .query_row("SELECT EXISTS (SELECT 1 FROM contacts)", [], |row| {
                    row.get(0)
                })
        })
    }

    /// How many merge keys the store holds at most: three per contact
    /// (id, email, phone) and one per alias.
    pub fn merge_key_count(&self) -> Result<u64, StoreError> {
        self.run(|| {
            let contacts: i64 =
                self.connection
                    .query_row("SELECT count(*) FROM contacts", [], |row| row.get(0))?;
            let aliases: i64 =
                self.connection
                    .query_row("SELECT count(*) FROM contact_aliases", [], |row| row.get(0))?;
            Ok(contacts.max(0) as u64 * 3 + aliases.max(0) as u64)
        })
    }

    /// Streams every merge key: each contact's id, email and phone, and
    /// every alias (as an id).
    pub fn each_merge_key(&self, mut visit: impl FnMut(MergeKey, &str)) -> Result<(), StoreError> {
        self.run(|| {
            let mut statement = self
                .connection
                .prepare("SELECT id, email, phone FROM contacts")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                for (index, kind) in [
                    (0, MergeKey::Id),
                    (1, MergeKey::Email),
                    (2, MergeKey::Phone),
                ] {
                    if let Ok(text) = row.get_ref(index)?.as_str() {
                        visit(kind, text);
                    }
                }
            }
            let mut statement = self
                .connection
                .prepare("SELECT alias FROM contact_aliases")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                if let Ok(text) = row.get_ref(0)?.as_str() {
                    visit(MergeKey::Id, text);
                }
            }
            Ok(())
        })
    }

    /// A number that changes whenever another connection commits a change
    /// to the store (SQLite's `PRAGMA data_version`): a cache of the
    /// store's keys compares it to know when to reload.
    pub fn change_counter(&self) -> Result<i64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |row| row.get(0))
        })
    }

    /// For an import into an empty store: drops the email, phone and
    /// consent-history indexes, to be built once by
    /// [`Store::finish_bulk_load`] after the load (one sort instead of a
    /// random b-tree insert per row), and shrinks the page cache, which the
    /// load needs less of without them. Returns whether the store was
    /// empty and the mode started; the caller then finds emails and phones
    /// without the indexes ([`Store::contact_keys_at`]). A store left
    /// without them (a killed import) gets them back when next opened.
    pub fn start_bulk_load(&self) -> Result<bool, StoreError> {
        self.begin()?;
        let started = self.run(|| {
            let empty: bool = self.connection.query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM contacts)
                   AND NOT EXISTS (SELECT 1 FROM contact_aliases)
                   AND NOT EXISTS (SELECT 1 FROM consent_history)",
                [],
                |row| row.get(0),
            )?;
            if empty {
                self.connection.execute_batch(schema::DROP_MERGE_INDEXES)?;
            }
            Ok(empty)
        });
        let empty = match started {
            Ok(empty) => empty,
            Err(error) => {
                self.rollback();
                return Err(error);
            }
        };
        self.commit()?;
        if empty {
            self.run(|| {
                let cache: i64 = self
                    .connection
                    .query_row("PRAGMA cache_size", [], |row| row.get(0))?;
                self.connection
                    .execute_batch("PRAGMA cache_size = -16384")?;
                self.bulk_cache.set(Some(cache));
                Ok(())
            })?;
        }
        Ok(empty)
    }

    /// Leaves bulk-load mode inside the current transaction: builds the
    /// indexes and restores the page cache. Nothing happens outside the mode.
    pub fn leave_bulk_load(&self) -> Result<(), StoreError> {
        if let Some(cache) = self.bulk_cache.take() {
            self.run(|| {
                self.connection.execute_batch(schema::MERGE_INDEXES)?;
                self.connection.pragma_update(None, "cache_size", cache)
            })?;
        }
        Ok(())
    }

    /// Ends bulk-load mode in a transaction of its own: builds the indexes
    /// it dropped (or any a killed import left out).
    pub fn finish_bulk_load(&self) -> Result<(), StoreError> {
        let bulk = self.bulk_cache.take();
        self.run(|| {
            if bulk.is_none() && super::merge_indexes_present(&self.connection)? {
                return Ok(());
            }
            // The index sorter holds as much as the page cache: a smaller
            // cache while building keeps the two under the import's peak.
            let cache = match bulk {
                Some(cache) => cache,
                None => self
                    .connection
                    .query_row("PRAGMA cache_size", [], |row| row.get(0))?,
            };
            self.connection
                .execute_batch("PRAGMA cache_size = -16384")?;
            let built = self.connection.execute_batch(&format!(
                "BEGIN IMMEDIATE; {} COMMIT",
                schema::MERGE_INDEXES
            ));
            if built.is_err() {
                self.rollback();
            }
            self.connection.pragma_update(None, "cache_size", cache)?;
            built
        })
    }

    /// Inserts or replaces a contact with its consent, suppressions and events.
    pub fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        self.run(|| {
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
            Ok(())
        })?;
        self.put_consents_and_suppressions(contact)?;
        for event in &contact.events {
            self.put_event(&contact.id, event)?;
        }
        Ok(())
    }

    /// Reads one contact with its consent, suppressions and events, for in-memory evaluation.
    pub fn contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        let names: Vec<(&String, &FieldType)> = self.catalog.attributes.iter().collect();
        let columns: Vec<String> = names.iter().map(|(n, _)| schema::identifier(n)).collect();
        let sql = format!("SELECT {} FROM contacts WHERE id = ?1", columns.join(", "));
        let contact = self.run(|| {
            self.connection
                .prepare_cached(&sql)?
                .query_row([id], |row| read_attributes(id.to_string(), row, 0, &names))
                .optional()
        })?;
        let Some(mut contact) = contact else {
            return Ok(None);
        };
        for consent in self.consents(id)? {
            contact.consents.insert(consent.channel, consent.granted);
        }
        for suppression in self.suppressions(id)? {
            contact.suppressions.insert(suppression.channel);
        }
        contact.events = self.events_of(id)?;
        Ok(Some(contact))
    }

    /// Streams every contact's attributes, in storage order, one row at a
    /// time: a send (or the render benchmark) over millions of contacts
    /// holds one row in memory, not the table. Consent, suppressions and
    /// events are not read; [`Store::contact`] reads them for one contact.
    /// `visit` breaks to stop early.
    pub fn each_contact(
        &self,
        mut visit: impl FnMut(Contact) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let names: Vec<(&String, &FieldType)> = self.catalog.attributes.iter().collect();
        let columns: Vec<String> = names.iter().map(|(n, _)| schema::identifier(n)).collect();
        let sql = format!(
            "SELECT id, {} FROM contacts ORDER BY rowid",
            columns.join(", ")
        );
        self.run(|| {
            let mut statement = self.connection.prepare(&sql)?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let contact = read_attributes(row.get(0)?, row, 1, &names)?;
                if visit(contact).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }
}
