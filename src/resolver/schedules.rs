//! Times as written in the files, parsed once into typed values:
//! durations, times of day, re-entry rules and campaign schedules. Schedule
//! problems have their own code (R018); the rest are R012.

use super::Resolver;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::duration::{Duration, Reentry, TimeOfDay};
use crate::loader::Definition;
use jiff::civil::{Date, DateTime};

use crate::campaign::{Every, Recurrence, Schedule, civil_weekday};
use crate::model::{Campaign, Period, Text};
use crate::source::{FileId, Span};

impl Resolver<'_> {
    pub(super) fn duration(&mut self, file: FileId, text: &Text) -> Option<Duration> {
        match Duration::parse(&text.value) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.push(
                    Diagnostic::new(Code::InvalidDuration, text.span(file), message)
                        .label("not a duration"),
                );
                None
            }
        }
    }

    pub(super) fn time_of_day(&mut self, file: FileId, text: &Text) -> Option<TimeOfDay> {
        self.time_of_day_as(Code::InvalidDuration, file, text)
    }

    fn time_of_day_as(&mut self, code: Code, file: FileId, text: &Text) -> Option<TimeOfDay> {
        TimeOfDay::parse(&text.value)
            .map_err(|message| {
                self.push(
                    Diagnostic::new(code, text.span(file), message).label("not a time of day"),
                );
            })
            .ok()
    }

    pub(super) fn reentry(&mut self, file: FileId, text: &Text) -> Option<Reentry> {
        Reentry::parse(&text.value)
            .map_err(|message| {
                self.push(
                    Diagnostic::new(Code::InvalidDuration, text.span(file), message)
                        .label("not a re-entry rule"),
                );
            })
            .ok()
    }

    /// Checks a campaign's schedule; the typed schedule when it has no errors.
    pub(super) fn schedule(&mut self, definition: &Definition<Campaign>) -> Option<Schedule> {
        let file = definition.file;
        let schedule = &definition.value.schedule;
        let schedule_key = definition
            .node
            .entry("schedule")
            .map(|(key, _)| key.span(file))
            .unwrap_or(Span::new(file, 0, 0));
        let before = self.diagnostics.len();
        let typed = match (&schedule.at, &schedule.every) {
            (Some(at), None) => {
                let parsed = DateTime::strptime("%Y-%m-%d %H:%M", at.value.trim());
                if parsed.is_err() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSchedule,
                            at.span(file),
                            format!("`{}` is not a local date and time", at.value),
                        )
                        .label("expected `YYYY-MM-DD HH:MM`")
                        .help("write the time in the project's time zone, e.g. `2026-12-20 11:00`"),
                    );
                }
                for (key, present) in [
                    ("days", !schedule.days.is_empty()),
                    ("weekdays", !schedule.weekdays.is_empty()),
                    ("time", schedule.time.is_some()),
                ] {
                    if present {
                        self.push(
                            Diagnostic::new(Code::InvalidSchedule, schedule_key, format!("a one-off schedule (`at`) cannot also have `{key}`"))
                                .help("remove `at` for a recurring schedule, or `{key}` for a one-off one".replace("{key}", key)),
                        );
                    }
                }
                parsed.ok().map(Schedule::Once)
            }
            (None, Some(every)) => {
                let time = match schedule.time.as_ref() {
                    Some(time) => self.time_of_day_as(Code::InvalidSchedule, file, time),
                    None => {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidSchedule,
                                every.span(file),
                                "a recurring schedule needs a `time`",
                            )
                            .help("add `time: \"11:00\"` (local time in the project's time zone)"),
                        );
                        None
                    }
                };
                if every.value == Period::Month && schedule.days.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSchedule,
                            every.span(file),
                            "a monthly schedule needs `days`",
                        )
                        .help("add the days of the month, e.g. `days: [5, 20]`"),
                    );
                }
                if every.value == Period::Week && schedule.weekdays.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSchedule,
                            every.span(file),
                            "a weekly schedule needs `weekdays`",
                        )
                        .help("add the days of the week, e.g. `weekdays: [tuesday]`"),
                    );
                }
                for day in &schedule.days {
                    if !(1..=31).contains(&day.value) {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidSchedule,
                                day.span(file),
                                format!("{} is not a day of the month", day.value),
                            )
                            .label("expected 1 to 31"),
                        );
                    }
                }
                let mut date = |bound: &Option<Text>| -> Option<Date> {
                    let bound = bound.as_ref()?;
                    let parsed = Date::strptime("%Y-%m-%d", bound.value.trim()).ok();
                    if parsed.is_none() {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidSchedule,
                                bound.span(file),
                                format!("`{}` is not a date", bound.value),
                            )
                            .label("expected `YYYY-MM-DD`"),
                        );
                    }
                    parsed
                };
                let from = date(&schedule.from);
                let until = date(&schedule.until);
                time.map(|time| {
                    Schedule::Recurring(Recurrence {
                        every: match every.value {
                            Period::Day => Every::Day,
                            Period::Week => Every::Week(
                                schedule
                                    .weekdays
                                    .iter()
                                    .copied()
                                    .map(civil_weekday)
                                    .collect(),
                            ),
                            Period::Month => {
                                Every::Month(schedule.days.iter().map(|day| day.value).collect())
                            }
                        },
                        time,
                        from,
                        until,
                    })
                })
            }
            (Some(at), Some(_)) => {
                self.push(
                    Diagnostic::new(Code::InvalidSchedule, at.span(file), "a schedule is either once `at` a time or recurring `every` period, not both")
                        .help("remove `at` or `every`"),
                );
                None
            }
            (None, None) => {
                self.push(
                    Diagnostic::new(Code::InvalidSchedule, schedule_key, "the schedule says neither `at` nor `every`")
                        .help("add `at: \"2026-12-20 11:00\"` for a one-off send or `every: month` with `days` and `time`"),
                );
                None
            }
        };
        // A schedule with any error is not handed on: no campaign runs on a guess.
        typed.filter(|_| self.diagnostics.len() == before)
    }
}
