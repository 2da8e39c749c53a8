//! The journey stage: every journey compiled to an explicit state machine,
//! from the definitions and the times resolution typed.
//!
//! Each step is a state; its transitions say where a contact goes next and
//! why (the next step, a `goto`, an event, a timer, a branch case). The
//! runner stores a contact's state index, so a stopped runner resumes where
//! it was; the lint rules walk the same graph to find unreachable steps,
//! loops without a wait and waits past the goal window.

use crate::campaign::Goal;
use crate::duration::{Duration, Reentry, TimeOfDay, Wait};
use crate::loader::{Definition, Project};
use crate::model::{Journey, MessageType, RemovedStep, Step, Text};
use crate::policy::Policies;
use crate::source::{FileId, Span};

/// A journey's times as resolution parsed them (each `None` when absent or
/// invalid, which resolution reported).
#[derive(Clone, Debug, Default)]
pub struct JourneyTimes {
    /// An anniversary trigger's local time of day.
    pub at: Option<TimeOfDay>,
    pub reentry: Option<Reentry>,
    pub goal: Option<Goal>,
    /// One per step, in order.
    pub steps: Vec<StepTimes>,
}

/// A step's `wait` or `wait_for.timeout`, typed.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepTimes {
    pub wait: Option<Wait>,
    pub timeout: Option<Duration>,
}

/// What starts a journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Event(String),
    /// Entry into a segment.
    Segment(String),
    /// The anniversary of a date attribute, at a local time of day.
    Anniversary {
        attribute: String,
        at: TimeOfDay,
    },
}

/// An anniversary trigger's time when the journey names none.
const DEFAULT_ANNIVERSARY_TIME: TimeOfDay = TimeOfDay {
    hour: 10,
    minute: 0,
};

/// The journey stage: one state machine per journey, in the order of
/// `project.journeys`; `times` is resolution's, in the same order.
pub fn compile(
    project: &Project,
    times: &[JourneyTimes],
    policies: &Policies,
) -> Vec<StateMachine> {
    let none = JourneyTimes::default();
    project
        .journeys
        .iter()
        .enumerate()
        .map(|(index, journey)| {
            StateMachine::compile(journey, times.get(index).unwrap_or(&none), policies)
        })
        .collect()
}

/// Where a transition leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Step(usize),
    /// The journey ends for the contact.
    End,
}

/// Why a transition is taken.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    /// The step's work is done (sent, updated, waited).
    Done,
    /// The awaited event came.
    Event(String),
    /// The awaited event did not come in time.
    Timeout,
    /// A branch case's condition held (index into `cases`).
    Case(usize),
    /// No branch case held.
    Otherwise,
    /// An A/B split arm, with its weight.
    Split(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub cause: Cause,
    pub target: Target,
    /// Time spent in the state before this transition at the earliest.
    pub delay: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Send,
    Wait,
    WaitFor,
    Branch,
    Split,
    Update,
    Exit,
}

#[derive(Clone, Debug)]
pub struct State {
    pub index: usize,
    pub id: Option<String>,
    /// The id a contact's position is stored under: the step's id, else its
    /// 1-based position (as message templates name the step).
    pub key: String,
    pub action: Action,
    /// The step's first key, where diagnostics about the step point.
    pub span: Span,
    /// A `wait` step's wait (`None` for other actions, or when invalid).
    pub wait: Option<Wait>,
    pub transitions: Vec<Transition>,
}

impl State {
    /// `step 3` or `step 3 (reminder)`.
    pub fn describe(&self) -> String {
        match &self.id {
            Some(id) => format!("step {} (`{id}`)", self.index + 1),
            None => format!("step {}", self.index + 1),
        }
    }

    /// Whether a contact spends time here (a timer or an event wait).
    pub fn waits(&self) -> bool {
        matches!(self.action, Action::Wait | Action::WaitFor)
    }
}

/// A journey's state machine, with what decides who enters and when it
/// ends; the entry state is 0.
#[derive(Clone, Debug)]
pub struct StateMachine {
    pub journey: String,
    pub file: FileId,
    pub kind: MessageType,
    /// `None` when the trigger names no kind or several (reported by resolution).
    pub trigger: Option<Trigger>,
    /// Only members of this segment enter.
    pub entry_segment: Option<String>,
    /// The journey's own re-entry rule, else the project's.
    pub reentry: Reentry,
    /// Events that end the journey at once.
    pub exit: Vec<String>,
    pub goal: Option<Goal>,
    pub priority: Option<i32>,
    /// What to do with contacts waiting in a step an edit removed.
    pub on_removed_step: Option<RemovedStep>,
    pub states: Vec<State>,
    /// A `goto`, `next` or `on_timeout` names no step (resolution reported
    /// it, R009); the graph is then a guess, so rules about paths stay silent.
    pub unresolved_targets: bool,
}

