//! Name resolution and the checks on settings that no other stage owns.
//! Every reference to a segment, template, channel, provider, event,
//! attribute or step resolves, or is a diagnostic with a "did you mean".
//!
//! One file per seam: `references` (names), `manifest` (the manifest's
//! settings and `lint:` keys), `providers` (provider settings and secret
//! detection), `schedules` (durations, times and campaign schedules),
//! `kpis`, `steps` (journey triggers and step rules), `sources` (the
//! files `sources:` names), `serve` (the `serve:` section) and `cycles`
//! (segment reference cycles).

mod cycles;
mod kpis;
mod manifest;
mod providers;
mod references;
mod schedules;
mod serve;
mod sources;
mod steps;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::tz::TimeZone;

use crate::campaign;
use crate::compilation::Sources;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::journey::JourneyTimes;
use crate::loader::{Definition, Project};
use crate::model::{Campaign, Manifest};
use crate::policy::Policies;
use crate::provider::Provider;
use crate::schema::Kind;
use crate::segment::check::{Filter, Filters};
use crate::source::{FileId, Span};

pub use providers::{is_env_reference, looks_like_secret};

/// What resolution learned and typed, for later stages.
#[derive(Debug, Default)]
pub struct Resolution {
    /// For every segment, the segments its filter refers to.
    pub segment_references: BTreeMap<String, Vec<String>>,
    /// The project's time zone; `None` without a manifest or with an unknown zone.
    pub timezone: Option<TimeZone>,
    pub policies: Policies,
    /// Providers by name; one whose settings are incomplete is left out.
    pub providers: BTreeMap<String, Provider>,
    /// Every campaign, in the order of `project.campaigns`.
    pub campaigns: Vec<campaign::Campaign>,
    /// The typed times of every journey, in the order of `project.journeys`,
    /// for the journey stage.
    pub journeys: Vec<JourneyTimes>,
    /// The files `sources:` names.
    pub sources: Sources,
}

/// Resolves the references of a project; `filters` are its parsed filters
/// (the filter stage's), read for `in segment` references.
pub fn resolve(project: &Project, filters: &Filters) -> (Resolution, Diagnostics) {
    let mut resolver = Resolver {
        project,
        filters: filters
            .filters
            .iter()
            .map(|filter| ((filter.file, filter.start), filter))
            .collect(),
        diagnostics: Diagnostics::default(),
        used_segments: BTreeSet::new(),
        segment_names: project.segments.iter().map(|s| s.name.as_str()).collect(),
        templates: project.templates.iter().map(|t| t.name.as_str()).collect(),
    };
    let mut resolution = Resolution::default();
    if let Some(manifest) = &project.manifest {
        resolver.check_manifest(manifest, &mut resolution);
    } else if let Some((file, node)) = &project.unchecked_manifest {
        resolver.unchecked_secrets(*file, node);
    }
    resolution.segment_references = resolver.segments();
    resolution.campaigns = project
        .campaigns
        .iter()
        .map(|campaign| resolver.campaign(campaign))
        .collect();
    resolution.journeys = project
        .journeys
        .iter()
        .map(|journey| resolver.journey(journey))
        .collect();
    resolver.unused_segments();
    (resolution, resolver.diagnostics)
}

struct Resolver<'a> {
    project: &'a Project,
    /// Parsed filters by file and start of their YAML value.
    filters: HashMap<(FileId, u32), &'a Filter>,
    diagnostics: Diagnostics,
    used_segments: BTreeSet<String>,
    segment_names: BTreeSet<&'a str>,
    templates: BTreeSet<&'a str>,
}

impl<'a> Resolver<'a> {
    fn manifest(&self) -> Option<&'a Manifest> {
        self.project.manifest.as_ref().map(|m| &m.value)
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn is_broken(&self, kind: Kind, name: &str) -> bool {
        self.project.unreadable.contains(&kind)
            || self
                .project
                .broken
                .iter()
                .any(|(k, n)| *k == kind && n == name)
    }

    /// Resolves a campaign's references and types its values.
    fn campaign(&mut self, definition: &'a Definition<Campaign>) -> campaign::Campaign {
        let file = definition.file;
        let campaign = &definition.value;
        self.lint_keys(file, &campaign.lint);
        if let Some(segment) = &campaign.audience.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        for segment in &campaign.audience.exclude {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        if let Some(filter) = &campaign.audience.filter {
            self.filter_segments(file, filter);
        }
        for channel in &campaign.channels {
            self.channel_reference(file, channel);
        }
        self.messages(file, &campaign.messages);
        for variant in &campaign.variants {
            self.messages(file, &variant.messages);
        }
        let goal = campaign
            .goal
            .as_ref()
            .and_then(|goal| self.goal(file, goal));
        let schedule = self.schedule(definition);
        self.kpi(definition);
        campaign::Campaign {
            name: definition.name.clone(),
            file,
            kind: campaign.kind,
            schedule,
            schedule_span: definition
                .node
                .entry("schedule")
                .map_or(Span::new(file, 0, 0), |(key, _)| key.span(file)),
            audience: campaign::Audience {
                segment: campaign.audience.segment.as_ref().map(|s| s.value.clone()),
                exclude: campaign
                    .audience
                    .exclude
                    .iter()
                    .map(|s| s.value.clone())
                    .collect(),
                filter: campaign
                    .audience
                    .filter
                    .as_ref()
                    .and_then(|filter| self.parsed(file, filter))
                    .cloned(),
            },
            channels: campaign.channels.iter().map(|c| c.value.clone()).collect(),
            mode: campaign.mode,
            variants: campaign
                .variants
                .iter()
                .map(|variant| campaign::Variant {
                    name: variant.name.value.clone(),
                    weight: variant.weight,
                })
                .collect(),
            holdout: campaign.holdout,
            once_per: campaign
                .once_per
                .as_ref()
                .and_then(|period| self.duration(file, period)),
            goal,
            offer: campaign.offer.as_ref().map(|offer| offer.value.clone()),
            budget: campaign.budget,
            kpi: campaign
                .kpi
                .iter()
                .map(|(name, target)| (name.value.clone(), *target))
                .collect(),
            priority: campaign.priority,
        }
    }

    /// A goal's event resolves and its window is a duration.
    fn goal(&mut self, file: FileId, goal: &crate::model::Goal) -> Option<campaign::Goal> {
        self.event_reference(file, &goal.event);
        let window = self.duration(file, &goal.within)?;
        Some(campaign::Goal {
            event: goal.event.value.clone(),
            window,
            window_span: goal.within.span(file),
        })
    }
}

impl Diagnostic {
    /// Adds help only when no help was set (by a suggestion, say).
    fn help_if_none(self, help: impl Into<String>) -> Diagnostic {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}
