//! Segment references: what each segment's filter refers to, and the
//! reference cycles among them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Resolver;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

impl Resolver<'_> {
    /// For every segment, the segments its filter refers to; reports the
    /// references that do not resolve and every cycle.
    pub(super) fn segments(&mut self) -> BTreeMap<String, Vec<String>> {
        let mut resolution: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut spans: HashMap<(String, String), Span> = HashMap::new();
        for segment in &self.project.segments {
            self.lint_keys(segment.file, &segment.value.lint);
            let filter = &segment.value.filter;
            let mut references = Vec::new();
            for (name, span) in self.segment_references(segment.file, filter) {
                spans.insert((segment.name.clone(), name.clone()), span);
                if name != segment.name {
                    self.segment_reference(segment.file, &name, span);
                }
                references.push(name);
            }
            resolution.insert(segment.name.clone(), references);
        }
        for cycle in find_cycles(&resolution) {
            let first = &cycle[0];
            let next = &cycle[1 % cycle.len()];
            let span = spans[&(first.clone(), next.clone())];
            let mut path = cycle.clone();
            path.push(first.clone());
            let mut diagnostic = Diagnostic::new(
                Code::SegmentCycle,
                span,
                format!("segment `{first}` refers to itself: {}", path.join(" → ")),
            )
            .label("this reference closes the cycle")
            .help("write one of the segments' conditions out instead of referring back");
            for pair in cycle.windows(2).chain(std::iter::once(
                [cycle[cycle.len() - 1].clone(), first.clone()].as_slice(),
            )) {
                if pair[0] != *first
                    && let Some(span) = spans.get(&(pair[0].clone(), pair[1].clone()))
                {
                    diagnostic = diagnostic
                        .with_secondary(*span, format!("`{}` refers to `{}`", pair[0], pair[1]));
                }
            }
            self.push(diagnostic);
        }
        resolution
    }
}

/// Every elementary cycle found by depth-first search, each reported once,
/// starting at its smallest name. The search keeps its own stack: a chain of
/// thousands of segments is input too, and must not exhaust the thread's.
fn find_cycles(graph: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for root in graph.keys() {
        if done.contains(root.as_str()) {
            continue;
        }
        // The path from the root, each node with the index of its next reference.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        let mut on_path: HashMap<&str, usize> = HashMap::from([(root.as_str(), 0)]);
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let Some(target) = graph.get(node).and_then(|targets| targets.get(*next)) else {
                path.pop();
                on_path.remove(node);
                done.insert(node);
                continue;
            };
            *next += 1;
            if !graph.contains_key(target) {
                continue;
            }
            if let Some(&position) = on_path.get(target.as_str()) {
                let mut cycle: Vec<String> = path[position..]
                    .iter()
                    .map(|(name, _)| name.to_string())
                    .collect();
                let smallest = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, n)| *n)
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(smallest);
                cycles.insert(cycle);
            } else if !done.contains(target.as_str()) {
                on_path.insert(target, path.len());
                path.push((target, 0));
            }
        }
    }
    cycles.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_once() {
        let mut graph = BTreeMap::new();
        graph.insert("a".to_string(), vec!["b".to_string()]);
        graph.insert("b".to_string(), vec!["c".to_string()]);
        graph.insert("c".to_string(), vec!["a".to_string()]);
        graph.insert("d".to_string(), vec!["d".to_string()]);
        assert_eq!(
            find_cycles(&graph),
            vec![
                vec!["a".to_string(), "b".into(), "c".into()],
                vec!["d".to_string()]
            ]
        );
    }
}
