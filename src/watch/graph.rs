//! Which files every message and every definition depends on, so that a
//! save re-renders only the previews it can change and names the campaigns
//! and journeys it re-checks.
//!
//! Files are named as diagnostics name them: relative to the project root,
//! with `/` separators (`templates/partials/footer.html`). A message depends
//! on the YAML that declares it, the manifest, its template files and
//! everything they `include`, `extends` or `import`, transitively. A
//! campaign, journey or segment depends on the segments it uses, directly or
//! through `in segment`, and on its templates.

use std::collections::{BTreeMap, BTreeSet};

use crate::compilation::Compilation;
use crate::loader::MANIFEST;
use crate::template::{ChannelMessage, Origin, Target, base_name};

/// The dependencies of one compilation.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Message ([`message_key`]) → the files its rendering reads.
    pub renders: BTreeMap<String, BTreeSet<String>>,
    /// Definition file (`campaigns/promo/sale.yaml`) → the files its check reads.
    pub checks: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn new(compilation: &Compilation) -> Graph {
        let templates = compilation.templates.as_ref();
        let project = &compilation.project;
        let file_name = |file| project.sources.file(file).name.clone();
        let mut graph = Graph::default();

        // Templates: which template files each one reads, transitively.
        let mut includes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(templates) = templates {
            for (name, analysis) in &templates.analyses {
                let Ok(analysis) = analysis else { continue };
                let names = analysis
                    .includes
                    .iter()
                    .map(|(included, _)| template_name(included))
                    .collect();
                includes.insert(name.clone(), names);
            }
            for target in &templates.targets {
                let declaring = file_name(target.file);
                for message in &target.messages {
                    let mut files = BTreeSet::from([declaring.clone(), MANIFEST.to_string()]);
                    for part in &message.parts {
                        for template in reachable(&includes, base_name(&part.template)) {
                            if matches!(
                                templates.origins.get(&template),
                                Some(Origin::Inline { .. })
                            ) {
                                continue;
                            }
                            files.insert(format!("templates/{template}"));
                        }
                    }
                    graph.checks.entry(declaring.clone()).or_default().extend(
                        files
                            .iter()
                            .filter(|file| file.starts_with("templates/"))
                            .cloned(),
                    );
                    graph
                        .renders
                        .entry(message_key(target, message))
                        .or_default()
                        .extend(files);
                }
            }
        }

        // Segments: the ones each definition names, then through `in segment`.
        let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for campaign in &project.campaigns {
            let audience = &campaign.value.audience;
            let named = audience.segment.iter().chain(&audience.exclude);
            uses.entry(file_name(campaign.file))
                .or_default()
                .extend(named.map(|text| text.value.clone()));
        }
        for journey in &project.journeys {
            let value = &journey.value;
            let named = value.trigger.segment.iter().chain(&value.entry.segment);
            uses.entry(file_name(journey.file))
                .or_default()
                .extend(named.map(|text| text.value.clone()));
        }
        for filter in &compilation.filters.filters {
            let Some(expr) = &filter.expr else { continue };
            let names = expr
                .segment_references()
                .into_iter()
                .map(|n| n.text.clone());
            uses.entry(file_name(filter.file))
                .or_default()
                .extend(names);
        }
        let references = &compilation.segment_references;
        for (file, named) in uses {
            let mut seen = BTreeSet::new();
            let mut pending: Vec<String> = named.into_iter().collect();
            while let Some(segment) = pending.pop() {
                if seen.insert(segment.clone())
                    && let Some(next) = references.get(&segment)
                {
                    pending.extend(next.iter().cloned());
                }
            }
            let entry = graph.checks.entry(file).or_default();
            entry.extend(
                seen.iter()
                    .map(|segment| format!("segments/{segment}.yaml")),
            );
        }
        graph
    }

    /// Adds the dependencies `old` knew, so that a file that was deleted or
    /// no longer included still counts as read by those that read it.
    pub fn merge(&mut self, old: &Graph) {
        for (key, files) in &old.renders {
            if let Some(current) = self.renders.get_mut(key) {
                current.extend(files.iter().cloned());
            }
        }
        for (key, files) in &old.checks {
            if let Some(current) = self.checks.get_mut(key) {
                current.extend(files.iter().cloned());
            }
        }
    }

    /// The messages ([`message_key`]) whose rendering reads a changed file.
    pub fn affected_messages(&self, changed: &BTreeSet<String>) -> BTreeSet<String> {
        self.renders
            .iter()
            .filter(|(_, files)| !files.is_disjoint(changed))
            .map(|(label, _)| label.clone())
            .collect()
    }

    /// The definition files that depend on a changed file (other than themselves).
    pub fn dependents(&self, changed: &BTreeSet<String>) -> Vec<String> {
        self.checks
            .iter()
            .filter(|(file, reads)| !changed.contains(*file) && !reads.is_disjoint(changed))
            .map(|(file, _)| file.clone())
            .collect()
    }
}

/// Names one message of a target: `promo/sale · email`.
pub fn message_key(target: &Target, message: &ChannelMessage) -> String {
    format!("{} · {}", target.label(), message.channel)
}

/// The template name an `include` names, as the environment resolves it.
fn template_name(included: &str) -> String {
    let name = included.trim_start_matches("./");
    name.strip_prefix("templates/").unwrap_or(name).to_string()
}

/// `name` and every template it reads, transitively.
fn reachable(includes: &BTreeMap<String, Vec<String>>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending = vec![name.to_string()];
    while let Some(current) = pending.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        if let Some(next) = includes.get(&current) {
            pending.extend(next.iter().cloned());
        }
    }
    seen
}
