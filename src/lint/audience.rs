//! Who a campaign or journey can reach, as the parsed filters with every
//! `in segment` reference replaced by that segment's tree, so that the
//! segment language's static analysis can try to prove two audiences
//! disjoint. What it cannot prove disjoint may overlap: the conflict rules
//! report only possible overlaps that the author can rule out by tightening
//! a filter.
//!
//! Two rules keep the proofs honest:
//! - an exclusion (`exclude:` or `not in segment`) rules out the excluded
//!   audience: a campaign that excludes the birthday segment does not overlap
//!   a campaign to that segment. The exclusion is taken as the author wrote
//!   it, evaluated when each campaign sends.
//! - conditions on values that change with the clock (`age`, `days_since`,
//!   `days_until_anniversary`, `within`, `… ago`, event windows) prove
//!   nothing about sends at different moments: a contact with
//!   `days_until_anniversary(birthday) = 7` today has `= 6` tomorrow. They
//!   count only for audiences decided at the same moment (journeys entered
//!   on the same trigger).

use std::collections::BTreeMap;

use crate::loader::Definition;
use crate::model::{Campaign, Journey};
use crate::segment::analysis::analyse;
use crate::segment::ast::{Expr, ExprKind, Operand, Test, TimePoint};
use crate::segment::check::{Filters, Site};

/// References are written out to this depth; deeper ones (cycles, reported
/// by resolution) stay references.
const MAX_DEPTH: usize = 8;

/// The parsed filters the audiences are made of.
pub struct Audiences<'a> {
    /// Every filter's text, one after another. The trees below are shifted
    /// to point into it, because the analysis recognises a condition's
    /// operand by its text as written.
    text: String,
    /// The filter of every segment whose filter is valid (an invalid one was
    /// reported already and takes no part).
    segments: BTreeMap<&'a str, Expr>,
    /// Campaign audience and journey trigger filters; `None` when one does
    /// not parse.
    conditions: BTreeMap<&'a Site, Option<Expr>>,
}

/// An audience: conditions every member meets, joined by `and`. No
/// conditions means everyone.
#[derive(Clone, Debug)]
pub struct Audience {
    conjuncts: Vec<Expr>,
    /// A part could not be read (its filter does not parse): nothing can be
    /// proved about it.
    opaque: bool,
}

