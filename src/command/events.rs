//! `herald events ingest`: checks the lines of a JSONL file against the
//! event types the manifest declares and adds them to the store
//! ([`crate::contacts::ingest`]). Exit status: 0 every line ingested, 1
//! some rejected, 2 the command could not run (no store yet).

use std::path::{Path, PathBuf};

use super::contacts::{file_size, open_store, report, rules, with_project};
use super::{OutputFormat, Settings};
use crate::contacts::{batch, files};
use crate::error::Error;
use crate::model::Manifest;

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
    file_size(file)?;
    let rejects_path =
        rejects.map_or_else(|| batch::default_rejects(file, false), Path::to_path_buf);
    let rejects = batch::Rejects::create(rejects_path.clone(), file).map_err(Error::Usage)?;
    let rules = rules(manifest)?;
    let path = settings.store.existing(manifest)?;
    let store = open_store(&path, manifest)?;
    let summary = files::ingest_events(&store, manifest, &rules, file, rejects)?;
    report("events", file, &summary, &rejects_path, format)
}
