//! `herald report`'s analytics: what each campaign and journey achieved,
//! computed from the store (the outbox, the delivery feedback `herald
//! serve` records as events, the held-out contacts, goal events) and the
//! compiled project (goals, variants, KPI targets, channel prices).
//!
//! Attribution, as the README's "Reports" section states it for users:
//! - a message is *received* when it was sent and no feedback says it
//!   failed; it is received at its first delivery feedback (delivered,
//!   read, opened, clicked), else at its send time;
//! - a *conversion* is the first `goal` event that comes within the goal
//!   window after a received message, counted once per contact per
//!   campaign or journey; revenue is that event's `amount` property;
//! - the conversion is credited to the last message the contact received
//!   before it (its channel, variant and journey step);
//! - a held-out contact is followed the same way from the moment it was
//!   held out, so the holdout lift compares like with like.
//!
//! [`stats`] holds the intervals and tests, [`html`] the self-contained
//! HTML page with its charts; the terminal table is the command's.

pub mod html;
pub mod stats;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::campaign::{Goal, Schedule};
use crate::compiler::Compilation;
use crate::duration::Duration;
use crate::store::analytics::{ContactRange, GoalEvent, GoalQuery, MessageFacts, Reported};
use crate::store::{Store, StoreError};

use self::stats::{Interval, NotRun, Test};

/// The version of the JSON shape (`herald report --format json`); it grows
/// only by new fields, and a change of meaning bumps it.
pub const FORMAT_VERSION: u32 = 1;

/// What to report on.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// Campaigns and journeys by name; all when empty.
    pub names: Vec<String>,
    /// Messages planned (and contacts held out) in `[from, to)`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Goal events after this moment are not counted yet.
    pub now: Timestamp,
    /// How many ranges of contacts each section is read in at once, on a
    /// connection and thread each (`None`: one per core, at most 4, for a
    /// section of at least 100,000 messages; a smaller one in one pass).
    pub threads: Option<usize>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    #[serde(serialize_with = "crate::plan::rfc3339")]
    pub now: Timestamp,
    pub from: Option<String>,
    pub to: Option<String>,
    pub currency: Option<String>,
    /// The level of every interval, and 1 − the significance level of tests.
    pub confidence: f64,
    /// The fewest recipients per variant for an A/B test.
    pub minimum_sample: u64,
    pub campaigns: Vec<Section>,
    pub journeys: Vec<Section>,
}

/// One campaign or journey.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    pub kind: &'static str,
    pub name: String,
    pub goal: Option<GoalSpec>,
    /// Every occurrence is past, nothing is on its way, and the goal window
    /// after the last send has elapsed: KPIs are final.
    pub finished: bool,
    pub totals: Funnel,
    pub channels: Vec<Row>,
    /// Campaigns with variants only.
    pub variants: Vec<Row>,
    /// Journeys only, in step order.
    pub steps: Vec<Row>,
    /// Journeys only: how far the enrolments that entered in the period
    /// got, step by step in the declared order (removed steps last).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flow: Vec<StepFlow>,
    /// Contacts and messages that got nothing, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// The A/B test over the variants' conversions.
    pub test: Option<TestResult>,
    pub holdout: Option<Holdout>,
    pub kpis: Vec<Kpi>,
    /// By local date (the project's time zone).
    pub daily: Vec<Day>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GoalSpec {
    pub event: String,
    pub within: String,
}

/// A group's funnel: messages, then contacts and money.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Funnel {
    /// Messages the plan wrote to the outbox (those skipped at send time
    /// included).
    pub planned: u64,
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    /// Failed, dead, or reported failed or bounced after sending.
    pub failed: u64,
    pub bounced: u64,
    pub complained: u64,
    pub unsubscribed: u64,
    /// Contacts who received at least one message.
    pub recipients: u64,
    pub conversions: u64,
    /// conversions / recipients, a fraction.
    pub conversion_rate: Option<f64>,
    pub conversion_interval: Option<Interval>,
    pub revenue: f64,
    /// Sent messages at the channel's price × SMS parts.
    pub cost: f64,
    pub cost_per_conversion: Option<f64>,
    /// revenue / cost.
    pub return_on_spend: Option<f64>,
}

/// A channel, variant or step with its funnel.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    #[serde(flatten)]
    pub funnel: Funnel,
}

