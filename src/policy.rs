//! The manifest's `policies:` as typed values: quiet hours as local times,
//! frequency caps as windows, consent by message type, and the default
//! re-entry, lapse and conflict periods. Built once by resolution; the
//! lint rules, `contacts clean` and the runner read them from here.

use crate::duration::{Duration, Reentry, TimeOfDay, Unit};
use crate::model::MessageType;
use crate::source::Span;

/// The policies of a project; defaults where the manifest says nothing or
/// says something invalid (which `check` reported).
#[derive(Clone, Debug, PartialEq)]
pub struct Policies {
    pub quiet_hours: Option<QuietHours>,
    pub frequency_caps: Vec<FrequencyCap>,
    /// Message types that need the contact's consent on the channel.
    pub consent_required: Vec<MessageType>,
    /// Journey re-entry when a journey does not set its own.
    pub reentry: Reentry,
    /// How long without converting before `contacts clean` marks a contact lapsed.
    pub lapse_after: Option<Duration>,
    /// Two sends on one channel closer than this count as a conflict.
    pub conflict_window: Duration,
}

impl Default for Policies {
    fn default() -> Policies {
        Policies {
            quiet_hours: None,
            frequency_caps: Vec::new(),
            consent_required: vec![MessageType::Promotional, MessageType::Informational],
            reentry: Reentry::Never,
            lapse_after: None,
            conflict_window: Duration {
                amount: 1,
                unit: Unit::Day,
            },
        }
    }
}

impl Policies {
    /// Whether a message of this type needs the contact's consent.
    pub fn needs_consent(&self, kind: MessageType) -> bool {
        self.consent_required.contains(&kind)
    }
}

/// Contact-local hours in which nothing promotional is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl QuietHours {
    /// Whether a local time falls in the quiet hours; `22:00`–`09:00` spans midnight.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        if self.start <= self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }
}

/// At most `window.count` messages per contact in any `window.period`, on
/// one channel or on all.
#[derive(Clone, Debug, PartialEq)]
pub struct FrequencyCap {
    /// The channel it applies to; all channels when `None`.
    pub channel: Option<String>,
    pub window: Window,
    /// The cap's `per` value, where diagnostics about the cap point.
    pub span: Span,
}

/// A count of messages over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub count: u32,
    pub period: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_span_midnight() {
        let time = |text| TimeOfDay::parse(text).expect("time");
        let night = QuietHours {
            start: time("22:00"),
            end: time("09:00"),
        };
        assert!(night.contains(time("23:30")));
        assert!(night.contains(time("08:59")));
        assert!(!night.contains(time("09:00")));
        let lunch = QuietHours {
            start: time("13:00"),
            end: time("14:00"),
        };
        assert!(lunch.contains(time("13:30")));
        assert!(!lunch.contains(time("22:00")));
    }
}
