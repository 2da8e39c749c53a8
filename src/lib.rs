//! herald: a compiler and runner for CRM-marketing communication declared as code.
//!
//! The pipeline reads in the module names: [`loader`] (files, YAML with
//! positions) → [`schema`] (validation against the generated JSON schemas)
//! → [`resolver`] (names, cycles, secrets) → [`compiler`] (the chain, and
//! lint levels). Every stage reports [`diagnostic::Diagnostic`]s whose codes
//! come from the one table in [`codes`]; [`report`] renders them.

pub mod campaign;
pub mod cli;
pub mod codes;
pub mod compiler;
pub mod contacts;
pub mod diagnostic;
pub mod duration;
pub mod error;
pub mod journey;
pub mod lint;
pub mod loader;
pub mod model;
pub mod report;
pub mod resolver;
pub mod schema;
pub mod segment;
pub mod source;
pub mod store;
pub mod suggestion;
pub mod template;
pub mod watch;
pub mod yaml;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Parser;

use crate::cli::{Arguments, ColorChoice, Command};
use crate::codes::Code;
use crate::diagnostic::Severity;
use crate::error::Error;
use crate::report::{Format, Reporter};

pub use crate::compiler::{Compilation, compile};

/// Runs herald with the given arguments and returns the exit status.
pub fn run<I, T>(arguments: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let arguments = match Arguments::try_parse_from(arguments) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 2 } else { 0 };
        }
    };
    match execute(&arguments) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("herald: {error}");
            2
        }
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

fn execute(arguments: &Arguments) -> Result<i32, Error> {
    match &arguments.command {
        Command::Check {
            format,
            deny_warnings,
        } => check(arguments, *format, *deny_warnings),
        Command::Explain { code, list } => explain(code.as_deref(), *list),
        Command::Schema { out, check } => schema(out, *check),
        Command::Segment {
            name,
            filter,
            list,
            explain,
            now,
            format,
            ..
        } => segment::command::run(
            arguments,
            &segment::command::Request {
                name: name.as_deref(),
                filter: filter.as_deref(),
                list: *list,
                explain: *explain,
                now: now.as_deref(),
                format: *format,
            },
        ),
        Command::Contacts { command } => contacts::run_contacts(arguments, command),
        Command::Events { command } => contacts::run_events(arguments, command),
        Command::Render {
            target,
            variant,
            contact,
            contact_file,
            samples,
            now,
            format,
        } => template::preview::run(
            arguments,
            &template::preview::Request {
                target,
                variant: variant.as_deref(),
                contacts: match (contact, contact_file) {
                    (Some(id), _) => template::preview::Contacts::Store(id.clone()),
                    (None, Some(file)) => template::preview::Contacts::File(file.clone()),
                    (None, None) => template::preview::Contacts::Samples(samples.unwrap_or(3)),
                },
                now: now.as_deref(),
                json: *format == segment::command::OutputFormat::Json,
            },
        ),
        Command::Watch {
            samples,
            contact,
            serve,
        } => watch::run(
            arguments,
            &watch::Request {
                samples: *samples,
                contact: contact.as_deref(),
                serve: *serve,
                color: use_color(arguments.color),
            },
        ),
    }
}

pub(crate) fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`herald check | head`) is not the user's problem.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
    }
}

fn check(arguments: &Arguments, format: Format, deny_warnings: bool) -> Result<i32, Error> {
    let compilation = compile(&arguments.project)?;
    let prefix = arguments
        .project
        .to_string_lossy()
        .trim_start_matches("./")
        .to_string();
    let reporter = Reporter {
        sources: &compilation.project.sources,
        prefix,
        color: use_color(arguments.color),
    };
    let diagnostics = &compilation.diagnostics;
    let mut output = reporter.render(format, diagnostics);
    if format == Format::Human && diagnostics.is_empty() {
        output = format!(
            "{}: no problems in {}\n",
            compilation.project.root.display(),
            compilation.project.counts()
        );
    }
    print(&output)?;
    let failed =
        diagnostics.has_errors() || (deny_warnings && diagnostics.count(Severity::Warning) > 0);
    Ok(i32::from(failed))
}

fn explain(code: Option<&str>, list: bool) -> Result<i32, Error> {
    if list {
        let mut out = String::new();
        let width = Code::ALL
            .iter()
            .map(|code| code.name().len())
            .max()
            .unwrap_or(0);
        for code in Code::ALL {
            let level = match (code.configurable(), code.default_severity()) {
                (false, _) => "error (fixed)",
                (true, Severity::Error) => "deny",
                (true, Severity::Warning) => "warn",
            };
            out.push_str(&format!(
                "{}  {:<width$}  {:<13}  {}\n",
                code.as_str(),
                code.name(),
                level,
                code.summary()
            ));
        }
        print(&out)?;
        return Ok(0);
    }
    let text = code.unwrap_or_default();
    let Some(code) = Code::lookup(text) else {
        let names = Code::ALL.iter().flat_map(|c| [c.as_str(), c.name()]);
        let hint = match suggestion::did_you_mean(text, names) {
            Some(name) => format!("; did you mean `{name}`?"),
            None => "; `herald explain --list` lists every rule".to_string(),
        };
        return Err(Error::Usage(format!("no rule `{text}`{hint}")));
    };
    let level = if code.configurable() {
        format!(
            "{} by default; set `{}: allow|warn|deny` under `lint:` in herald.yaml",
            code.default_severity().as_str(),
            code.name()
        )
    } else {
        "always an error; cannot be configured".to_string()
    };
    print(&format!(
        "{} {}\n{level}\n\n{}\n",
        code.as_str(),
        code.name(),
        code.documentation()
    ))?;
    Ok(0)
}

fn schema(out: &std::path::Path, check: bool) -> Result<i32, Error> {
    let mut stale = Vec::new();
    for kind in schema::Kind::ALL {
        let path = out.join(kind.schema_file());
        let text = kind.schema_text();
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
            continue;
        }
        std::fs::create_dir_all(out)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        println!("wrote {}", path.display());
    }
    if !stale.is_empty() {
        eprintln!(
            "herald: out of date (run `herald schema --out {}`): {}",
            out.display(),
            stale.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}
