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
//! whatever the data, so a report is always a real mistake.

use std::cmp::Ordering;

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

fn contradiction(items: &[Expr], text: &str) -> Option<Issue> {
    let stated: Vec<Stated> = items.iter().filter_map(|item| facts(item, text)).collect();
    for (index, second) in stated.iter().enumerate() {
        for first in &stated[..index] {
            if first.operand != second.operand {
                continue;
            }
            for a in &first.facts {
                for b in &second.facts {
                    if let Some(reason) = clash(a, b) {
                        return Some(
                            Issue::new(
                                Code::NeverMatches,
                                second.range,
                                format!(
                                    "this filter can never match: `{}` and `{}` cannot both hold",
                                    source(text, first.range),
                                    source(text, second.range)
                                ),
                            )
                            .label("contradicts the earlier condition")
                            .with_secondary(first.range, "this condition")
                            .help(format!("{reason}; did you mean `or`?")),
                        );
                    }
                }
            }
        }
    }
    None
}

fn tautology(items: &[Expr], text: &str) -> Option<Issue> {
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
                return Some(
                    Issue::new(
                        Code::AlwaysMatches,
                        second.range,
                        format!(
                            "this condition always matches: `{}` or `{}` holds for every contact",
                            source(text, first.range),
                            source(text, second.range)
                        ),
                    )
                    .label("the complement of the earlier condition")
                    .with_secondary(first.range, "this condition")
                    .help("write the narrower condition meant, or drop the filter where everybody is meant"),
                );
            }
        }
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
}
