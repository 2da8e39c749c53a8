//! `herald contacts import`, `herald contacts clean` and `herald contacts
//! show`: they read the manifest (the data model, the default phone region,
//! the time zone), open the store and drive [`crate::contacts`]. Exit
//! status: 0 all rows fine, 1 some rejected (or the file has an unknown
//! column, or no such contact), 2 the command could not run.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::{Now, OutputFormat, Settings, print};
use crate::Compilation;
use crate::contacts::{batch, clean, files, show};
use crate::diagnostic::Diagnostics;
use crate::error::Error;
use crate::loader::Project;
use crate::model::Manifest;
use crate::report::{Format, Reporter};
use crate::segment::catalog::Catalog;
use crate::store::Store;

/// What `herald contacts` was asked.
#[derive(Debug)]
pub enum Request {
    Import {
        file: PathBuf,
        /// CSV, else JSONL.
        csv: bool,
        rejects: Option<PathBuf>,
        format: OutputFormat,
    },
    Clean {
        dry_run: bool,
        now: Option<Now>,
        format: OutputFormat,
    },
    Show {
        id: String,
        events: usize,
        now: Option<Now>,
        format: OutputFormat,
    },
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    match request {
        Request::Import {
            file,
            csv,
            rejects,
            format,
        } => with_project(settings, |_, manifest| {
            import_contacts(settings, manifest, file, *csv, rejects.as_deref(), *format)
        }),
        Request::Clean {
            dry_run,
            now,
            format,
        } => {
            // Cleaning acts on the program `check` validates: the lapse
            // period and the conversion goals come typed from the compilation.
            let compilation = crate::compile(&settings.project)?;
            let Some(manifest) = &compilation.project.manifest else {
                return Ok(unloaded(
                    settings,
                    &compilation.project,
                    &compilation.diagnostics,
                ));
            };
            clean_contacts(
                settings,
                &compilation,
                &manifest.value,
                *dry_run,
                now.as_ref(),
                *format,
            )
        }
        Request::Show {
            id,
            events,
            now,
            format,
        } => with_project(settings, |project, manifest| {
            show_contact(
                settings,
                project,
                manifest,
                id,
                *events,
                now.as_ref(),
                *format,
            )
        }),
    }
}

/// Runs `command` on the loaded project and its manifest; exits 1 after
/// printing the diagnostics that say why the manifest did not load.
pub(super) fn with_project(
    settings: &Settings,
    command: impl FnOnce(&Project, &Manifest) -> Result<i32, Error>,
) -> Result<i32, Error> {
    let (project, diagnostics) =
        crate::loader::load(&settings.project, &crate::schema::Schemas::new())?;
    let Some(manifest) = &project.manifest else {
        return Ok(unloaded(settings, &project, &diagnostics));
    };
    command(&project, &manifest.value)
}

/// Prints the diagnostics that say why the manifest did not load; exit status 1.
fn unloaded(settings: &Settings, project: &Project, diagnostics: &Diagnostics) -> i32 {
    let reporter = Reporter {
        sources: &project.sources,
        prefix: settings.prefix(),
        color: false,
    };
    eprint!("{}", reporter.render(Format::Human, diagnostics));
    1
}

pub(super) fn open_store(path: &Path, manifest: &Manifest) -> Result<Store, Error> {
    let store = Store::open(path, manifest)?;
    store.tune_for_batches()?;
    Ok(store)
}

pub(super) use crate::contacts::files::{rules, size as file_size};

pub(super) fn report(
    what: &str,
    file: &Path,
    summary: &batch::Summary,
    rejects: &Path,
    format: OutputFormat,
) -> Result<i32, Error> {
    let out = match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(summary).unwrap_or(Json::Null);
            if summary.rejected > 0 {
                value["rejects"] = Json::String(rejects.display().to_string());
            }
            format!("{value}\n")
        }
        OutputFormat::Human => format!("{}\n", summary_line(what, file, summary, rejects)),
    };
    print(&out)?;
    if let Some(warning) = summary.created_at_warning(file) {
        eprintln!("{warning}");
    }
    Ok(i32::from(summary.rejected > 0))
}

/// `FILE: N contacts: N inserted, N updated, N unchanged, N rejected (see REJECTS)`.
pub(super) fn summary_line(
    what: &str,
    file: &Path,
    summary: &batch::Summary,
    rejects: &Path,
) -> String {
    let mut line = format!(
        "{}: {} {what}: {} inserted, {} updated, {} unchanged, {} rejected",
        file.display(),
        summary.inserted + summary.updated + summary.unchanged + summary.rejected,
        summary.inserted,
        summary.updated,
        summary.unchanged,
        summary.rejected
    );
    if summary.rejected > 0 {
        line.push_str(&format!(" (see {})", rejects.display()));
    }
    if summary.merged > 0 {
        line.push_str(&format!(
            "; {} merged into earlier rows of the file",
            summary.merged
        ));
    }
    line
}

fn import_contacts(
    settings: &Settings,
    manifest: &Manifest,
    file: &Path,
    csv: bool,
    rejects: Option<&Path>,
    format: OutputFormat,
) -> Result<i32, Error> {
    file_size(file)?;
    let rejects_path = rejects.map_or_else(|| batch::default_rejects(file, csv), Path::to_path_buf);
    let rejects = batch::Rejects::create(rejects_path.clone(), file).map_err(Error::Usage)?;
    let rules = rules(manifest)?;
    let path = settings.store.path(manifest);
    let store = open_store(&path, manifest)?;
    let now = jiff::Timestamp::now().as_second();
    match files::import_contacts(&store, manifest, &rules, file, csv, rejects, now)? {
        files::Imported::Done(summary) => report("contacts", file, &summary, &rejects_path, format),
        files::Imported::Unreadable(problems) => {
            unreadable(file, &problems);
            Ok(1)
        }
    }
}

