//! `herald check`: compiles the project and prints its diagnostics; when
//! the store exists (the project's, or `--store`), also the journey steps
//! an edit removed while contacts wait in them (J009).

use super::{Settings, print};
use crate::codes::Code;
use crate::compiler::{Compilation, compile};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Severity;
use crate::error::Error;
use crate::report::{Format, Reporter};
use crate::source::Span;
use crate::store::Store;

/// What `herald check` was asked.
#[derive(Debug)]
pub struct Request {
    pub format: Format,
    pub deny_warnings: bool,
}

/// Exits 1 when there are errors (or warnings with `--deny-warnings`).
pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let mut compilation = compile(&settings.project)?;
    removed_steps(settings, &mut compilation)?;
    let reporter = Reporter {
        sources: &compilation.project.sources,
        prefix: settings.prefix(),
        color: settings.color,
    };
    let diagnostics = &compilation.diagnostics;
    let mut output = reporter.render(request.format, diagnostics);
    if request.format == Format::Human && diagnostics.is_empty() {
        output = format!(
            "{}: no problems in {}\n",
            compilation.project.root.display(),
            compilation.project.counts()
        );
    }
    print(&output)?;
    let failed = diagnostics.has_errors()
        || (request.deny_warnings && diagnostics.count(Severity::Warning) > 0);
    Ok(i32::from(failed))
}

/// J009 for every removed step contacts wait in, of a journey without
/// `on_removed_step`. A store that cannot be opened is an error only when
/// `--store` named it; one without enrolments (older, or never run) has
/// nobody waiting.
fn removed_steps(settings: &Settings, compilation: &mut Compilation) -> Result<(), Error> {
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(());
    };
    let path = settings.store.path(&manifest.value);
    if !path.is_file() {
        return match settings.store.is_explicit() {
            true => Err(settings
                .store
                .existing(&manifest.value)
                .err()
                .unwrap_or_else(|| Error::Usage(format!("no store at {}", path.display())))),
            false => Ok(()),
        };
    }
    let store = match Store::open_for_inspection(&path) {
        Ok(store) => store,
        Err(error) if settings.store.is_explicit() => return Err(error.into()),
        Err(_) => return Ok(()),
    };
    let Ok(removed) = crate::run::journeys::removed_steps(compilation, &store) else {
        return Ok(());
    };
    for step in removed.into_iter().filter(|step| step.policy.is_none()) {
        let Some(definition) = compilation
            .project
            .journeys
            .iter()
            .find(|definition| definition.name == step.journey)
        else {
            continue;
        };
        let file = definition.file;
        let span = definition
            .node
            .entry("steps")
            .map_or(Span::new(file, 0, 0), |(key, _)| key.span(file));
        let contacts = if step.waiting == 1 {
            "1 contact waits".to_string()
        } else {
            format!("{} contacts wait", step.waiting)
        };
        compilation.diagnostics.push(
            Diagnostic::new(
                Code::RemovedStepWithContacts,
                span,
                format!(
                    "{contacts} in step `{}`, which journey `{}` no longer has",
                    step.step, step.journey
                ),
            )
            .label("the step was removed from these steps")
            .help(
                "set `on_removed_step: exit` to end their enrolments, or `on_removed_step: next` \
                 to move them on to the step now in its place; `herald run` waits until you do",
            ),
        );
    }
    Ok(())
}
