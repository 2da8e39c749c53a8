//! `herald simulate`: runs the project from `--from` to `--to` in virtual
//! time on a copy of the store ([`crate::simulate`]) and prints the
//! timeline, by day for a reader or as the JSON array documented in
//! [`crate::simulate::timeline`]. The `--events` file is read and checked
//! here, whole, before anything runs. Exit status: 0 the simulation ran,
//! 1 the project has errors or a tick's plan would be refused (render
//! failures, over budget), 2 bad arguments or an unusable events file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::plan::{compiled, human as plan_human, local};
use super::{Now, OutputFormat, Settings, print};
use crate::contacts::files;
use crate::contacts::ingest::{self, EventTypes};
use crate::error::Error;
use crate::model::Manifest;
use crate::simulate::{self, EntryKind, FileEvent, Outcome};

/// What `herald simulate` was asked.
#[derive(Debug)]
pub struct Request {
    pub from: Now,
    pub to: Now,
    pub step: SignedDuration,
    pub events: Option<PathBuf>,
    pub contact: Option<String>,
    pub sync: bool,
    /// Where to keep the simulated store.
    pub keep_store: Option<PathBuf>,
    pub format: OutputFormat,
}

/// `--step`: `1h`, `30m`, `1d`, or spelt out (`15 minutes`, `2 hours`).
pub fn parse_step(text: &str) -> Result<SignedDuration, Error> {
    use crate::duration::{Duration, Unit};
    let bad = |why: &str| {
        Error::Usage(format!(
            "--step `{text}` {why}; give minutes, hours, days or weeks, e.g. `1h`, `30m`, `1d` \
             or `15 minutes`"
        ))
    };
    let duration = Duration::parse(text)
        .ok()
        .or_else(|| Duration::from_shorthand(text.trim()))
        .ok_or_else(|| bad("is not a duration"))?;
    let minutes = match duration.unit {
        Unit::Month | Unit::Year => return Err(bad("is not a fixed length")),
        _ => duration.approximate_minutes(),
    };
    if minutes < 1 {
        return Err(bad("must be at least a minute"));
    }
    Ok(SignedDuration::from_mins(minutes))
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "simulated")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let manifest = &manifest.value;
    let timezone = &manifest.timezone.value;
    let from = request.from.instant(timezone)?;
    let to = request.to.instant(timezone)?;
    if to <= from {
        return Err(Error::Usage(format!(
            "--to ({to}) must be after --from ({from})"
        )));
    }
    // VACUUM INTO refuses an existing file, and a store is not something to
    // overwrite by accident: say so before a month is simulated.
    if let Some(keep) = request.keep_store.as_ref().filter(|keep| keep.exists()) {
        return Err(Error::Usage(format!(
            "--keep-store {}: the file exists; give a new file",
            keep.display()
        )));
    }
    let events = match &request.events {
        Some(path) => read_events(manifest, path, from, to)?,
        None => Vec::new(),
    };
    let store = settings.store.path(manifest);
    let started = std::time::Instant::now();
    let outcome = simulate::simulate(
        &compilation,
        store.is_file().then_some(store.as_path()),
        &simulate::Request {
            from,
            to,
            step: request.step,
            events,
            sync: request.sync,
            keep: request.keep_store.clone(),
        },
    )?;
    let simulated = match outcome {
        Outcome::Finished(simulated) => simulated,
        Outcome::Refused { at, plan } => {
            eprint!("{}", plan_human(&compilation, &plan));
            eprintln!(
                "error: the simulation stopped at {at}: the plan has render failures or a \
                 campaign over its budget, which `herald run` refuses too"
            );
            return Ok(1);
        }
    };
    let timeline = match &request.contact {
        Some(contact) => simulated.timeline.of_contact(contact),
        None => simulated.timeline,
    };
    match request.format {
        OutputFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&timeline).unwrap_or_default()
        ))?,
        OutputFormat::Human => {
            let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
            let mut out = String::new();
            let _ = writeln!(
                out,
                "Simulated {} to {}, a tick every {}: {} ticks, {} events from the file; \
                 nothing was sent and the store is untouched",
                local(from, &zone),
                local(to, &zone),
                step_text(request.step),
                simulated.ticks,
                simulated.events
            );
            if let Some(keep) = &request.keep_store {
                let _ = writeln!(
                    out,
                    "The simulated store is kept in {} (`herald report --store {}`)",
                    keep.display(),
                    keep.display()
                );
            }
            if let Some(contact) = &request.contact {
                let _ = writeln!(out, "Contact {contact} only");
            }
            let _ = writeln!(
                out,
                "{} sent, {} skipped, {} deferred by quiet hours\n",
                timeline.count(EntryKind::Sent),
                timeline.count(EntryKind::Skipped),
                timeline.count(EntryKind::Deferred)
            );
            if timeline.entries.is_empty() {
                let _ = writeln!(out, "Nothing happened.");
            }
            out.push_str(&timeline.human(&zone));
            print(&out)?;
        }
    }
    // Timing goes to stderr, so the output stays comparable run to run.
    eprintln!("simulated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(0)
}

fn step_text(step: SignedDuration) -> String {
    let minutes = step.as_secs() / 60;
    match minutes {
        m if m % (24 * 60) == 0 => format!("{} d", m / (24 * 60)),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

/// Reads and checks every line of the events file: each must be an event
/// `herald events ingest` would take, at a time within the simulation.
/// Returned by time (file order among equal times).
fn read_events(
    manifest: &Manifest,
    path: &Path,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<FileEvent>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Error::Usage(format!("--events {}: {error}", path.display())))?;
    let types = EventTypes::new(manifest);
    let rules = files::rules(manifest)?;
    let mut events = Vec::new();
    for (index, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record = ingest::normalise(&types, &rules, line).map_err(|reason| {
            Error::Usage(format!(
                "--events {} line {number}: {reason}",
                path.display()
            ))
        })?;
        if record.at() < from.as_second() || record.at() > to.as_second() {
            let at =
                Timestamp::from_second(record.at()).map_or_else(|_| "?".into(), |t| t.to_string());
            return Err(Error::Usage(format!(
                "--events {} line {number}: the event is at {at}, outside the simulation \
                 ({from} to {to})",
                path.display()
            )));
        }
        events.push(FileEvent {
            line: number,
            record,
        });
    }
    events.sort_by_key(|event| event.record.at());
    Ok(events)
}
