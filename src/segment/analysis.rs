//! Static analysis: simple facts proved about a filter before any contact is
//! seen. A conjunction whose parts contradict each other can never match
//! (an error, `never-matches`): ranges that do not overlap
//! (`age(birthday) > 40 and age(birthday) < 30`), two different equalities
//! on one value, `x is set and x is not set`, or a test on a value that the
//! same conjunction says is not set (a test on a missing value is false).
//! A disjunction of a condition and its negation (`x is set or x is not
//! set`, `A or not A`) always matches (a warning, `always-matches`). Both
//! mark the clashing parts.
//!
//! The analysis is deliberately conservative: it only reports what holds
//! whatever the data, so a report is always a real mistake. It is linear
//! (n log n) in the length of a conjunction or disjunction: generated
//! filters of tens of thousands of terms are checked in well under a
//! second, and what is reported is the earliest clashing pair, exactly what
//! comparing every pair in order would find.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::Issue;
use super::ast::*;
use super::functions;
use crate::codes::Code;

pub fn analyse(expr: &Expr, text: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    expr.walk(&mut |node| match &node.kind {
        ExprKind::And(items) => {
            if let Some(issue) = contradiction(items, text) {
                issues.push(issue);
            }
        }
        ExprKind::Or(items) => {
            if let Some(issue) = tautology(items, text) {
                issues.push(issue);
            }
        }
        _ => {}
    });
    issues
}

