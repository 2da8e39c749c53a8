//! Lint and conflict rules: the checks that catch what costs a marketing
//! team money and customers' trust (a contact getting two journeys' mail on
//! the same trigger, "come back" mail after a purchase, a discount shown to
//! someone who just paid full price) before anything is sent.
//!
//! Every rule lives in its own file; the file's doc comment is what
//! `herald explain CODE` prints, and the rule's code, name and default level
//! are in the one table in [`crate::codes`].

mod audience;
mod branch_never_taken;
mod channel_without_message;
mod discount_without_buyer_exclusion;
mod exit_on_trigger;
mod frequency_cap_exceeded;
mod goal_without_exit;
mod holdout_without_goal;
mod loop_without_wait;
mod message_without_channel;
mod missing_priority;
mod overlapping_triggers;
mod unguarded_negative_condition;
mod unreachable_step;
mod wait_beyond_goal;
mod wait_for_exit_event;
mod wait_without_timeout;
mod weights_not_100;

use jiff::tz::TimeZone;

use self::audience::Audiences;
use crate::campaign::Campaign;
use crate::compilation::Compilation;
use crate::diagnostic::Diagnostics;
use crate::journey::StateMachine;
use crate::loader::{Definition, Project};
use crate::model::{Journey, Manifest};
use crate::policy::Policies;
use crate::segment::check::Filters;

/// What every rule reads: the compiled program, with shortcuts.
pub struct Context<'a> {
    pub project: &'a Project,
    pub manifest: Option<&'a Manifest>,
    pub filters: &'a Filters,
    /// One state machine per journey, in the order of `project.journeys`.
    pub machines: &'a [StateMachine],
    /// One typed campaign per campaign, in the order of `project.campaigns`.
    pub campaigns: &'a [Campaign],
    pub policies: &'a Policies,
    pub timezone: Option<&'a TimeZone>,
    /// The audiences of campaigns and journeys, for the conflict rules.
    pub audiences: Audiences<'a>,
}

impl<'a> Context<'a> {
    pub fn journeys(&self) -> impl Iterator<Item = (&'a Definition<Journey>, &'a StateMachine)> {
        self.project.journeys.iter().zip(self.machines.iter())
    }

    /// Whether the manifest declares the channel. Resolution reports an
    /// undeclared one (R003); rules about channels skip it rather than
    /// repeat the typo with advice that cannot work.
    pub fn channel_declared(&self, name: &str) -> bool {
        self.manifest.is_none_or(|manifest| {
            manifest
                .channels
                .declared()
                .iter()
                .any(|(declared, _)| *declared == name)
        })
    }

    /// Whether the manifest declares the event (else R005 reported it).
    pub fn event_declared(&self, name: &str) -> bool {
        self.manifest
            .is_none_or(|manifest| manifest.events.keys().any(|event| event.value == name))
    }
}

type Rule = fn(&Context, &mut Diagnostics);

const RULES: &[Rule] = &[
    unreachable_step::check,
    loop_without_wait::check,
    wait_without_timeout::check,
    exit_on_trigger::check,
    wait_beyond_goal::check,
    goal_without_exit::check,
    wait_for_exit_event::check,
    branch_never_taken::check,
    weights_not_100::check,
    holdout_without_goal::check,
    channel_without_message::check,
    message_without_channel::check,
    missing_priority::check,
    overlapping_triggers::check,
    frequency_cap_exceeded::check,
    discount_without_buyer_exclusion::check,
    unguarded_negative_condition::check,
];

/// Runs every rule on a compiled program.
pub fn check(compilation: &Compilation) -> Diagnostics {
    let context = Context {
        project: &compilation.project,
        manifest: compilation.project.manifest.as_ref().map(|m| &m.value),
        filters: &compilation.filters,
        machines: &compilation.journeys,
        campaigns: &compilation.campaigns,
        policies: &compilation.policies,
        timezone: compilation.timezone.as_ref(),
        audiences: Audiences::new(&compilation.filters),
    };
    let mut diagnostics = Diagnostics::default();
    for rule in RULES {
        rule(&context, &mut diagnostics);
    }
    diagnostics
}
