//! The filter stage of the pipeline: every filter of the project (segment
//! `filter`, campaign `audience.filter`, journey `trigger.filter`,
//! `wait_for.filter` and branch `cases[].when`) is parsed, type-checked and
//! analysed; diagnostics point into the YAML at the exact column. The parsed
//! filters are kept in [`Filters`] so `segment`, `plan` and `run` reuse them.

use std::collections::{BTreeMap, BTreeSet};

use super::ast::Expr;
use super::catalog::Catalog;
use super::functions::Clock;
use super::location::FilterLocation;
use super::sql::{SqlCompiler, Sqlite};
use super::typecheck::Context;
use super::{Issue, MAX_SEGMENT_NESTING, analysis, parse, typecheck};
use crate::codes::Code;
use crate::diagnostic::Diagnostics;
use crate::loader::Project;
use crate::model::Text;
use crate::source::FileId;

/// Where a filter is written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Site {
    Segment(String),
    Audience {
        campaign: String,
    },
    Trigger {
        journey: String,
    },
    WaitFor {
        journey: String,
        step: usize,
    },
    Branch {
        journey: String,
        step: usize,
        case: usize,
    },
}

/// One filter of the project, parsed.
#[derive(Clone, Debug)]
pub struct Filter {
    pub site: Site,
    pub file: FileId,
    pub text: String,
    /// Where the filter's YAML value starts in its file (`Text::start`).
    pub start: u32,
    pub location: FilterLocation,
    /// The event whose properties are `event.*` (journey triggers and `wait_for`).
    pub trigger_event: Option<String>,
    /// `None` when the filter does not parse.
    pub expr: Option<Expr>,
    /// Whether it parsed and type-checked without errors.
    pub valid: bool,
}

/// Every filter of the project, and the data model they were checked against.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub catalog: Catalog,
    pub filters: Vec<Filter>,
}

impl Filters {
    pub fn segment(&self, name: &str) -> Option<&Filter> {
        self.filters
            .iter()
            .find(|filter| matches!(&filter.site, Site::Segment(segment) if segment == name))
    }

    /// The parsed filter of every segment, for `in segment` references.
    pub fn segment_exprs(&self) -> BTreeMap<String, Expr> {
        segment_exprs(&self.filters)
    }
}

