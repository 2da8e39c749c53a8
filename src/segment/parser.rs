//! Parsing filter text into the [`ast`](super::ast) with the pest grammar in
//! `grammar/segment.pest`. A syntax error names what was expected and where,
//! as a byte range in the filter text.

use pest::Parser as _;
use pest::iterators::Pair;
use pest_derive::Parser;

use super::ast::*;
use crate::duration::{Duration, Unit};

#[derive(Parser)]
#[grammar = "grammar/segment.pest"]
struct Grammar;

/// How deeply a filter may nest: parentheses and brackets, `not` and
/// `where` each open a level. The grammar and every later walk (type
/// checking, analysis, SQL, evaluation) recurse once per level, so untrusted
/// text must not choose the depth; people write a handful of levels.
pub const MAX_NESTING: usize = 64;

/// A filter that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub range: Range,
    /// A short label for the marked place (`expected a value`).
    pub label: String,
    /// Whether the filter parses but nests deeper than [`MAX_NESTING`].
    pub too_deep: bool,
    /// What to write instead, when the slip is a known one.
    pub help: Option<String>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, range: Range, label: impl Into<String>) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            range,
            label: label.into(),
            too_deep: false,
            help: None,
        }
    }

    fn too_deep(at: usize) -> SyntaxError {
        SyntaxError {
            message: format!(
                "the filter nests deeper than {MAX_NESTING} levels (parentheses, `not` and `where`)"
            ),
            range: Range::new(at, at + 1),
            label: "too deep".into(),
            too_deep: true,
            help: None,
        }
    }
}

/// Parses a whole filter.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    check_nesting(text)?;
    let mut pairs =
        Grammar::parse(Rule::filter, text).map_err(|error| syntax_error(text, error))?;
    let empty = || {
        SyntaxError::new(
            "empty filter",
            Range::new(0, text.len()),
            "expected a condition",
        )
    };
    let filter = pairs.next().ok_or_else(empty)?;
    let disjunction = filter
        .into_inner()
        .find(|pair| pair.as_rule() == Rule::disjunction)
        .ok_or_else(empty)?;
    build_junction(disjunction, 0)
}

/// Refuses text that would make the grammar recurse deeper than
/// [`MAX_NESTING`], before pest sees it: a group or list opens a level until
/// its closing bracket, a `where` opens one until the `or` or closing
/// parenthesis that ends its conjunction (`did a where did b where …` nests
/// without any parenthesis). Words inside strings and comments do not count.
fn check_nesting(text: &str) -> Result<(), SyntaxError> {
    // Open `where`s per open bracket, innermost last.
    let mut wheres: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'(' | b'[' => {
                wheres.push(0);
                depth += 1;
            }
            // An unmatched closing bracket is the grammar's to report.
            b')' | b']' if wheres.len() > 1 => {
                depth -= 1 + wheres.pop().unwrap_or(0);
            }
            _ if byte.is_ascii_alphanumeric() || byte == b'_' => {
                let start = index;
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_')
                {
                    index += 1;
                }
                let innermost = wheres.last_mut().expect("the outermost level stays");
                match &text[start..index] {
                    "where" => {
                        *innermost += 1;
                        depth += 1;
                    }
                    "or" => {
                        depth -= *innermost;
                        *innermost = 0;
                    }
                    _ => {}
                }
                if depth > MAX_NESTING {
                    return Err(SyntaxError::too_deep(start));
                }
                continue;
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(SyntaxError::too_deep(index));
        }
        index += 1;
    }
    Ok(())
}

fn range(pair: &Pair<Rule>) -> Range {
    let span = pair.as_span();
    Range::new(span.start(), span.end())
}

fn internal(pair: &Pair<Rule>) -> SyntaxError {
    SyntaxError::new(
        format!("unexpected `{}`", pair.as_str()),
        range(pair),
        "not understood here",
    )
}

