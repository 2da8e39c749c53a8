//! The semantics the SQL and in-memory back ends share: Unicode case
//! folding, calendar arithmetic, `age`, `days_since`,
//! `days_until_anniversary`, and the lowering of time tests (`within`,
//! `before … ago`, date literals against datetimes) into bounds.
//!
//! The SQLite store registers these same Rust functions as SQL functions
//! (see [`crate::store`]), so the two paths compute every value with one
//! piece of code; only the plumbing differs.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::ast::{Comparison, DurationLiteral, LiteralValue, Test, TimePoint};
use crate::duration::Duration;

/// Full Unicode case folding (`"МОСКВА"` and `"москва"` fold alike, `ß` folds to `ss`).
pub fn fold(text: &str) -> String {
    caseless::default_case_fold_str(text)
}

/// The clock a filter is evaluated at: `now` and the project's time zone.
#[derive(Clone, Debug)]
pub struct Clock {
    pub now: Timestamp,
    pub timezone: TimeZone,
    /// The project's time zone name, passed to SQL functions.
    pub timezone_name: String,
}

impl Clock {
    pub fn new(now: Timestamp, timezone_name: &str) -> Clock {
        Clock {
            now,
            timezone: TimeZone::get(timezone_name).unwrap_or(TimeZone::UTC),
            timezone_name: timezone_name.to_string(),
        }
    }

    /// `now − duration`: exact for minutes to weeks, calendar months and
    /// years in the project's time zone (31 August − 6 months is the end of February).
    pub fn ago(&self, duration: Duration) -> Timestamp {
        self.shift(duration, -1).unwrap_or(Timestamp::MIN)
    }

    /// `now + duration`, with the same calendar arithmetic as [`Clock::ago`]
    /// (a journey's `wait: 1 month`).
    pub fn later(&self, duration: Duration) -> Timestamp {
        self.shift(duration, 1).unwrap_or(Timestamp::MAX)
    }

    fn shift(&self, duration: Duration, sign: i64) -> Option<Timestamp> {
        duration.shift(self.now, &self.timezone, sign)
    }
}

/// The time zone for a contact: its own when valid, else the project's.
pub fn zone(contact: Option<&str>, project: &str) -> TimeZone {
    contact
        .and_then(|name| TimeZone::get(name).ok())
        .or_else(|| TimeZone::get(project).ok())
        .unwrap_or(TimeZone::UTC)
}

/// The local date of an instant in the contact's (else the project's) zone.
pub fn local_date(seconds: i64, contact: Option<&str>, project: &str) -> Option<Date> {
    let timestamp = Timestamp::from_second(seconds).ok()?;
    Some(timestamp.to_zoned_datetime(zone(contact, project)).date())
}

/// The instant of a local date and time in the contact's (else the project's) zone.
pub fn local_instant(civil: DateTime, contact: Option<&str>, project: &str) -> Option<i64> {
    let zoned = civil.to_zoned_datetime(zone(contact, project)).ok()?;
    Some(zoned.timestamp().as_second())
}

/// Whole completed years from `birth` to `today`.
pub fn age(birth: Date, today: Date) -> i64 {
    let mut years = i64::from(today.year()) - i64::from(birth.year());
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// The anniversary of `date` in `year`; 29 February falls on 28 February in common years.
fn anniversary(date: Date, year: i16) -> Option<Date> {
    Date::new(year, date.month(), date.day())
        .ok()
        .or_else(|| Date::new(year, date.month(), date.day() - 1).ok())
}

/// Days from `today` to the next anniversary of `date` (0 on the day itself).
pub fn days_until_anniversary(date: Date, today: Date) -> Option<i64> {
    let this_year = anniversary(date, today.year())?;
    let next = if this_year >= today {
        this_year
    } else {
        anniversary(date, today.year().checked_add(1)?)?
    };
    days_between(today, next)
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> Option<i64> {
    let span = from.until(to).ok()?;
    Some(i64::from(span.get_days()))
}

/// Whole days elapsed from the instant `then` to `now` (rounded down, so a
/// future instant gives a negative number).
pub fn days_since_instant(then: i64, now: i64) -> i64 {
    (now - then).div_euclid(86_400)
}

/// Parses a stored date (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<Date> {
    Date::strptime("%Y-%m-%d", text).ok()
}

/// Parses a datetime property value (RFC 3339) into unix seconds.
pub fn parse_instant(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// A bound a temporal value is compared with; per contact where it depends
/// on the contact's time zone.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    /// A fixed instant (unix seconds), for datetime operands.
    Instant(i64),
    /// A local date and time in the contact's zone, for datetime operands.
    LocalInstant(DateTime),
    /// A fixed date, for date operands.
    Date(Date),
    /// The contact-local date of an instant, for date operands.
    LocalDateOf(i64),
}

/// A temporal test lowered into comparisons with bounds: all must hold
/// (`any == false`) or one must (`any == true`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds {
    pub any: bool,
    pub parts: Vec<(Comparison, Bound)>,
}

impl Bounds {
    fn all(parts: Vec<(Comparison, Bound)>) -> Bounds {
        Bounds { any: false, parts }
    }
}

