//! `herald segment NAME` and `herald segment --filter EXPR`: check the
//! filter, compile it to SQL and count, list or explain the matching
//! contacts in the store. A filter given on the command line is reported on
//! like a file named `--filter`, so its errors point at the exact column.

use std::path::PathBuf;

use jiff::Timestamp;

use super::ast::Range;
use super::check::check_text;
use super::functions::Clock;
use super::location::FilterLocation;
use super::sql::{Selection, SqlCompiler, Sqlite};
use crate::cli::Arguments;
use crate::codes::Code;
use crate::compiler::compile;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::error::Error;
use crate::report::{Format, Reporter};
use crate::store::Store;
use crate::suggestion::did_you_mean;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// What `herald segment` was asked.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub name: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub list: bool,
    pub explain: bool,
    pub now: Option<&'a str>,
    pub format: OutputFormat,
}

/// Parses `--now`: RFC 3339, or a local `YYYY-MM-DD HH:MM` in the project's time zone.
pub fn parse_now(text: &str, timezone: &str) -> Result<Timestamp, Error> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    let zone = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", text.trim())
        .ok()
        .and_then(|civil| civil.to_zoned_datetime(zone).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--now `{text}` is not a time; give RFC 3339 (`2026-12-20T08:00:00Z`) or local `YYYY-MM-DD HH:MM`"
            ))
        })
}