/// A journey step's enrolments: how many reached it, and how many are
/// still there, went on, or left the journey there and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepFlow {
    pub step: String,
    /// How the step reads in a table: its id, or for a step without one
    /// its position and kind (`#2 wait`).
    pub label: String,
    pub reached: u64,
    /// Still at the step (waiting on a timer or an event).
    pub waiting: u64,
    /// Went on to another step.
    pub moved_on: u64,
    /// Ended the journey here as it was designed to end: ran past its last
    /// step, or reached an `exit` step.
    pub completed: u64,
    /// Left the journey here before its end, by reason: `goal` (the goal
    /// event, which is also an exit event), `exit_event`, `removed` (the
    /// step or the journey was taken out), `loop`.
    pub left: BTreeMap<String, u64>,
    /// The share of those who reached the step that dropped off there: left
    /// for any reason but the goal (converting is not dropping off).
    pub drop_off: Option<f64>,
}

/// The A/B test, or why it was not run.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// `tested`, `not_enough_data` or `one_variant`.
    pub status: &'static str,
    #[serde(flatten)]
    pub test: Option<Test>,
    /// The variant with the highest conversion rate, when the test is significant.
    pub winner: Option<String>,
}

/// The control group against the recipients.
#[derive(Clone, Debug, Serialize)]
pub struct Holdout {
    pub held_out: u64,
    pub conversions: u64,
    pub conversion_rate: Option<f64>,
    pub conversion_interval: Option<Interval>,
    /// Recipients' rate − the control group's, a fraction (percentage points / 100).
    pub lift: Option<f64>,
    /// Newcombe's interval for `lift`.
    pub lift_interval: Option<Interval>,
    /// `lift` / the control group's rate.
    pub relative_lift: Option<f64>,
}

/// A KPI target against its measured value.
#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    pub name: String,
    pub target: f64,
    /// In the target's unit (percent for rates); `None` with no denominator.
    pub measured: Option<f64>,
    /// `at_least`, or `at_most` for unsubscribe, bounce and complaint rates.
    pub direction: &'static str,
    /// `met`, `missed`, or `in_progress` while the campaign is not finished.
    pub status: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Day {
    pub date: String,
    pub sent: u64,
    pub conversions: u64,
    pub revenue: f64,
}

impl Section {
    /// Nothing was planned, skipped or held out in the period and nobody
    /// entered: the section has nothing to show but zeros.
    pub fn is_idle(&self) -> bool {
        self.totals.planned == 0
            && self.totals.sent == 0
            && self.skipped.is_empty()
            && self
                .holdout
                .as_ref()
                .is_none_or(|holdout| holdout.held_out == 0)
            && self.flow.is_empty()
    }
}

impl Report {
    /// Whether a finished campaign missed a KPI target.
    pub fn missed_kpi(&self) -> bool {
        self.campaigns
            .iter()
            .any(|section| section.kpis.iter().any(|kpi| kpi.status == "missed"))
    }
}