impl StateMachine {
    /// Compiles a journey. Steps with several actions or unknown targets were
    /// reported by resolution; here they are read as well as they can be.
    pub fn compile(
        definition: &Definition<Journey>,
        times: &JourneyTimes,
        policies: &Policies,
    ) -> StateMachine {
        let journey = &definition.value;
        let steps = &journey.steps;
        let file = definition.file;
        let spans = step_spans(definition);
        let unresolved = std::cell::Cell::new(false);
        let find = |target: &Text| -> Target {
            let found = steps
                .iter()
                .position(|step| step.id.as_ref().is_some_and(|id| id.value == target.value));
            unresolved.set(unresolved.get() || found.is_none());
            found.map_or(Target::End, Target::Step)
        };
        let states = steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let following = if index + 1 < steps.len() {
                    Target::Step(index + 1)
                } else {
                    Target::End
                };
                let next = step.next.as_ref().map_or(following, find);
                let span = spans[index];
                let step_times = times.steps.get(index).copied().unwrap_or_default();
                let (action, transitions) = transitions(step, step_times, next, &find);
                State {
                    index,
                    id: step.id.as_ref().map(|id| id.value.clone()),
                    key: step_key(step, index),
                    action,
                    span,
                    wait: step_times.wait.filter(|_| action == Action::Wait),
                    transitions,
                }
            })
            .collect();
        let trigger = &journey.trigger;
        let triggers = [
            trigger
                .event
                .as_ref()
                .map(|e| Trigger::Event(e.value.clone())),
            trigger
                .segment
                .as_ref()
                .map(|s| Trigger::Segment(s.value.clone())),
            trigger.anniversary.as_ref().map(|a| Trigger::Anniversary {
                attribute: a.value.clone(),
                at: times.at.unwrap_or(DEFAULT_ANNIVERSARY_TIME),
            }),
        ];
        let mut named = triggers.into_iter().flatten();
        let trigger = match (named.next(), named.next()) {
            (Some(trigger), None) => Some(trigger),
            _ => None,
        };
        StateMachine {
            journey: definition.name.clone(),
            file,
            kind: journey.kind,
            trigger,
            entry_segment: journey.entry.segment.as_ref().map(|s| s.value.clone()),
            reentry: times.reentry.unwrap_or(policies.reentry),
            exit: journey.exit.iter().map(|e| e.value.clone()).collect(),
            goal: times.goal.clone(),
            priority: journey.priority,
            on_removed_step: journey.on_removed_step,
            states,
            unresolved_targets: unresolved.get(),
        }
    }

    /// States reachable from the entry.
    pub fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.states.len()];
        let mut pending = vec![0];
        while let Some(index) = pending.pop() {
            if index >= self.states.len() || seen[index] {
                continue;
            }
            seen[index] = true;
            for transition in &self.states[index].transitions {
                if let Target::Step(next) = transition.target {
                    pending.push(next);
                }
            }
        }
        seen
    }

    /// Cycles of the graph, as strongly connected components that contain a
    /// cycle (more than one state, or a state that leads to itself).
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        // Tarjan's algorithm, iteratively bounded by the small step count.
        struct Tarjan<'a> {
            machine: &'a StateMachine,
            index: usize,
            indices: Vec<Option<usize>>,
            lowlink: Vec<usize>,
            on_stack: Vec<bool>,
            stack: Vec<usize>,
            components: Vec<Vec<usize>>,
        }
        impl Tarjan<'_> {
            fn visit(&mut self, node: usize) {
                self.indices[node] = Some(self.index);
                self.lowlink[node] = self.index;
                self.index += 1;
                self.stack.push(node);
                self.on_stack[node] = true;
                for transition in &self.machine.states[node].transitions {
                    let Target::Step(next) = transition.target else {
                        continue;
                    };
                    match self.indices[next] {
                        None => {
                            self.visit(next);
                            self.lowlink[node] = self.lowlink[node].min(self.lowlink[next]);
                        }
                        Some(index) if self.on_stack[next] => {
                            self.lowlink[node] = self.lowlink[node].min(index);
                        }
                        Some(_) => {}
                    }
                }
                if Some(self.lowlink[node]) == self.indices[node] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    component.sort_unstable();
                    self.components.push(component);
                }
            }
        }
        let count = self.states.len();
        let mut tarjan = Tarjan {
            machine: self,
            index: 0,
            indices: vec![None; count],
            lowlink: vec![0; count],
            on_stack: vec![false; count],
            stack: Vec::new(),
            components: Vec::new(),
        };
        for node in 0..count {
            if tarjan.indices[node].is_none() {
                tarjan.visit(node);
            }
        }
        let mut cycles: Vec<Vec<usize>> = tarjan
            .components
            .into_iter()
            .filter(|component| {
                component.len() > 1
                    || self.states[component[0]]
                        .transitions
                        .iter()
                        .any(|t| t.target == Target::Step(component[0]))
            })
            .collect();
        cycles.sort();
        cycles
    }

    /// The earliest time, in minutes after entry, at which a contact can reach
    /// each state (`None` when unreachable). Months count as 30 days.
    pub fn earliest_arrival(&self) -> Vec<Option<i64>> {
        let mut arrival: Vec<Option<i64>> = vec![None; self.states.len()];
        if self.states.is_empty() {
            return arrival;
        }
        arrival[0] = Some(0);
        // Bellman-Ford style relaxation; delays are never negative and the
        // graph is small, so |states| rounds suffice.
        for _ in 0..self.states.len() {
            let mut changed = false;
            for state in &self.states {
                let Some(at) = arrival[state.index] else {
                    continue;
                };
                for transition in &state.transitions {
                    let Target::Step(next) = transition.target else {
                        continue;
                    };
                    let delay = transition.delay.map_or(0, Duration::approximate_minutes);
                    let candidate = at + delay;
                    if arrival[next].is_none_or(|current| candidate < current) {
                        arrival[next] = Some(candidate);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        arrival
    }
}

/// The id a step is known by at run time: its `id`, else its 1-based position.
pub fn step_key(step: &Step, index: usize) -> String {
    step.id
        .as_ref()
        .map_or_else(|| (index + 1).to_string(), |id| id.value.clone())
}

/// Where diagnostics about each step point: the step's first key (or the
/// step itself when it is not a mapping), one span per step.
pub fn step_spans(definition: &Definition<Journey>) -> Vec<Span> {
    let file = definition.file;
    let nodes = definition
        .node
        .entry("steps")
        .and_then(|(_, node)| match &node.value {
            crate::yaml::Value::Sequence(items) => Some(items),
            _ => None,
        });
    (0..definition.value.steps.len())
        .map(|index| {
            nodes
                .and_then(|items| items.get(index))
                .map_or(Span::new(file, 0, 0), |node| match &node.value {
                    crate::yaml::Value::Mapping(entries) if !entries.is_empty() => {
                        entries[0].0.span(file)
                    }
                    _ => node.span(file),
                })
        })
        .collect()
}

fn transitions(
    step: &Step,
    times: StepTimes,
    next: Target,
    find: &dyn Fn(&Text) -> Target,
) -> (Action, Vec<Transition>) {
    let done = |delay| Transition {
        cause: Cause::Done,
        target: next,
        delay,
    };
    if step.send.is_some() {
        return (Action::Send, vec![done(None)]);
    }
    if step.wait.is_some() {
        let delay = match times.wait {
            Some(Wait::For(duration)) => Some(duration),
            _ => None,
        };
        return (Action::Wait, vec![done(delay)]);
    }
    if let Some(wait_for) = &step.wait_for {
        let timeout = times.timeout;
        let mut transitions = vec![Transition {
            cause: Cause::Event(wait_for.event.value.clone()),
            target: wait_for.goto.as_ref().map_or(next, find),
            delay: None,
        }];
        if wait_for.timeout.is_some() {
            transitions.push(Transition {
                cause: Cause::Timeout,
                target: wait_for.on_timeout.as_ref().map_or(next, find),
                delay: timeout,
            });
        }
        return (Action::WaitFor, transitions);
    }
    if let Some(branch) = &step.branch {
        let mut transitions: Vec<Transition> = branch
            .cases
            .iter()
            .enumerate()
            .map(|(index, case)| Transition {
                cause: Cause::Case(index),
                target: find(&case.goto),
                delay: None,
            })
            .collect();
        transitions.push(Transition {
            cause: Cause::Otherwise,
            target: branch.otherwise.as_ref().map_or(next, find),
            delay: None,
        });
        return (Action::Branch, transitions);
    }
    if let Some(split) = &step.split {
        let transitions = split
            .iter()
            .map(|arm| Transition {
                cause: Cause::Split(arm.weight),
                target: find(&arm.goto),
                delay: None,
            })
            .collect();
        return (Action::Split, transitions);
    }
    if step.update.is_some() {
        return (Action::Update, vec![done(None)]);
    }
    (Action::Exit, Vec::new())
}