/// Keyword pairs carry no meaning of their own once the grammar has matched.
fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::and
            | Rule::or
            | Rule::not
            | Rule::in_keyword
            | Rule::segment_keyword
            | Rule::reachable_keyword
            | Rule::by
            | Rule::did_keyword
            | Rule::where_keyword
            | Rule::within
            | Rule::between_keyword
            | Rule::contains_keyword
            | Rule::starts_keyword
            | Rule::ends_keyword
            | Rule::with_keyword
            | Rule::is_keyword
            | Rule::set_keyword
            | Rule::has_keyword
            | Rule::any_keyword
            | Rule::all_keyword
            | Rule::before_keyword
            | Rule::after_keyword
            | Rule::ago_keyword
            | Rule::EOI
    )
}

fn meaningful(pair: Pair<Rule>) -> Vec<Pair<Rule>> {
    pair.into_inner()
        .filter(|inner| !is_keyword(inner.as_rule()))
        .collect()
}

/// `disjunction`, `conjunction` and `event_condition`: a list joined by `or` or `and`.
/// `depth` counts the levels (groups, `not`s, `where`s) around it.
fn build_junction(pair: Pair<Rule>, depth: usize) -> Result<Expr, SyntaxError> {
    let rule = pair.as_rule();
    let whole = range(&pair);
    let mut items = Vec::new();
    for inner in meaningful(pair) {
        items.push(match inner.as_rule() {
            Rule::conjunction => build_junction(inner, depth)?,
            Rule::negation => build_negation(inner, depth)?,
            _ => return Err(internal(&inner)),
        });
    }
    if items.len() == 1 {
        return items
            .pop()
            .ok_or_else(|| SyntaxError::new("empty condition", whole, "expected a condition"));
    }
    let kind = if rule == Rule::disjunction {
        ExprKind::Or(items)
    } else {
        ExprKind::And(items)
    };
    Ok(Expr { kind, range: whole })
}

fn build_negation(pair: Pair<Rule>, depth: usize) -> Result<Expr, SyntaxError> {
    let whole = range(&pair);
    let mut nots = Vec::new();
    let mut primary = None;
    for inner in pair.into_inner() {
        match inner.as_rule() {
            Rule::not => {
                // Refused before the chain is built: dropping a deep tree recurses too.
                if depth + nots.len() >= MAX_NESTING {
                    return Err(SyntaxError::too_deep(inner.as_span().start()));
                }
                nots.push(range(&inner));
            }
            _ => primary = Some(build_primary(inner, depth + nots.len())?),
        }
    }
    let mut expr = primary.ok_or_else(|| {
        SyntaxError::new(
            "`not` needs a condition after it",
            whole,
            "expected a condition",
        )
    })?;
    for not in nots.into_iter().rev() {
        expr = Expr {
            range: Range::new(not.start, expr.range.end),
            kind: ExprKind::Not(Box::new(expr)),
        };
    }
    Ok(expr)
}

fn build_primary(pair: Pair<Rule>, depth: usize) -> Result<Expr, SyntaxError> {
    let whole = range(&pair);
    match pair.as_rule() {
        Rule::group => {
            if depth >= MAX_NESTING {
                return Err(SyntaxError::too_deep(whole.start));
            }
            let inner = meaningful(pair).into_iter().next().ok_or_else(|| {
                SyntaxError::new("empty parentheses", whole, "expected a condition")
            })?;
            let mut expr = build_junction(inner, depth + 1)?;
            // The group's own range includes its parentheses, which is what
            // a reader sees as "this part".
            expr.range = whole;
            Ok(expr)
        }
        Rule::in_segment => {
            let string = meaningful(pair).into_iter().next().ok_or_else(|| {
                SyntaxError::new(
                    "`in segment` needs a segment name in quotes",
                    whole,
                    "expected a name",
                )
            })?;
            let text = build_string(&string)?;
            Ok(Expr {
                kind: ExprKind::InSegment(Name {
                    text,
                    range: range(&string),
                }),
                range: whole,
            })
        }
        Rule::reachable => {
            let channel = meaningful(pair).into_iter().next().ok_or_else(|| {
                SyntaxError::new(
                    "`reachable by` needs a channel",
                    whole,
                    "expected a channel",
                )
            })?;
            Ok(Expr {
                kind: ExprKind::Reachable(name(&channel)),
                range: whole,
            })
        }
        Rule::did => {
            let mut negated = false;
            let mut parts = Vec::new();
            for inner in pair.into_inner() {
                match inner.as_rule() {
                    Rule::not => negated = true,
                    Rule::did_keyword => {}
                    _ => parts.push(inner),
                }
            }
            let selection = build_selection(parts, whole, depth)?;
            Ok(Expr {
                kind: ExprKind::Did(EventPredicate { negated, selection }),
                range: whole,
            })
        }
        Rule::condition => build_condition(pair, depth),
        _ => Err(internal(&pair)),
    }
}

