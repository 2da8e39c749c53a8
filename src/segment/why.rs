//! Why a contact is in a segment or not (`herald segment NAME --why ID`):
//! the filter's condition tree, each node evaluated for the contact in
//! memory with the [`Evaluator`] (so the answer is the one journeys and
//! previews get), the contact's actual values beside each test, and every
//! `in segment` expanded into the referenced segment's own tree.
//!
//! `--why` exists because a count alone does not tell a marketer which of
//! ten conditions dropped the contact they expected to see.

use serde::Serialize;
use serde_json::Value as Json;

use super::MAX_SEGMENT_NESTING;
use super::ast::{Expr, ExprKind};
use super::catalog::channel_address;
use super::check::Filters;
use super::eval::Evaluator;
use crate::contact::{Contact, Value};

/// What a node of the tree is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `a and b`: holds when every child holds.
    All,
    /// `a or b`: holds when any child holds.
    Any,
    Not,
    Condition,
    InSegment,
    Reachable,
    Did,
}

/// One node of the explained tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    pub kind: Kind,
    /// The node as written in the filter, whitespace collapsed.
    pub text: String,
    pub holds: bool,
    /// What the contact has, as shown to the user (`orders_count = 1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The operand's value of a condition (null when not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

/// Explains `expr` (parsed from `text`) for `contact`; `filters` gives the
/// text and tree of the segments `in segment` names.
pub fn explain(
    evaluator: &Evaluator,
    filters: &Filters,
    text: &str,
    expr: &Expr,
    contact: &Contact,
) -> Node {
    Explainer {
        evaluator,
        filters,
        contact,
        stack: Vec::new(),
    }
    .node(text, expr)
}

struct Explainer<'a> {
    evaluator: &'a Evaluator<'a>,
    filters: &'a Filters,
    contact: &'a Contact,
    /// The segments being expanded, so a cycle (a compile error, F011)
    /// cannot recurse forever here.
    stack: Vec<String>,
}

impl Explainer<'_> {
    fn node(&mut self, text: &str, expr: &Expr) -> Node {
        let holds = self.evaluator.matches(expr, self.contact);
        let mut node = Node {
            kind: Kind::Condition,
            text: written(text, expr),
            holds,
            actual: None,
            value: None,
            children: Vec::new(),
        };
        match &expr.kind {
            ExprKind::And(items) | ExprKind::Or(items) => {
                node.kind = if matches!(expr.kind, ExprKind::And(_)) {
                    Kind::All
                } else {
                    Kind::Any
                };
                node.children = items.iter().map(|item| self.node(text, item)).collect();
            }
            ExprKind::Not(inner) => {
                node.kind = Kind::Not;
                node.children = vec![self.node(text, inner)];
            }
            ExprKind::Condition(condition) => {
                let operand = collapse(slice(text, condition.operand.range()));
                let value = self
                    .evaluator
                    .operand_value(&condition.operand, self.contact);
                node.actual = Some(shown(&operand, value.as_ref()));
                node.value = Some(value.map_or(Json::Null, |value| value.to_json()));
            }
            ExprKind::InSegment(name) => {
                node.kind = Kind::InSegment;
                let expandable =
                    !self.stack.contains(&name.text) && self.stack.len() < MAX_SEGMENT_NESTING;
                if let Some(filter) = self.filters.segment(&name.text)
                    && let Some(inner) = &filter.expr
                    && expandable
                {
                    self.stack.push(name.text.clone());
                    node.children = vec![self.node(&filter.text, inner)];
                    self.stack.pop();
                }
            }
            ExprKind::Reachable(channel) => {
                node.kind = Kind::Reachable;
                node.actual = Some(reachability(self.contact, &channel.text));
            }
            ExprKind::Did(predicate) => {
                node.kind = Kind::Did;
                let count = self
                    .evaluator
                    .selected_count(&predicate.selection, self.contact);
                let event = &predicate.selection.event.text;
                // The total tells "never bought" from "bought, but too long ago".
                let total = self
                    .contact
                    .events
                    .iter()
                    .filter(|candidate| &candidate.event == event)
                    .count();
                node.actual = Some(format!("{count} of {total} {event} events match"));
                node.value = Some(Json::from(count));
            }
        }
        node
    }
}

/// The tree as text: one line per node, children indented, values in
/// parentheses.
pub fn render(node: &Node) -> String {
    let mut out = String::new();
    render_into(node, 0, &mut out);
    out
}

fn render_into(node: &Node, depth: usize, out: &mut String) {
    let mark = if node.holds { '✓' } else { '✗' };
    let text = match node.kind {
        Kind::All => "all of",
        Kind::Any => "any of",
        Kind::Not => "not",
        _ => node.text.as_str(),
    };
    out.push_str(&format!("{}{mark} {text}", "  ".repeat(depth)));
    if let Some(actual) = &node.actual {
        out.push_str(&format!("   ({actual})"));
    }
    out.push('\n');
    for child in &node.children {
        render_into(child, depth + 1, out);
    }
}

fn slice(text: &str, range: super::ast::Range) -> &str {
    text.get(range.start..range.end).unwrap_or_default()
}

fn written(text: &str, expr: &Expr) -> String {
    collapse(slice(text, expr.range))
}

/// A filter written over several YAML lines, on one line.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shown(operand: &str, value: Option<&Value>) -> String {
    match value {
        Some(value) => format!("{operand} = {}", value.to_json()),
        None => format!("{operand} is not set"),
    }
}

/// What `reachable by CHANNEL` looks at: the address, the consent and
/// any suppression.
fn reachability(contact: &Contact, channel: &str) -> String {
    let Some(field) = channel_address(channel) else {
        return format!("`{channel}` has no address field");
    };
    let mut parts = vec![shown(field, contact.attributes.get(field))];
    parts.push(
        match contact.consents.get(channel) {
            Some(true) => "consent granted",
            Some(false) => "consent revoked",
            None => "no consent",
        }
        .to_string(),
    );
    if contact.suppressions.contains(channel) || contact.suppressions.contains("*") {
        parts.push("suppressed".to_string());
    }
    parts.join(", ")
}
