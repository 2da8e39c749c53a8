//! Durations and times of day as written in herald files: `30 minutes`,
//! `2 weeks`, `6 months`, `10:00`, `until monday 10:00`.
//!
//! Minutes, hours, days and weeks are exact lengths; months and years are
//! calendar units, so they are kept as written and applied to a date later.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    pub const ALL: [Unit; 6] = [
        Unit::Minute,
        Unit::Hour,
        Unit::Day,
        Unit::Week,
        Unit::Month,
        Unit::Year,
    ];

    pub fn singular(self) -> &'static str {
        match self {
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }

    pub fn parse(word: &str) -> Option<Unit> {
        let word = word.strip_suffix('s').unwrap_or(word);
        Unit::ALL.into_iter().find(|unit| unit.singular() == word)
    }

    /// The unit a common abbreviation (`d`, `h`, `min`, `wk`, `mo`, `yr`) stands for, so a
    /// shorthand gets the spelt-out form as its suggestion rather than a generic example.
    fn abbreviated(word: &str) -> Option<Unit> {
        Some(match word.to_lowercase().as_str() {
            "m" | "min" | "mins" => Unit::Minute,
            "h" | "hr" | "hrs" => Unit::Hour,
            "d" => Unit::Day,
            "w" | "wk" | "wks" => Unit::Week,
            "mo" | "mon" | "mth" | "mths" => Unit::Month,
            "y" | "yr" | "yrs" => Unit::Year,
            _ => return None,
        })
    }

    /// Length in minutes, exact for fixed units and approximate (30 and 365 days) for calendar ones.
    pub fn approximate_minutes(self) -> i64 {
        match self {
            Unit::Minute => 1,
            Unit::Hour => 60,
            Unit::Day => 24 * 60,
            Unit::Week => 7 * 24 * 60,
            Unit::Month => 30 * 24 * 60,
            Unit::Year => 365 * 24 * 60,
        }
    }
}

/// An amount of a unit, such as `6 months`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    pub amount: u32,
    pub unit: Unit,
}

impl Duration {
    /// Parses `N unit` (singular or plural, one space or more).
    pub fn parse(text: &str) -> Result<Duration, String> {
        let mut words = text.split_whitespace();
        let (Some(amount), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            // Shorthand such as `60d` is the usual slip: suggest the same amount spelt out.
            let example = Duration::from_shorthand(text.trim())
                .map_or_else(|| "3 days".to_string(), |duration| duration.to_string());
            return Err(format!(
                "`{text}` is not a duration; write a number and a unit, e.g. `{example}`"
            ));
        };
        let amount: u32 = amount
            .parse()
            .map_err(|_| format!("`{amount}` is not a whole number"))?;
        let unit = Unit::parse(unit).ok_or_else(|| {
            if let Some(known) = Unit::abbreviated(unit) {
                let spelt = Duration {
                    amount,
                    unit: known,
                };
                return format!("unknown unit `{unit}`; did you mean `{spelt}`?");
            }
            let names = Unit::ALL.iter().map(|unit| unit.singular());
            match crate::suggestion::did_you_mean(unit, names) {
                Some(name) => format!("unknown unit `{unit}`; did you mean `{name}`?"),
                None => format!(
                    "unknown unit `{unit}`; use minutes, hours, days, weeks, months or years"
                ),
            }
        })?;
        Ok(Duration { amount, unit })
    }

    /// `60d`, `24h` or `2weeks` read as the duration they abbreviate, for
    /// suggestions only: the written form stays `N unit`.
    pub fn from_shorthand(text: &str) -> Option<Duration> {
        let digits = text.find(|c: char| !c.is_ascii_digit())?;
        let amount = text[..digits].parse().ok()?;
        let word = &text[digits..];
        let unit = Unit::parse(word).or_else(|| Unit::abbreviated(word))?;
        Some(Duration { amount, unit })
    }

    /// `at` moved by this duration, forward (`sign` 1) or back (-1), in
    /// `zone`: exact for minutes to weeks, calendar months and years there
    /// (31 August − 6 months is the end of February). `None` past jiff's range.
    pub fn shift(
        self,
        at: jiff::Timestamp,
        zone: &jiff::tz::TimeZone,
        sign: i64,
    ) -> Option<jiff::Timestamp> {
        use jiff::ToSpan;
        let amount = sign * i64::from(self.amount);
        let zoned = at.to_zoned_datetime(zone.clone());
        let moved = match self.unit {
            Unit::Minute => zoned.checked_add(amount.minutes()),
            Unit::Hour => zoned.checked_add(amount.hours()),
            Unit::Day => zoned.checked_add((amount * 24).hours()),
            Unit::Week => zoned.checked_add((amount * 24 * 7).hours()),
            Unit::Month => zoned.checked_add(amount.months()),
            Unit::Year => zoned.checked_add(amount.years()),
        };
        moved.ok().map(|zoned| zoned.timestamp())
    }