/// Builds the report from the store.
pub fn report(
    compilation: &Compilation,
    store: &Store,
    request: &ReportRequest,
) -> Result<Report, StoreError> {
    let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
    let wanted = |name: &str| request.names.is_empty() || request.names.iter().any(|n| n == name);
    let from = request.from.map_or(i64::MIN, Timestamp::as_second);
    let until = request.to.map_or(i64::MAX, Timestamp::as_second);
    let context = Context {
        store,
        zone: &zone,
        from,
        until,
        now: request.now,
        ranges: match request.threads {
            Some(threads) => Ranges::Always(threads),
            None => Ranges::Large(default_threads()),
        },
        boundaries: std::cell::OnceCell::new(),
    };
    let mut campaigns = Vec::new();
    for campaign in compilation.campaigns.iter().filter(|c| wanted(&c.name)) {
        let variants: Vec<String> = campaign.variants.iter().map(|v| v.name.clone()).collect();
        let mut section = context.section("campaign", &campaign.name, campaign.goal.as_ref())?;
        if !variants.is_empty() {
            order_rows(&mut section.variants, &variants);
            section.test = Some(test(&section.variants));
        }
        order_rows(&mut section.channels, &campaign.channels);
        let runs = store.campaign_run_records(&campaign.name, from, until)?;
        if !runs.is_empty() {
            section.totals.planned = runs.iter().map(|run| run.planned).sum();
        }
        for run in &runs {
            let excluded: BTreeMap<String, u64> =
                serde_json::from_str(&run.excluded).unwrap_or_default();
            for (reason, count) in excluded {
                // Per-contact rows and the run's counts may both exist for
                // the same decisions; the larger is the whole of them.
                let entry = section.skipped.entry(reason).or_default();
                *entry = (*entry).max(count);
            }
        }
        if campaign.holdout.is_some() {
            section.holdout = Some(context.holdout(
                "campaign",
                &campaign.name,
                campaign.goal.as_ref(),
                &section.totals,
            )?);
        }
        let pending = store.pending_messages("campaign", &campaign.name)?;
        section.finished = pending == 0
            && !runs.is_empty()
            && schedule_over(campaign.schedule.as_ref(), request.now, &zone)
            && context.window_over(&section, campaign.goal.as_ref(), request.now);
        section.kpis = kpis(&campaign.kpi, &section.totals, section.finished);
        campaigns.push(section);
    }
    let mut journeys = Vec::new();
    for journey in compilation.journeys.iter().filter(|j| wanted(&j.journey)) {
        let mut section = context.section("journey", &journey.journey, journey.goal.as_ref())?;
        let order: Vec<String> = journey.states.iter().map(|s| s.key.clone()).collect();
        order_rows(&mut section.steps, &order);
        let labels: Vec<(String, String)> = journey
            .states
            .iter()
            .map(|state| {
                let label = match &state.id {
                    Some(id) => id.clone(),
                    None => format!("#{} {}", state.key, action_name(state.action)),
                };
                (state.key.clone(), label)
            })
            .collect();
        section.flow = flow(store, &journey.journey, &labels, from, until)?;
        journeys.push(section);
    }
    let currency = compilation
        .project
        .manifest
        .as_ref()
        .and_then(|manifest| manifest.value.currency.as_ref())
        .map(|currency| currency.value.clone());
    Ok(Report {
        format_version: FORMAT_VERSION,
        now: request.now,
        from: request.from.map(|t| t.to_string()),
        to: request.to.map(|t| t.to_string()),
        currency,
        confidence: stats::CONFIDENCE,
        minimum_sample: stats::MINIMUM_SAMPLE,
        campaigns,
        journeys,
    })
}

/// Where a journey's enrolments got, step by step in `order` (steps no
/// longer declared after them, by name).
fn flow(
    store: &Store,
    journey: &str,
    order: &[(String, String)],
    from: i64,
    until: i64,
) -> Result<Vec<StepFlow>, StoreError> {
    let mut steps: BTreeMap<String, StepFlow> = BTreeMap::new();
    fn step<'a>(steps: &'a mut BTreeMap<String, StepFlow>, name: &str) -> &'a mut StepFlow {
        steps.entry(name.to_string()).or_insert_with(|| StepFlow {
            step: name.to_string(),
            ..StepFlow::default()
        })
    }
    for (name, reached) in store.journey_step_reach(journey, from, until)? {
        step(&mut steps, &name).reached = reached;
    }
    for outcome in store.journey_outcomes(journey, from, until)? {
        let Some(name) = &outcome.step else { continue };
        let flow = step(&mut steps, name);
        match (outcome.status.as_str(), outcome.reason.as_deref()) {
            ("active", _) => flow.waiting += outcome.enrolments,
            (_, Some("completed" | "exit_step")) => flow.completed += outcome.enrolments,
            (_, reason) => {
                let reason = match reason {
                    Some("exit_event") if outcome.at_goal => "goal",
                    Some("removed_step" | "removed_journey") => "removed",
                    Some(other) => other,
                    None => "unknown",
                };
                *flow.left.entry(reason.to_string()).or_default() += outcome.enrolments;
            }
        }
    }
    let position = |name: &str| {
        order
            .iter()
            .position(|(key, _)| key == name)
            .unwrap_or(usize::MAX)
    };
    let mut flow: Vec<StepFlow> = steps.into_values().collect();
    flow.sort_by_key(|step| position(&step.step));
    for step in &mut flow {
        step.label = order
            .iter()
            .find(|(key, _)| *key == step.step)
            .map_or_else(|| step.step.clone(), |(_, label)| label.clone());
        let left: u64 = step.left.values().sum();
        step.moved_on = step
            .reached
            .saturating_sub(step.waiting + step.completed + left);
        let dropped = left - step.left.get("goal").copied().unwrap_or(0);
        step.drop_off = (step.reached > 0).then(|| dropped as f64 / step.reached as f64);
    }
    Ok(flow)
}

/// A step's kind as its YAML key names it.
fn action_name(action: crate::journey::Action) -> &'static str {
    use crate::journey::Action;
    match action {
        Action::Send => "send",
        Action::Wait => "wait",
        Action::WaitFor => "wait_for",
        Action::Branch => "branch",
        Action::Split => "split",
        Action::Update => "update",
        Action::Exit => "exit",
    }
}

