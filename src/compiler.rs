//! The static pipeline: load → schema → resolve, chained into one
//! [`Compilation`] that `check` (and later `plan`, `run` and `watch`) share.
//! Lint levels from the manifest are applied last, once every stage has
//! reported.

use std::path::Path;

use crate::codes::Code;
use crate::diagnostic::{Diagnostics, Severity};
use crate::error::Error;
use crate::loader::{self, Project};
use crate::model::LintLevel;
use crate::resolver::{self, Resolution};
use crate::schema::Schemas;

/// A compiled project: what was read, what resolution learned, and every diagnostic.
#[derive(Debug)]
pub struct Compilation {
    pub project: Project,
    pub resolution: Resolution,
    pub diagnostics: Diagnostics,
}

/// Compiles the project at `root`.
pub fn compile(root: &Path) -> Result<Compilation, Error> {
    compile_with(root, &Schemas::new())
}

/// Compiles with validators built once by the caller (watch mode, benchmarks).
pub fn compile_with(root: &Path, schemas: &Schemas) -> Result<Compilation, Error> {
    let (project, mut diagnostics) = loader::load(root, schemas)?;
    let (resolution, resolved) = resolver::resolve(&project);
    diagnostics.extend(resolved);
    apply_lint_levels(&project, &mut diagnostics);
    diagnostics.sort();
    Ok(Compilation {
        project,
        resolution,
        diagnostics,
    })
}

/// Applies `lint:` levels: `allow` drops a rule's diagnostics, `warn` and
/// `deny` set their severity. Only configurable rules are affected.
fn apply_lint_levels(project: &Project, diagnostics: &mut Diagnostics) {
    let Some(manifest) = &project.manifest else {
        return;
    };
    let levels: Vec<(Code, LintLevel)> = manifest
        .value
        .lint
        .iter()
        .filter_map(|(key, level)| {
            Code::lookup(&key.value)
                .filter(|code| code.configurable())
                .map(|code| (code, *level))
        })
        .collect();
    if levels.is_empty() {
        return;
    }
    diagnostics.retain(|diagnostic| {
        match levels.iter().find(|(code, _)| *code == diagnostic.code) {
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
