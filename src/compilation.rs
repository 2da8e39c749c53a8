//! The program a project compiles to: the typed values every stage after
//! the static ones reads (lint, render, watch, plan). It has a module of its
//! own, below both the compile driver that builds it and the lint stage
//! that reads it, so the pipeline depends in one direction only.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::tz::TimeZone;

use crate::campaign::Campaign;
use crate::diagnostic::Diagnostics;
use crate::journey::StateMachine;
use crate::loader::Project;
use crate::policy::Policies;
use crate::provider::Provider;
use crate::segment::check::Filters;
use crate::template::Templates;

/// A compiled project: what was read, the typed program `check` validated,
/// and every diagnostic. Values that failed a check are left out (or at
/// their defaults) and the failure is among the diagnostics.
#[derive(Debug)]
pub struct Compilation {
    /// The files as read, with positions, for diagnostics and templates.
    pub project: Project,
    /// Every filter of the project, parsed and type-checked.
    pub filters: Filters,
    /// For every segment, the segments its filter refers to.
    pub segment_references: BTreeMap<String, Vec<String>>,
    /// The project's time zone; `None` without a manifest or with an unknown zone.
    pub timezone: Option<TimeZone>,
    pub policies: Policies,
    /// Providers by name.
    pub providers: BTreeMap<String, Provider>,
    /// Every campaign, typed, in the order of `project.campaigns`.
    pub campaigns: Vec<Campaign>,
    /// Every journey as a state machine, in the order of `project.journeys`.
    pub journeys: Vec<StateMachine>,
    /// The compiled templates and every message's parts; `None` without a manifest.
    pub templates: Option<Templates>,
    /// The files `sources:` names, globs expanded; one that is missing is left out.
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

/// The manifest's `sources:`, resolved to the files they name, each glob's
/// matches in path order, contacts apart from events so that a sync can
/// import every contact before the events that refer to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    pub contacts: Vec<SourceFile>,
    pub events: Vec<SourceFile>,
}

/// One source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path relative to the project as the manifest names it (or as a
    /// glob matched it), with `/` separators: what messages show and what
    /// the store remembers the file's hash under.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
}
