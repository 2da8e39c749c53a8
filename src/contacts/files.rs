//! Whole files into the store: the one path that `contacts import`,
//! `events ingest` and `sync` take, so a file imported by hand and the same
//! file synced from `sources:` give the same store and the same rejects.
//! The caller opens the store and creates the rejects file (so a rejects
//! path that cannot be written stops it before the store is touched) and
//! reports the [`Summary`].

use std::path::Path;

use serde_json::Value as Json;

use super::batch::{self, Rejects, Summary};
use super::normalise::Rules;
use super::{import, ingest, keys, read};
use crate::error::Error;
use crate::model::Manifest;
use crate::store::{Store, StoreError};

/// What importing a contacts file did.
#[derive(Debug)]
pub enum Imported {
    Done(Summary),
    /// The CSV header cannot be read as contacts (an unknown column, say):
    /// nothing was imported. Each problem is one line for the user.
    Unreadable(Vec<String>),
}

/// The normalisation rules of the manifest: the default phone region and time zone.
pub fn rules(manifest: &Manifest) -> Result<Rules, Error> {
    Rules::new(
        manifest.country.as_ref().map(|c| c.value.as_str()),
        &manifest.timezone.value,
    )
    .map_err(Error::Usage)
}

/// The size of `file` in bytes, for the progress bar; an unreadable file is a usage error.
pub fn size(file: &Path) -> Result<u64, Error> {
    std::fs::metadata(file)
        .map(|m| m.len())
        .map_err(|error| Error::Usage(format!("cannot read {}: {error}", file.display())))
}

fn store_failure(store: &Store, reason: String) -> Error {
    Error::from(StoreError {
        path: store.path().to_path_buf(),
        reason,
    })
}

/// Imports a contacts file (CSV when `csv`, else JSONL) into `store`,
/// merging by id, email and phone, the rejected rows going to `rejects`.
/// `now` (unix seconds) stamps consents given without a time.
pub fn import_contacts(
    store: &Store,
    manifest: &Manifest,
    rules: &Rules,
    file: &Path,
    csv: bool,
    rejects: Rejects,
    now: i64,
) -> Result<Imported, Error> {
    let layout = import::Layout::new(store, manifest);
    let into_empty_store = !store.has_contacts()?;
    let bar = batch::progress(size(file)?, "importing contacts");
    let mut keys = keys::Keys::load(store)?;
    keys.bulk(store)?;
    // The two formats differ in how a line is read and normalised; batching,
    // writing and rejects are the same.
    type Normalise<'a> = Box<dyn Fn(&batch::Line) -> Result<import::Record, String> + Sync + 'a>;
    let layout = &layout;
    let (mut read, mut rejects, normalise): (_, _, Normalise) = if csv {
        let field = |name: &str| layout.field(name);
        let (header, fields, read) = match read::csv_reader(file, &field) {
            Ok(opened) => opened,
            Err(problems) => {
                keys.finish(store)?;
                return Ok(Imported::Unreadable(problems));
            }
        };
        let normalise = move |line: &batch::Line| -> Result<import::Record, String> {
            let batch::Raw::Csv(cells) = &line.raw else {
                return Err("not a CSV record".into());
            };
            let values: Vec<(import::Field, Json)> = fields
                .iter()
                .cloned()
                .zip(cells.iter().map(|cell| Json::String(cell.clone())))
                .collect();
            import::normalise(layout, rules, &values)
        };
        (read, rejects.with_csv_header(header), Box::new(normalise))
    } else {
        let read = read::jsonl_reader(file).map_err(Error::Usage)?;
        let normalise = move |line: &batch::Line| -> Result<import::Record, String> {
            let batch::Raw::Json(text) = &line.raw else {
                return Err("not a JSON line".into());
            };
            let fields = import::json_fields(layout, text)?;
            import::normalise(layout, rules, &fields)
        };
        (read, rejects, Box::new(normalise))
    };
    let mut written = keys::Written::new(store)?;
    let mut write = |record: &import::Record| {
        import::write(store, layout, &mut keys, &mut written, now, record)
    };
    let summary = batch::run(
        store,
        &mut *read,
        &*normalise,
        &mut write,
        &mut rejects,
        bar.as_ref(),
        batch::CHUNK,
    );
    // Whether the import finished or failed, the indexes a bulk load
    // dropped are built before the store is left.
    let finished = keys.finish(store);
    let mut summary = summary.map_err(|reason| store_failure(store, reason))?;
    finished?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary.into_empty_store = into_empty_store;
    Ok(Imported::Done(summary))
}

/// Ingests a JSONL file of events into `store`, checked against the
/// manifest's event types, the rejected lines going to `rejects`.
pub fn ingest_events(
    store: &Store,
    manifest: &Manifest,
    rules: &Rules,
    file: &Path,
    mut rejects: Rejects,
) -> Result<Summary, Error> {
    let types = ingest::EventTypes::new(manifest);
    let bar = batch::progress(size(file)?, "ingesting events");
    let mut read = read::jsonl_reader(file).map_err(Error::Usage)?;
    let normalise = |line: &batch::Line| -> Result<ingest::EventRecord, String> {
        let batch::Raw::Json(text) = &line.raw else {
            return Err("not a JSON line".into());
        };
        ingest::normalise(&types, rules, text)
    };
    let mut write = |record: &ingest::EventRecord| ingest::write(store, record);
    let summary = batch::run(
        store,
        &mut *read,
        &normalise,
        &mut write,
        &mut rejects,
        bar.as_ref(),
        batch::EVENT_CHUNK,
    )
    .map_err(|reason| store_failure(store, reason))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(summary)
}