/// Rows in the declared order first, then any others by name.
fn order_rows(rows: &mut [Row], order: &[String]) {
    let position = |name: &str| order.iter().position(|n| n == name).unwrap_or(usize::MAX);
    rows.sort_by(|a, b| {
        position(&a.name)
            .cmp(&position(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// The chi-squared test over the variants' conversions.
fn test(variants: &[Row]) -> TestResult {
    let arms: Vec<(u64, u64)> = variants
        .iter()
        .map(|row| (row.funnel.conversions, row.funnel.recipients))
        .collect();
    match stats::chi_squared(&arms) {
        Ok(test) => {
            let winner = test
                .significant
                .then(|| {
                    variants
                        .iter()
                        .filter(|row| row.funnel.recipients > 0)
                        .max_by(|a, b| {
                            let rate = |row: &Row| row.funnel.conversion_rate.unwrap_or(0.0);
                            rate(a).total_cmp(&rate(b))
                        })
                        .map(|row| row.name.clone())
                })
                .flatten();
            TestResult {
                status: "tested",
                test: Some(test),
                winner,
            }
        }
        Err(reason) => TestResult {
            status: match reason {
                NotRun::OneVariant => "one_variant",
                NotRun::NotEnoughData => "not_enough_data",
            },
            test: None,
            winner: None,
        },
    }
}

/// Whether no occurrence of the schedule is due after `now`.
fn schedule_over(schedule: Option<&Schedule>, now: Timestamp, zone: &TimeZone) -> bool {
    match schedule {
        Some(Schedule::Once(at)) => at
            .to_zoned_datetime(zone.clone())
            .is_ok_and(|at| at.timestamp() <= now),
        Some(Schedule::Recurring(recurrence)) => recurrence
            .until
            .is_some_and(|until| now.to_zoned_datetime(zone.clone()).date() > until),
        None => false,
    }
}

/// The KPI targets against the totals.
fn kpis(targets: &BTreeMap<String, f64>, totals: &Funnel, finished: bool) -> Vec<Kpi> {
    targets
        .iter()
        .map(|(name, &target)| {
            let percent =
                |part: u64, whole: u64| (whole > 0).then(|| 100.0 * part as f64 / whole as f64);
            let (measured, at_most) = match name.as_str() {
                "delivery_rate" => (percent(totals.delivered, totals.sent), false),
                "open_rate" => (percent(totals.opened, totals.delivered), false),
                "click_rate" => (percent(totals.clicked, totals.delivered), false),
                "conversion_rate" => (percent(totals.conversions, totals.recipients), false),
                "unsubscribe_rate" => (percent(totals.unsubscribed, totals.delivered), true),
                "bounce_rate" => (percent(totals.bounced, totals.sent), true),
                "complaint_rate" => (percent(totals.complained, totals.delivered), true),
                "revenue" => (Some(totals.revenue), false),
                _ => (None, false),
            };
            let met = measured.map(|value| {
                // Compared at the precision a target is written in.
                let value = (value * 1e6).round() / 1e6;
                if at_most {
                    value <= target
                } else {
                    value >= target
                }
            });
            let status = match (finished, met) {
                (false, _) => "in_progress",
                (true, Some(true)) => "met",
                (true, _) => "missed",
            };
            Kpi {
                name: name.clone(),
                target,
                measured,
                direction: if at_most { "at_most" } else { "at_least" },
                status,
            }
        })
        .collect()
}

/// `at` + `window`: exact for minutes to weeks, calendar months and years
/// in the project's time zone.
pub fn window_end(at: i64, window: Duration, zone: &TimeZone) -> i64 {
    let Ok(start) = Timestamp::from_second(at) else {
        return at;
    };
    window
        .shift(start, zone, 1)
        .map_or(i64::MAX, |end| end.as_second())
}

/// What every section is computed with.
struct Context<'a> {
    store: &'a Store,
    zone: &'a TimeZone,
    from: i64,
    until: i64,
    now: Timestamp,
    /// In how many ranges of contacts a section is read at once.
    ranges: Ranges,
    /// The contact ids that cut the contacts into those ranges, of about
    /// equal size, found when a section is first read in ranges.
    boundaries: std::cell::OnceCell<Vec<String>>,
}

/// In how many ranges of contacts, each on a connection and thread of its
/// own, a section is read.
#[derive(Clone, Copy, Debug)]
enum Ranges {
    /// This many, as `--threads` asks.
    Always(usize),
    /// This many for a section of at least [`Ranges::LARGE`] messages; a
    /// smaller one in one pass, which takes less than finding the ranges
    /// (a count of the contacts) and opening the connections.
    Large(usize),
}

impl Ranges {
    const LARGE: u64 = 100_000;
}

/// How many ranges of contacts a section is read in at once by default:
/// one per core, at most four (beyond that the disk, not the cores, sets
/// the pace).
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4)
}

/// A received message, for attribution.
#[derive(Clone, Copy, Debug)]
struct Receipt {
    at: i64,
    channel: usize,
    variant: Option<usize>,
    step: Option<usize>,
}

/// Groups (channels, variants, steps) by name, in first-seen order.
#[derive(Default)]
struct Groups {
    names: Vec<String>,
    funnels: Vec<Funnel>,
}

impl Groups {
    /// Adds `other`'s funnels to the groups of the same name.
    fn merge(&mut self, other: Groups) {
        for (name, funnel) in other.names.iter().zip(&other.funnels) {
            let index = self.of(name);
            self.funnels[index].add(funnel);
        }
    }

    /// The group's index. A section has a few channels and variants and at
    /// most tens of steps: a scan of their names beats hashing each name.
    fn of(&mut self, name: &str) -> usize {
        if let Some(index) = self.names.iter().position(|known| known == name) {
            return index;
        }
        self.names.push(name.to_string());
        self.funnels.push(Funnel::default());
        self.names.len() - 1
    }

    fn rows(self) -> Vec<Row> {
        self.names
            .into_iter()
            .zip(self.funnels)
            .map(|(name, mut funnel)| {
                funnel.finish();
                Row { name, funnel }
            })
            .collect()
    }
}

impl Funnel {
    /// Adds `other`'s counts and money (the rates come at [`Funnel::finish`]).
    fn add(&mut self, other: &Funnel) {
        self.planned += other.planned;
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.opened += other.opened;
        self.clicked += other.clicked;
        self.failed += other.failed;
        self.bounced += other.bounced;
        self.complained += other.complained;
        self.unsubscribed += other.unsubscribed;
        self.recipients += other.recipients;
        self.conversions += other.conversions;
        self.revenue += other.revenue;
        self.cost += other.cost;
    }

    /// Counts one message.
    fn count(&mut self, message: &MessageFacts<'_>, planned: bool, cost: f64) {
        self.planned += u64::from(planned);
        let sent = message.state == "sent";
        self.sent += u64::from(sent);
        self.failed +=
            u64::from(matches!(message.state, "failed" | "dead") || (sent && message.failed));
        if !sent {
            return;
        }
        self.delivered += u64::from(message.delivered_at.is_some());
        self.opened += u64::from(message.opened);
        self.clicked += u64::from(message.clicked);
        self.bounced += u64::from(message.bounced);
        self.complained += u64::from(message.complained);
        self.unsubscribed += u64::from(message.unsubscribed);
        self.cost += cost;
    }

    fn convert(&mut self, amount: f64) {
        self.conversions += 1;
        self.revenue += amount;
    }

    /// The rates and ratios from the counts; money to the cent (sums of
    /// prices such as 2.2 otherwise carry binary fractions into the JSON).
    fn finish(&mut self) {
        self.cost = (self.cost * 100.0).round() / 100.0;
        self.revenue = (self.revenue * 100.0).round() / 100.0;
        self.conversion_rate =
            (self.recipients > 0).then(|| self.conversions as f64 / self.recipients as f64);
        self.conversion_interval = stats::wilson(self.conversions, self.recipients);
        self.cost_per_conversion =
            (self.conversions > 0).then(|| self.cost / self.conversions as f64);
        self.return_on_spend = (self.cost > 0.0).then(|| self.revenue / self.cost);
    }
}

/// What one pass over a section's messages adds up.
#[derive(Default)]
struct Tally {
    totals: Funnel,
    channels: Groups,
    variants: Groups,
    steps: Groups,
    skipped: BTreeMap<String, u64>,
    days: BTreeMap<String, Day>,
    /// The local days of the last send and of the last conversion: the
    /// date is computed once per day met, not per message.
    send_day: LocalDay,
    conversion_day: LocalDay,
    /// The receipts of the contact being read, and buffers reused from
    /// one contact to the next.
    receipts: Vec<Receipt>,
    times: Vec<i64>,
    seen: [Vec<usize>; 3],
}

/// A local date and the unix seconds `[start, end)` it covers.
#[derive(Default)]
struct LocalDay {
    start: i64,
    end: i64,
    date: String,
}

impl LocalDay {
    /// The local date of `at`, computed only when `at` is outside the day
    /// it holds.
    fn of(&mut self, context: &Context<'_>, at: i64) -> &str {
        if !(self.start <= at && at < self.end) {
            (self.date, self.start, self.end) = context.local_day(at);
        }
        &self.date
    }
}

/// The day of `date` in `days`, added when new.
fn day<'a>(days: &'a mut BTreeMap<String, Day>, date: &str) -> &'a mut Day {
    if !days.contains_key(date) {
        days.insert(
            date.to_string(),
            Day {
                date: date.to_string(),
                sent: 0,
                conversions: 0,
                revenue: 0.0,
            },
        );
    }
    days.get_mut(date).expect("just inserted")
}