fn name(pair: &Pair<Rule>) -> Name {
    Name {
        text: pair.as_str().to_string(),
        range: range(pair),
    }
}

/// The event name, window and `where` clause shared by `did` and aggregates.
fn build_selection(
    parts: Vec<Pair<Rule>>,
    whole: Range,
    depth: usize,
) -> Result<EventSelection, SyntaxError> {
    let mut event = None;
    let mut window = None;
    let mut condition = None;
    for part in parts {
        match part.as_rule() {
            Rule::event_name | Rule::aggregate_target => event = Some(name(&part)),
            Rule::window => {
                let duration = meaningful(part).into_iter().next().ok_or_else(|| {
                    SyntaxError::new("`within` needs a duration", whole, "expected a duration")
                })?;
                window = Some(build_duration(duration)?);
            }
            Rule::where_clause => {
                if depth >= MAX_NESTING {
                    return Err(SyntaxError::too_deep(part.as_span().start()));
                }
                let inner = meaningful(part).into_iter().next().ok_or_else(|| {
                    SyntaxError::new("`where` needs a condition", whole, "expected a condition")
                })?;
                condition = Some(Box::new(build_junction(inner, depth + 1)?));
            }
            _ => return Err(internal(&part)),
        }
    }
    let event = event
        .ok_or_else(|| SyntaxError::new("expected an event name", whole, "expected an event"))?;
    Ok(EventSelection {
        event,
        window,
        condition,
    })
}

fn build_condition(pair: Pair<Rule>, depth: usize) -> Result<Expr, SyntaxError> {
    let whole = range(&pair);
    let mut inner = pair.into_inner();
    let missing = || SyntaxError::new("incomplete condition", whole, "expected a test");
    let operand_pair = inner.next().ok_or_else(missing)?;
    let test_pair = inner.next().ok_or_else(missing)?;
    let operand = build_operand(operand_pair, depth)?;
    let test_range = range(&test_pair);
    let test = build_test(test_pair)?;
    Ok(Expr {
        kind: ExprKind::Condition(Condition {
            operand,
            test,
            test_range,
        }),
        range: whole,
    })
}

fn build_operand(pair: Pair<Rule>, depth: usize) -> Result<Operand, SyntaxError> {
    let whole = range(&pair);
    match pair.as_rule() {
        Rule::field => Ok(Operand::Field(name(&pair))),
        Rule::function_call => {
            let parts = meaningful(pair);
            let (Some(function), Some(argument)) = (parts.first(), parts.get(1)) else {
                return Err(SyntaxError::new(
                    "a function needs one attribute in parentheses",
                    whole,
                    "expected an attribute",
                ));
            };
            let function = match function.as_str() {
                "age" => Function::Age,
                "days_since" => Function::DaysSince,
                _ => Function::DaysUntilAnniversary,
            };
            Ok(Operand::Function {
                function,
                argument: name(argument),
                range: whole,
            })
        }
        Rule::aggregate => {
            let mut parts = meaningful(pair).into_iter();
            let function = parts.next().ok_or_else(|| {
                SyntaxError::new(
                    "expected an aggregate",
                    whole,
                    "expected count, sum, min, max or avg",
                )
            })?;
            let aggregate = match function.as_str() {
                "count" => Aggregate::Count,
                "sum" => Aggregate::Sum,
                "min" => Aggregate::Min,
                "max" => Aggregate::Max,
                _ => Aggregate::Avg,
            };
            let parts: Vec<Pair<Rule>> = parts.collect();
            let target = parts
                .iter()
                .find(|part| part.as_rule() == Rule::aggregate_target)
                .map(name)
                .ok_or_else(|| {
                    SyntaxError::new("expected an event name", whole, "expected an event")
                })?;
            // The aggregate's parentheses are a level, like a group's.
            if depth >= MAX_NESTING {
                return Err(SyntaxError::too_deep(whole.start));
            }
            let mut selection = build_selection(parts, whole, depth + 1)?;
            let property = match target.text.split_once('.') {
                Some((event, property)) => {
                    let dot = target.range.start + event.len();
                    selection.event = Name {
                        text: event.to_string(),
                        range: Range::new(target.range.start, dot),
                    };
                    Some(Name {
                        text: property.to_string(),
                        range: Range::new(dot + 1, target.range.end),
                    })
                }
                None => None,
            };
            Ok(Operand::Aggregate {
                aggregate,
                selection,
                property,
                range: whole,
            })
        }
        _ => Err(internal(&pair)),
    }
}