impl<'a> Audiences<'a> {
    pub fn new(filters: &'a Filters) -> Audiences<'a> {
        let mut text = String::new();
        let mut segments = BTreeMap::new();
        let mut conditions = BTreeMap::new();
        for filter in &filters.filters {
            let take = |text: &mut String| {
                filter.expr.clone().map(|mut expr| {
                    expr.shift(text.len());
                    text.push_str(&filter.text);
                    text.push('\n');
                    expr
                })
            };
            match &filter.site {
                Site::Segment(name) if filter.valid => {
                    if let Some(expr) = take(&mut text) {
                        segments.insert(name.as_str(), expr);
                    }
                }
                Site::Audience { .. } | Site::Trigger { .. } => {
                    conditions.insert(&filter.site, take(&mut text));
                }
                _ => {}
            }
        }
        Audiences {
            text,
            segments,
            conditions,
        }
    }

    /// A segment's filter with its references written out.
    fn segment(&self, name: &str) -> Option<Expr> {
        self.segments.get(name).map(|expr| self.expand(expr, 0))
    }

    /// Replaces every `in segment "x"` by x's filter, to a bounded depth.
    fn expand(&self, expr: &Expr, depth: usize) -> Expr {
        let mut expanded = expr.clone();
        if depth <= MAX_DEPTH {
            self.replace(&mut expanded, depth);
        }
        expanded
    }

    fn replace(&self, expr: &mut Expr, depth: usize) {
        match &mut expr.kind {
            ExprKind::InSegment(name) => {
                if let Some(inner) = self.segments.get(name.text.as_str()) {
                    *expr = self.expand(inner, depth + 1);
                }
            }
            ExprKind::Or(items) | ExprKind::And(items) => {
                for item in items {
                    self.replace(item, depth);
                }
            }
            ExprKind::Not(inner) => self.replace(inner, depth),
            ExprKind::Did(predicate) => {
                if let Some(condition) = &mut predicate.selection.condition {
                    self.replace(condition, depth);
                }
            }
            ExprKind::Condition(condition) => {
                if let crate::segment::ast::Operand::Aggregate { selection, .. } =
                    &mut condition.operand
                    && let Some(inner) = &mut selection.condition
                {
                    self.replace(inner, depth);
                }
            }
            ExprKind::Reachable(_) => {}
        }
    }

    /// The conditions of a filter written at `site`, if it has one.
    fn condition(&self, site: Site, audience: &mut Audience) {
        match self.conditions.get(&site) {
            Some(Some(expr)) => audience.push(self.expand(expr, 0)),
            _ => audience.opaque = true,
        }
    }

    /// A campaign's audience: its segment, extra filter and exclusions.
    /// `None` when its segment is unknown or invalid; an exclusion that is
    /// unknown or invalid is left out (leaving a condition out only makes
    /// the audience larger, so no proof becomes wrong).
    pub fn campaign(&self, campaign: &Definition<Campaign>) -> Option<Audience> {
        let audience = &campaign.value.audience;
        let mut result = Audience::everyone();
        if let Some(segment) = &audience.segment {
            result.push(self.segment(&segment.value)?);
        }
        for excluded in &audience.exclude {
            if let Some(expr) = self.segment(&excluded.value) {
                result.push(Expr {
                    range: expr.range,
                    kind: ExprKind::Not(Box::new(expr)),
                });
            }
        }
        if audience.filter.is_some() {
            let site = Site::Audience {
                campaign: campaign.name.clone(),
            };
            self.condition(site, &mut result);
        }
        Some(result)
    }

    /// A journey's audience: the trigger's filter and the entry segment.
    pub fn journey(&self, journey: &Definition<Journey>) -> Option<Audience> {
        let mut result = Audience::everyone();
        if let Some(segment) = &journey.value.trigger.segment {
            result.push(self.segment(&segment.value)?);
        }
        if journey.value.trigger.filter.is_some() {
            let site = Site::Trigger {
                journey: journey.name.clone(),
            };
            self.condition(site, &mut result);
        }
        if let Some(segment) = &journey.value.entry.segment {
            result.push(self.segment(&segment.value)?);
        }
        Some(result)
    }

    /// Whether no contact is in both audiences when both are decided at the
    /// same moment (journeys entered on one trigger).
    pub fn disjoint(&self, first: &Audience, second: &Audience) -> bool {
        self.proved_disjoint(first, second, true)
    }

    /// Whether no contact is in both audiences when each is decided at its
    /// own send time (campaigns on their schedules): conditions on the clock
    /// take no part (see the module documentation).
    pub fn disjoint_at_any_times(&self, first: &Audience, second: &Audience) -> bool {
        self.proved_disjoint(first, second, false)
    }

    fn proved_disjoint(&self, first: &Audience, second: &Audience, same_moment: bool) -> bool {
        if first.opaque || second.opaque {
            return false;
        }
        if first.excludes(second) || second.excludes(first) {
            return true;
        }
        let usable = |expr: &&Expr| same_moment || !depends_on_clock(expr);
        let conjuncts: Vec<Expr> = first
            .conjuncts
            .iter()
            .filter(usable)
            .chain(second.conjuncts.iter().filter(usable))
            .cloned()
            .collect();
        let (Some(first_part), true) = (conjuncts.first(), conjuncts.len() > 1) else {
            return false;
        };
        let flat = Expr {
            range: first_part.range,
            kind: ExprKind::And(conjuncts),
        };
        analyse(&flat, &self.text)
            .iter()
            .any(|issue| issue.code == crate::codes::Code::NeverMatches)
    }
}

/// Whether a condition's truth changes with the clock alone, for a contact
/// whose data stays the same.
fn depends_on_clock(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Or(items) | ExprKind::And(items) => items.iter().any(depends_on_clock),
        ExprKind::Not(inner) => depends_on_clock(inner),
        ExprKind::InSegment(_) | ExprKind::Reachable(_) => false,
        ExprKind::Did(predicate) => predicate.selection.window.is_some(),
        ExprKind::Condition(condition) => {
            let operand = match &condition.operand {
                Operand::Field(_) => false,
                Operand::Function { .. } => true,
                Operand::Aggregate { selection, .. } => selection.window.is_some(),
            };
            operand
                || matches!(
                    condition.test,
                    Test::Within(_)
                        | Test::Before(TimePoint::Ago(_))
                        | Test::After(TimePoint::Ago(_))
                )
        }
    }
}

