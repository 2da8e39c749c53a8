//! The registry of diagnostic codes: one table assigns every code, its
//! kebab-case name, its default severity, whether the manifest's `lint`
//! section may change its level, and the file that documents it. Codes are
//! never reused; a retired code stays in the table.
//!
//! Every rule's documentation has one home, its own file, and is what
//! `herald explain CODE` prints; its first paragraph is the rule's summary.
//! Lint and conflict rules (`J`, `L`, `X`) are documented by the module doc
//! comment of the file that implements them, as in ruff; rules reported by a
//! compile stage are documented in `src/rules/<name>.md`.
//!
//! Prefixes name the stage: `Y` YAML loading, `P` project layout, `S` schema,
//! `R` reference resolution, `T` templates (syntax and variables), `C`
//! channel content rules on rendered samples, `F` filters (the segment
//! language), `J` journey lint, `L` campaign lint, `X` conflicts between
//! campaigns and journeys.

/// How serious a diagnostic is. The registry gives every code a default;
/// the manifest's `lint` section may change it for configurable codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($(
        $variant:ident = $code:literal, $name:literal, $severity:ident, $configurable:literal, $doc:literal;
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

            /// The file below `src/` that documents the rule.
            pub fn documentation_file(self) -> &'static str {
                match self { $(Code::$variant => $doc),* }
            }

            /// The documentation file's text, as the build read it.
            fn documentation_source(self) -> &'static str {
                match self { $(Code::$variant => include_str!($doc)),* }
            }
        }
    };
}

