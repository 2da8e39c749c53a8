//! `herald segment NAME` and `herald segment --filter EXPR`: check the
//! filter, compile it to SQL and count, list or explain the matching
//! contacts in the store. A filter given on the command line is reported on
//! like a file named `--filter`, so its errors point at the exact column.

use std::path::PathBuf;

use super::{Now, OutputFormat, Settings, print};
use crate::codes::Code;
use crate::compiler::compile;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::error::Error;
use crate::report::{Format, Reporter};
use crate::segment::ast::Range;
use crate::segment::check::{Site, check_text, segment_nesting, too_deep_references};
use crate::segment::functions::Clock;
use crate::segment::location::FilterLocation;
use crate::segment::sql::{Parameter, Selection, SqlCompiler, Sqlite};
use crate::source::SourceMap;
use crate::store::Store;
use crate::suggestion::did_you_mean;

/// What `herald segment` was asked.
#[derive(Debug)]
pub struct Request {
    pub target: Target,
    pub action: Action,
    pub now: Option<Now>,
    pub format: OutputFormat,
}

/// The filter to run.
#[derive(Debug)]
pub enum Target {
    /// A segment of the project, by its path below segments/.
    Name(String),
    /// An expression given on the command line.
    Filter(String),
}

/// What to do with the filter's SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Count,
    List,
    Explain,
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let mut compilation = compile(&settings.project)?;
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        // The manifest did not load; its diagnostics say why.
        return report_and_fail(
            settings,
            &compilation.project.sources,
            compilation.diagnostics,
        );
    };
    let timezone = manifest.value.timezone.value.clone();
    let store_path = settings.store.existing(&manifest.value);
    let now = Now::or_current(request.now.as_ref(), &timezone)?;
    let catalog = compilation.filters.catalog.clone();
    let segments = compilation.filters.segment_exprs();

    let expr = match &request.target {
        Target::Name(name) => {
            let Some(filter) = compilation.filters.segment(name) else {
                let names = compilation
                    .filters
                    .filters
                    .iter()
                    .filter_map(|f| match &f.site {
                        Site::Segment(name) => Some(name.as_str()),
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
                return report_and_fail(settings, &compilation.project.sources, relevant);
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
        Target::Filter(text) => {
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
                let nesting = segment_nesting(&segments);
                for issue in too_deep_references(expr, 0, &nesting) {
                    diagnostics.push(issue.into_diagnostic(&|range: Range| location.span(range)));
                }
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
                return report_and_fail(settings, &compilation.project.sources, diagnostics);
            }
            if !diagnostics.is_empty() {
                eprint!(
                    "{}",
                    render(settings, &compilation.project.sources, &diagnostics)
                );
            }
            match expr {
                Some(expr) => expr,
                None => return Ok(1),
            }
        }
    };

    let clock = Clock::new(now, &timezone);
    let compiler = SqlCompiler {
        catalog: &catalog,
        clock: &clock,
        segments: &segments,
        dialect: &Sqlite,
    };
    let selection = if request.action == Action::List {
        Selection::Ids
    } else {
        Selection::Count
    };
    let query = compiler
        .query(&expr, selection)
        .map_err(|error| Error::Usage(error.to_string()))?;

    let store_path = store_path?;
    let store = Store::open_read_only(&store_path, catalog).map_err(Error::from)?;

    if request.action == Action::Explain {
        let mut out = format!("{}\n", query.sql);
        if !query.parameters.is_empty() {
            out.push_str("\nparameters:\n");
            for (index, parameter) in query.parameters.iter().enumerate() {
                out.push_str(&format!("  ?{} = {parameter}\n", index + 1));
            }
        }
        let plan = store.plan(&query).map_err(Error::from)?;
        out.push_str("\nquery plan:\n");
        for step in plan {
            out.push_str(&format!("  {step}\n"));
        }
        if request.format == OutputFormat::Json {
            let parameters: Vec<serde_json::Value> = query
                .parameters
                .iter()
                .map(|p| match p {
                    Parameter::Text(text) => serde_json::json!(text),
                    Parameter::Integer(value) => serde_json::json!(value),
                    Parameter::Real(value) => serde_json::json!(value),
                })
                .collect();
            out = format!(
                "{}\n",
                serde_json::json!({"sql": query.sql, "parameters": parameters})
            );
        }
        print(&out)?;
        return Ok(0);
    }
    if request.action == Action::List {
        let ids = store.ids(&query).map_err(Error::from)?;
        let out = match request.format {
            OutputFormat::Json => format!("{}\n", serde_json::json!({ "ids": ids })),
            OutputFormat::Human => ids.iter().map(|id| format!("{id}\n")).collect(),
        };
        print(&out)?;
    } else {
        let count = store.count(&query).map_err(Error::from)?;
        let out = match request.format {
            OutputFormat::Json => format!("{}\n", serde_json::json!({ "count": count })),
            OutputFormat::Human => format!("{count}\n"),
        };
        print(&out)?;
    }
    Ok(0)
}

fn render(settings: &Settings, sources: &SourceMap, diagnostics: &Diagnostics) -> String {
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
        settings.prefix()
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
    settings: &Settings,
    sources: &SourceMap,
    diagnostics: Diagnostics,
) -> Result<i32, Error> {
    eprint!("{}", render(settings, sources, &diagnostics));
    Ok(1)
}
