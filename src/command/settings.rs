//! Turns the raw command-line [`Arguments`] into validated [`Settings`]
//! before anything runs, so that a wrong value (a `--now` that is not a
//! time, a contacts file whose format cannot be told) ends the command with
//! status 2 before the project is read, and so that every command reads the
//! same rules: one `--now` parser, one store-path rule. This is the only
//! module besides [`crate::cli`] that sees clap's types.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::{Command, contacts, events, render, segment, watch};
use crate::cli::{self, Arguments, ColorChoice, ContactsCommand, EventsCommand, InputFormat};
use crate::error::Error;
use crate::model::Manifest;
use crate::store::StoreError;

/// Everything a command needs to know from its arguments, validated.
#[derive(Debug)]
pub struct Settings {
    /// The project directory, as given.
    pub project: PathBuf,
    pub store: StoreLocation,
    /// Whether to colour diagnostics.
    pub color: bool,
    pub command: Command,
}

/// A `--now` value: an instant, or a wall-clock time that becomes one in
/// the project's time zone once the manifest is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Now {
    Instant(Timestamp),
    Local(DateTime),
}

/// The forms `--now` accepts, as its error message and help name them.
pub const NOW_FORMS: &str = "RFC 3339 (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]` in the project's time zone";

impl Now {
    /// Parses `--now`: RFC 3339, or local `YYYY-MM-DD HH:MM` or
    /// `YYYY-MM-DD HH:MM:SS`. Dates that do not exist (`2026-02-30`) are
    /// errors, not rolled over.
    pub fn parse(text: &str) -> Result<Now, Error> {
        if let Ok(timestamp) = text.parse::<Timestamp>() {
            return Ok(Now::Instant(timestamp));
        }
        ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            .into_iter()
            .find_map(|format| DateTime::strptime(format, text.trim()).ok())
            .map(Now::Local)
            .ok_or_else(|| Error::Usage(format!("--now `{text}` is not a time; give {NOW_FORMS}")))
    }

    /// The instant this stands for in `timezone` (an IANA name; a zone
    /// herald does not know is taken as UTC, `herald check` reports it).
    /// A wall-clock time skipped or repeated by a DST change is taken as
    /// jiff's `compatible` rule does.
    pub fn instant(&self, timezone: &str) -> Result<Timestamp, Error> {
        match self {
            Now::Instant(timestamp) => Ok(*timestamp),
            Now::Local(civil) => {
                let zone = TimeZone::get(timezone).unwrap_or(TimeZone::UTC);
                civil
                    .to_zoned_datetime(zone)
                    .map(|zoned| zoned.timestamp())
                    .map_err(|error| Error::Usage(format!("--now `{civil}`: {error}")))
            }
        }
    }

    /// `--now` in `timezone` if it was given, else the current time.
    pub fn or_current(now: Option<&Now>, timezone: &str) -> Result<Timestamp, Error> {
        now.map_or_else(|| Ok(Timestamp::now()), |now| now.instant(timezone))
    }
}