impl Tally {
    /// Adds the tally of other contacts.
    fn merge(&mut self, other: Tally) {
        self.totals.add(&other.totals);
        self.channels.merge(other.channels);
        self.variants.merge(other.variants);
        self.steps.merge(other.steps);
        for (reason, count) in other.skipped {
            *self.skipped.entry(reason).or_default() += count;
        }
        for (date, other) in other.days {
            let day = day(&mut self.days, &date);
            day.sent += other.sent;
            day.conversions += other.conversions;
            day.revenue += other.revenue;
        }
    }

    /// Counts one message in every group it belongs to; keeps its receipt
    /// when it reached the contact.
    fn count(&mut self, context: &Context<'_>, message: &MessageFacts<'_>) {
        if message.state == "skipped" {
            let reason = message.reason.unwrap_or("unknown");
            match self.skipped.get_mut(reason) {
                Some(count) => *count += 1,
                None => {
                    self.skipped.insert(reason.to_string(), 1);
                }
            }
        }
        if message.channel.is_empty() {
            // The planner's record of a contact that got nothing: counted
            // by reason above, and in no channel's funnel.
            return;
        }
        let planned = message.planned;
        let sent = message.state == "sent";
        let cost = if sent { message.cost } else { 0.0 };
        let channel = self.channels.of(message.channel);
        let variant = message.variant.map(|v| self.variants.of(v));
        let step = message.step.map(|s| self.steps.of(s));
        self.totals.count(message, planned, cost);
        self.channels.funnels[channel].count(message, planned, cost);
        if let Some(variant) = variant {
            self.variants.funnels[variant].count(message, planned, cost);
        }
        if let Some(step) = step {
            self.steps.funnels[step].count(message, planned, cost);
        }
        if !sent {
            return;
        }
        day(&mut self.days, self.send_day.of(context, message.send_at)).sent += 1;
        if !message.failed {
            self.receipts.push(Receipt {
                at: message.delivered_at.unwrap_or(message.send_at),
                channel,
                variant,
                step,
            });
        }
    }

