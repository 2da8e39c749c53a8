//! Campaigns as the compiler hands them on: typed schedules, variants,
//! holdout and goals, and when a campaign goes out. Schedules are in the
//! project's time zone and DST-correct: a local time that falls in a spring-forward gap moves forward by the gap, one in
//! an autumn overlap is the earlier instant (jiff's "compatible" rule, the
//! one calendars use).

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use crate::duration::{Duration, TimeOfDay};
use crate::model::{ChannelMode, MessageType};
use crate::segment::ast::Expr;
use crate::source::{FileId, Span};

/// A campaign as `check` validated it: every value typed, names resolved.
#[derive(Clone, Debug)]
pub struct Campaign {
    pub name: String,
    pub file: FileId,
    pub kind: MessageType,
    /// `None` when the schedule has errors (reported by `check`).
    pub schedule: Option<Schedule>,
    /// The `schedule:` key, where diagnostics about the calendar point.
    pub schedule_span: Span,
    pub audience: Audience,
    /// The channels in order of preference.
    pub channels: Vec<String>,
    pub mode: ChannelMode,
    /// The A/B variants; empty when the campaign has only its default messages.
    pub variants: Vec<Variant>,
    /// Percentage of the audience kept as a control group.
    pub holdout: Option<f64>,
    /// Each contact gets the campaign at most once within this period.
    pub once_per: Option<Duration>,
    pub goal: Option<Goal>,
    pub offer: Option<String>,
    pub budget: Option<f64>,
    /// KPI targets by metric name (rates in percent, `revenue` in the project currency).
    pub kpi: BTreeMap<String, f64>,
    pub priority: Option<i32>,
}

/// Who a campaign is for.
#[derive(Clone, Debug, Default)]
pub struct Audience {
    pub segment: Option<String>,
    pub exclude: Vec<String>,
    /// The extra condition, parsed (`None` when absent or when it does not parse).
    pub filter: Option<Expr>,
}

/// An A/B variant: a name and its share of the audience in percent.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    pub weight: f64,
}

/// A conversion goal: the event that counts, within a window after the send
/// (campaigns) or the entry (journeys).
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    pub event: String,
    pub window: Duration,
    /// The `within` value, where diagnostics about the window point.
    pub window_span: Span,
}

/// When a campaign goes out, in the project's time zone.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Once, at a local date and time.
    Once(DateTime),
    Recurring(Recurrence),
}

/// A recurring schedule: which days, at what local time, between which dates.
#[derive(Clone, Debug, PartialEq)]
pub struct Recurrence {
    pub every: Every,
    pub time: TimeOfDay,
    /// The first date it runs on, if bounded.
    pub from: Option<Date>,
    /// The last date it runs on, if bounded.
    pub until: Option<Date>,
}

/// The days a recurring schedule runs on.
#[derive(Clone, Debug, PartialEq)]
pub enum Every {
    Day,
    Week(Vec<Weekday>),
    /// Days of the month, 1 to 31; a day past the month's end runs on its last day.
    Month(Vec<u8>),
}

impl Schedule {
    /// The send times in `[from, until)`, in order.
    pub fn occurrences(
        &self,
        from: Timestamp,
        until: Timestamp,
        zone: &TimeZone,
    ) -> Vec<ZonedDateTime> {
        let within = |zoned: &ZonedDateTime| zoned.timestamp() >= from && zoned.timestamp() < until;
        let recurrence = match self {
            Schedule::Once(at) => {
                return at
                    .to_zoned_datetime(zone.clone())
                    .ok()
                    .filter(within)
                    .into_iter()
                    .collect();
            }
            Schedule::Recurring(recurrence) => recurrence,
        };
        let start_date = from.to_zoned_datetime(zone.clone()).date();
        let end_date = until.to_zoned_datetime(zone.clone()).date();
        let mut result = Vec::new();
        let mut date = start_date;
        while date <= end_date {
            let runs = match &recurrence.every {
                Every::Day => true,
                Every::Week(weekdays) => weekdays.contains(&date.weekday()),
                Every::Month(days) => {
                    let last_day = date.days_in_month() as u8;
                    days.iter()
                        .any(|day| (*day).min(last_day) == date.day() as u8)
                }
            };
            let in_bounds = recurrence.from.is_none_or(|f| date >= f)
                && recurrence.until.is_none_or(|l| date <= l);
            let time = recurrence.time;
            if runs
                && in_bounds
                && let Ok(zoned) = date
                    .at(time.hour as i8, time.minute as i8, 0, 0)
                    .to_zoned_datetime(zone.clone())
                && within(&zoned)
            {
                result.push(zoned);
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        result
    }

    /// The first date a recurring schedule is bounded to, if any.
    pub fn first_date(&self) -> Option<Date> {
        match self {
            Schedule::Once(_) => None,
            Schedule::Recurring(recurrence) => recurrence.from,
        }
    }
}

/// The calendar's weekday for a schedule's `weekdays` entry.
pub fn civil_weekday(weekday: crate::model::Weekday) -> Weekday {
    use crate::model::Weekday as W;
    match weekday {
        W::Monday => Weekday::Monday,
        W::Tuesday => Weekday::Tuesday,
        W::Wednesday => Weekday::Wednesday,
        W::Thursday => Weekday::Thursday,
        W::Friday => Weekday::Friday,
        W::Saturday => Weekday::Saturday,
        W::Sunday => Weekday::Sunday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(every: Every, time: &str) -> Schedule {
        Schedule::Recurring(Recurrence {
            every,
            time: TimeOfDay::parse(time).expect("time"),
            from: None,
            until: None,
        })
    }

    fn range(from: &str, until: &str) -> (Timestamp, Timestamp) {
        (
            from.parse().expect("timestamp"),
            until.parse().expect("timestamp"),
        )
    }

    #[test]
    fn monthly_days_are_local_times_and_clamp_to_the_month_end() {
        let zone = TimeZone::get("Europe/Moscow").expect("zone");
        let (from, until) = range("2027-01-01T00:00:00Z", "2027-05-01T00:00:00Z");
        let times: Vec<String> = schedule(Every::Month(vec![5, 31]), "11:00")
            .occurrences(from, until, &zone)
            .iter()
            .map(|z| z.strftime("%Y-%m-%d %H:%M %:z").to_string())
            .collect();
        assert_eq!(
            times,
            [
                "2027-01-05 11:00 +03:00",
                "2027-01-31 11:00 +03:00",
                "2027-02-05 11:00 +03:00",
                "2027-02-28 11:00 +03:00",
                "2027-03-05 11:00 +03:00",
                "2027-03-31 11:00 +03:00",
                "2027-04-05 11:00 +03:00",
                "2027-04-30 11:00 +03:00",
            ]
        );
    }

    #[test]
    fn daily_sends_keep_local_time_across_dst() {
        let zone = TimeZone::get("Europe/Berlin").expect("zone");
        let (from, until) = range("2027-03-27T00:00:00Z", "2027-03-30T00:00:00Z");
        let times: Vec<String> = schedule(Every::Day, "02:30")
            .occurrences(from, until, &zone)
            .iter()
            .map(|z| z.strftime("%Y-%m-%d %H:%M %:z").to_string())
            .collect();
        // 02:30 does not exist on 28 March 2027 in Berlin: it moves forward by the gap.
        assert_eq!(
            times,
            [
                "2027-03-27 02:30 +01:00",
                "2027-03-28 03:30 +02:00",
                "2027-03-29 02:30 +02:00"
            ]
        );
    }
}