fn build_test(pair: Pair<Rule>) -> Result<Test, SyntaxError> {
    let whole = range(&pair);
    let rule = pair.as_rule();
    let parts = meaningful(pair);
    let missing = || SyntaxError::new("incomplete test", whole, "expected a value");
    let literal_at = |index: usize| -> Result<Literal, SyntaxError> {
        build_literal(parts.get(index).ok_or_else(missing)?)
    };
    let list_at = |index: usize| -> Result<Vec<Literal>, SyntaxError> {
        let list = parts.get(index).ok_or_else(missing)?;
        list.clone()
            .into_inner()
            .map(|item| build_literal(&item))
            .collect()
    };
    Ok(match rule {
        Rule::comparison => {
            let operator = parts.first().ok_or_else(missing)?;
            let comparison = match operator.as_str() {
                "=" => Comparison::Equal,
                "!=" => Comparison::NotEqual,
                "<" => Comparison::Less,
                "<=" => Comparison::LessOrEqual,
                ">" => Comparison::Greater,
                _ => Comparison::GreaterOrEqual,
            };
            Test::Compare(comparison, literal_at(1)?)
        }
        Rule::between => Test::Between(literal_at(0)?, literal_at(1)?),
        Rule::in_list => Test::In(list_at(0)?),
        Rule::not_in => Test::NotIn(list_at(0)?),
        Rule::contains => Test::Contains(literal_at(0)?),
        Rule::starts_with => Test::StartsWith(literal_at(0)?),
        Rule::ends_with => Test::EndsWith(literal_at(0)?),
        Rule::is_set => Test::IsSet,
        Rule::is_not_set => Test::IsNotSet,
        Rule::has => Test::Has(literal_at(0)?),
        Rule::has_any => Test::HasAny(list_at(0)?),
        Rule::has_all => Test::HasAll(list_at(0)?),
        Rule::within_test => Test::Within(build_duration(
            parts.into_iter().next().ok_or_else(missing)?,
        )?),
        Rule::before_test | Rule::after_test => {
            let point = parts.into_iter().next().ok_or_else(missing)?;
            let point = if point.as_rule() == Rule::ago {
                let duration = meaningful(point).into_iter().next().ok_or_else(missing)?;
                TimePoint::Ago(build_duration(duration)?)
            } else {
                TimePoint::Literal(build_literal(&point)?)
            };
            if rule == Rule::before_test {
                Test::Before(point)
            } else {
                Test::After(point)
            }
        }
        _ => return Err(missing()),
    })
}

