//! Journeys: the trigger names one kind of start, and every step has one
//! action, a unique id, and `goto` targets that exist.

use std::collections::BTreeMap;

use super::Resolver;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::duration::Wait;
use crate::journey::{JourneyTimes, StepTimes};
use crate::loader::Definition;
use crate::model::{Journey, Text, ValueType};
use crate::source::Span;
use crate::suggestion::did_you_mean;
use crate::yaml::PathStep;

impl<'a> Resolver<'a> {
    /// Resolves a journey's references, checks its steps and types its times.
    pub(super) fn journey(&mut self, definition: &'a Definition<Journey>) -> JourneyTimes {
        let file = definition.file;
        let journey = &definition.value;
        self.lint_keys(file, &journey.lint);
        let trigger = &journey.trigger;
        let kinds = [
            trigger.event.is_some(),
            trigger.segment.is_some(),
            trigger.anniversary.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            let span = definition
                .node
                .entry("trigger")
                .map(|(key, _)| key.span(file))
                .unwrap_or(Span::new(file, 0, 0));
            self.push(
                Diagnostic::new(
                    Code::TriggerKind,
                    span,
                    if kinds == 0 {
                        "the trigger names no `event`, `segment` or `anniversary`".to_string()
                    } else {
                        "the trigger names more than one of `event`, `segment` and `anniversary`"
                            .to_string()
                    },
                )
                .label("one kind of trigger expected")
                .help("a journey starts on one event, one segment entry or one date anniversary"),
            );
        }
        if let Some(event) = &trigger.event {
            self.event_reference(file, event);
        }
        if let Some(segment) = &trigger.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        if let Some(attribute) = &trigger.anniversary {
            self.attribute_reference(
                file,
                attribute,
                Some(&[ValueType::Date, ValueType::Datetime]),
            );
        }
        let at = trigger
            .at
            .as_ref()
            .and_then(|at| self.time_of_day(file, at));
        if let Some(filter) = &trigger.filter {
            self.filter_segments(file, filter);
        }
        if let Some(segment) = &journey.entry.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        let reentry = journey
            .entry
            .reentry
            .as_ref()
            .and_then(|reentry| self.reentry(file, reentry));
        for event in &journey.exit {
            self.event_reference(file, event);
        }
        let goal = journey.goal.as_ref().and_then(|goal| self.goal(file, goal));
        let steps = self.steps(definition);
        JourneyTimes {
            at,
            reentry,
            goal,
            steps,
        }
    }