impl Settings {
    /// Validates the arguments clap parsed.
    pub fn new(arguments: Arguments) -> Result<Settings, Error> {
        let now = |text: Option<String>| text.as_deref().map(Now::parse).transpose();
        // `--from`/`--to`: a `--now` form, or a bare date for its midnight.
        let moment = |flag: &str, text: &str| {
            let text = text.trim();
            let midnight = (text.len() == 10).then(|| format!("{text} 00:00"));
            Now::parse(midnight.as_deref().unwrap_or(text)).map_err(|_| {
                Error::Usage(format!(
                    "{flag} `{text}` is not a time; give {NOW_FORMS} or a date `YYYY-MM-DD`"
                ))
            })
        };
        let command = match arguments.command {
            cli::Command::Check {
                format,
                deny_warnings,
            } => Command::Check(super::check::Request {
                format,
                deny_warnings,
            }),
            cli::Command::Explain { code, list } => {
                Command::Explain(super::explain::Request { code, list })
            }
            cli::Command::Init { directory } => Command::Init(super::init::Request {
                directory: directory.unwrap_or_else(|| arguments.project.clone()),
            }),
            cli::Command::Schema { out, check } => {
                Command::Schema(super::schema::Request { out, check })
            }
            cli::Command::Segment {
                name,
                filter,
                list,
                explain,
                fields,
                why,
                now: time,
                format,
                ..
            } => Command::Segment(segment::Request {
                target: match (name, filter) {
                    (_, Some(filter)) => segment::Target::Filter(filter),
                    (Some(name), None) => segment::Target::Name(name),
                    (None, None) => {
                        return Err(Error::Usage(
                            "give a segment name or --filter EXPR".to_string(),
                        ));
                    }
                },
                action: if explain {
                    segment::Action::Explain
                } else if let Some(contact) = why {
                    segment::Action::Why(contact)
                } else if list {
                    segment::Action::List { fields }
                } else {
                    segment::Action::Count
                },
                now: now(time)?,
                format,
            }),
            cli::Command::Contacts { command } => Command::Contacts(match command {
                ContactsCommand::Import {
                    file,
                    input_format,
                    rejects,
                    format,
                } => contacts::Request::Import {
                    csv: is_csv(&file, input_format)?,
                    file,
                    rejects,
                    format,
                },
                ContactsCommand::Clean {
                    dry_run,
                    now: time,
                    format,
                } => contacts::Request::Clean {
                    dry_run,
                    now: now(time)?,
                    format,
                },
                ContactsCommand::Show {
                    id,
                    events,
                    now: time,
                    format,
                } => contacts::Request::Show {
                    id,
                    events,
                    now: now(time)?,
                    format,
                },
            }),
            cli::Command::Events { command } => Command::Events(match command {
                EventsCommand::Ingest {
                    file,
                    rejects,
                    format,
                } => events::Request::Ingest {
                    file,
                    rejects,
                    format,
                },
            }),
            cli::Command::Render {
                target,
                variant,
                contact,
                contact_file,
                samples,
                now: time,
                format,
            } => Command::Render(render::Request {
                target,
                variant,
                contacts: match (contact, contact_file) {
                    (Some(id), _) => render::Contacts::Store(id),
                    (None, Some(file)) => render::Contacts::File(file),
                    (None, None) => render::Contacts::Samples(samples.unwrap_or(3)),
                },
                now: now(time)?,
                format,
            }),
            cli::Command::Plan {
                now: time,
                campaign,
                samples,
                detailed_exitcode,
                no_sync,
                format,
            } => Command::Plan(super::plan::Request {
                now: now(time)?,
                campaigns: campaign,
                samples,
                detailed_exitcode,
                sync: !no_sync,
                format,
            }),
            cli::Command::Sync { force, format } => {
                Command::Sync(super::sync::Request { force, format })
            }
            cli::Command::Run {
                once,
                interval,
                now: time,
                no_sync,
                at_least_once,
                lease,
                format,
            } => {
                if interval == 0 {
                    return Err(Error::Usage("--interval must be at least 1 second".into()));
                }
                if lease == 0 {
                    return Err(Error::Usage("--lease must be at least 1 second".into()));
                }
                Command::Run(super::run::Request {
                    once,
                    interval: std::time::Duration::from_secs(interval),
                    now: now(time)?,
                    sync: !no_sync,
                    at_least_once,
                    lease: std::time::Duration::from_secs(lease),
                    format,
                })
            }
            cli::Command::Simulate {
                from,
                to,
                step,
                events,
                contact,
                no_sync,
                keep_store,
                format,
            } => Command::Simulate(super::simulate::Request {
                from: moment("--from", &from)?,
                to: moment("--to", &to)?,
                step: super::simulate::parse_step(&step)?,
                events,
                contact,
                sync: !no_sync,
                keep_store,
                format,
            }),
            cli::Command::Status { format } => Command::Status(super::status::Request { format }),
            cli::Command::Serve { listen } => Command::Serve(super::serve::Request { listen }),
            cli::Command::Report {
                names,
                from,
                to,
                now: time,
                format,
                html,
                check_kpi,
                threads,
            } => {
                let bound = |flag: &str, text: Option<String>| {
                    text.map(|text| {
                        Now::parse(&text).map_err(|_| {
                            Error::Usage(format!("{flag} `{text}` is not a time; give {NOW_FORMS}"))
                        })
                    })
                    .transpose()
                };
                Command::Report(super::report::Request {
                    names,
                    from: bound("--from", from)?,
                    to: bound("--to", to)?,
                    now: now(time)?,
                    format,
                    html,
                    check_kpi,
                    threads: threads.map(usize::from),
                })
            }
            cli::Command::Watch {
                samples,
                contact,
                serve,
            } => Command::Watch(watch::Request {
                contacts: match contact {
                    Some(id) => render::Contacts::Store(id),
                    None => render::Contacts::Samples(samples.max(1)),
                },
                serve,
            }),
        };
        Ok(Settings {
            store: StoreLocation {
                project: arguments.project.clone(),
                explicit: arguments.store,
            },
            project: arguments.project,
            color: use_color(arguments.color),
            command,
        })
    }

