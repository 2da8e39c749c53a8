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
                for attribute in update.keys() {
                    self.attribute_reference(file, attribute, None);
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
}
