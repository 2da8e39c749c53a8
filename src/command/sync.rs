//! `herald sync`: imports the manifest's `sources:` that changed since the
//! last sync ([`crate::sync`]) and says what it did, file by file. `plan`
//! runs the same sync first and reports it through [`announce`]. Exit
//! status: 0 every file imported or unchanged, 1 rows rejected or a file
//! that could not be imported (or errors in herald.yaml), 2 the command
//! could not run.

use super::contacts::{open_store, summary_line};
use super::{OutputFormat, Settings, print};
use crate::Compilation;
use crate::error::Error;
use crate::report::{Format, Reporter};
use crate::sync::{self, Outcome, SyncReport};

/// What `herald sync` was asked.
#[derive(Debug)]
pub struct Request {
    pub force: bool,
    pub format: OutputFormat,
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let compilation = crate::compile(&settings.project)?;
    if let Some(status) = refuse(settings, &compilation) {
        return Ok(status);
    }
    let report = synchronise(settings, &compilation, request.force)?;
    let out = match request.format {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        OutputFormat::Human => human(&report),
    };
    print(&out)?;
    warn(&report);
    Ok(i32::from(report.has_problems()))
}

/// Opens the store for writing and syncs: what `sync` and `plan` share.
pub(super) fn synchronise(
    settings: &Settings,
    compilation: &Compilation,
    force: bool,
) -> Result<SyncReport, Error> {
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(SyncReport::default());
    };
    let sources = &compilation.sources;
    if sources.contacts.is_empty() && sources.events.is_empty() {
        return Ok(SyncReport::default());
    }
    let store = open_store(&settings.store.path(&manifest.value), &manifest.value)?;
    let options = sync::Options {
        force,
        now: jiff::Timestamp::now().as_second(),
    };
    sync::sync(compilation, &store, &options)
}

/// Errors in herald.yaml stop a sync (the data model or the sources
/// themselves may be wrong); errors elsewhere, in a template say, do not
/// touch the import. Returns the exit status when the sync must not run.
fn refuse(settings: &Settings, compilation: &Compilation) -> Option<i32> {
    let manifest = compilation.project.manifest_file();
    let in_manifest = |diagnostic: &&crate::diagnostic::Diagnostic| {
        diagnostic.severity == crate::diagnostic::Severity::Error
            && diagnostic.span().map(|span| span.file) == manifest
    };
    let blocking: Vec<_> = compilation.diagnostics.iter().filter(in_manifest).collect();
    if compilation.project.manifest.is_some() && blocking.is_empty() {
        return None;
    }
    let reporter = Reporter {
        sources: &compilation.project.sources,
        prefix: settings.prefix(),
        color: settings.color,
    };
    let shown = if blocking.is_empty() {
        compilation.diagnostics.clone()
    } else {
        blocking.into_iter().cloned().collect()
    };
    eprint!("{}", reporter.render(Format::Human, &shown));
    eprintln!("error: herald.yaml has errors; nothing is synced");
    Some(1)
}

/// The report, a line per file.
fn human(report: &SyncReport) -> String {
    if report.files.is_empty() {
        return "No `sources:` in herald.yaml: nothing to sync.\n".into();
    }
    if !report.imported() && !report.has_problems() {
        let count = report.files.len();
        let files = if count == 1 { "file" } else { "files" };
        return format!("Nothing to sync: {count} source {files} unchanged since the last sync.\n");
    }
    let mut out = String::new();
    for file in &report.files {
        out.push_str(&line(file));
        out.push('\n');
    }
    out
}

fn line(file: &sync::SyncedFile) -> String {
    let path = file.path.display();
    match &file.outcome {
        Outcome::Unchanged => format!("{path}: unchanged since the last sync"),
        Outcome::Imported { summary, rejects } => summary_line(
            file.kind.as_str(),
            &file.path,
            summary,
            rejects.as_deref().unwrap_or(&file.path),
        ),
        Outcome::Unreadable { problems } => format!(
            "{path}: nothing imported: {}; it is tried again at the next sync",
            problems.join("; ")
        ),
        Outcome::Missing => format!("{path}: missing, not imported"),
    }
}

/// What `plan` prints (to standard error, so `--format json` stays one
/// document) about the sync it ran first: the files it imported or could
/// not, nothing when every file was unchanged.
pub(super) fn announce(report: &SyncReport) {
    for file in &report.files {
        if !matches!(file.outcome, Outcome::Unchanged) {
            eprintln!("synced {}", line(file));
        }
    }
    warn(report);
}

/// The warnings of the imports, on stderr so that output stays the report.
fn warn(report: &SyncReport) {
    for file in &report.files {
        if let Outcome::Imported { summary, .. } = &file.outcome
            && let Some(warning) = summary.created_at_warning(&file.path)
        {
            eprintln!("{warning}");
        }
    }
}