pub fn run(arguments: &Arguments, request: &Request) -> Result<i32, Error> {
    let mut compilation = compile(&arguments.project)?;
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        // The manifest did not load; its diagnostics say why.
        return report_and_fail(
            arguments,
            &compilation.project.sources,
            compilation.diagnostics,
        );
    };
    let timezone = manifest.value.timezone.value.clone();
    let store_path = arguments.store.clone().unwrap_or_else(|| {
        arguments
            .project
            .join(manifest.value.store.as_deref().unwrap_or("herald.db"))
    });
    let now = match request.now {
        Some(text) => parse_now(text, &timezone)?,
        None => Timestamp::now(),
    };
    let catalog = compilation.filters.catalog.clone();
    let segments = compilation.filters.segment_exprs();

    let expr = match (request.name, request.filter) {
        (Some(name), _) => {
            let Some(filter) = compilation.filters.segment(name) else {
                let names = compilation
                    .filters
                    .filters
                    .iter()
                    .filter_map(|f| match &f.site {
                        super::check::Site::Segment(name) => Some(name.as_str()),
                        _ => None,
                    });
                let hint = match did_you_mean(name, names) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => String::new(),
                };
                return Err(Error::Usage(format!("no segment `{name}`{hint}")));
            };
            let file = filter.file;
            let relevant: Diagnostics = compilation
                .diagnostics
                .iter()
                .filter(|d| {
                    d.severity == Severity::Error && d.span().is_some_and(|s| s.file == file)
                })
                .cloned()
                .collect();
            if !relevant.is_empty() {
                return report_and_fail(arguments, &compilation.project.sources, relevant);
            }
            match &filter.expr {
                Some(expr) if filter.valid => expr.clone(),
                _ => {
                    return Err(Error::Usage(format!(
                        "segment `{name}` has errors; run `herald check`"
                    )));
                }
            }
        }
        (None, Some(text)) => {
            let file = compilation.project.sources.add(
                "--filter".into(),
                PathBuf::from("--filter"),
                text.to_string(),
            );
            let location = FilterLocation::whole_file(file, text);
            let (expr, issues) = check_text(text, Some(&catalog), None);
            let mut diagnostics: Diagnostics = issues
                .into_iter()
                .map(|issue| issue.into_diagnostic(&|range: Range| location.span(range)))
                .collect();
            if let Some(expr) = &expr {
                for name in expr.segment_references() {
                    if !segments.contains_key(&name.text) {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::UnknownSegment,
                                location.span(name.range),
                                format!("unknown segment `{}`", name.text),
                            )
                            .label("no such segment")
                            .suggest(did_you_mean(
                                &name.text,
                                segments.keys().map(String::as_str),
                            )),
                        );
                    }
                }
            }
            if diagnostics.has_errors() {
                return report_and_fail(arguments, &compilation.project.sources, diagnostics);
            }
            if !diagnostics.is_empty() {
                eprint!(
                    "{}",
                    render(arguments, &compilation.project.sources, &diagnostics)
                );
            }
            match expr {
                Some(expr) => expr,
                None => return Ok(1),
            }
        }
        (None, None) => {
            return Err(Error::Usage(
                "give a segment name or --filter EXPR".to_string(),
            ));
        }
    };

    let clock = Clock::new(now, &timezone);
    let compiler = SqlCompiler {
        catalog: &catalog,
        clock: &clock,
        segments: &segments,
        dialect: &Sqlite,
    };
    let selection = if request.list {
        Selection::Ids
    } else {
        Selection::Count
    };
    let query = compiler
        .query(&expr, selection)
        .map_err(|error| Error::Usage(error.to_string()))?;

    if !store_path.is_file() {
        return Err(Error::Store(crate::store::StoreError {
            path: store_path,
            reason: "no such file (import contacts first)".into(),
        }));
    }
    let store = Store::open_with_catalog(&store_path, catalog).map_err(Error::Store)?;

    if request.explain {
        let mut out = format!("{}\n", query.sql);
        if !query.parameters.is_empty() {
            out.push_str("\nparameters:\n");
            for (index, parameter) in query.parameters.iter().enumerate() {
                out.push_str(&format!("  ?{} = {parameter}\n", index + 1));
            }
        }
        let plan = store.plan(&query).map_err(Error::Store)?;
        out.push_str("\nquery plan:\n");
        for step in plan {
            out.push_str(&format!("  {step}\n"));
        }
        if request.format == OutputFormat::Json {
            let parameters: Vec<serde_json::Value> = query
                .parameters
                .iter()
                .map(|p| match p {
                    super::sql::Parameter::Text(text) => serde_json::json!(text),
                    super::sql::Parameter::Integer(value) => serde_json::json!(value),
                    super::sql::Parameter::Real(value) => serde_json::json!(value),
                })
                .collect();
            out = format!(
                "{}\n",
                serde_json::json!({"sql": query.sql, "parameters": parameters})
            );
        }
        crate::print(&out)?;
        return Ok(0);
    }
    if request.list {
        let ids = store.ids(&query).map_err(Error::Store)?;
        let out = match request.format {
            OutputFormat::Json => format!("{}\n", serde_json::json!({ "ids": ids })),
            OutputFormat::Human => ids.iter().map(|id| format!("{id}\n")).collect(),
        };
        crate::print(&out)?;
    } else {
        let count = store.count(&query).map_err(Error::Store)?;
        let out = match request.format {
            OutputFormat::Json => format!("{}\n", serde_json::json!({ "count": count })),
            OutputFormat::Human => format!("{count}\n"),
        };
        crate::print(&out)?;
    }
    Ok(0)
}

fn render(
    arguments: &Arguments,
    sources: &crate::source::SourceMap,
    diagnostics: &Diagnostics,
) -> String {
    let mut diagnostics = diagnostics.clone();
    diagnostics.sort();
    // A filter from the command line is shown as `--filter`, not as a file
    // of the project.
    let command_line = diagnostics.iter().all(|d| {
        d.span()
            .is_some_and(|span| sources.file(span.file).name == "--filter")
    });
    let prefix = if command_line {
        String::new()
    } else {
        arguments
            .project
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string()
    };
    let reporter = Reporter {
        sources,
        prefix,
        color: false,
    };
    reporter.render(Format::Human, &diagnostics)
}

/// Prints the diagnostics on standard error and exits 1.
fn report_and_fail(
    arguments: &Arguments,
    sources: &crate::source::SourceMap,
    diagnostics: Diagnostics,
) -> Result<i32, Error> {
    eprint!("{}", render(arguments, sources, &diagnostics));
    Ok(1)
}
