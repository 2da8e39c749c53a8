//! Campaign semantics that do not depend on contacts: when a campaign goes
//! out. Schedules are in the project's time zone and DST-correct: a local
//! time that falls in a spring-forward gap moves forward by the gap, one in
//! an autumn overlap is the earlier instant (jiff's "compatible" rule, the
//! one calendars use).

use jiff::civil::{Date, DateTime, Weekday as CivilWeekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use crate::duration::TimeOfDay;
use crate::model::{Period, Schedule, Weekday};

/// The send times of a schedule in `[from, until)`, in order. A schedule
/// that does not parse (resolution reported it) has none.
pub fn occurrences(
    schedule: &Schedule,
    zone: &TimeZone,
    from: Timestamp,
    until: Timestamp,
) -> Vec<ZonedDateTime> {
    let within = |zoned: &ZonedDateTime| zoned.timestamp() >= from && zoned.timestamp() < until;
    if let Some(at) = &schedule.at {
        return DateTime::strptime("%Y-%m-%d %H:%M", at.value.trim())
            .ok()
            .and_then(|civil| civil.to_zoned_datetime(zone.clone()).ok())
            .filter(within)
            .into_iter()
            .collect();
    }
    let (Some(every), Some(time)) = (&schedule.every, &schedule.time) else {
        return Vec::new();
    };
    let Ok(time) = TimeOfDay::parse(&time.value) else {
        return Vec::new();
    };
    let first = schedule
        .from
        .as_ref()
        .and_then(|d| Date::strptime("%Y-%m-%d", d.value.trim()).ok());
    let last = schedule
        .until
        .as_ref()
        .and_then(|d| Date::strptime("%Y-%m-%d", d.value.trim()).ok());
    let start_date = from.to_zoned_datetime(zone.clone()).date();
    let end_date = until.to_zoned_datetime(zone.clone()).date();
    let mut result = Vec::new();
    let mut date = start_date;
    while date <= end_date {
        let runs = match every.value {
            Period::Day => true,
            Period::Week => schedule
                .weekdays
                .iter()
                .any(|w| civil_weekday(*w) == date.weekday()),
            Period::Month => {
                // A day past the month's end (31 in April) runs on its last day.
                let last_day = date.days_in_month();
                schedule
                    .days
                    .iter()
                    .any(|d| d.value.min(last_day as u8) == date.day() as u8)
            }
        };
        let in_bounds = first.is_none_or(|f| date >= f) && last.is_none_or(|l| date <= l);
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

fn civil_weekday(weekday: Weekday) -> CivilWeekday {
    match weekday {
        Weekday::Monday => CivilWeekday::Monday,
        Weekday::Tuesday => CivilWeekday::Tuesday,
        Weekday::Wednesday => CivilWeekday::Wednesday,
        Weekday::Thursday => CivilWeekday::Thursday,
        Weekday::Friday => CivilWeekday::Friday,
        Weekday::Saturday => CivilWeekday::Saturday,
        Weekday::Sunday => CivilWeekday::Sunday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Located, Period};

    fn text(value: &str) -> Located<String> {
        Located {
            value: value.to_string(),
            start: 0,
            end: 0,
        }
    }

    fn schedule(every: Option<Period>, days: &[u8], time: &str) -> Schedule {
        Schedule {
            at: None,
            every: every.map(|p| Located {
                value: p,
                start: 0,
                end: 0,
            }),
            days: days
                .iter()
                .map(|d| Located {
                    value: *d,
                    start: 0,
                    end: 0,
                })
                .collect(),
            weekdays: Vec::new(),
            time: Some(text(time)),
            from: None,
            until: None,
        }
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
        let times: Vec<String> = occurrences(
            &schedule(Some(Period::Month), &[5, 31], "11:00"),
            &zone,
            from,
            until,
        )
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
        let times: Vec<String> = occurrences(
            &schedule(Some(Period::Day), &[], "02:30"),
            &zone,
            from,
            until,
        )
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
