//! `herald segment NAME` and `herald segment --filter EXPR`: check the
//! filter, compile it to SQL and count, list (with attributes) or explain
//! the matching contacts in the store, or explain in memory why one contact
//! is in or out. A filter given on the command line is reported on like a
//! file named `--filter`, so its errors point at the exact column.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::output::Lines;
use super::{Now, OutputFormat, Settings, print};
use crate::codes::Code;
use crate::compiler::compile;
use crate::contact::{Contact, Value};
use crate::contacts::batch::csv_line;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::error::Error;
use crate::report::{Format, Reporter};
use crate::segment::ast::Range;
use crate::segment::catalog::Catalog;
use crate::segment::check::{Site, check_text, segment_nesting, too_deep_references};
use crate::segment::eval::Evaluator;
use crate::segment::functions::Clock;
use crate::segment::location::FilterLocation;
use crate::segment::sql::{Parameter, Query, Selection, SqlCompiler, Sqlite};
use crate::segment::why;
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

/// What to do with the filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Count,
    /// The ids, each with these attributes when there are any.
    List {
        fields: Vec<String>,
    },
    Explain,
    /// Why this contact (an id or an alias) is in or out.
    Why(String),
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

    let (text, expr) = match &request.target {
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
                Some(expr) if filter.valid => (filter.text.clone(), expr.clone()),
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
                Some(expr) => (text.clone(), expr),
                None => return Ok(1),
            }
        }
    };

    let clock = Clock::new(now, &timezone);
    if let Action::Why(contact) = &request.action {
        let evaluator = Evaluator {
            catalog: &catalog,
            clock: &clock,
            segments: &segments,
            context: Default::default(),
            trigger: None,
        };
        let store_path = store_path?;
        let store = Store::open_read_only(&store_path, catalog.clone()).map_err(Error::from)?;
        let contact = load_contact(&store, &store_path, contact)?;
        let tree = why::explain(&evaluator, &compilation.filters, &text, &expr, &contact);
        return explain_contact(request, &contact, &tree);
    }
    let compiler = SqlCompiler {
        catalog: &catalog,
        clock: &clock,
        segments: &segments,
        dialect: &Sqlite,
    };
    let selection = if matches!(request.action, Action::List { .. }) {
        Selection::Ids
    } else {
        Selection::Count
    };
    let query = compiler
        .query(&expr, selection)
        .map_err(|error| Error::Usage(error.to_string()))?;

    let store_path = store_path?;
    let store = Store::open_read_only(&store_path, catalog.clone()).map_err(Error::from)?;

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
    if let Action::List { fields } = &request.action
        && !fields.is_empty()
    {
        check_fields(&catalog, fields)?;
        let condition = compiler
            .condition(&expr)
            .map_err(|error| Error::Usage(error.to_string()))?;
        return export(&store, &condition, fields, request.format);
    }
    if matches!(request.action, Action::List { .. }) {
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

/// The contact `id` names in the store, with its consent and events; an
/// unknown id is a usage error naming it and the store.
fn load_contact(store: &Store, path: &Path, id: &str) -> Result<Contact, Error> {
    let contact = match store.resolve_contact(id).map_err(Error::from)? {
        Some(resolved) => store.contact(&resolved).map_err(Error::from)?,
        None => None,
    };
    contact.ok_or_else(|| Error::Usage(format!("no contact `{id}` in {}", path.display())))
}

/// Prints the explained tree and whether the contact is selected.
fn explain_contact(request: &Request, contact: &Contact, tree: &why::Node) -> Result<i32, Error> {
    let segment = match &request.target {
        Target::Name(name) => Some(name.as_str()),
        Target::Filter(_) => None,
    };
    let out = match request.format {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "contact": contact.id,
                "segment": segment,
                "selected": tree.holds,
                "tree": tree,
            })
        ),
        OutputFormat::Human => {
            let verdict = match (segment, tree.holds) {
                (Some(name), true) => format!("is in segment `{name}`"),
                (Some(name), false) => format!("is not in segment `{name}`"),
                (None, true) => "matches the filter".to_string(),
                (None, false) => "does not match the filter".to_string(),
            };
            format!("{}{} {verdict}\n", why::render(tree), contact.id)
        }
    };
    print(&out)?;
    Ok(0)
}

/// Every `--fields` name must be a contact attribute (built-in or declared).
fn check_fields(catalog: &Catalog, fields: &[String]) -> Result<(), Error> {
    for field in fields {
        if !catalog.attributes.contains_key(field) {
            let hint = match did_you_mean(field, catalog.attributes.keys().map(String::as_str)) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => String::new(),
            };
            return Err(Error::Usage(format!(
                "--fields: no contact attribute `{field}`{hint}"
            )));
        }
    }
    Ok(())
}

/// Streams the selected contacts with `fields`, one row at a time: CSV
/// with a header, or JSON lines.
fn export(
    store: &Store,
    condition: &Query,
    fields: &[String],
    format: OutputFormat,
) -> Result<i32, Error> {
    let mut lines = Lines::default();
    if format == OutputFormat::Human {
        let header: Vec<String> = std::iter::once("id".to_string())
            .chain(fields.iter().cloned())
            .collect();
        if !lines.write(&csv_line(&header))? {
            return Ok(0);
        }
    }
    let mut failure = None;
    store
        .each_member(condition, |contact| {
            let values = fields.iter().map(|field| field_value(&contact, field));
            let row = match format {
                OutputFormat::Human => csv_line(
                    &std::iter::once(contact.id.clone())
                        .chain(values.map(|value| cell(value.as_ref())))
                        .collect::<Vec<_>>(),
                ),
                OutputFormat::Json => {
                    // Built by hand so the keys keep the order asked for.
                    let mut row = format!("{{\"id\":{}", serde_json::json!(contact.id));
                    for (field, value) in fields.iter().zip(values) {
                        let value = value.map_or(serde_json::Value::Null, |value| value.to_json());
                        row.push_str(&format!(",{}:{value}", serde_json::json!(field)));
                    }
                    row.push_str("}\n");
                    row
                }
            };
            match lines.write(&row) {
                Ok(true) => ControlFlow::Continue(()),
                Ok(false) => ControlFlow::Break(()),
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(Error::from)?;
    if let Some(error) = failure {
        return Err(error);
    }
    lines.finish()?;
    Ok(0)
}

fn field_value(contact: &Contact, field: &str) -> Option<Value> {
    if field == "id" {
        return Some(Value::String(contact.id.clone()));
    }
    contact.attributes.get(field).cloned()
}

/// A value as a CSV cell, in the form `herald contacts import` reads back:
/// text as is, lists as a JSON array, a missing value empty.
fn cell(value: Option<&Value>) -> String {
    match value.map(Value::to_json) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
    }
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
