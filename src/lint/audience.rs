//! Who a campaign or journey can reach, as one filter text with every
//! `in segment` reference written out, so that the segment language's static
//! analysis can try to prove two audiences disjoint. What it cannot prove
//! disjoint may overlap: the conflict rules report only possible overlaps
//! that the author can rule out by tightening a filter.

use std::collections::BTreeMap;

use crate::loader::{Definition, Project};
use crate::model::{Campaign, Journey};
use crate::segment::analysis::analyse;
use crate::segment::ast::{Expr, ExprKind};
use crate::segment::check::Filters;

/// Filters of every segment, expanded on demand.
pub struct Audiences<'a> {
    segments: BTreeMap<&'a str, &'a str>,
}

impl<'a> Audiences<'a> {
    pub fn new(project: &'a Project, filters: &'a Filters) -> Audiences<'a> {
        // Only segments whose filters are valid take part; an invalid one was reported already.
        let segments = project
            .segments
            .iter()
            .filter(|segment| {
                filters
                    .segment(&segment.name)
                    .is_none_or(|filter| filter.valid)
            })
            .map(|segment| (segment.name.as_str(), segment.value.filter.value.as_str()))
            .collect();
        Audiences { segments }
    }

    /// The filter text of a segment with its references written out.
    pub fn segment(&self, name: &str) -> Option<String> {
        self.segments.get(name).map(|text| self.expand(text, 0))
    }

    /// Writes out every `in segment "x"` as `(x's filter)`, to a bounded depth
    /// (cycles were reported by resolution and stop here).
    pub fn expand(&self, text: &str, depth: usize) -> String {
        let Ok(expr) = crate::segment::parse(text) else {
            return text.to_string();
        };
        let mut references: Vec<(usize, usize, String)> = Vec::new();
        expr.walk(&mut |node| {
            if let ExprKind::InSegment(name) = &node.kind {
                references.push((node.range.start, node.range.end, name.text.clone()));
            }
        });
        if references.is_empty() || depth > 8 {
            return text.to_string();
        }
        let mut result = text.to_string();
        references.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
        for (start, end, name) in references {
            if let Some(inner) = self.segments.get(name.as_str()) {
                result.replace_range(start..end, &format!("({})", self.expand(inner, depth + 1)));
            }
        }
        result
    }

    /// A campaign's audience: its segment and extra filter (exclusions only
    /// shrink it, so they are left out of overlap proofs).
    pub fn campaign(&self, campaign: &Definition<Campaign>) -> Option<String> {
        let audience = &campaign.value.audience;
        let mut parts = Vec::new();
        if let Some(segment) = &audience.segment {
            parts.push(self.segment(&segment.value)?);
        }
        if let Some(filter) = &audience.filter {
            parts.push(self.expand(&filter.value, 0));
        }
        Some(conjunction(parts))
    }

    /// A journey's audience: the trigger's filter and the entry segment.
    pub fn journey(&self, journey: &Definition<Journey>) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(segment) = &journey.value.trigger.segment {
            parts.push(self.segment(&segment.value)?);
        }
        if let Some(filter) = &journey.value.trigger.filter {
            parts.push(self.expand(&filter.value, 0));
        }
        if let Some(segment) = &journey.value.entry.segment {
            parts.push(self.segment(&segment.value)?);
        }
        Some(conjunction(parts))
    }
}

fn conjunction(parts: Vec<String>) -> String {
    if parts.is_empty() {
        return String::new();
    }
    parts
        .iter()
        .map(|part| format!("({part})"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Whether the static analysis proves that no contact is in both audiences.
/// An empty audience text means everyone.
pub fn disjoint(first: &str, second: &str) -> bool {
    if first.is_empty() || second.is_empty() {
        return false;
    }
    let text = format!("({first}) and ({second})");
    let Ok(expr) = crate::segment::parse(&text) else {
        return false;
    };
    let flat = Expr {
        range: expr.range,
        kind: ExprKind::And(flatten(expr)),
    };
    analyse(&flat, &text)
        .iter()
        .any(|issue| issue.code == crate::codes::Code::NeverMatches)
}

/// The conjuncts of nested `and`s, so facts from both audiences meet in one list.
fn flatten(expr: Expr) -> Vec<Expr> {
    match expr.kind {
        ExprKind::And(items) => items.into_iter().flat_map(flatten).collect(),
        _ => vec![expr],
    }
}

#[cfg(test)]
mod tests {
    use super::disjoint;

    #[test]
    fn contradicting_audiences_are_disjoint_and_others_may_overlap() {
        assert!(disjoint(
            "orders_count = 0",
            "(orders_count > 0 and city = \"Москва\")"
        ));
        assert!(disjoint("(gender = \"female\")", "gender = \"male\""));
        assert!(!disjoint("orders_count > 0", "city = \"Москва\""));
        assert!(!disjoint("", "orders_count > 0"));
    }
}