    /// Checks the steps; the typed wait and timeout of each.
    pub(super) fn steps(&mut self, definition: &'a Definition<Journey>) -> Vec<StepTimes> {
        let file = definition.file;
        let steps = &definition.value.steps;
        let mut ids: BTreeMap<&str, &Text> = BTreeMap::new();
        for step in steps {
            if let Some(id) = &step.id {
                if let Some(first) = ids.get(id.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::DuplicateStep,
                            id.span(file),
                            format!("step id `{}` is used twice", id.value),
                        )
                        .label("second use")
                        .with_secondary(first.span(file), "first use")
                        .help("give each step its own id"),
                    );
                } else {
                    ids.insert(id.as_str(), id);
                }
            }
        }
        let id_names: Vec<&str> = ids.keys().copied().collect();
        let step_spans = crate::journey::step_spans(definition);
        let mut times = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let actions = [
                ("send", step.send.is_some()),
                ("wait", step.wait.is_some()),
                ("wait_for", step.wait_for.is_some()),
                ("branch", step.branch.is_some()),
                ("split", step.split.is_some()),
                ("update", step.update.is_some()),
                ("exit", step.exit.is_some()),
            ];
            let present: Vec<&str> = actions
                .iter()
                .filter(|(_, p)| *p)
                .map(|(n, _)| *n)
                .collect();
            if present.len() != 1 {
                let span = step_spans[index];
                let message = if present.is_empty() {
                    format!("step {} has no action", index + 1)
                } else {
                    format!(
                        "step {} has {} actions: {}",
                        index + 1,
                        present.len(),
                        present.join(", ")
                    )
                };
                self.push(
                    Diagnostic::new(Code::StepAction, span, message)
                        .label("one action per step")
                        .help("each step is exactly one of send, wait, wait_for, branch, split, update or exit"),
                );
            }
            let mut targets: Vec<&Text> = Vec::new();
            targets.extend(step.next.iter());
            if let Some(send) = &step.send {
                for channel in &send.channels {
                    self.channel_reference(file, channel);
                }
                self.messages(file, &send.messages);
            }
            let mut typed = StepTimes::default();
            if let Some(wait) = &step.wait {
                match Wait::parse(&wait.value) {
                    Ok(parsed) => typed.wait = Some(parsed),
                    Err(message) => self.push(
                        Diagnostic::new(Code::InvalidDuration, wait.span(file), message)
                            .label("not a wait"),
                    ),
                }
            }
            if let Some(wait_for) = &step.wait_for {
                self.event_reference(file, &wait_for.event);
                if let Some(timeout) = &wait_for.timeout {
                    typed.timeout = self.duration(file, timeout);
                }
                if let Some(filter) = &wait_for.filter {
                    self.filter_segments(file, filter);
                }
                targets.extend(wait_for.goto.iter());
                targets.extend(wait_for.on_timeout.iter());
            }
            if let Some(branch) = &step.branch {
                for case in &branch.cases {
                    self.filter_segments(file, &case.when);
                    targets.push(&case.goto);
                }
                targets.extend(branch.otherwise.iter());
            }
            if let Some(split) = &step.split {
                targets.extend(split.iter().map(|arm| &arm.goto));
            }
            if let Some(update) = &step.update {
                for (attribute, value) in update {
                    self.attribute_reference(file, attribute, None);
                    let span = definition
                        .node
                        .walk(&[
                            PathStep::Property("steps"),
                            PathStep::Index(index),
                            PathStep::Property("update"),
                            PathStep::Property(attribute.as_str()),
                        ])
                        .map_or(attribute.span(file), |(node, _)| node.span(file));
                    self.update_value(attribute, value, span);
                }
            }
            for target in targets {
                if !ids.contains_key(target.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::UnknownStep,
                            target.span(file),
                            format!("no step has the id `{}`", target.value),
                        )
                        .label("unknown step")
                        .suggest(did_you_mean(&target.value, id_names.iter().copied()))
                        .help_if_none("give the target step an `id:`"),
                    );
                }
            }
            times.push(typed);
        }
        times
    }

    /// An `update:` value must fit its attribute, as a filter literal must:
    /// a string into an integer, or an enum value that is not declared,
    /// would be stored and break every filter and template that reads it.
    fn update_value(&mut self, attribute: &Text, value: &serde_json::Value, span: Span) {
        use serde_json::Value as J;
        let Some(declared) = self.manifest().and_then(|manifest| {
            manifest
                .contact
                .attributes
                .iter()
                .find(|(name, _)| name.value == attribute.value)
                .map(|(_, declared)| declared)
        }) else {
            // Undeclared attributes are R013; built-in fields are not updated.
            return;
        };
        let kind = declared.value_type();
        let values = declared.enum_values();
        if let (ValueType::Enum, J::String(text)) = (kind, value)
            && !values.contains(text)
        {
            self.push(
                Diagnostic::new(
                    Code::UndeclaredEnumValue,
                    span,
                    format!("`{}` has no value \"{text}\"", attribute.value),
                )
                .label("not a declared value")
                .suggest(did_you_mean(text, values.iter().map(String::as_str)))
                .help_if_none(crate::suggestion::enum_values_help(text, values)),
            );
            return;
        }
        let date = |text: &str| text.parse::<jiff::civil::Date>().is_ok();
        let fits = match (kind, value) {
            (_, J::Null) => !declared.required(),
            (ValueType::String | ValueType::Enum, J::String(_)) => true,
            (ValueType::Integer, J::Number(number)) => number.is_i64() || number.is_u64(),
            (ValueType::Number, J::Number(_)) => true,
            (ValueType::Boolean, J::Bool(_)) => true,
            (ValueType::Date, J::String(text)) => date(text),
            (ValueType::Datetime, J::String(text)) => {
                date(text) || text.parse::<jiff::Timestamp>().is_ok()
            }
            (ValueType::List, J::Array(items)) => items.iter().all(J::is_string),
            _ => false,
        };
        if !fits {
            let expected = match kind {
                _ if value.is_null() => "a value: the attribute is required",
                ValueType::String | ValueType::Enum => "a string",
                ValueType::Integer => "a whole number",
                ValueType::Number => "a number",
                ValueType::Boolean => "`true` or `false`",
                ValueType::Date => "a date (YYYY-MM-DD)",
                ValueType::Datetime => "a date or an RFC 3339 timestamp",
                ValueType::List => "a list of strings",
            };
            let found = match value {
                J::Null => "nothing".to_string(),
                J::String(text) => format!("the string \"{text}\""),
                other => format!("`{other}`"),
            };
            self.push(
                Diagnostic::new(
                    Code::LiteralTypeMismatch,
                    span,
                    format!(
                        "`{}` is {}, set to {found}",
                        attribute.value,
                        format!("{kind:?}").to_lowercase()
                    ),
                )
                .label(format!("expected {expected}"))
                .help(format!(
                    "write {expected}, as `contact.attributes.{}` declares",
                    attribute.value
                )),
            );
        }
    }
}