    /// Counts the receipts of the contact just read as recipients and
    /// credits its conversion, if any (from its `goals`, by time), to the
    /// last message it received before it.
    fn attribute(&mut self, context: &Context<'_>, goal: Option<&Goal>, goals: &[GoalEvent]) {
        let mut receipts = std::mem::take(&mut self.receipts);
        if !receipts.is_empty() {
            self.credit(context, goal, &mut receipts, goals);
        }
        receipts.clear();
        self.receipts = receipts;
    }

    fn credit(
        &mut self,
        context: &Context<'_>,
        goal: Option<&Goal>,
        receipts: &mut [Receipt],
        goals: &[GoalEvent],
    ) {
        receipts.sort_by_key(|receipt| receipt.at);
        self.totals.recipients += 1;
        for seen in &mut self.seen {
            seen.clear();
        }
        for receipt in receipts.iter() {
            if !self.seen[0].contains(&receipt.channel) {
                self.seen[0].push(receipt.channel);
                self.channels.funnels[receipt.channel].recipients += 1;
            }
            if let Some(variant) = receipt.variant
                && !self.seen[1].contains(&variant)
            {
                self.seen[1].push(variant);
                self.variants.funnels[variant].recipients += 1;
            }
            if let Some(step) = receipt.step
                && !self.seen[2].contains(&step)
            {
                self.seen[2].push(step);
                self.steps.funnels[step].recipients += 1;
            }
        }
        let Some(goal) = goal else { return };
        if goals.is_empty() {
            return;
        }
        self.times.clear();
        self.times.extend(receipts.iter().map(|r| r.at));
        let Some(event) = context.first_conversion(goal, &self.times, goals) else {
            return;
        };
        let Some(credited) = receipts.iter().rev().find(|r| r.at <= event.at) else {
            return;
        };
        let amount = event.amount.unwrap_or(0.0);
        self.totals.convert(amount);
        self.channels.funnels[credited.channel].convert(amount);
        if let Some(variant) = credited.variant {
            self.variants.funnels[variant].convert(amount);
        }
        if let Some(step) = credited.step {
            self.steps.funnels[step].convert(amount);
        }
        let day = day(&mut self.days, self.conversion_day.of(context, event.at));
        day.conversions += 1;
        day.revenue += amount;
    }
}

