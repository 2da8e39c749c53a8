//! Source files: the content hash of every file `herald sync` imported, so
//! that the next sync imports only the files that changed since.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

impl Store {
    /// The hash recorded at the last import of the source named `path`.
    pub fn source_hash(&self, path: &str) -> Result<Option<String>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("SELECT hash FROM source_files WHERE path = ?1")?
                .query_row([path], |row| row.get(0))
                .optional()
        })
    }

    /// Records that the source `path` with content `hash` was imported at
    /// `at` (unix seconds).
    pub fn record_source(&self, path: &str, hash: &str, at: i64) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO source_files (path, hash, synced_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (path) DO UPDATE SET hash = excluded.hash, synced_at = excluded.synced_at",
                )?
                .execute(params![path, hash, at])?;
            Ok(())
        })
    }
}