/// Parses, type-checks and analyses every filter of the project.
pub fn check(project: &Project) -> (Filters, Diagnostics) {
    let catalog = project
        .manifest
        .as_ref()
        .map(|manifest| Catalog::from_manifest(&manifest.value));
    let mut sites: Vec<(Site, FileId, &Text, Option<String>)> = Vec::new();
    for segment in &project.segments {
        sites.push((
            Site::Segment(segment.name.clone()),
            segment.file,
            &segment.value.filter,
            None,
        ));
    }
    for campaign in &project.campaigns {
        if let Some(filter) = &campaign.value.audience.filter {
            sites.push((
                Site::Audience {
                    campaign: campaign.name.clone(),
                },
                campaign.file,
                filter,
                None,
            ));
        }
    }
    for journey in &project.journeys {
        let trigger_event = journey
            .value
            .trigger
            .event
            .as_ref()
            .map(|e| e.value.clone());
        if let Some(filter) = &journey.value.trigger.filter {
            sites.push((
                Site::Trigger {
                    journey: journey.name.clone(),
                },
                journey.file,
                filter,
                trigger_event.clone(),
            ));
        }
        for (index, step) in journey.value.steps.iter().enumerate() {
            if let Some(wait_for) = &step.wait_for
                && let Some(filter) = &wait_for.filter
            {
                sites.push((
                    Site::WaitFor {
                        journey: journey.name.clone(),
                        step: index,
                    },
                    journey.file,
                    filter,
                    Some(wait_for.event.value.clone()),
                ));
            }
            if let Some(branch) = &step.branch {
                for (case, arm) in branch.cases.iter().enumerate() {
                    sites.push((
                        Site::Branch {
                            journey: journey.name.clone(),
                            step: index,
                            case,
                        },
                        journey.file,
                        &arm.when,
                        trigger_event.clone(),
                    ));
                }
            }
        }
    }

    let mut diagnostics = Diagnostics::default();
    let mut filters = Vec::new();
    for (site, file, text, trigger_event) in sites {
        let location = FilterLocation::scalar(&project.sources, file, text);
        let (expr, issues) = check_text(&text.value, catalog.as_ref(), trigger_event.as_deref());
        let valid = expr.is_some() && !issues.iter().any(is_error);
        for issue in issues {
            diagnostics.push(issue.into_diagnostic(&|range| location.span(range)));
        }
        filters.push(Filter {
            site,
            file,
            text: text.value.clone(),
            start: text.start,
            location,
            trigger_event,
            expr,
            valid,
        });
    }
    let segments = segment_exprs(&filters);
    let nesting = segment_nesting(&segments);
    for filter in &mut filters {
        let Some(expr) = &filter.expr else { continue };
        let own = usize::from(matches!(filter.site, Site::Segment(_)));
        for issue in too_deep_references(expr, own, &nesting) {
            filter.valid = false;
            let location = &filter.location;
            diagnostics.push(issue.into_diagnostic(&|range| location.span(range)));
        }
    }
    if let Some(catalog) = &catalog {
        for issue in too_large_for_the_store(&mut filters, catalog, &segments, &nesting) {
            diagnostics.push(issue);
        }
    }
    (
        Filters {
            catalog: catalog.unwrap_or_default(),
            filters,
        },
        diagnostics,
    )
}

/// F012 for each segment or audience filter whose query would exceed the
/// store's limits, so `check` says so before `segment` or `plan` fails.
/// Filters are compiled referenced segments first, and one that refers to a
/// segment already too large is not reported again: the cause is reported
/// once, where it is.
fn too_large_for_the_store(
    filters: &mut [Filter],
    catalog: &Catalog,
    segments: &BTreeMap<String, Expr>,
    nesting: &BTreeMap<&str, usize>,
) -> Vec<crate::diagnostic::Diagnostic> {
    // The clock only fills in parameters; their number does not depend on it.
    let clock = Clock::new(jiff::Timestamp::now(), &catalog.timezone);
    let compiler = SqlCompiler {
        catalog,
        clock: &clock,
        segments,
        dialect: &Sqlite,
    };
    let order = |filter: &Filter| match &filter.site {
        Site::Segment(name) => nesting.get(name.as_str()).copied().unwrap_or(0),
        _ => usize::MAX,
    };
    let mut indices: Vec<usize> = (0..filters.len())
        .filter(|&index| {
            let filter = &filters[index];
            filter.valid && matches!(filter.site, Site::Segment(_) | Site::Audience { .. })
        })
        .collect();
    indices.sort_by_key(|&index| order(&filters[index]));
    let mut too_large: BTreeSet<String> = BTreeSet::new();
    let mut diagnostics = Vec::new();
    for index in indices {
        let filter = &mut filters[index];
        let Some(expr) = &filter.expr else { continue };
        let inherited = expr
            .segment_references()
            .iter()
            .any(|reference| too_large.contains(&reference.text));
        let problem = if inherited {
            None
        } else {
            match compiler.limit_problem(expr) {
                Some(problem) => Some(problem),
                None => continue,
            }
        };
        filter.valid = false;
        if let Site::Segment(name) = &filter.site {
            too_large.insert(name.clone());
        }
        if let Some(problem) = problem {
            let location = &filter.location;
            let issue = Issue::new(Code::FilterTooLarge, expr.range, problem)
                .label("too large for one query")
                .help("split the conditions into segments that campaigns combine, or use `in [...]` lists for long alternatives of one field");
            diagnostics.push(issue.into_diagnostic(&|range| location.span(range)));
        }
    }
    diagnostics
}