impl Context<'_> {
    /// The local date of `at` in the project's zone, with the unix seconds
    /// `[start, end)` of that day (just `at` where the zone gives none).
    fn local_day(&self, at: i64) -> (String, i64, i64) {
        let Ok(timestamp) = Timestamp::from_second(at) else {
            return (at.to_string(), at, at + 1);
        };
        let date = timestamp.to_zoned_datetime(self.zone.clone()).date();
        let start_of = |day: Date| {
            day.to_zoned_datetime(self.zone.clone())
                .ok()
                .map(|start| start.timestamp().as_second())
        };
        match (start_of(date), date.tomorrow().ok().and_then(start_of)) {
            (Some(start), Some(end)) if start <= at && at < end => (date.to_string(), start, end),
            _ => (date.to_string(), at, at + 1),
        }
    }

    /// The funnel, per channel, variant and step, conversions and days of
    /// one campaign or journey, in one pass over its messages in contact
    /// order: each contact's receipts are attributed as soon as the next
    /// contact's messages begin, so memory does not grow with the audience.
    fn section(
        &self,
        kind: &'static str,
        name: &str,
        goal: Option<&Goal>,
    ) -> Result<Section, StoreError> {
        let boundaries = self.boundaries_for(kind, name)?;
        let tally = if boundaries.is_empty() {
            self.tally(kind, name, goal, ContactRange::ALL)?
        } else {
            self.tally_in_ranges(kind, name, goal, boundaries)?
        };
        let mut totals = tally.totals;
        totals.finish();
        Ok(Section {
            kind,
            name: name.to_string(),
            goal: goal.map(|goal| GoalSpec {
                event: goal.event.clone(),
                within: goal.window.to_string(),
            }),
            finished: false,
            totals,
            channels: tally.channels.rows(),
            variants: tally.variants.rows(),
            steps: tally.steps.rows(),
            flow: Vec::new(),
            skipped: tally.skipped,
            test: None,
            holdout: None,
            kpis: Vec::new(),
            daily: tally.days.into_values().collect(),
        })
    }

    /// Adds up the messages of the contacts in `contacts`.
    fn tally(
        &self,
        kind: &str,
        name: &str,
        goal: Option<&Goal>,
        contacts: ContactRange<'_>,
    ) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        let goals = goal.map(|goal| GoalQuery {
            event: &goal.event,
            until: self.now.as_second(),
        });
        self.store.each_reported_message_of(
            kind,
            name,
            (self.from, self.until),
            contacts,
            goals,
            |reported| match reported {
                Reported::Message(message) => tally.count(self, &message),
                Reported::ContactEnd { goals, .. } => tally.attribute(self, goal, goals),
            },
        )?;
        Ok(tally)
    }

    /// The contact ids that cut `kind`/`name`'s contacts into the ranges it
    /// is read in (none: one pass), found once per report.
    fn boundaries_for(&self, kind: &str, name: &str) -> Result<&[String], StoreError> {
        let threads = match self.ranges {
            Ranges::Always(threads) => threads,
            Ranges::Large(threads) => {
                let period = (self.from, self.until);
                let large = threads > 1
                    && self
                        .store
                        .messages_at_least(kind, name, period, Ranges::LARGE)?;
                if large { threads } else { 1 }
            }
        };
        if threads <= 1 {
            return Ok(&[]);
        }
        if let Some(boundaries) = self.boundaries.get() {
            return Ok(boundaries);
        }
        let boundaries = self.store.contact_boundaries(threads)?;
        Ok(self.boundaries.get_or_init(|| boundaries))
    }

    /// [`Context::tally`] of each range of contacts between the
    /// boundaries, the first on this thread and each other on a connection
    /// and thread of its own, added together: each contact is attributed
    /// alone, so the ranges are independent and their sums are the whole.
    /// A store that cannot be opened again is read on this thread alone.
    ///
    /// Each connection reads in its own transaction: a report of a store
    /// that `herald serve` is writing to may see a feedback event in one
    /// range that arrived after another range's reading began, as a single
    /// pass would see it for the contacts it reaches later.
    fn tally_in_ranges(
        &self,
        kind: &str,
        name: &str,
        goal: Option<&Goal>,
        boundaries: &[String],
    ) -> Result<Tally, StoreError> {
        let mut stores = Vec::with_capacity(boundaries.len());
        for _ in boundaries {
            match Store::open_read_only(self.store.path(), self.store.catalog().clone()) {
                Ok(store) => stores.push(store),
                Err(_) => return self.tally(kind, name, goal, ContactRange::ALL),
            }
        }
        let (zone, from, until, now) = (self.zone, self.from, self.until, self.now);
        let range = |index: usize| ContactRange {
            from: index
                .checked_sub(1)
                .map_or("", |before| boundaries[before].as_str()),
            until: boundaries.get(index).map(String::as_str),
        };
        std::thread::scope(|scope| {
            let others: Vec<_> = stores
                .into_iter()
                .enumerate()
                .map(|(index, store)| {
                    let contacts = range(index + 1);
                    scope.spawn(move || {
                        let context = Context {
                            store: &store,
                            zone,
                            from,
                            until,
                            now,
                            ranges: Ranges::Always(1),
                            boundaries: std::cell::OnceCell::new(),
                        };
                        context.tally(kind, name, goal, contacts)
                    })
                })
                .collect();
            // The scope waits for the other threads if this one fails.
            let mut whole = self.tally(kind, name, goal, range(0))?;
            for other in others {
                let other = other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                whole.merge(other);
            }
            Ok(whole)
        })
    }

    /// The first of a contact's `goals` (by time) within the window after
    /// any of `receipts` (sorted), not after now; overlapping windows are
    /// one run.
    fn first_conversion(
        &self,
        goal: &Goal,
        receipts: &[i64],
        goals: &[GoalEvent],
    ) -> Option<GoalEvent> {
        let now = self.now.as_second();
        let mut index = 0;
        while index < receipts.len() {
            let start = receipts[index];
            let mut end = window_end(start, goal.window, self.zone);
            index += 1;
            while index < receipts.len() && receipts[index] <= end {
                end = end.max(window_end(receipts[index], goal.window, self.zone));
                index += 1;
            }
            if start > now {
                break;
            }
            let end = end.min(now);
            if let Some(event) = goals
                .iter()
                .find(|event| start <= event.at && event.at <= end)
            {
                return Some(*event);
            }
        }
        None
    }

    /// The control group's conversions, followed from the moment each
    /// contact was held out, against the recipients'.
    fn holdout(
        &self,
        kind: &str,
        name: &str,
        goal: Option<&Goal>,
        recipients: &Funnel,
    ) -> Result<Holdout, StoreError> {
        let mut held_out = 0;
        let mut conversions = 0;
        let goals = goal.map(|goal| GoalQuery {
            event: &goal.event,
            until: self.now.as_second(),
        });
        self.store.each_held_out_contact(
            kind,
            name,
            (self.from, self.until),
            goals,
            |_, at, events| {
                held_out += 1;
                if let Some(goal) = goal {
                    conversions += u64::from(self.first_conversion(goal, &[at], events).is_some());
                }
            },
        )?;
        let rate = (held_out > 0).then(|| conversions as f64 / held_out as f64);
        let lift = recipients.conversion_rate.zip(rate).map(|(r, c)| r - c);
        Ok(Holdout {
            held_out,
            conversions,
            conversion_rate: rate,
            conversion_interval: stats::wilson(conversions, held_out),
            lift,
            lift_interval: stats::difference(
                (recipients.conversions, recipients.recipients),
                (conversions, held_out),
            ),
            relative_lift: lift.zip(rate).and_then(|(l, c)| (c > 0.0).then(|| l / c)),
        })
    }

    /// Whether the goal window after the section's last send has elapsed.
    fn window_over(&self, section: &Section, goal: Option<&Goal>, now: Timestamp) -> bool {
        let Some(last) = section
            .daily
            .iter()
            .filter(|d| d.sent > 0)
            .map(|d| &d.date)
            .max()
        else {
            return true;
        };
        let Ok(date) = last.parse::<Date>() else {
            return true;
        };
        // The end of the last sending day, in the project's zone.
        let end_of_day = date
            .tomorrow()
            .ok()
            .and_then(|day| day.at(0, 0, 0, 0).to_zoned_datetime(self.zone.clone()).ok())
            .map_or(i64::MAX, |zoned| zoned.timestamp().as_second());
        let end = goal.map_or(end_of_day, |goal| {
            window_end(end_of_day, goal.window, self.zone)
        });
        now.as_second() >= end
    }
}
