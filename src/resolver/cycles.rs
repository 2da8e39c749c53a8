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
/// starting at its smallest name.
fn find_cycles(graph: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut BTreeSet<Vec<String>>,
    ) {
        if let Some(position) = stack.iter().position(|n| n == node) {
            let mut cycle: Vec<String> = stack[position..].to_vec();
            let smallest = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| *n)
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(smallest);
            cycles.insert(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                visit(next, graph, stack, done, cycles);
            }
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut cycles);
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