impl Audience {
    fn everyone() -> Audience {
        Audience {
            conjuncts: Vec::new(),
            opaque: false,
        }
    }

    /// Whether this audience leaves out everyone in `other`: it has a
    /// conjunct `not X` where X holds for every member of `other` (each of
    /// X's conjuncts is one of `other`'s).
    fn excludes(&self, other: &Audience) -> bool {
        self.conjuncts.iter().any(|conjunct| {
            let ExprKind::Not(excluded) = &conjunct.kind else {
                return false;
            };
            let mut parts = Audience::everyone();
            parts.push((**excluded).clone());
            !parts.conjuncts.is_empty()
                && parts
                    .conjuncts
                    .iter()
                    .all(|part| other.conjuncts.contains(part))
        })
    }

    /// Adds a condition; nested `and`s are flattened so that facts from
    /// every part meet in one list.
    fn push(&mut self, expr: Expr) {
        match expr.kind {
            ExprKind::And(items) => {
                for item in items {
                    self.push(item);
                }
            }
            _ => self.conjuncts.push(expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Audiences over segment filters given as text, and each audience
    /// as the conjunction of some of those segments.
    fn audiences(segments: &[(&'static str, &str)]) -> Audiences<'static> {
        let mut audiences = Audiences {
            text: String::new(),
            segments: BTreeMap::new(),
            conditions: BTreeMap::new(),
        };
        for (name, text) in segments {
            let mut expr = crate::segment::parse(text).expect("parses");
            expr.shift(audiences.text.len());
            audiences.text.push_str(text);
            audiences.text.push('\n');
            audiences.segments.insert(name, expr);
        }
        audiences
    }

    fn of(audiences: &Audiences, names: &[&str]) -> Audience {
        let mut audience = Audience::everyone();
        for name in names {
            audience.push(audiences.segment(name).expect("segment"));
        }
        audience
    }

    #[test]
    fn contradicting_audiences_are_disjoint_and_others_may_overlap() {
        let all = audiences(&[
            ("prospects", "orders_count = 0"),
            ("buyers", "orders_count > 0"),
            (
                "moscow_buyers",
                "in segment \"buyers\" and city = \"Москва\"",
            ),
            ("women", "(gender = \"female\")"),
            ("men", "gender = \"male\""),
            ("moscow", "city = \"Москва\""),
        ]);
        let disjoint = |a: &[&str], b: &[&str]| all.disjoint(&of(&all, a), &of(&all, b));
        assert!(disjoint(&["prospects"], &["moscow_buyers"]));
        assert!(disjoint(&["women"], &["men"]));
        assert!(!disjoint(&["buyers"], &["moscow"]));
        assert!(!disjoint(&[], &["buyers"]));
    }

    #[test]
    fn an_exclusion_rules_out_the_excluded_audience_and_the_clock_proves_nothing_apart() {
        let all = audiences(&[
            ("birthday", "days_until_anniversary(birthday) = 0"),
            ("promo", "orders_count > 0 and not in segment \"birthday\""),
            ("soon", "days_until_anniversary(birthday) = 7"),
            ("later", "days_until_anniversary(birthday) > 7"),
        ]);
        let pair = |a: &str, b: &str| (of(&all, &[a]), of(&all, &[b]));
        let (promo, birthday) = pair("promo", "birthday");
        assert!(all.disjoint_at_any_times(&promo, &birthday));
        assert!(all.disjoint_at_any_times(&birthday, &promo));
        let (soon, later) = pair("soon", "later");
        assert!(all.disjoint(&soon, &later));
        assert!(!all.disjoint_at_any_times(&soon, &later));
    }
}