fn build_duration(pair: Pair<Rule>) -> Result<DurationLiteral, SyntaxError> {
    let whole = range(&pair);
    let parts: Vec<Pair<Rule>> = pair.into_inner().collect();
    let invalid = |message: String| SyntaxError::new(message, whole, "not a duration");
    let (Some(amount), Some(unit)) = (parts.first(), parts.get(1)) else {
        return Err(invalid("expected a number and a unit".into()));
    };
    let amount: u32 = amount
        .as_str()
        .parse()
        .map_err(|_| invalid(format!("`{}` is too large for a duration", amount.as_str())))?;
    let unit = Unit::parse(unit.as_str())
        .ok_or_else(|| invalid(format!("unknown unit `{}`", unit.as_str())))?;
    // Beyond about a thousand years no calendar arithmetic is meaningful.
    if (Duration { amount, unit }).approximate_minutes() > 1000 * 365 * 24 * 60 {
        return Err(invalid("a duration longer than 1000 years".into()));
    }
    Ok(DurationLiteral {
        duration: Duration { amount, unit },
        range: whole,
    })
}

fn build_string(pair: &Pair<Rule>) -> Result<String, SyntaxError> {
    let content = pair
        .clone()
        .into_inner()
        .next()
        .map_or("", |inner| inner.as_str());
    let base = range(pair).start + 1;
    let mut out = String::with_capacity(content.len());
    let mut chars = content.char_indices();
    while let Some((index, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let invalid = |end: usize, message: &str| {
            SyntaxError::new(
                message,
                Range::new(base + index, base + end),
                "invalid escape",
            )
        };
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'u')) => {
                let rest = &content[index + 2..];
                let close = rest.find('}').unwrap_or(rest.len());
                let hex = rest.get(1..close).unwrap_or_default();
                let end = index + 2 + close + 1;
                let code = u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| invalid(end, "`\\u{…}` does not name a Unicode character"))?;
                out.push(code);
                for _ in 0..close + 1 {
                    chars.next();
                }
            }
            _ => return Err(invalid(index + 2, "unknown escape")),
        }
    }
    Ok(out)
}

fn build_literal(pair: &Pair<Rule>) -> Result<Literal, SyntaxError> {
    let whole = range(pair);
    let text = pair.as_str();
    let invalid = |message: String, label: &str| SyntaxError::new(message, whole, label);
    let value = match pair.as_rule() {
        Rule::string => LiteralValue::String(build_string(pair)?),
        Rule::integer => LiteralValue::Integer(text.parse().map_err(|_| {
            invalid(
                format!("`{text}` is too large for an integer"),
                "out of range",
            )
        })?),
        Rule::decimal => LiteralValue::Decimal(
            text.parse()
                .map_err(|_| invalid(format!("`{text}` is not a number"), "not a number"))?,
        ),
        Rule::boolean => LiteralValue::Boolean(text == "true"),
        Rule::date => LiteralValue::Date(
            jiff::civil::Date::strptime("%Y-%m-%d", text)
                .map_err(|_| invalid(format!("`{text}` is not a calendar date"), "no such date"))?,
        ),
        Rule::datetime => parse_datetime(text).ok_or_else(|| {
            invalid(
                format!("`{text}` is not a valid date and time"),
                "no such time",
            )
        })?,
        _ => return Err(internal(pair)),
    };
    Ok(Literal {
        value,
        range: whole,
    })
}

