//! `herald plan`: compiles the project, imports the `sources:` that changed
//! (unless `--no-sync`), opens the store read-only and prints what is due at `--now` ([`crate::plan`]): a summary a marketer
//! can read, or `--format json` with every message (streamed, so a plan of
//! a million messages does not sit in memory) followed by the summary.
//! Exit status per SPEC section 11: 1 on errors (the project's, a render
//! failure, a campaign over budget); with `--detailed-exitcode` 0 when
//! nothing is to be sent and 2 when something is.

use std::fmt::Write as _;
use std::io::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Now, OutputFormat, Settings, print};
use crate::compiler::{Compilation, compile};
use crate::error::Error;
use crate::plan::{self, CampaignPlan, Plan, PlanError, PlanRequest, PlannedMessage, Reason};
use crate::report::{Format, Reporter};
use crate::store::Store;
use crate::template::PartKind;

/// What `herald plan` was asked.
#[derive(Debug)]
pub struct Request {
    pub now: Option<Now>,
    /// Only these campaigns; all when empty.
    pub campaigns: Vec<String>,
    pub samples: usize,
    pub detailed_exitcode: bool,
    /// Import the changed `sources:` first (`--no-sync` turns it off).
    pub sync: bool,
    pub format: OutputFormat,
}

/// Compiles the project; with errors, prints them and says that nothing is
/// `done` ("planned", "sent"), and returns `None`.
pub(super) fn compiled(settings: &Settings, done: &str) -> Result<Option<Compilation>, Error> {
    let compilation = compile(&settings.project)?;
    if compilation.diagnostics.has_errors() || compilation.project.manifest.is_none() {
        let reporter = Reporter {
            sources: &compilation.project.sources,
            prefix: settings.prefix(),
            color: settings.color,
        };
        eprint!(
            "{}",
            reporter.render(Format::Human, &compilation.diagnostics)
        );
        eprintln!("error: the project has errors; nothing is {done}");
        return Ok(None);
    }
    Ok(Some(compilation))
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "planned")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let manifest = &manifest.value;
    for name in &request.campaigns {
        if !compilation.campaigns.iter().any(|c| &c.name == name) {
            let names = compilation.campaigns.iter().map(|c| c.name.as_str());
            let hint = crate::suggestion::did_you_mean(name, names)
                .map(|close| format!("; did you mean `{close}`?"))
                .unwrap_or_default();
            return Err(Error::Usage(format!("no campaign `{name}`{hint}")));
        }
    }
    let now = Now::or_current(request.now.as_ref(), &manifest.timezone.value)?;
    // The one write of a plan, done and committed before the planning
    // opens the store read-only.
    if request.sync {
        super::sync::announce(&super::sync::synchronise(settings, &compilation, false)?);
    }
    let path = settings.store.existing(manifest)?;
    let store = Store::open_read_only(&path, compilation.filters.catalog.clone())?;
    let mut plan_request = PlanRequest::new(now);
    plan_request.only = request.campaigns.clone();
    plan_request.samples = request.samples;
    // A dry run in CI usually has no secrets: without the signing secret
    // the samples show the placeholder link.
    plan_request.links =
        crate::serve::settings::message_links(manifest, now.as_second()).unwrap_or(None);
    let failure = |error: PlanError| match error {
        PlanError::Store(error) => Error::from(error),
        other => Error::Usage(other.to_string()),
    };
    let plan = match request.format {
        OutputFormat::Human => {
            let plan =
                plan::plan(&compilation, &store, &plan_request, &mut |_| {}).map_err(failure)?;
            print(&human(&compilation, &plan))?;
            plan
        }
        OutputFormat::Json => json(&compilation, &store, &plan_request).map_err(|e| match e {
            JsonError::Plan(error) => failure(error),
            JsonError::Io(error) => error,
        })?,
    };
    Ok(if plan.has_errors() {
        1
    } else if request.detailed_exitcode && plan.messages() > 0 {
        2
    } else {
        0
    })
}

enum JsonError {
    Plan(PlanError),
    Io(Error),
}