/// Says why a contacts file's header cannot be imported.
pub(super) fn unreadable(file: &Path, problems: &[String]) {
    for problem in problems {
        eprintln!("herald: {}:1: {problem}", file.display());
    }
    eprintln!("herald: nothing was imported");
}

/// Lapses and conversions come from the compiled program: the policies'
/// typed `lapse_after` and the goals of campaigns and journeys.
fn clean_contacts(
    settings: &Settings,
    compilation: &Compilation,
    manifest: &Manifest,
    dry_run: bool,
    now: Option<&Now>,
    format: OutputFormat,
) -> Result<i32, Error> {
    let now = Now::or_current(now, &manifest.timezone.value)?;
    let rules = rules(manifest)?;
    let lapse_after = compilation.policies.lapse_after;
    if lapse_after.is_none() && manifest.policies.lapse_after.is_some() {
        return Err(Error::Usage(
            "policies.lapse_after is not a duration; `herald check` says why".into(),
        ));
    }
    let cutoff = lapse_after.map(|duration| {
        let clock = crate::segment::functions::Clock::new(now, &manifest.timezone.value);
        clock.ago(duration).as_second()
    });
    let goals = compilation
        .campaigns
        .iter()
        .filter_map(|campaign| campaign.goal.as_ref())
        .chain(
            compilation
                .journeys
                .iter()
                .filter_map(|journey| journey.goal.as_ref()),
        );
    let mut conversions: Vec<String> = goals.map(|goal| goal.event.clone()).collect();
    if conversions.is_empty() && manifest.events.keys().any(|e| e.value == "purchase") {
        conversions.push("purchase".into());
    }
    conversions.sort();
    conversions.dedup();
    let path = settings.store.existing(manifest)?;
    let store = open_store(&path, manifest)?;
    let clean_settings = clean::Settings {
        rules: &rules,
        now: now.as_second(),
        cutoff,
        conversions: conversions.clone(),
        dry_run,
    };
    let mut changes: Vec<clean::Change> = Vec::new();
    let mut counts = [0u64; 3];
    let mut lines = String::new();
    let checked = clean::run(&store, &clean_settings, &mut |change| {
        let index = match change.action {
            "suppress" => 0,
            "lapse" => 1,
            _ => 2,
        };
        counts[index] += 1;
        if dry_run {
            match format {
                OutputFormat::Json if changes.len() < 100_000 => changes.push(change.clone()),
                OutputFormat::Json => {}
                OutputFormat::Human => {
                    let what = match &change.channel {
                        Some(channel) => format!("{} {channel}", change.action),
                        None => change.action.to_string(),
                    };
                    lines.push_str(&format!("{}  {what}: {}\n", change.contact, change.reason));
                }
            }
        }
    })?;
    let out = match format {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "checked": checked,
                "suppressed_invalid": counts[0],
                "lapsed": counts[1],
                "no_longer_lapsed": counts[2],
                "dry_run": dry_run,
                "changes": changes,
            })
        ),
        OutputFormat::Human => {
            let mut out = lines;
            let verb = if dry_run { "would be" } else { "" };
            let verb = |text: &str| {
                if dry_run {
                    format!("{verb} {text}")
                } else {
                    text.to_string()
                }
            };
            out.push_str(&format!(
                "{checked} contacts checked: {} {}, {} {}, {} {}",
                counts[0],
                verb("suppressed as invalid"),
                counts[1],
                verb("marked lapsed"),
                counts[2],
                verb("no longer lapsed"),
            ));
            if cutoff.is_none() {
                out.push_str(" (no `policies.lapse_after` in herald.yaml: lapses not checked)");
            } else if conversions.is_empty() {
                out.push_str(" (no goal events or `purchase` event: conversions unknown)");
            }
            if dry_run {
                out.push_str("; dry run, nothing changed");
            }
            out.push('\n');
            out
        }
    };
    print(&out)?;
    Ok(0)
}

fn show_contact(
    settings: &Settings,
    project: &Project,
    manifest: &Manifest,
    id: &str,
    events: usize,
    now: Option<&Now>,
    format: OutputFormat,
) -> Result<i32, Error> {
    let timezone = &manifest.timezone.value;
    let now = Now::or_current(now, timezone)?;
    let path = settings.store.existing(manifest)?;
    let store = Store::open_read_only(&path, Catalog::from_manifest(manifest))?;
    let Some(resolved) = store.resolve_contact(id)? else {
        eprintln!("herald: no contact `{id}` in {}", path.display());
        return Ok(1);
    };
    let Some(contact) = store.contact(&resolved)? else {
        eprintln!("herald: no contact `{id}` in {}", path.display());
        return Ok(1);
    };
    let (filters, _) = crate::segment::check::check(project);
    let segments = filters.segment_exprs();
    let clock = crate::segment::functions::Clock::new(now, timezone);
    let evaluator = crate::segment::eval::Evaluator {
        catalog: &filters.catalog,
        clock: &clock,
        segments: &segments,
        context: Default::default(),
        trigger: None,
    };
    let members: Vec<String> = filters
        .filters
        .iter()
        .filter_map(|filter| match (&filter.site, &filter.expr) {
            (crate::segment::check::Site::Segment(name), Some(expr)) if filter.valid => {
                evaluator.matches(expr, &contact).then(|| name.clone())
            }
            _ => None,
        })
        .collect();
    let described = show::describe(&store, &contact, members, events)?;
    let out = match format {
        OutputFormat::Json => format!("{described}\n"),
        OutputFormat::Human => show::render(&described),
    };
    print(&out)?;
    Ok(0)
}