/// Lowers a test on a date (`is_datetime == false`) or datetime operand.
/// Returns `None` for tests that are not temporal (`is set`, `in`).
pub fn temporal_bounds(is_datetime: bool, test: &Test, clock: &Clock) -> Option<Bounds> {
    use Comparison::*;
    let now = clock.now.as_second();
    let ago = |duration: &DurationLiteral| clock.ago(duration.duration).as_second();
    let point = |seconds: i64| {
        if is_datetime {
            Bound::Instant(seconds)
        } else {
            Bound::LocalDateOf(seconds)
        }
    };
    Some(match test {
        Test::Within(duration) => Bounds::all(vec![
            (GreaterOrEqual, point(ago(duration))),
            (LessOrEqual, point(now)),
        ]),
        Test::Before(TimePoint::Ago(duration)) => Bounds::all(vec![(Less, point(ago(duration)))]),
        Test::After(TimePoint::Ago(duration)) => Bounds::all(vec![(Greater, point(ago(duration)))]),
        Test::Before(TimePoint::Literal(literal)) => {
            literal_bounds(is_datetime, Less, &literal.value)?
        }
        Test::After(TimePoint::Literal(literal)) => {
            literal_bounds(is_datetime, Greater, &literal.value)?
        }
        Test::Compare(comparison, literal) => {
            literal_bounds(is_datetime, *comparison, &literal.value)?
        }
        Test::Between(low, high) => {
            let mut low = literal_bounds(is_datetime, GreaterOrEqual, &low.value)?;
            let high = literal_bounds(is_datetime, LessOrEqual, &high.value)?;
            low.parts.extend(high.parts);
            low
        }
        _ => return None,
    })
}

/// A comparison with a date or datetime literal. A date against a datetime
/// stands for the whole local day: `< d` is before its start, `> d` after
/// its end, `= d` within it.
fn literal_bounds(
    is_datetime: bool,
    comparison: Comparison,
    value: &LiteralValue,
) -> Option<Bounds> {
    use Comparison::*;
    match (is_datetime, value) {
        (false, LiteralValue::Date(date)) => {
            Some(Bounds::all(vec![(comparison, Bound::Date(*date))]))
        }
        (true, LiteralValue::DateTime { civil, offset }) => {
            let bound = match offset {
                Some(offset) => Bound::Instant(offset.to_timestamp(*civil).ok()?.as_second()),
                None => Bound::LocalInstant(*civil),
            };
            Some(Bounds::all(vec![(comparison, bound)]))
        }
        (true, LiteralValue::Date(date)) => {
            let start = Bound::LocalInstant(date.to_datetime(jiff::civil::Time::midnight()));
            let end = Bound::LocalInstant(
                date.checked_add(1.day())
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight()),
            );
            Some(match comparison {
                Less => Bounds::all(vec![(Less, start)]),
                GreaterOrEqual => Bounds::all(vec![(GreaterOrEqual, start)]),
                LessOrEqual => Bounds::all(vec![(Less, end)]),
                Greater => Bounds::all(vec![(GreaterOrEqual, end)]),
                Equal => Bounds::all(vec![(GreaterOrEqual, start), (Less, end)]),
                NotEqual => Bounds {
                    any: true,
                    parts: vec![(Less, start), (GreaterOrEqual, end)],
                },
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Unit;

    fn date(text: &str) -> Date {
        parse_date(text).unwrap()
    }

    #[test]
    fn folding_is_unicode_aware() {
        assert_eq!(fold("МОСКВА"), fold("москва"));
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert!(fold("Санкт-Петербург").contains(&fold("ПЕТЕРБУРГ")));
    }

    #[test]
    fn age_counts_completed_years() {
        assert_eq!(age(date("1990-06-15"), date("2026-06-14")), 35);
        assert_eq!(age(date("1990-06-15"), date("2026-06-15")), 36);
        assert_eq!(age(date("2000-02-29"), date("2026-02-28")), 25);
        assert_eq!(age(date("2000-02-29"), date("2026-03-01")), 26);
    }

    #[test]
    fn anniversaries_of_29_february_fall_on_28_february_in_common_years() {
        assert_eq!(
            days_until_anniversary(date("1990-06-15"), date("2026-06-15")),
            Some(0)
        );
        assert_eq!(
            days_until_anniversary(date("1990-06-15"), date("2026-06-08")),
            Some(7)
        );
        assert_eq!(
            days_until_anniversary(date("2000-02-29"), date("2026-02-28")),
            Some(0)
        );
        assert_eq!(
            days_until_anniversary(date("2000-02-29"), date("2028-02-28")),
            Some(1)
        );
        assert_eq!(
            days_until_anniversary(date("1990-01-01"), date("2026-12-31")),
            Some(1)
        );
    }

    #[test]
    fn months_are_calendar_units() {
        let clock = Clock::new("2026-08-31T12:00:00Z".parse().unwrap(), "UTC");
        let six_months = Duration {
            amount: 6,
            unit: Unit::Month,
        };
        assert_eq!(clock.ago(six_months).to_string(), "2026-02-28T12:00:00Z");
        let clock = Clock::new("2028-08-31T12:00:00Z".parse().unwrap(), "UTC");
        assert_eq!(clock.ago(six_months).to_string(), "2028-02-29T12:00:00Z");
    }

    #[test]
    fn days_since_rounds_down() {
        assert_eq!(days_since_instant(0, 86_399), 0);
        assert_eq!(days_since_instant(0, 86_400), 1);
        assert_eq!(days_since_instant(10, 0), -1);
    }
}