/// For every segment, how many segments expanding its filter writes out
/// inside one another (itself included): 1 for a filter without `in
/// segment`. A cycle (reported by resolution) counts as ending where it
/// closes. The walk keeps its own stack: a chain of thousands of segments is
/// input too.
pub fn segment_nesting(segments: &BTreeMap<String, Expr>) -> BTreeMap<&str, usize> {
    let references = |name: &str| -> Vec<&str> {
        segments.get(name).map_or_else(Vec::new, |expr| {
            expr.segment_references()
                .into_iter()
                .filter_map(|reference| segments.get_key_value(&reference.text))
                .map(|(name, _)| name.as_str())
                .collect()
        })
    };
    let mut nesting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut on_path: BTreeSet<&str> = BTreeSet::new();
    for root in segments.keys() {
        let mut stack: Vec<(&str, Vec<&str>)> = Vec::new();
        if !nesting.contains_key(root.as_str()) {
            on_path.insert(root);
            stack.push((root, references(root)));
        }
        while let Some((name, pending)) = stack.last_mut() {
            let name = *name;
            match pending.pop() {
                Some(next) if !nesting.contains_key(next) && !on_path.contains(next) => {
                    on_path.insert(next);
                    stack.push((next, references(next)));
                }
                Some(_) => {}
                None => {
                    let deepest = references(name)
                        .into_iter()
                        .filter_map(|next| nesting.get(next))
                        .max()
                        .copied()
                        .unwrap_or(0);
                    nesting.insert(name, deepest + 1);
                    on_path.remove(name);
                    stack.pop();
                }
            }
        }
    }
    nesting
}

/// The `in segment` references of a filter whose expansion goes deeper than
/// [`MAX_SEGMENT_NESTING`] segments; `own` is 1 when the filter is itself a
/// segment's, which expansion writes out too.
pub fn too_deep_references(expr: &Expr, own: usize, nesting: &BTreeMap<&str, usize>) -> Vec<Issue> {
    expr.segment_references()
        .into_iter()
        .filter_map(|reference| {
            let depth = own + nesting.get(reference.text.as_str())?;
            (depth > MAX_SEGMENT_NESTING).then(|| {
                Issue::new(
                    Code::FilterTooDeep,
                    reference.range,
                    format!(
                        "`in segment \"{}\"` nests {depth} segments inside one another; herald expands at most {MAX_SEGMENT_NESTING}",
                        reference.text
                    ),
                )
                .label("expands too deeply")
                .help("refer to a segment nearer the start of the chain, or write its conditions out")
            })
        })
        .collect()
}

fn segment_exprs(filters: &[Filter]) -> BTreeMap<String, Expr> {
    filters
        .iter()
        .filter_map(|filter| match (&filter.site, &filter.expr) {
            (Site::Segment(name), Some(expr)) => Some((name.clone(), expr.clone())),
            _ => None,
        })
        .collect()
}

fn is_error(issue: &Issue) -> bool {
    issue.code.default_severity() == crate::diagnostic::Severity::Error
        && issue.code != crate::codes::Code::NeverMatches
}

/// Parses, type-checks (when there is a data model) and analyses one filter.
pub fn check_text(
    text: &str,
    catalog: Option<&Catalog>,
    trigger_event: Option<&str>,
) -> (Option<Expr>, Vec<Issue>) {
    let expr = match parse(text) {
        Ok(expr) => expr,
        Err(error) => return (None, vec![error.into()]),
    };
    let Some(catalog) = catalog else {
        return (Some(expr), Vec::new());
    };
    let mut issues = typecheck::check(&expr, catalog, Context { trigger_event });
    // Contradictions are only worth reporting in a filter that type-checks.
    if issues.is_empty() {
        issues = analysis::analyse(&expr, text);
    }
    (Some(expr), issues)
}