fn parse_datetime(text: &str) -> Option<LiteralValue> {
    let normalized = text.replacen(' ', "T", 1);
    let (local, offset) = if let Some(local) = normalized.strip_suffix('Z') {
        (local.to_string(), Some(jiff::tz::Offset::UTC))
    } else if normalized.len() > 6
        && matches!(normalized.as_bytes()[normalized.len() - 6], b'+' | b'-')
        && normalized[..normalized.len() - 6].contains('T')
        && normalized.as_bytes()[normalized.len() - 3] == b':'
    {
        let (local, zone) = normalized.split_at(normalized.len() - 6);
        let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
        let hours: i32 = zone.get(1..3)?.parse().ok()?;
        let minutes: i32 = zone.get(4..6)?.parse().ok()?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        let seconds = sign * (hours * 3600 + minutes * 60);
        (
            local.to_string(),
            Some(jiff::tz::Offset::from_seconds(seconds).ok()?),
        )
    } else {
        (normalized, None)
    };
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", &local)
        .or_else(|_| jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", &local))
        .ok()?;
    Some(LiteralValue::DateTime { civil, offset })
}

fn describe(rule: &Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::and => "`and`",
        Rule::or => "`or`",
        Rule::not => "`not`",
        Rule::in_keyword | Rule::in_list | Rule::in_segment => "`in`",
        Rule::segment_keyword => "`segment`",
        Rule::by => "`by`",
        Rule::did | Rule::did_keyword => "`did`",
        Rule::where_keyword | Rule::where_clause => "`where`",
        Rule::within | Rule::window | Rule::within_test => "`within`",
        Rule::between | Rule::between_keyword => "`between`",
        Rule::contains | Rule::contains_keyword => "`contains`",
        Rule::starts_with | Rule::starts_keyword => "`starts with`",
        Rule::ends_with | Rule::ends_keyword => "`ends with`",
        Rule::with_keyword => "`with`",
        Rule::is_set | Rule::is_not_set | Rule::is_keyword => "`is`",
        Rule::set_keyword => "`set`",
        Rule::has | Rule::has_any | Rule::has_all | Rule::has_keyword => "`has`",
        Rule::any_keyword => "`any`",
        Rule::all_keyword => "`all`",
        Rule::before_test | Rule::before_keyword => "`before`",
        Rule::after_test | Rule::after_keyword => "`after`",
        Rule::ago_keyword => "`ago`",
        Rule::comparison | Rule::comparison_operator => "a comparison (`=`, `!=`, `<`, `>`, …)",
        Rule::not_in => "`not in`",
        Rule::string | Rule::string_content => "a string in double quotes",
        Rule::escape => "an escape (`\\\"`, `\\\\`, `\\n`, `\\t`, `\\u{…}`)",
        Rule::integer | Rule::decimal | Rule::duration_amount => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::date | Rule::datetime => "a date",
        Rule::list => "a list in brackets",
        Rule::duration => "a duration such as `30 days`",
        Rule::unit => "a unit (minutes, hours, days, weeks, months, years)",
        Rule::field | Rule::identifier => "an attribute",
        Rule::event_name | Rule::aggregate_target => "an event name",
        Rule::function_call | Rule::function_name => "a function",
        Rule::aggregate | Rule::aggregate_function => "an aggregate",
        Rule::group => "`(`",
        Rule::reachable | Rule::reachable_keyword => "`reachable`",
        Rule::condition | Rule::negation | Rule::conjunction | Rule::disjunction => "a condition",
        Rule::EOI => "the end of the filter",
        _ => return None,
    })
}

