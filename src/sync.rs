//! Sync: brings the store up to date with the manifest's `sources:`. Every
//! source file whose content hash differs from the one recorded at its last
//! import is imported again with the same code as `contacts import` and
//! `events ingest` ([`crate::contacts::files`]), contacts before events so
//! that events find the contacts they belong to. Both imports are
//! idempotent, so a file imported twice (a crash between the import and the
//! hash's record, a forced sync) leaves the store as once.
//!
//! `herald sync` drives it; so do `plan` (before it opens the store
//! read-only) and `run`, unless `--no-sync`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::compilation::{Compilation, SourceFile};
use crate::contacts::batch::{self, Rejects, Summary};
use crate::contacts::files::{self, Imported};
use crate::error::Error;
use crate::store::Store;

/// What a sync is asked to do beyond the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Import every file, changed or not: after the data model in
    /// herald.yaml changed, rows rejected before may be accepted now.
    pub force: bool,
    /// The time recorded for the sync and for consents given without one
    /// (unix seconds).
    pub now: i64,
}

/// Which import a source file goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Contacts,
    Events,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Contacts => "contacts",
            SourceKind::Events => "events",
        }
    }
}

/// What a sync did with one file.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The same content as at the last sync: not read again.
    Unchanged,
    /// Imported; rejected rows are in `rejects` with their line numbers.
    Imported {
        #[serde(flatten)]
        summary: Summary,
        #[serde(skip_serializing_if = "Option::is_none")]
        rejects: Option<PathBuf>,
    },
    /// The file cannot be imported at all (a CSV header with an unknown
    /// column, say); nothing of it was imported and it is tried again at
    /// the next sync.
    Unreadable { problems: Vec<String> },
    /// The file was there when the project was checked and is gone now.
    Missing,
}

/// One source file and what became of it.
#[derive(Debug, serde::Serialize)]
pub struct SyncedFile {
    pub kind: SourceKind,
    /// The path relative to the project, as `sources:` names it.
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Every source file of a sync, contacts first, in the order of `sources:`.
#[derive(Debug, Default, serde::Serialize)]
pub struct SyncReport {
    pub files: Vec<SyncedFile>,
}

impl SyncReport {
    /// Whether any file was imported (the store may have changed).
    pub fn imported(&self) -> bool {
        self.files
            .iter()
            .any(|file| matches!(file.outcome, Outcome::Imported { .. }))
    }

    /// Whether a file had rejected rows, could not be read or went missing.
    pub fn has_problems(&self) -> bool {
        self.files.iter().any(|file| match &file.outcome {
            Outcome::Imported { summary, .. } => summary.rejected > 0,
            Outcome::Unreadable { .. } | Outcome::Missing => true,
            Outcome::Unchanged => false,
        })
    }
}

/// Imports every source file of `compilation` that changed since its last
/// sync into `store` (opened for writing). The compilation's manifest gives
/// the data model; without one there is nothing to sync.
pub fn sync(
    compilation: &Compilation,
    store: &Store,
    options: &Options,
) -> Result<SyncReport, Error> {
    let mut report = SyncReport::default();
    let Some(manifest) = compilation.project.manifest.as_ref().map(|m| &m.value) else {
        return Ok(report);
    };
    let sources = &compilation.sources;
    if sources.contacts.is_empty() && sources.events.is_empty() {
        return Ok(report);
    }
    let rules = files::rules(manifest)?;
    let files = sources
        .contacts
        .iter()
        .map(|file| (SourceKind::Contacts, file))
        .chain(sources.events.iter().map(|file| (SourceKind::Events, file)));
    for (kind, source) in files {
        let Some(hash) = content_hash(&source.path)? else {
            report.files.push(synced(kind, source, Outcome::Missing));
            continue;
        };
        if !options.force && store.source_hash(&source.name)?.as_deref() == Some(hash.as_str()) {
            report.files.push(synced(kind, source, Outcome::Unchanged));
            continue;
        }
        let csv = kind == SourceKind::Contacts
            && crate::contacts::read::csv_by_extension(&source.path).unwrap_or(false);
        let rejects_path = batch::default_rejects(&source.path, csv);
        let rejects = Rejects::create(rejects_path.clone(), &source.path).map_err(Error::Usage)?;
        let summary = match kind {
            SourceKind::Contacts => {
                match files::import_contacts(
                    store,
                    manifest,
                    &rules,
                    &source.path,
                    csv,
                    rejects,
                    options.now,
                )? {
                    Imported::Done(summary) => summary,
                    Imported::Unreadable(problems) => {
                        report
                            .files
                            .push(synced(kind, source, Outcome::Unreadable { problems }));
                        continue;
                    }
                }
            }
            SourceKind::Events => {
                files::ingest_events(store, manifest, &rules, &source.path, rejects)?
            }
        };
        store.record_source(&source.name, &hash, options.now)?;
        let rejects = (summary.rejected > 0).then_some(rejects_path);
        report
            .files
            .push(synced(kind, source, Outcome::Imported { summary, rejects }));
    }
    Ok(report)
}

fn synced(kind: SourceKind, source: &SourceFile, outcome: Outcome) -> SyncedFile {
    SyncedFile {
        kind,
        name: source.name.clone(),
        path: source.path.clone(),
        outcome,
    }
}

/// The SHA-256 of a file's content in hexadecimal; `None` when it does not exist.
fn content_hash(path: &Path) -> Result<Option<String>, Error> {
    use sha2::Digest;
    let unreadable =
        |error: std::io::Error| Error::Usage(format!("cannot read {}: {error}", path.display()));
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(unreadable(error)),
    };
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(unreadable)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Some(crate::provider::hex(&hasher.finalize())))
}