/// Streams `{"messages": [...], "plan": {...}}` to standard output.
fn json(
    compilation: &Compilation,
    store: &Store,
    request: &PlanRequest,
) -> Result<Plan, JsonError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut failed: Option<std::io::Error> = None;
    let mut first = true;
    let mut write = |out: &mut dyn std::io::Write, text: &[u8]| {
        if failed.is_none()
            && let Err(error) = out.write_all(text)
        {
            failed = Some(error);
        }
    };
    write(&mut out, b"{\"messages\": [");
    let plan = {
        let mut sink = |message: PlannedMessage| {
            let separator: &[u8] = if first { b"\n  " } else { b",\n  " };
            first = false;
            write(&mut out, separator);
            let text = serde_json::to_vec(&message).unwrap_or_default();
            write(&mut out, &text);
        };
        plan::plan(compilation, store, request, &mut sink).map_err(JsonError::Plan)?
    };
    let summary = serde_json::to_string_pretty(&plan).unwrap_or_default();
    let tail = format!("\n],\n\"plan\": {summary}}}\n");
    write(&mut out, tail.as_bytes());
    if let Some(error) = failed.or_else(|| out.flush().err())
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(JsonError::Io(Error::Io {
            path: "<stdout>".into(),
            source: error,
        }));
    }
    Ok(plan)
}

/// `1 234 567`, as the shop's locale groups digits.
pub(super) fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(digit);
    }
    out
}

/// `1 part`, `2 parts`.
fn plural(count: u64, word: &str) -> String {
    let s = if count == 1 { "" } else { "s" };
    format!("{} {word}{s}", grouped(count))
}

fn money(amount: f64, currency: &str) -> String {
    let cents = (amount * 100.0).round() as u64;
    format!("{}.{:02} {currency}", grouped(cents / 100), cents % 100)
}

pub(super) fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The readable plan.
pub(super) fn human(compilation: &Compilation, plan: &Plan) -> String {
    let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
    let currency = compilation
        .project
        .manifest
        .as_ref()
        .and_then(|m| m.value.currency.as_ref())
        .map_or(String::new(), |c| c.value.clone());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan at {} ({}): what is due, and what it would send. Nothing is sent.",
        local(plan.now, &zone),
        plan.now
    );
    if plan.campaigns.is_empty() {
        let _ = writeln!(
            out,
            "\nNothing is due (campaigns due in the last 24 hours are sent once)."
        );
    }
    for campaign in &plan.campaigns {
        out.push('\n');
        campaign_section(&mut out, compilation, campaign, &zone, &currency);
    }
    if !plan.missed.is_empty() {
        let _ = writeln!(
            out,
            "\nMissed (due more than 24 hours ago; herald does not send a campaign that late):"
        );
        for occurrence in &plan.missed {
            let _ = writeln!(
                out,
                "  {}  {}",
                local(occurrence.at, &zone),
                occurrence.campaign
            );
        }
    }
    if !plan.journeys.is_empty() {
        let _ = writeln!(
            out,
            "\nJourneys (contacts waiting at each step; due: their wait ends by now and the next \
             tick moves them on):"
        );
        let width = plan
            .journeys
            .iter()
            .map(|s| s.journey.len() + s.step.len() + 1)
            .max()
            .unwrap_or(0);
        for step in &plan.journeys {
            let name = format!("{}#{}", step.journey, step.step);
            let removed = if step.removed {
                "  (step removed: set `on_removed_step`)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {name:<width$}  {:>9} waiting, {} due{removed}",
                grouped(step.waiting),
                grouped(step.due)
            );
        }
    }
    let _ = writeln!(out, "\nComing up:");
    if plan.coming_up.is_empty() {
        let _ = writeln!(out, "  nothing scheduled");
    }
    for occurrence in &plan.coming_up {
        let _ = writeln!(
            out,
            "  {}  {}",
            local(occurrence.at, &zone),
            occurrence.campaign
        );
    }
    let errors = plan.campaigns.iter().filter(|c| c.has_errors()).count();
    let cost: f64 = plan.campaigns.iter().map(|c| c.cost).sum();
    let _ = writeln!(
        out,
        "\n{} to send, {} in all{}",
        plural(plan.messages(), "message"),
        money(cost, &currency),
        if errors > 0 {
            format!("; {errors} campaign(s) with errors: nothing may be sent until they are fixed")
        } else {
            String::new()
        }
    );
    out
}