fn syntax_error(text: &str, error: pest::error::Error<Rule>) -> SyntaxError {
    let offset = match error.location {
        pest::error::InputLocation::Pos(offset) => offset,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let offset = offset.min(text.len());
    let mut expected: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(describe).collect()
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort();
    expected.dedup();
    // A keyword list mentioning both `and`/`or` and the end reads best with
    // the connectives first.
    let expected_text = match expected.as_slice() {
        [] => "a condition".to_string(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    let rest = &text[offset..];
    let found_len = token_length(rest);
    let found = if rest.trim().is_empty() {
        "the end of the filter".to_string()
    } else {
        format!("`{}`", &rest[..found_len])
    };
    let end = if found_len == 0 {
        offset
    } else {
        offset + found_len
    };
    let mut error = SyntaxError::new(
        format!("expected {expected_text}, found {found}"),
        Range::new(offset, end),
        format!("expected {expected_text}"),
    );
    // `within 60d`: the shorthand other tools accept, spelt out.
    let digits = text[..offset].len()
        - text[..offset]
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .len();
    if digits > 0 && found_len > 0 {
        let written = &text[offset - digits..end];
        if let Some(duration) = crate::duration::Duration::from_shorthand(written) {
            error.help = Some(format!("write `{duration}`: a number, a space and a unit"));
        }
    }
    error
}

/// The length of the token at the start of `rest`: a word, a quoted
/// string's opening quote, or one character.
fn token_length(rest: &str) -> usize {
    let word: usize = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .map(char::len_utf8)
        .sum();
    if word > 0 {
        word
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.range.start)
    }
}

impl std::error::Error for SyntaxError {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const SPEC_EXAMPLES: &str = include_str!("../../tests/segment_spec_examples.txt");

    #[test]
    fn every_spec_example_parses() {
        for line in SPEC_EXAMPLES.lines().filter(|l| !l.trim().is_empty()) {
            if let Err(error) = parse(line) {
                panic!("{line}: {error:?}");
            }
        }
    }

    #[test]
    fn precedence_not_and_or() {
        let expr = parse("a = 1 or not b = 2 and c = 3").unwrap();
        let ExprKind::Or(items) = &expr.kind else {
            panic!("{expr:?}")
        };
        assert_eq!(items.len(), 2);
        let ExprKind::And(conjuncts) = &items[1].kind else {
            panic!()
        };
        assert!(matches!(conjuncts[0].kind, ExprKind::Not(_)));
    }

    #[test]
    fn keywords_need_word_boundaries() {
        assert!(parse("notable = 1").is_ok());
        assert!(parse("index in [1, 2]").is_ok());
        assert!(parse("android is set").is_ok());
        assert!(parse("in = 1").is_err());
    }

    #[test]
    fn between_takes_its_own_and() {
        let expr = parse("age(birthday) between 25 and 45 and city is set").unwrap();
        let ExprKind::And(items) = &expr.kind else {
            panic!()
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn where_binds_the_following_conjunction() {
        let expr =
            parse(r#"did purchase within 90 days where category = "shoes" and amount >= 3000"#)
                .unwrap();
        let ExprKind::Did(predicate) = &expr.kind else {
            panic!()
        };
        assert!(matches!(
            predicate.selection.condition.as_deref().map(|c| &c.kind),
            Some(ExprKind::And(_))
        ));
    }

    #[test]
    fn strings_decode_escapes() {
        let expr = parse(r#"city = "a\"b\\c\n\u{41}""#).unwrap();
        let ExprKind::Condition(condition) = &expr.kind else {
            panic!()
        };
        let Test::Compare(_, literal) = &condition.test else {
            panic!()
        };
        assert_eq!(literal.value, LiteralValue::String("a\"b\\c\nA".into()));
        assert!(parse(r#"city = "\u{110000}""#).is_err());
        assert!(parse(r#"city = "\q""#).is_err());
    }

    #[test]
    fn literals() {
        for (text, expected) in [
            ("x = 2026-02-28", "Date"),
            ("x = 2026-02-28T10:00:00Z", "DateTime"),
            ("x = 2026-02-28 10:00", "DateTime"),
            ("x = 2026-02-28T10:00+03:00", "DateTime"),
            ("x = -1.5", "Decimal"),
            ("x = -15", "Integer"),
            ("x = true", "Boolean"),
        ] {
            let expr = parse(text).unwrap();
            let ExprKind::Condition(condition) = &expr.kind else {
                panic!()
            };
            let Test::Compare(_, literal) = &condition.test else {
                panic!()
            };
            assert!(
                format!("{:?}", literal.value).starts_with(expected),
                "{text}"
            );
        }
        assert!(parse("x = 2026-02-30").is_err());
        assert!(parse("x = 99999999999999999999").is_err());
    }

    #[test]
    fn spans_cover_the_written_parts() {
        let text = r#"city = "Москва" and in segment "vip""#;
        let expr = parse(text).unwrap();
        let references = expr.segment_references();
        assert_eq!(
            &text[references[0].range.start..references[0].range.end],
            "\"vip\""
        );
        let ExprKind::And(items) = &expr.kind else {
            panic!()
        };
        assert_eq!(
            &text[items[0].range.start..items[0].range.end],
            "city = \"Москва\""
        );
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let error = parse("orders_count > ").unwrap_err();
        assert_eq!(error.range, Range::new(15, 15));
        assert!(
            error.message.contains("found the end of the filter"),
            "{error:?}"
        );
        let error = parse("orders_count >> 1").unwrap_err();
        assert_eq!(error.range.start, 14);
        let error = parse("city = \"x\" an d").unwrap_err();
        assert!(error.message.contains("`and`"), "{error:?}");
        assert_eq!(error.range, Range::new(11, 13));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("{}x = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&text).is_err());
    }
}