fn source(text: &str, range: Range) -> String {
    text.get(range.start..range.end)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value a bound or equality is about, comparable within its kind.
#[derive(Clone, Debug, PartialEq)]
enum Point {
    Number(f64),
    Date(jiff::civil::Date),
    Text(String),
    Boolean(bool),
}

impl Point {
    fn from(literal: &LiteralValue) -> Option<Point> {
        Some(match literal {
            LiteralValue::Integer(value) => Point::Number(*value as f64),
            LiteralValue::Decimal(value) => Point::Number(*value),
            LiteralValue::Date(date) => Point::Date(*date),
            // Strings compare case-insensitively (enums exactly); folding
            // keeps the analysis from calling "A" and "a" different.
            LiteralValue::String(text) => Point::Text(functions::fold(text)),
            LiteralValue::Boolean(value) => Point::Boolean(*value),
            LiteralValue::DateTime { .. } => return None,
        })
    }

    fn order(&self, other: &Point) -> Option<Ordering> {
        match (self, other) {
            (Point::Number(a), Point::Number(b)) => a.partial_cmp(b),
            (Point::Date(a), Point::Date(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// What one part of a conjunction says about its operand.
#[derive(Clone, Debug)]
enum Fact {
    Lower { point: Point, inclusive: bool },
    Upper { point: Point, inclusive: bool },
    Equal(Point),
    NotEqual(Point),
    Set,
    NotSet,
}

struct Stated {
    operand: String,
    facts: Vec<Fact>,
    range: Range,
}

fn facts(expr: &Expr, text: &str) -> Option<Stated> {
    let ExprKind::Condition(condition) = &expr.kind else {
        return None;
    };
    let operand = source(text, condition.operand.range());
    let point = |literal: &Literal| Point::from(&literal.value);
    let facts = match &condition.test {
        Test::Compare(comparison, literal) => {
            let point = point(literal)?;
            vec![match comparison {
                Comparison::Equal => Fact::Equal(point),
                Comparison::NotEqual => Fact::NotEqual(point),
                Comparison::Less => Fact::Upper {
                    point,
                    inclusive: false,
                },
                Comparison::LessOrEqual => Fact::Upper {
                    point,
                    inclusive: true,
                },
                Comparison::Greater => Fact::Lower {
                    point,
                    inclusive: false,
                },
                Comparison::GreaterOrEqual => Fact::Lower {
                    point,
                    inclusive: true,
                },
            }]
        }
        Test::Between(low, high) => vec![
            Fact::Lower {
                point: point(low)?,
                inclusive: true,
            },
            Fact::Upper {
                point: point(high)?,
                inclusive: true,
            },
        ],
        Test::IsSet => vec![Fact::Set],
        Test::IsNotSet => vec![Fact::NotSet],
        // Any other test is false on a missing value, so it implies "set".
        _ => vec![Fact::Set],
    };
    Some(Stated {
        operand,
        facts,
        range: expr.range,
    })
}

/// Whether two facts about one operand cannot both hold, and why.
fn clash(first: &Fact, second: &Fact) -> Option<&'static str> {
    use Fact::*;
    let below =
        |lower: &Point, lower_inclusive: bool, upper: &Point, upper_inclusive: bool| match lower
            .order(upper)
        {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => !(lower_inclusive && upper_inclusive),
            _ => false,
        };
    match (first, second) {
        (Set, NotSet) | (NotSet, Set) => Some("a value cannot be both set and not set"),
        (NotSet, _) | (_, NotSet) => Some("a test on a value that is not set is false"),
        (Equal(a), Equal(b)) if a != b => Some("one value cannot equal two different values"),
        (Equal(a), NotEqual(b)) | (NotEqual(b), Equal(a)) if a == b => {
            Some("a value cannot be equal and not equal to the same value")
        }
        (
            Lower {
                point: l,
                inclusive: li,
            },
            Upper {
                point: u,
                inclusive: ui,
            },
        )
        | (
            Upper {
                point: u,
                inclusive: ui,
            },
            Lower {
                point: l,
                inclusive: li,
            },
        ) if below(l, *li, u, *ui) => Some("the ranges do not overlap"),
        (
            Equal(e),
            Upper {
                point: u,
                inclusive: ui,
            },
        )
        | (
            Upper {
                point: u,
                inclusive: ui,
            },
            Equal(e),
        ) if below(e, true, u, *ui) => Some("the value is outside the range"),
        (
            Equal(e),
            Lower {
                point: l,
                inclusive: li,
            },
        )
        | (
            Lower {
                point: l,
                inclusive: li,
            },
            Equal(e),
        ) if below(l, *li, e, true) => Some("the value is outside the range"),
        _ => None,
    }
}

/// Two parts of a conjunction that cannot both hold, and why.
fn contradiction(items: &[Expr], text: &str) -> Option<Issue> {
    let stated: Vec<Stated> = items.iter().filter_map(|item| facts(item, text)).collect();
    let (first, second) = first_clash(&stated)?;
    let (first, second) = (&stated[first], &stated[second]);
    let reason = first
        .facts
        .iter()
        .flat_map(|a| second.facts.iter().filter_map(move |b| clash(a, b)))
        .next()?;
    Some(never_matches(text, first.range, second.range, reason))
}

/// The diagnostic for a conjunction whose `second` part contradicts the
/// earlier `first`, shared with the pairwise reference in the tests.
fn never_matches(text: &str, first: Range, second: Range, reason: &str) -> Issue {
    Issue::new(
        Code::NeverMatches,
        second,
        format!(
            "this filter can never match: `{}` and `{}` cannot both hold",
            source(text, first),
            source(text, second)
        ),
    )
    .label("contradicts the earlier condition")
    .with_secondary(first, "this condition")
    .help(format!("{reason}; did you mean `or`?"))
}

/// The diagnostic for a disjunction whose `second` part is the complement
/// of the earlier `first`, shared with the pairwise reference in the tests.
fn always_matches(text: &str, first: Range, second: Range) -> Issue {
    Issue::new(
        Code::AlwaysMatches,
        second,
        format!(
            "this condition always matches: `{}` or `{}` holds for every contact",
            source(text, first),
            source(text, second)
        ),
    )
    .label("the complement of the earlier condition")
    .with_secondary(first, "this condition")
    .help("write the narrower condition meant, or drop the filter where everybody is meant")
}

/// The earliest part that clashes with an earlier one, and the earliest
/// earlier part it clashes with (as indices into `stated`): what comparing
/// every pair in order finds, but in O(n log n), because a generated
/// conjunction may have tens of thousands of parts.
fn first_clash(stated: &[Stated]) -> Option<(usize, usize)> {
    let mut summaries: HashMap<&str, Summary> = HashMap::new();
    for (index, second) in stated.iter().enumerate() {
        let summary = summaries.entry(second.operand.as_str()).or_default();
        let earliest = second
            .facts
            .iter()
            .filter_map(|fact| summary.earliest_clash(fact))
            .min();
        if let Some(first) = earliest {
            return Some((first, index));
        }
        for fact in &second.facts {
            summary.add(fact, index);
        }
    }
    None
}

/// A point as a hash key: equal points have equal keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PointKey {
    Number(u64),
    Date(jiff::civil::Date),
    Text(String),
    Boolean(bool),
}

/// A point on an ordered scale with a tie-breaker, so that "this lower end
/// lies above that upper end" (the ranges do not overlap) is one comparison:
/// a lower end is `(point, 0)` inclusive and `(point, 1)` exclusive, an upper
/// end `(point, 0)` inclusive and `(point, -1)` exclusive, an equality
/// `(point, 0)` as either; a lower-ish fact clashes with an upper-ish one
/// exactly when its mark is greater.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
struct Mark {
    point: Scalar,
    tie: i8,
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Scalar {
    Number(f64),
    Date(jiff::civil::Date),
}

impl Scalar {
    /// Numbers and dates are never compared with each other (index into per-kind records).
    fn kind(self) -> usize {
        match self {
            Scalar::Number(_) => 0,
            Scalar::Date(_) => 1,
        }
    }
}

impl Point {
    fn key(&self) -> PointKey {
        match self {
            // Adding zero turns -0.0 into 0.0, which `==` calls equal.
            Point::Number(value) => PointKey::Number((value + 0.0).to_bits()),
            Point::Date(date) => PointKey::Date(*date),
            Point::Text(text) => PointKey::Text(text.clone()),
            Point::Boolean(value) => PointKey::Boolean(*value),
        }
    }

    fn scalar(&self) -> Option<Scalar> {
        match self {
            Point::Number(value) => Some(Scalar::Number(*value)),
            Point::Date(date) => Some(Scalar::Date(*date)),
            Point::Text(_) | Point::Boolean(_) => None,
        }
    }
}

impl Fact {
    /// The mark of a fact that bounds its operand from below (`>`, `>=`, `=`).
    fn lower_mark(&self) -> Option<Mark> {
        let (point, tie) = match self {
            Fact::Lower { point, inclusive } => (point, if *inclusive { 0 } else { 1 }),
            Fact::Equal(point) => (point, 0),
            _ => return None,
        };
        Some(Mark {
            point: point.scalar()?,
            tie,
        })
    }

    /// The mark of a fact that bounds its operand from above (`<`, `<=`, `=`).
    fn upper_mark(&self) -> Option<Mark> {
        let (point, tie) = match self {
            Fact::Upper { point, inclusive } => (point, if *inclusive { 0 } else { -1 }),
            Fact::Equal(point) => (point, 0),
            _ => return None,
        };
        Some(Mark {
            point: point.scalar()?,
            tie,
        })
    }
}

/// What the earlier parts of a conjunction say about one operand, kept so
/// that a new fact finds the earliest part it clashes with (see [`clash`])
/// without visiting every earlier part.
#[derive(Default)]
struct Summary {
    /// The earliest part about the operand (`is not set` clashes with any).
    first: Option<usize>,
    not_set: Option<usize>,
    /// The earliest equality, and the earliest one to a different value.
    first_equal: Option<(PointKey, usize)>,
    other_equal: Option<usize>,
    equal: HashMap<PointKey, usize>,
    not_equal: HashMap<PointKey, usize>,
    /// Per scale, the parts that raised the highest lower mark so far, in
    /// order (so their marks increase), and those that lowered the lowest
    /// upper mark (decreasing): the earliest part beyond a mark is among them.
    raised: [Vec<(Mark, usize)>; 2],
    lowered: [Vec<(Mark, usize)>; 2],
}

impl Summary {
    fn earliest_clash(&self, fact: &Fact) -> Option<usize> {
        let mut candidates: Vec<Option<usize>> = Vec::new();
        match fact {
            Fact::NotSet => candidates.push(self.first),
            _ => candidates.push(self.not_set),
        }
        match fact {
            Fact::Equal(point) => {
                let key = point.key();
                candidates.push(match &self.first_equal {
                    Some((first, index)) if *first != key => Some(*index),
                    _ => self.other_equal,
                });
                candidates.push(self.not_equal.get(&key).copied());
            }
            Fact::NotEqual(point) => candidates.push(self.equal.get(&point.key()).copied()),
            _ => {}
        }
        if let Some(mark) = fact.upper_mark() {
            let raised = &self.raised[mark.point.kind()];
            let at = raised.partition_point(|(other, _)| *other <= mark);
            candidates.push(raised.get(at).map(|(_, index)| *index));
        }
        if let Some(mark) = fact.lower_mark() {
            let lowered = &self.lowered[mark.point.kind()];
            let at = lowered.partition_point(|(other, _)| *other >= mark);
            candidates.push(lowered.get(at).map(|(_, index)| *index));
        }
        candidates.into_iter().flatten().min()
    }

    fn add(&mut self, fact: &Fact, index: usize) {
        self.first.get_or_insert(index);
        match fact {
            Fact::NotSet => {
                self.not_set.get_or_insert(index);
            }
            Fact::Equal(point) => {
                let key = point.key();
                match &self.first_equal {
                    None => self.first_equal = Some((key.clone(), index)),
                    Some((first, _)) if *first != key && self.other_equal.is_none() => {
                        self.other_equal = Some(index);
                    }
                    Some(_) => {}
                }
                self.equal.entry(key).or_insert(index);
            }
            Fact::NotEqual(point) => {
                self.not_equal.entry(point.key()).or_insert(index);
            }
            _ => {}
        }
        if let Some(mark) = fact.lower_mark() {
            let raised = &mut self.raised[mark.point.kind()];
            if raised.last().is_none_or(|(highest, _)| mark > *highest) {
                raised.push((mark, index));
            }
        }
        if let Some(mark) = fact.upper_mark() {
            let lowered = &mut self.lowered[mark.point.kind()];
            if lowered.last().is_none_or(|(lowest, _)| mark < *lowest) {
                lowered.push((mark, index));
            }
        }
    }
}

/// A disjunction with a part and its complement: `x is set` and `x is not
/// set`, or `A` and `not A` (compared as written, outer parentheses aside).
/// Each part is looked up among the earlier ones by key, so a chain of tens
/// of thousands of parts stays linear; the report is the earliest pair,
/// as comparing every pair in order would find.
fn tautology(items: &[Expr], text: &str) -> Option<Issue> {
    let written = |range: Range| {
        source(text, range)
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_string()
    };
    // `is set` (true) and `is not set` (false) tests by operand, the parts
    // by their text, and `not` parts by the text of what they negate; each
    // with the earliest part's index.
    let mut set_tests: HashMap<(String, bool), usize> = HashMap::new();
    let mut parts: HashMap<String, usize> = HashMap::new();
    let mut negations: HashMap<String, usize> = HashMap::new();
    for (index, second) in items.iter().enumerate() {
        let set_test = match &second.kind {
            ExprKind::Condition(condition) => match condition.test {
                Test::IsSet => Some((source(text, condition.operand.range()), true)),
                Test::IsNotSet => Some((source(text, condition.operand.range()), false)),
                _ => None,
            },
            _ => None,
        };
        let negated = match &second.kind {
            ExprKind::Not(inner) => Some(written(inner.range)),
            _ => None,
        };
        let part = written(second.range);
        let earliest = [
            set_test
                .as_ref()
                .and_then(|(operand, set)| set_tests.get(&(operand.clone(), !set))),
            negated.as_ref().and_then(|negated| parts.get(negated)),
            negations.get(&part),
        ]
        .into_iter()
        .flatten()
        .min()
        .copied();
        if let Some(first) = earliest {
            let first = &items[first];
            return Some(always_matches(text, first.range, second.range));
        }
        if let Some(set_test) = set_test {
            set_tests.entry(set_test).or_insert(index);
        }
        if let Some(negated) = negated {
            negations.entry(negated).or_insert(index);
        }
        parts.entry(part).or_insert(index);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::parse;

    fn codes(text: &str) -> Vec<(Code, String, String)> {
        analyse(&parse(text).unwrap(), text)
            .into_iter()
            .map(|issue| {
                let secondary = issue
                    .secondary
                    .first()
                    .map(|(range, _)| text[range.start..range.end].to_string())
                    .unwrap_or_default();
                (
                    issue.code,
                    text[issue.range.start..issue.range.end].to_string(),
                    secondary,
                )
            })
            .collect()
    }

    #[test]
    fn contradictions_never_match() {
        for (text, first, second) in [
            (
                "age(birthday) > 40 and age(birthday) < 30",
                "age(birthday) > 40",
                "age(birthday) < 30",
            ),
            (
                "orders_count >= 5 and orders_count < 5",
                "orders_count >= 5",
                "orders_count < 5",
            ),
            (
                "x between 10 and 20 and x = 25",
                "x between 10 and 20",
                "x = 25",
            ),
            (
                "loyalty = \"gold\" and loyalty = \"silver\"",
                "loyalty = \"gold\"",
                "loyalty = \"silver\"",
            ),
            (
                "city is set and city is not set",
                "city is set",
                "city is not set",
            ),
            (
                "city is not set and city contains \"a\"",
                "city is not set",
                "city contains \"a\"",
            ),
            ("x = 1 and y = 2 and x != 1", "x = 1", "x != 1"),
            (
                "birthday > 2000-01-01 and birthday < 1990-01-01",
                "birthday > 2000-01-01",
                "birthday < 1990-01-01",
            ),
            (
                "did purchase where amount > 10 and amount < 5",
                "amount > 10",
                "amount < 5",
            ),
        ] {
            assert_eq!(
                codes(text),
                vec![(Code::NeverMatches, second.to_string(), first.to_string())],
                "{text}"
            );
        }
    }

    #[test]
    fn consistent_conjunctions_are_not_reported() {
        for text in [
            "x > 3 and x < 5",
            "x >= 5 and x <= 5",
            "city = \"Москва\" and city = \"МОСКВА\"",
            "x != 1 and x != 2",
            "x > 1 and y < 0",
            "age(birthday) > 40 or age(birthday) < 30",
            "city is set and city = \"a\"",
        ] {
            assert_eq!(codes(text), vec![], "{text}");
        }
    }

    #[test]
    fn tautologies_always_match() {
        assert_eq!(
            codes("city is set or city is not set"),
            vec![(
                Code::AlwaysMatches,
                "city is not set".into(),
                "city is set".into()
            )]
        );
        assert_eq!(codes("x > 1 or not (x > 1)")[0].0, Code::AlwaysMatches);
        assert_eq!(codes("x > 1 or x > 2"), vec![]);
    }

    /// The analysis as it was before it became linear: every pair compared
    /// in order. The linear one must report exactly what this reports.
    mod by_pairs {
        use super::super::*;

        pub fn contradiction_by_pairs(items: &[Expr], text: &str) -> Option<Issue> {
            let stated: Vec<Stated> = items.iter().filter_map(|item| facts(item, text)).collect();
            for (index, second) in stated.iter().enumerate() {
                for first in &stated[..index] {
                    if first.operand != second.operand {
                        continue;
                    }
                    for a in &first.facts {
                        for b in &second.facts {
                            if let Some(reason) = clash(a, b) {
                                return Some(never_matches(
                                    text,
                                    first.range,
                                    second.range,
                                    reason,
                                ));
                            }
                        }
                    }
                }
            }
            None
        }

        pub fn tautology_by_pairs(items: &[Expr], text: &str) -> Option<Issue> {
            for (index, second) in items.iter().enumerate() {
                for first in &items[..index] {
                    let complementary = match (facts(first, text), facts(second, text)) {
                        (Some(a), Some(b)) if a.operand == b.operand => {
                            matches!(
                                (a.facts.as_slice(), b.facts.as_slice()),
                                ([Fact::Set], [Fact::NotSet]) | ([Fact::NotSet], [Fact::Set])
                            ) && matches!(
                                (&first.kind, &second.kind),
                                (ExprKind::Condition(x), ExprKind::Condition(y))
                                    if matches!(x.test, Test::IsSet | Test::IsNotSet)
                                        && matches!(y.test, Test::IsSet | Test::IsNotSet)
                            )
                        }
                        _ => false,
                    };
                    let negation = |a: &Expr, b: &Expr| match &b.kind {
                        ExprKind::Not(inner) => {
                            source(text, inner.range)
                                .trim_start_matches('(')
                                .trim_end_matches(')')
                                == source(text, a.range)
                                    .trim_start_matches('(')
                                    .trim_end_matches(')')
                        }
                        _ => false,
                    };
                    if complementary || negation(first, second) || negation(second, first) {
                        return Some(always_matches(text, first.range, second.range));
                    }
                }
            }
            None
        }
    }

    fn by_pairs(expr: &Expr, text: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        expr.walk(&mut |node| match &node.kind {
            ExprKind::And(items) => issues.extend(by_pairs::contradiction_by_pairs(items, text)),
            ExprKind::Or(items) => issues.extend(by_pairs::tautology_by_pairs(items, text)),
            _ => {}
        });
        issues
    }

    const ATOMS: &[&str] = &[
        "x > 1",
        "x >= 1",
        "x < 1",
        "x <= 2",
        "x = 1",
        "x = 1.0",
        "x = 2",
        "x != 1",
        "x != 2",
        "x between 1 and 3",
        "x between 3 and 1",
        "x is set",
        "x is not set",
        "x contains \"a\"",
        "x = 0.0",
        "x = -0.0",
        "x = 0",
        "x > 0",
        "x < 0",
        "d > 2026-01-01",
        "d = 2026-01-01",
        "d < 2026-01-01",
        "d >= 2026-01-02",
        "d = 2026-01-01T10:00",
        "s = \"A\"",
        "s = \"a\"",
        "s != \"b\"",
        "s = \"b\"",
        "s > 1",
        "s is set",
        "s is not set",
        "b = true",
        "b = false",
        "b != true",
        "not (x > 1)",
        "(x > 1)",
        "not x > 1",
        "not (s is set)",
        "(s is set)",
        "not (x is set)",
        "y = 1",
        "y = 2",
        "y > 5",
    ];

    proptest::proptest! {
        #[test]
        fn linear_analysis_reports_what_comparing_every_pair_reports(
            terms in proptest::collection::vec((0..ATOMS.len(), proptest::bool::ANY), 1..40),
        ) {
            let mut text = String::new();
            for (index, (atom, and)) in terms.iter().enumerate() {
                if index > 0 {
                    text.push_str(if *and { " and " } else { " or " });
                }
                text.push_str(ATOMS[*atom]);
            }
            let expr = parse(&text).unwrap();
            proptest::prop_assert_eq!(analyse(&expr, &text), by_pairs(&expr, &text), "{}", text);
        }
    }
}