    /// The project directory as diagnostics name it (`shop/...`, not `./shop/...`).
    pub fn prefix(&self) -> String {
        self.project
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string()
    }
}

/// Where the contact store is: `--store`, else the manifest's `store`, else
/// `herald.db`, both relative to the project.
#[derive(Clone, Debug)]
pub struct StoreLocation {
    project: PathBuf,
    /// `--store`, which wins over the manifest.
    explicit: Option<PathBuf>,
}

impl StoreLocation {
    /// Whether `--store` named the store.
    pub fn is_explicit(&self) -> bool {
        self.explicit.is_some()
    }

    pub fn path(&self, manifest: &Manifest) -> PathBuf {
        self.explicit.clone().unwrap_or_else(|| {
            self.project
                .join(manifest.store.as_deref().unwrap_or("herald.db"))
        })
    }

    /// The store of a command that reads it (only `contacts import`
    /// creates one).
    pub fn existing(&self, manifest: &Manifest) -> Result<PathBuf, Error> {
        let path = self.path(manifest);
        if !path.is_file() {
            return Err(Error::from(StoreError {
                path,
                reason: "no such file (import contacts first)".into(),
            }));
        }
        Ok(path)
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Whether a contacts file is CSV (else JSONL): `--input-format`, else its extension.
fn is_csv(file: &Path, input_format: Option<InputFormat>) -> Result<bool, Error> {
    match input_format {
        Some(InputFormat::Csv) => Ok(true),
        Some(InputFormat::Jsonl) => Ok(false),
        None => crate::contacts::read::csv_by_extension(file).ok_or_else(|| {
            Error::Usage(format!(
                "cannot tell the format of {} from its extension; give --input-format csv or jsonl",
                file.display()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_resolve_in_the_project_zone() {
        let now = Now::parse("2026-03-01 12:00").unwrap();
        assert_eq!(
            now.instant("Europe/Moscow").unwrap().to_string(),
            "2026-03-01T09:00:00Z"
        );
        let now = Now::parse("2026-03-01 12:00:30").unwrap();
        assert_eq!(
            now.instant("UTC").unwrap().to_string(),
            "2026-03-01T12:00:30Z"
        );
    }

    #[test]
    fn dates_that_do_not_exist_are_rejected() {
        for text in ["2026-02-30 10:00", "2026-13-01 10:00", "", "tomorrow"] {
            assert!(Now::parse(text).is_err(), "{text}");
        }
    }
}
