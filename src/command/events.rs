//! `herald events ingest`: checks the lines of a JSONL file against the
//! event types the manifest declares and adds them to the store
//! ([`crate::contacts::ingest`]). Exit status: 0 every line ingested, 1
//! some rejected, 2 the command could not run (no store yet).

use std::path::{Path, PathBuf};

use super::contacts::{file_size, open_store, report, rules, with_project};
use super::{OutputFormat, Settings};
use crate::contacts::{batch, ingest, read};
use crate::error::Error;
use crate::model::Manifest;
use crate::store::StoreError;

/// What `herald events` was asked.
#[derive(Debug)]
pub enum Request {
    Ingest {
        file: PathBuf,
        rejects: Option<PathBuf>,
        format: OutputFormat,
    },
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    with_project(settings, |_, manifest| match request {
        Request::Ingest {
            file,
            rejects,
            format,
        } => ingest_events(settings, manifest, file, rejects.as_deref(), *format),
    })
}

fn ingest_events(
    settings: &Settings,
    manifest: &Manifest,
    file: &Path,
    rejects: Option<&Path>,
    format: OutputFormat,
) -> Result<i32, Error> {
    let size = file_size(file)?;
    let rejects_path =
        rejects.map_or_else(|| batch::default_rejects(file, false), Path::to_path_buf);
    let mut rejects = batch::Rejects::create(rejects_path.clone(), file).map_err(Error::Usage)?;
    let rules = rules(manifest)?;
    let path = settings.store.existing(manifest)?;
    let store = open_store(&path, manifest)?;
    let types = ingest::EventTypes::new(manifest);
    let bar = batch::progress(size, "ingesting events");
    let mut read = read::jsonl_reader(file).map_err(Error::Usage)?;
    let normalise = |line: &batch::Line| -> Result<ingest::EventRecord, String> {
        let batch::Raw::Json(text) = &line.raw else {
            return Err("not a JSON line".into());
        };
        ingest::normalise(&types, &rules, text)
    };
    let mut write = |record: &ingest::EventRecord| ingest::write(&store, record);
    let summary = batch::run(
        &store,
        &mut *read,
        &normalise,
        &mut write,
        &mut rejects,
        bar.as_ref(),
        batch::EVENT_CHUNK,
    )
    .map_err(|reason| {
        Error::from(StoreError {
            path: path.clone(),
            reason,
        })
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report("events", file, &summary, &rejects_path, format)
}