/// The `//!` lines at the top of a rule's source file, without the markers.
fn module_documentation(source: &str) -> String {
    source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| {
            line.trim_start_matches("//!")
                .strip_prefix(' ')
                .unwrap_or(line.trim_start_matches("//!"))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

impl Code {
    /// The rule's documentation, as `herald explain` prints it.
    pub fn documentation(self) -> String {
        let source = self.documentation_source();
        if self.documentation_file().ends_with(".rs") {
            module_documentation(source)
        } else {
            source.trim().to_string()
        }
    }

    /// Looks a code up by its code (`R001`, any case) or its name (`unknown-segment`).
    pub fn lookup(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text) || code.name() == text)
    }

    /// The first paragraph of the documentation, on one line.
    pub fn summary(self) -> String {
        self.documentation()
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Variant = code, name, default severity, configurable by `lint:`, documentation file below `src/`.
codes! {
    YamlSyntax = "Y001", "yaml-syntax", Error, false, "rules/yaml-syntax.md";
    DuplicateKey = "Y002", "duplicate-key", Error, false, "rules/duplicate-key.md";
    InvalidEncoding = "Y003", "invalid-encoding", Error, false, "rules/invalid-encoding.md";
    YamlLimit = "Y004", "yaml-limit", Error, false, "rules/yaml-limit.md";

    StrayFile = "P001", "stray-file", Warning, true, "rules/stray-file.md";
    UnreadablePath = "P002", "unreadable-path", Error, false, "rules/unreadable-path.md";

    UnknownKey = "S001", "unknown-key", Error, false, "rules/unknown-key.md";
    WrongType = "S002", "wrong-type", Error, false, "rules/wrong-type.md";
    MissingKey = "S003", "missing-key", Error, false, "rules/missing-key.md";
    InvalidValue = "S004", "invalid-value", Error, false, "rules/invalid-value.md";

    UnknownSegment = "R001", "unknown-segment", Error, false, "rules/unknown-segment.md";
    UnknownTemplate = "R002", "unknown-template", Error, false, "rules/unknown-template.md";
    UnknownChannel = "R003", "unknown-channel", Error, false, "rules/unknown-channel.md";
    UnknownProvider = "R004", "unknown-provider", Error, false, "rules/unknown-provider.md";
    UnknownEvent = "R005", "unknown-event", Error, false, "rules/unknown-event.md";
    SegmentCycle = "R006", "segment-cycle", Error, false, "rules/segment-cycle.md";
    UnusedSegment = "R007", "unused-segment", Warning, true, "rules/unused-segment.md";
    LiteralSecret = "R008", "literal-secret", Error, true, "rules/literal-secret.md";
    UnknownStep = "R009", "unknown-step", Error, false, "rules/unknown-step.md";
    StepAction = "R010", "step-action", Error, false, "rules/step-action.md";
    ProviderSetting = "R011", "provider-setting", Error, false, "rules/provider-setting.md";
    InvalidDuration = "R012", "invalid-duration", Error, false, "rules/invalid-duration.md";
    UnknownAttribute = "R013", "unknown-attribute", Error, false, "rules/unknown-attribute.md";
    InvalidSetting = "R014", "invalid-setting", Error, false, "rules/invalid-setting.md";
    UnknownRule = "R015", "unknown-rule", Error, false, "rules/unknown-rule.md";
    TriggerKind = "R016", "trigger-kind", Error, false, "rules/trigger-kind.md";
    DuplicateStep = "R017", "duplicate-step", Error, false, "rules/duplicate-step.md";
    InvalidSchedule = "R018", "invalid-schedule", Error, false, "rules/invalid-schedule.md";
    MissingSource = "R019", "missing-source", Error, true, "rules/missing-source.md";
    MissingSender = "R020", "missing-sender", Error, false, "rules/missing-sender.md";
    InvalidSender = "R021", "invalid-sender", Error, false, "rules/invalid-sender.md";
    LimitBeyondProvider = "R022", "limit-beyond-provider", Warning, true, "rules/limit-beyond-provider.md";
    ProviderKindMismatch = "R023", "provider-kind-mismatch", Error, false, "rules/provider-kind-mismatch.md";
    InvalidProviderValue = "R024", "invalid-provider-value", Error, false, "rules/invalid-provider-value.md";
    RateLimitBeyondProvider = "R025", "rate-limit-beyond-provider", Warning, true, "rules/rate-limit-beyond-provider.md";

    TemplateSyntax = "T001", "template-syntax", Error, false, "rules/template-syntax.md";
    UnknownVariable = "T002", "unknown-variable", Error, false, "rules/unknown-variable.md";
    UnguardedOptional = "T003", "unguarded-optional", Warning, true, "rules/unguarded-optional.md";
    UnknownFilter = "T004", "unknown-filter", Error, false, "rules/unknown-filter.md";
    RenderError = "T005", "render-error", Error, false, "rules/render-error.md";

    SmsTooLong = "C001", "sms-too-long", Error, true, "rules/sms-too-long.md";
    OfferTooLate = "C002", "offer-too-late", Warning, true, "rules/offer-too-late.md";
    MissingUnsubscribeLink = "C003", "missing-unsubscribe-link", Error, true, "rules/missing-unsubscribe-link.md";
    SubjectTooLong = "C004", "subject-too-long", Warning, true, "rules/subject-too-long.md";
    MessageTooLong = "C005", "message-too-long", Error, true, "rules/message-too-long.md";
    HeaderLineBreak = "C006", "header-line-break", Error, true, "rules/header-line-break.md";
    EmptyMessage = "C007", "empty-message", Error, false, "rules/empty-message.md";
    ProviderTextTooLong = "C008", "provider-text-too-long", Error, false, "rules/provider-text-too-long.md";
    TemplateParameterTooLong = "C009", "template-parameter-too-long", Error, true, "rules/template-parameter-too-long.md";
    TemplateParameterWhitespace = "C010", "template-parameter-whitespace", Error, true, "rules/template-parameter-whitespace.md";

    FilterSyntax = "F001", "filter-syntax", Error, false, "rules/filter-syntax.md";
    UnknownFilterAttribute = "F002", "unknown-filter-attribute", Error, false, "rules/unknown-filter-attribute.md";
    UnknownFilterEvent = "F003", "unknown-filter-event", Error, false, "rules/unknown-filter-event.md";
    UnknownEventProperty = "F004", "unknown-event-property", Error, false, "rules/unknown-event-property.md";
    InvalidCondition = "F005", "invalid-condition", Error, false, "rules/invalid-condition.md";
    UndeclaredEnumValue = "F006", "undeclared-enum-value", Error, false, "rules/undeclared-enum-value.md";
    LiteralTypeMismatch = "F007", "literal-type-mismatch", Error, false, "rules/literal-type-mismatch.md";
    NonNumericAggregate = "F008", "non-numeric-aggregate", Error, false, "rules/non-numeric-aggregate.md";
    NeverMatches = "F009", "never-matches", Error, true, "rules/never-matches.md";
    AlwaysMatches = "F010", "always-matches", Warning, true, "rules/always-matches.md";
    FilterTooDeep = "F011", "filter-too-deep", Error, false, "rules/filter-too-deep.md";
    FilterTooLarge = "F012", "filter-too-large", Error, false, "rules/filter-too-large.md";

    UnreachableStep = "J001", "unreachable-step", Warning, true, "lint/unreachable_step.rs";
    LoopWithoutWait = "J002", "loop-without-wait", Error, true, "lint/loop_without_wait.rs";
    WaitWithoutTimeout = "J003", "wait-without-timeout", Error, true, "lint/wait_without_timeout.rs";
    ExitOnTrigger = "J004", "exit-on-trigger", Error, true, "lint/exit_on_trigger.rs";
    WaitBeyondGoal = "J005", "wait-beyond-goal", Warning, true, "lint/wait_beyond_goal.rs";
    GoalWithoutExit = "J006", "goal-without-exit", Warning, true, "lint/goal_without_exit.rs";
    WaitForExitEvent = "J007", "wait-for-exit-event", Warning, true, "lint/wait_for_exit_event.rs";
    BranchNeverTaken = "J008", "branch-never-taken", Warning, true, "lint/branch_never_taken.rs";
    RemovedStepWithContacts = "J009", "removed-step-with-contacts", Error, false, "rules/removed-step-with-contacts.md";

    WeightsNot100 = "L001", "weights-not-100", Error, true, "lint/weights_not_100.rs";
    HoldoutWithoutGoal = "L002", "holdout-without-goal", Warning, true, "lint/holdout_without_goal.rs";
    ChannelWithoutMessage = "L003", "channel-without-message", Error, true, "lint/channel_without_message.rs";
    MessageWithoutChannel = "L004", "message-without-channel", Warning, true, "lint/message_without_channel.rs";

    OverlappingTriggers = "X001", "overlapping-triggers", Warning, true, "lint/overlapping_triggers.rs";
    MissingPriority = "X002", "missing-priority", Warning, true, "lint/missing_priority.rs";
    FrequencyCapExceeded = "X003", "frequency-cap-exceeded", Warning, true, "lint/frequency_cap_exceeded.rs";
    DiscountWithoutBuyerExclusion = "X004", "discount-without-buyer-exclusion", Warning, true, "lint/discount_without_buyer_exclusion.rs";
    UnguardedNegativeCondition = "X005", "unguarded-negative-condition", Warning, true, "lint/unguarded_negative_condition.rs";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.as_str()), "{code} reused");
            assert!(names.insert(code.name()), "{} reused", code.name());
            let (prefix, number) = code.as_str().split_at(1);
            assert!(
                "YPSRTCFJLX".contains(prefix)
                    && number.len() == 3
                    && number.bytes().all(|b| b.is_ascii_digit()),
                "{code} is not a stage prefix and three digits"
            );
            let name = code.name();
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name} is not kebab-case"
            );
        }
    }

    #[test]
    fn every_code_round_trips_by_code_and_by_name() {
        for code in Code::ALL {
            assert_eq!(Code::lookup(code.as_str()), Some(*code));
            assert_eq!(
                Code::lookup(&code.as_str().to_ascii_lowercase()),
                Some(*code)
            );
            assert_eq!(Code::lookup(code.name()), Some(*code));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn every_code_is_documented() {
        for code in Code::ALL {
            let doc = code.documentation();
            assert!(!code.summary().is_empty(), "{code} has no summary");
            for section in ["## Why it matters", "## Example", "## Fix"] {
                assert!(doc.contains(section), "{code} lacks {section}");
            }
        }
    }

    /// A rule's documentation lives in one file, and a file documents one rule:
    /// a stray `src/rules/*.md` would be documentation nobody can print.
    #[test]
    fn every_documentation_file_belongs_to_one_code() {
        let mut files = HashSet::new();
        for code in Code::ALL {
            assert!(
                files.insert(code.documentation_file()),
                "{code} shares its documentation file"
            );
        }
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
        for entry in std::fs::read_dir(rules).expect("src/rules") {
            let name = entry.expect("entry").file_name();
            let file = format!("rules/{}", name.to_string_lossy());
            assert!(files.contains(file.as_str()), "{file} documents no code");
        }
        for code in Code::ALL {
            if let Some(file) = code.documentation_file().strip_prefix("rules/") {
                assert_eq!(file, format!("{}.md", code.name()), "{code}'s file name");
            }
        }
    }
}
