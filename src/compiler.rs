//! The static pipeline, one stage after another: load (files, YAML with
//! positions, schema) → filters (parse and type-check every filter) →
//! resolve (names, cycles, settings; typed policies, providers, campaigns
//! and times) → journeys (state machines) → templates (compiled once,
//! checked) → lint and conflicts (on the typed program). The result is one
//! [`Compilation`] that `check`, `render`, `watch` and later `plan` and
//! `run` share; nothing after these stages reads a YAML string again. Lint
//! levels from the manifest are applied last, once every stage has
//! reported.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::codes::Code;
pub use crate::compilation::Compilation;
use crate::diagnostic::{Diagnostics, Severity};
use crate::error::Error;
use crate::loader::{self, Project};
use crate::model::{LintLevel, Text};
use crate::resolver::{self, Resolution};
use crate::schema::Schemas;
use crate::source::FileId;
use crate::template::Templates;

/// Compiles the project at `root`.
pub fn compile(root: &Path) -> Result<Compilation, Error> {
    compile_with(root, &Schemas::new())
}

/// Compiles with validators built once by the caller (watch mode, benchmarks).
pub fn compile_with(root: &Path, schemas: &Schemas) -> Result<Compilation, Error> {
    let (project, mut diagnostics) = loader::load(root, schemas)?;
    let (filters, filtered) = crate::segment::check::check(&project);
    diagnostics.extend(filtered);
    let (resolution, resolved) = resolver::resolve(&project, &filters);
    diagnostics.extend(resolved);
    let Resolution {
        segment_references,
        timezone,
        policies,
        providers,
        campaigns,
        journeys,
        sources,
    } = resolution;
    let journeys = crate::journey::compile(&project, &journeys, &policies);
    let templates = Templates::new(&project);
    diagnostics.extend(crate::template::check::check(&project, templates.as_ref()));
    let mut compilation = Compilation {
        project,
        filters,
        segment_references,
        timezone,
        policies,
        providers,
        campaigns,
        journeys,
        templates,
        sources,
        diagnostics,
    };
    let linted = crate::lint::check(&compilation);
    compilation.diagnostics.extend(linted);
    forget_gaps(&compilation.project, &mut compilation.diagnostics);
    apply_lint_levels(&compilation.project, &mut compilation.diagnostics);
    compilation.diagnostics.sort();
    Ok(compilation)
}

/// Drops the "unknown name" diagnostics about names whose declarations in
/// herald.yaml failed the schema and were left out ([`Project::manifest_gaps`]):
/// the schema error already says what is wrong there, and "unknown attribute
/// `orders_count`" next to it would send the reader looking for a missing
/// declaration that is in fact misspelt.
fn forget_gaps(project: &Project, diagnostics: &mut Diagnostics) {
    if project.manifest_gaps.is_empty() {
        return;
    }
    let names: Vec<(String, String)> = project
        .manifest_gaps
        .iter()
        .map(|name| (format!("`{name}`"), format!(".{name}`")))
        .collect();
    diagnostics.retain(|diagnostic| {
        let unknown_name = matches!(
            diagnostic.code,
            Code::UnknownAttribute
                | Code::UnknownFilterAttribute
                | Code::UnknownEvent
                | Code::UnknownFilterEvent
                | Code::UnknownEventProperty
                | Code::UnknownChannel
                | Code::UnknownProvider
                | Code::UnknownVariable
        );
        !(unknown_name
            && names.iter().any(|(whole, field)| {
                diagnostic.message.contains(whole.as_str())
                    || diagnostic.message.contains(field.as_str())
            }))
    });
}

/// Applies `lint:` levels: `allow` drops a rule's diagnostics, `warn` and
/// `deny` set their severity. A definition file's own `lint:` overrides the
/// manifest's for diagnostics in that file. Only configurable rules are affected.
fn apply_lint_levels(project: &Project, diagnostics: &mut Diagnostics) {
    let Some(manifest) = &project.manifest else {
        return;
    };
    let levels = |map: &BTreeMap<Text, LintLevel>| -> Vec<(Code, LintLevel)> {
        map.iter()
            .filter_map(|(key, level)| {
                Code::lookup(&key.value)
                    .filter(|code| code.configurable())
                    .map(|code| (code, *level))
            })
            .collect()
    };
    let global = levels(&manifest.value.lint);
    let mut per_file: HashMap<FileId, Vec<(Code, LintLevel)>> = HashMap::new();
    let files = project
        .segments
        .iter()
        .map(|d| (d.file, &d.value.lint))
        .chain(project.campaigns.iter().map(|d| (d.file, &d.value.lint)))
        .chain(project.journeys.iter().map(|d| (d.file, &d.value.lint)));
    for (file, map) in files {
        if !map.is_empty() {
            per_file.insert(file, levels(map));
        }
    }
    if global.is_empty() && per_file.is_empty() {
        return;
    }
    diagnostics.retain(|diagnostic| {
        let local = diagnostic
            .span()
            .and_then(|span| per_file.get(&span.file))
            .and_then(|levels| levels.iter().find(|(code, _)| *code == diagnostic.code));
        let level = local.or_else(|| global.iter().find(|(code, _)| *code == diagnostic.code));
        match level {
            Some((_, LintLevel::Allow)) => false,
            Some((_, LintLevel::Warn)) => {
                diagnostic.severity = Severity::Warning;
                true
            }
            Some((_, LintLevel::Deny)) => {
                diagnostic.severity = Severity::Error;
                true
            }
            None => true,
        }
    });
}