fn campaign_section(
    out: &mut String,
    compilation: &Compilation,
    plan: &CampaignPlan,
    zone: &TimeZone,
    currency: &str,
) {
    let campaign = compilation
        .campaigns
        .iter()
        .find(|c| c.name == plan.campaign);
    let kind = campaign.map_or(String::new(), |c| format!("{:?}", c.kind).to_lowercase());
    let mode = campaign.map_or("", |c| match c.mode {
        crate::model::ChannelMode::All => "all reachable channels",
        crate::model::ChannelMode::FirstReachable => "first reachable channel",
    });
    let _ = writeln!(out, "Campaign {} ({kind}, {mode})", plan.campaign);
    let _ = writeln!(out, "  occurrence   {}", local(plan.occurrence, zone));
    if let Some(audience) = campaign.map(|c| &c.audience) {
        let mut description = audience
            .segment
            .as_ref()
            .map_or("every contact".to_string(), |s| format!("segment {s}"));
        if !audience.exclude.is_empty() {
            let _ = write!(description, ", minus {}", audience.exclude.join(", "));
        }
        if audience.filter.is_some() {
            description.push_str(", with a filter");
        }
        let _ = writeln!(
            out,
            "  audience     {} contacts ({description})",
            grouped(plan.audience)
        );
    }
    let excluded: u64 = plan.excluded.values().sum();
    let _ = writeln!(out, "  excluded     {}", grouped(excluded));
    for (reason, count) in &plan.excluded {
        let label = match (reason, plan.holdout) {
            (Reason::HeldOut, Some(share)) => format!("held out ({share}% control group)"),
            _ => reason.describe().to_string(),
        };
        let _ = writeln!(out, "    {:>9}  {label}", grouped(*count));
    }
    let _ = writeln!(
        out,
        "  messages     {} to {} contacts",
        grouped(plan.messages),
        grouped(plan.recipients)
    );
    for totals in &plan.channels {
        let parts = if totals.channel == "sms" {
            format!("  {}", plural(totals.parts, "part"))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "    {:>9}  {:<9} {:>16}{parts}",
            grouped(totals.messages),
            totals.channel,
            money(totals.cost, currency)
        );
    }
    if plan.variants.len() > 1 {
        let variants: Vec<String> = plan
            .variants
            .iter()
            .map(|(name, count)| format!("{name} {}", grouped(*count)))
            .collect();
        let _ = writeln!(out, "  variants     {}", variants.join(", "));
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(
            out,
            "  not sent     {} messages",
            grouped(plan.skipped.values().sum())
        );
        for (reason, count) in &plan.skipped {
            let _ = writeln!(out, "    {:>9}  {}", grouped(*count), reason.describe());
        }
    }
    if plan.deferred > 0 {
        let _ = writeln!(
            out,
            "  quiet hours  {} wait for the end of the contact's quiet hours",
            plural(plan.deferred, "message")
        );
    }
    let budget = match plan.budget {
        Some(budget) if plan.over_budget() => {
            format!(" — OVER the budget of {}", money(budget, currency))
        }
        Some(budget) => format!(" of a budget of {}", money(budget, currency)),
        None => String::new(),
    };
    let _ = writeln!(out, "  cost         {}{budget}", money(plan.cost, currency));
    for sample in &plan.samples {
        sample_section(out, sample, zone);
    }
    if plan.render_failure_count > 0 {
        let _ = writeln!(
            out,
            "  render failures: {} contacts (nothing of this campaign may be sent)",
            grouped(plan.render_failure_count)
        );
        for failure in plan.render_failures.iter().take(10) {
            let _ = writeln!(
                out,
                "    {} {} {} ({}): {}",
                failure.contact_id,
                failure.channel,
                failure.part,
                failure.template,
                failure.error.lines().next().unwrap_or_default()
            );
        }
    }
    if plan.over_budget() {
        let _ = writeln!(
            out,
            "  error: the estimated cost {} exceeds the budget {}",
            money(plan.cost, currency),
            money(plan.budget.unwrap_or_default(), currency)
        );
    }
}

/// One rendered message: the subject and the first lines of the text.
fn sample_section(out: &mut String, sample: &PlannedMessage, zone: &TimeZone) {
    let variant = sample
        .variant
        .as_ref()
        .map_or(String::new(), |v| format!(", variant {v}"));
    let deferred = if sample.deferred {
        " (after quiet hours)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  sample {} to {}{variant}, at {}{deferred}",
        sample.channel,
        sample.contact_id,
        local(sample.send_at, zone)
    );
    let parts = &sample.rendered.parts;
    if let Some(subject) = parts.get(&PartKind::Subject) {
        let _ = writeln!(out, "    subject: {subject}");
    }
    if let Some(sms) = &sample.rendered.sms {
        let _ = writeln!(
            out,
            "    {}, {}, {} characters",
            plural(sms.parts as u64, "part"),
            sms.encoding.as_str(),
            sms.characters
        );
    }
    if let Some(text) = parts.get(&PartKind::Text) {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let shown = if sample.channel == "sms" {
            lines.len()
        } else {
            3
        };
        for line in lines.iter().take(shown) {
            let _ = writeln!(out, "    | {line}");
        }
        if lines.len() > shown {
            let _ = writeln!(out, "    | …");
        }
    }
}
