//! The registry of diagnostic codes: one table assigns every code, its
//! kebab-case name, its default severity and whether the manifest's `lint`
//! section may change its level. The doc comment of each entry is what
//! `herald explain CODE` prints. Codes are never reused; a retired code stays
//! in the table.
//!
//! Prefixes name the stage: `Y` YAML loading, `P` project layout, `S` schema,
//! `R` reference resolution.

use crate::diagnostic::Severity;

macro_rules! codes {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $name:literal, $severity:ident, $configurable:literal;
    )*) => {
        /// A diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant),*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable code, such as `S001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// The kebab-case name, read as "allow <name>".
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name),* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity),* }
            }

            /// Whether the manifest's `lint` section may change the level.
            pub fn configurable(self) -> bool {
                match self { $(Code::$variant => $configurable),* }
            }

            /// The rule's documentation, as `herald explain` prints it.
            pub fn documentation(self) -> String {
                let raw: &[&str] = match self { $(Code::$variant => &[$($doc),*]),* };
                raw.iter()
                    .map(|line| line.strip_prefix(' ').unwrap_or(line))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    };
}

impl Code {
    /// Looks a code up by its code (`R001`, any case) or its name (`unknown-segment`).
    pub fn lookup(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text) || code.name() == text)
    }

    /// The first line of the documentation.
    pub fn summary(self) -> String {
        self.documentation()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    /// The file is not valid YAML.
    ///
    /// ## Why it matters
    /// herald cannot read anything from a file it cannot parse, so every other
    /// check of this file is skipped until the syntax is fixed.
    ///
    /// ## Example
    /// ```yaml
    /// filter: [orders_count > 0
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: "orders_count > 0"
    /// ```
    YamlSyntax = "Y001", "yaml-syntax", Error, false;

    /// A mapping has the same key twice.
    ///
    /// ## Why it matters
    /// Most YAML readers silently keep the last value, so the first one looks
    /// active in review but is ignored. herald rejects the file instead.
    ///
    /// ## Example
    /// ```yaml
    /// description: Active customers
    /// description: Customers who bought this year
    /// ```
    ///
    /// ## Fix
    /// Keep one of the two keys.
    DuplicateKey = "Y002", "duplicate-key", Error, false;

    /// The file is not UTF-8 text.
    ///
    /// ## Why it matters
    /// herald files hold names, templates and filters in any language; they
    /// must be UTF-8 so that every tool reads the same characters.
    ///
    /// ## Example
    /// A segment saved in Windows-1251 by an old editor.
    ///
    /// ## Fix
    /// Re-save the file as UTF-8 (without a byte order mark).
    InvalidEncoding = "Y003", "invalid-encoding", Error, false;

    /// The file exceeds the reader's resource limits (nesting depth, alias expansion).
    ///
    /// ## Why it matters
    /// Deeply nested or alias-expanding documents ("billion laughs") can exhaust
    /// memory; herald refuses them instead of hanging a CI job.
    ///
    /// ## Example
    /// ```yaml
    /// a: &a [x, x, x, x, x, x, x, x, x]
    /// b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    /// c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    /// # ... and so on
    /// ```
    ///
    /// ## Fix
    /// Write the data out plainly; herald files never need deep aliasing.
    YamlLimit = "Y004", "yaml-limit", Error, false;

    /// A file in a project folder is not a YAML file herald reads.
    ///
    /// ## Why it matters
    /// Only `*.yaml` files below `segments/`, `campaigns/` and `journeys/` are
    /// definitions. A `welcome.yml` or `welcome.yaml.bak` is silently ignored
    /// by the compiler, which is rarely what its author meant.
    ///
    /// ## Example
    /// `journeys/welcome.yml`
    ///
    /// ## Fix
    /// Rename it to `journeys/welcome.yaml`, or move it out of the folder.
    StrayFile = "P001", "stray-file", Warning, true;

    /// A key that the schema for this kind of file does not define.
    ///
    /// ## Why it matters
    /// A misspelt key (`shedule:` for `schedule:`) would otherwise be ignored
    /// and the campaign would silently run with defaults.
    ///
    /// ## Example
    /// ```yaml
    /// type: promotional
    /// shedule:
    ///   at: "2026-12-20 11:00"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// type: promotional
    /// schedule:
    ///   at: "2026-12-20 11:00"
    /// ```
    UnknownKey = "S001", "unknown-key", Error, false;

    /// A value has the wrong type (a list where a string is expected, a word where a number is).
    ///
    /// ## Why it matters
    /// herald reads files into typed definitions; a value of the wrong type
    /// cannot mean what its author intended.
    ///
    /// ## Example
    /// ```yaml
    /// holdout: ten percent
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// holdout: 10
    /// ```
    WrongType = "S002", "wrong-type", Error, false;

    /// A required key is missing.
    ///
    /// ## Why it matters
    /// Without it the definition is incomplete: a segment without a `filter`
    /// selects nobody, a campaign without `type` cannot be checked for consent.
    ///
    /// ## Example
    /// ```yaml
    /// description: Customers who bought twice
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// description: Customers who bought twice
    /// filter: orders_count >= 2
    /// ```
    MissingKey = "S003", "missing-key", Error, false;

    /// A value is of the right type but not allowed (not one of the listed words, out of range, wrong format).
    ///
    /// ## Why it matters
    /// `type: promo` is a string, but herald knows only `promotional`,
    /// `informational` and `transactional`; guessing would be worse than stopping.
    ///
    /// ## Example
    /// ```yaml
    /// type: promo
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// type: promotional
    /// ```
    InvalidValue = "S004", "invalid-value", Error, false;

    /// A reference to a segment that does not exist.
    ///
    /// ## Why it matters
    /// The audience of a campaign or journey would be undefined.
    ///
    /// ## Example
    /// ```yaml
    /// audience:
    ///   segment: lifecycle/activ
    /// ```
    ///
    /// ## Fix
    /// Use the segment's name: its path below `segments/` without `.yaml`.
    /// ```yaml
    /// audience:
    ///   segment: lifecycle/active
    /// ```
    UnknownSegment = "R001", "unknown-segment", Error, false;

    /// A reference to a template file that does not exist below `templates/`.
    ///
    /// ## Why it matters
    /// The message could not be rendered and nothing would be sent.
    ///
    /// ## Example
    /// ```yaml
    /// messages:
    ///   email:
    ///     html_file: promo/decmber.html
    /// ```
    ///
    /// ## Fix
    /// Give the path below `templates/`:
    /// ```yaml
    ///     html_file: promo/december.html
    /// ```
    UnknownTemplate = "R002", "unknown-template", Error, false;

    /// A channel is used that the manifest does not declare.
    ///
    /// ## Why it matters
    /// herald only sends through channels with a provider, a sender and a cost
    /// in `herald.yaml`; a message for an undeclared channel can never go out.
    ///
    /// ## Example
    /// ```yaml
    /// channels: [email, whatsapp]   # herald.yaml declares email and sms
    /// ```
    ///
    /// ## Fix
    /// Declare the channel under `channels:` in `herald.yaml`, or remove it here.
    UnknownChannel = "R003", "unknown-channel", Error, false;

    /// A channel names a provider that `providers:` does not declare.
    ///
    /// ## Why it matters
    /// Messages on the channel would have no way to be delivered.
    ///
    /// ## Example
    /// ```yaml
    /// channels:
    ///   sms:
    ///     provider: smsc-ru
    /// providers:
    ///   smsc: {kind: smsc, login: "${env:SMSC_LOGIN}", password: "${env:SMSC_PASSWORD}"}
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     provider: smsc
    /// ```
    UnknownProvider = "R004", "unknown-provider", Error, false;

    /// An event type that `events:` in `herald.yaml` does not declare.
    ///
    /// ## Why it matters
    /// A journey triggered by an undeclared event never starts; a goal on one
    /// is never reached.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   event: cart_abandon
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// trigger:
    ///   event: cart_abandoned
    /// ```
    UnknownEvent = "R005", "unknown-event", Error, false;

    /// Segments refer to each other in a cycle.
    ///
    /// ## Why it matters
    /// A segment defined through itself has no meaning and cannot be evaluated.
    ///
    /// ## Example
    /// `segments/a.yaml`: `filter: in segment "b"`;
    /// `segments/b.yaml`: `filter: in segment "a"`.
    ///
    /// ## Fix
    /// Write one of the segments' conditions out in full.
    SegmentCycle = "R006", "segment-cycle", Error, false;

    /// A segment that no campaign, journey or other segment uses.
    ///
    /// ## Why it matters
    /// Dead definitions rot: nobody notices when they stop meaning what their
    /// name says. It is also often a sign that a reference was misspelt.
    ///
    /// ## Example
    /// `segments/old/autumn_2024.yaml`, referenced nowhere.
    ///
    /// ## Fix
    /// Delete it, or set `unused-segment: allow` under `lint:` if it is kept
    /// for `herald segment` queries.
    UnusedSegment = "R007", "unused-segment", Warning, true;

    /// A provider secret written into the YAML instead of read from the environment.
    ///
    /// ## Why it matters
    /// The project lives in git: a password or token committed there is
    /// leaked to everyone with read access, for ever.
    ///
    /// ## Example
    /// ```yaml
    /// providers:
    ///   telegram:
    ///     kind: telegram
    ///     token: 123456789:AAH9x8q0mYVbWt2Fz9Zq6nC0kL1pR3sT4uV
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     token: ${env:TELEGRAM_BOT_TOKEN}
    /// ```
    /// and revoke the leaked token.
    LiteralSecret = "R008", "literal-secret", Error, true;

    /// A journey step refers to a step id that the journey does not define.
    ///
    /// ## Why it matters
    /// Contacts reaching the step would have nowhere to go.
    ///
    /// ## Example
    /// ```yaml
    /// - branch:
    ///     - when: orders_count > 0
    ///       goto: thank_you
    /// ```
    ///
    /// ## Fix
    /// Give the target step that id (`id: thank_you`) or correct the name.
    UnknownStep = "R009", "unknown-step", Error, false;

    /// A journey step with no action, or with more than one.
    ///
    /// ## Why it matters
    /// Each step does exactly one thing (`send`, `wait`, `wait_for`, `branch`,
    /// `split`, `update` or `exit`); a step with two would leave their order
    /// to guesswork.
    ///
    /// ## Example
    /// ```yaml
    /// - wait: 1 day
    ///   send: {channels: [email], messages: {email: {subject_file: x.txt}}}
    /// ```
    ///
    /// ## Fix
    /// Split it into two steps, one after the other.
    StepAction = "R010", "step-action", Error, false;

    /// A provider lacks a setting its kind needs, or has one its kind does not use.
    ///
    /// ## Why it matters
    /// The provider could not be called at run time; herald reports it before
    /// anything is planned.
    ///
    /// ## Example
    /// ```yaml
    /// providers:
    ///   mail: {kind: smtp, port: 587}
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///   mail: {kind: smtp, host: smtp.example.com, port: 587,
    ///          username: "${env:SMTP_USER}", password: "${env:SMTP_PASSWORD}"}
    /// ```
    ProviderSetting = "R011", "provider-setting", Error, false;

    /// A duration or time of day that herald cannot read.
    ///
    /// ## Why it matters
    /// Waits, goal windows and re-entry periods decide when messages go out.
    ///
    /// ## Example
    /// ```yaml
    /// - wait: 2 dayz
    /// ```
    ///
    /// ## Fix
    /// Durations are a whole number and a unit: `30 minutes`, `12 hours`,
    /// `3 days`, `2 weeks`, `6 months`, `1 year`. Times of day are `HH:MM`.
    InvalidDuration = "R012", "invalid-duration", Error, false;

    /// A reference to a contact attribute that the manifest does not declare.
    ///
    /// ## Why it matters
    /// An `update` step or a birthday trigger on an unknown attribute would
    /// do nothing at run time.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   anniversary: birth_day
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// trigger:
    ///   anniversary: birthday
    /// ```
    UnknownAttribute = "R013", "unknown-attribute", Error, false;

    /// A value that must name a time zone, locale, currency or country does not.
    ///
    /// ## Why it matters
    /// Schedules, quiet hours and phone normalisation depend on them.
    ///
    /// ## Example
    /// ```yaml
    /// timezone: Moscow
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// timezone: Europe/Moscow
    /// ```
    InvalidSetting = "R014", "invalid-setting", Error, false;

    /// A `lint:` entry names a rule that does not exist or cannot be configured.
    ///
    /// ## Why it matters
    /// A misspelt rule name would silently leave the rule at its default level.
    ///
    /// ## Example
    /// ```yaml
    /// lint:
    ///   unused-segments: allow
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// lint:
    ///   unused-segment: allow
    /// ```
    /// `herald explain --list` lists every rule.
    UnknownRule = "R015", "unknown-rule", Error, false;

    /// A journey trigger that names no kind of trigger, or more than one.
    ///
    /// ## Why it matters
    /// A journey starts on exactly one thing: an `event`, entry into a
    /// `segment`, or a date attribute's `anniversary`.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   event: purchase
    ///   anniversary: birthday
    /// ```
    ///
    /// ## Fix
    /// Keep one, and make a second journey for the other.
    TriggerKind = "R016", "trigger-kind", Error, false;

    /// Two steps of one journey have the same `id`.
    ///
    /// ## Why it matters
    /// A `goto` to that id would be ambiguous, and the position stored for a
    /// contact would not say which step it is at.
    ///
    /// ## Example
    /// ```yaml
    /// - id: reminder
    ///   send: ...
    /// - id: reminder
    ///   send: ...
    /// ```
    ///
    /// ## Fix
    /// Give each step its own id (`reminder_1`, `reminder_2`).
    DuplicateStep = "R017", "duplicate-step", Error, false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.as_str()), "{code} reused");
            assert!(names.insert(code.name()), "{} reused", code.name());
            let name = code.name();
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name} is not kebab-case"
            );
            let doc = code.documentation();
            for section in ["## Why it matters", "## Example", "## Fix"] {
                assert!(doc.contains(section), "{code} lacks {section}");
            }
            assert_eq!(Code::lookup(code.as_str()), Some(*code));
            assert_eq!(Code::lookup(code.name()), Some(*code));
        }
    }
}