    pub fn approximate_minutes(self) -> i64 {
        i64::from(self.amount) * self.unit.approximate_minutes()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.amount == 1 { "" } else { "s" };
        write!(f, "{} {}{plural}", self.amount, self.unit.singular())
    }
}

/// A local time of day, `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        let invalid = || format!("`{text}` is not a time of day; write `HH:MM`, e.g. `10:00`");
        let (hour, minute) = text.trim().split_once(':').ok_or_else(invalid)?;
        if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
            return Err(invalid());
        }
        let hour: u8 = hour.parse().map_err(|_| invalid())?;
        let minute: u8 = minute.parse().map_err(|_| invalid())?;
        if hour > 23 || minute > 59 {
            return Err(invalid());
        }
        Ok(TimeOfDay { hour, minute })
    }
}

/// A journey `wait`: a duration, or until a local time (optionally on a weekday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    For(Duration),
    Until {
        weekday: Option<jiff::civil::Weekday>,
        time: TimeOfDay,
    },
}

impl Wait {
    pub fn parse(text: &str) -> Result<Wait, String> {
        let Some(rest) = text.trim().strip_prefix("until ") else {
            return Duration::parse(text).map(Wait::For);
        };
        let mut words: Vec<&str> = rest.split_whitespace().collect();
        let time = TimeOfDay::parse(words.pop().unwrap_or_default())?;
        let weekday = match words.as_slice() {
            [] => None,
            [day] => Some(parse_weekday(day).ok_or_else(|| format!("`{day}` is not a weekday"))?),
            _ => {
                return Err(format!(
                    "`{text}` is not a wait; write `until HH:MM` or `until monday HH:MM`"
                ));
            }
        };
        Ok(Wait::Until { weekday, time })
    }
}

fn parse_weekday(word: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday as W;
    Some(match word.to_lowercase().as_str() {
        "monday" => W::Monday,
        "tuesday" => W::Tuesday,
        "wednesday" => W::Wednesday,
        "thursday" => W::Thursday,
        "friday" => W::Friday,
        "saturday" => W::Saturday,
        "sunday" => W::Sunday,
        _ => return None,
    })
}

/// Journey re-entry rule: `never`, `always` or `after <duration>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reentry {
    Never,
    Always,
    After(Duration),
}

impl Reentry {
    pub fn parse(text: &str) -> Result<Reentry, String> {
        match text.trim() {
            "never" => Ok(Reentry::Never),
            "always" => Ok(Reentry::Always),
            other => match other.strip_prefix("after ") {
                Some(rest) => Duration::parse(rest).map(Reentry::After),
                None => Err(format!(
                    "`{text}` is not a re-entry rule; write `never`, `always` or `after 30 days`"
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_singular_and_plural() {
        assert_eq!(
            Duration::parse("1 year").unwrap(),
            Duration {
                amount: 1,
                unit: Unit::Year
            }
        );
        assert_eq!(
            Duration::parse("30  minutes").unwrap(),
            Duration {
                amount: 30,
                unit: Unit::Minute
            }
        );
        assert!(
            Duration::parse("2 dayz")
                .unwrap_err()
                .contains("did you mean `day`")
        );
        assert!(
            Duration::parse("soon")
                .unwrap_err()
                .contains("e.g. `3 days`")
        );
        assert!(
            Duration::parse("60d")
                .unwrap_err()
                .contains("e.g. `60 days`")
        );
        assert!(Duration::parse("1h").unwrap_err().contains("e.g. `1 hour`"));
        assert!(
            Duration::parse("2 wk")
                .unwrap_err()
                .contains("did you mean `2 weeks`")
        );
    }

    #[test]
    fn waits_and_times() {
        assert_eq!(
            Wait::parse("until 10:00").unwrap(),
            Wait::Until {
                weekday: None,
                time: TimeOfDay {
                    hour: 10,
                    minute: 0
                }
            }
        );
        assert!(matches!(
            Wait::parse("until monday 9:30").unwrap(),
            Wait::Until {
                weekday: Some(jiff::civil::Weekday::Monday),
                ..
            }
        ));
        assert!(TimeOfDay::parse("24:00").is_err());
        assert_eq!(
            Reentry::parse("after 30 days").unwrap(),
            Reentry::After(Duration {
                amount: 30,
                unit: Unit::Day
            })
        );
    }
}
