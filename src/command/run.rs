//! `herald run`: ticks of sync, compile, recover, plan, enqueue, advance journeys and deliver
//! ([`crate::run`]), once (`--once`) or every `--interval` until SIGINT or
//! SIGTERM; a summary per tick. Exit status: 1 when the project has errors
//! or the plan may not be carried out (render failures, over budget), 2
//! when a provider with messages to send cannot be set up, else 0.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::plan::{compiled, grouped, human, local};
use super::{Now, OutputFormat, Settings, print};
use crate::error::Error;
use crate::plan::PlanError;
use crate::run::{self, Clock, Options, Progress, Providers, Tick, TickReport, wall_seconds};
use crate::store::Store;

/// What `herald run` was asked.
#[derive(Debug)]
pub struct Request {
    pub once: bool,
    pub interval: Duration,
    pub now: Option<Now>,
    /// Import the manifest's `sources:` first.
    pub sync: bool,
    pub at_least_once: bool,
    pub lease: Duration,
    pub format: OutputFormat,
}

/// One tick, as reported.
#[derive(Debug, Default, Serialize)]
struct Report {
    #[serde(flatten)]
    report: TickReport,
    interrupted: bool,
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let runtime = super::runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    for kind in [
        tokio::signal::unix::SignalKind::interrupt(),
        tokio::signal::unix::SignalKind::terminate(),
    ] {
        runtime.spawn(stop_on_signal(stop.clone(), kind));
    }
    let holder = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
    let mut clock: Option<Clock> = None;
    let mut status = 0;
    loop {
        let code = tick(settings, request, &runtime, &stop, &mut clock, &holder)?;
        status = status.max(code);
        if request.once || stop.load(Ordering::SeqCst) {
            break;
        }
        let mut waited = Duration::ZERO;
        while waited < request.interval && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    // Only a project or plan error is worth a non-zero status in a loop
    // that was stopped on purpose.
    Ok(status)
}

/// The signed links of the messages planned at `now`; sending them with
/// links that cannot be signed would send links that do not work.
fn links(
    manifest: &crate::model::Manifest,
    now: jiff::Timestamp,
) -> Result<Option<crate::signed_link::Links>, Error> {
    crate::serve::settings::message_links(manifest, now.as_second()).map_err(|missing| {
        Error::Usage(format!(
            "the unsubscribe links cannot be signed: `serve.secret`: {missing}"
        ))
    })
}

/// Sets `stop` on the first SIGINT or SIGTERM (`kind`); a second one ends
/// the process at once (what was recorded stays recorded).
async fn stop_on_signal(stop: Arc<AtomicBool>, kind: tokio::signal::unix::SignalKind) {
    let Ok(mut signals) = tokio::signal::unix::signal(kind) else {
        return;
    };
    while signals.recv().await.is_some() {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("herald: stopping: finishing the requests in flight (again to quit at once)");
    }
}

fn tick(
    settings: &Settings,
    request: &Request,
    runtime: &tokio::runtime::Runtime,
    stop: &AtomicBool,
    clock: &mut Option<Clock>,
    holder: &str,
) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "sent")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let manifest = &manifest.value;
    let clock = match clock {
        Some(clock) => *clock,
        None => *clock.insert(match &request.now {
            Some(now) => Clock::starting_at(now.instant(&manifest.timezone.value)?),
            None => Clock::real(),
        }),
    };
    // Changed sources are imported (and committed) before planning, as
    // `herald plan` does.
    if request.sync {
        super::sync::announce(&super::sync::synchronise(settings, &compilation, false)?);
    }
    let path = settings.store.existing(manifest)?;
    let store = Store::open_with_catalog(&path, compilation.filters.catalog.clone())?;
    let honouring: Vec<&str> = compilation
        .providers
        .iter()
        .filter(|(_, provider)| provider.config.honours_idempotency_key())
        .map(|(name, _)| name.as_str())
        .collect();
    // Planned on whole seconds, so that `--now` plans exactly that instant.
    let now = jiff::Timestamp::from_second(clock.now().as_second()).unwrap_or_else(|_| clock.now());
    let mut options = Options::new(holder.to_string());
    options.lease = request.lease;
    options.at_least_once = request.at_least_once;
    let mut bar = None;
    let mut progress = |progress: Progress<'_>| match progress {
        Progress::Due(total) => bar = progress_bar(total),
        Progress::Delivered(tally) => {
            if let Some(bar) = &bar {
                bar.set_position(tally.finished());
            }
        }
    };
    let mut delivery = Providers {
        compilation: &compilation,
        root: &settings.project,
        runtime,
        clock,
        options: &options,
        stop,
        progress: &mut progress,
    };
    let ticked = run::tick(
        &compilation,
        &store,
        &Tick {
            now,
            wall: wall_seconds(),
            honouring: &honouring,
            at_least_once: request.at_least_once,
            links: links(manifest, now)?,
        },
        &mut delivery,
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match ticked {
        Ok(Ok(report)) => report,
        Ok(Err(plan)) => {
            eprint!("{}", human(&compilation, &plan));
            eprintln!(
                "error: nothing was sent: the plan has render failures or a campaign over its \
                 budget"
            );
            return Ok(1);
        }
        Err(PlanError::Store(error)) => return Err(error.into()),
        Err(PlanError::Journeys(reason)) => {
            eprintln!("error: nothing was sent: {reason}");
            return Ok(1);
        }
        Err(other) => return Err(Error::Usage(other.to_string())),
    };
    for (name, reason) in &report.unavailable {
        eprintln!("error: provider `{name}` cannot send: {reason}; its messages stay queued");
    }
    let report = Report {
        report,
        interrupted: stop.load(Ordering::SeqCst),
    };
    match request.format {
        OutputFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string(&report).unwrap_or_default()
        ))?,
        OutputFormat::Human => {
            let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
            print(&summary(&report, now, &zone))?;
        }
    }
    Ok(if report.report.unavailable.is_empty() {
        0
    } else {
        2
    })
}

/// A bar over the messages due, on a terminal only.
fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} sending [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

fn summary(report: &Report, now: jiff::Timestamp, zone: &TimeZone) -> String {
    let interrupted = report.interrupted;
    let report = &report.report;
    let mut out = String::new();
    let _ = writeln!(out, "Run at {} ({now})", local(now, zone));
    let campaigns = if report.campaigns.is_empty() {
        "nothing due".to_string()
    } else {
        report.campaigns.join(", ")
    };
    let _ = writeln!(
        out,
        "  planned     {} messages ({campaigns}), {} new to the outbox",
        grouped(report.planned),
        grouped(report.enqueued)
    );
    let journeys = &report.journeys;
    if journeys != &run::journeys::Advanced::default() {
        let _ = writeln!(
            out,
            "  journeys    {} entered, {} messages, {} skipped, {} woke, {} converted, {} exited, {} completed",
            grouped(journeys.entered),
            grouped(journeys.sent),
            grouped(journeys.skipped),
            grouped(journeys.woken),
            grouped(journeys.converted),
            grouped(journeys.exited),
            grouped(journeys.completed)
        );
    }
    let recovered = report.recovered;
    if recovered.requeued + recovered.unknown > 0 {
        let _ = writeln!(
            out,
            "  recovered   {} from a runner that stopped: {} to send again, {} unknown",
            grouped(recovered.requeued + recovered.unknown),
            grouped(recovered.requeued),
            grouped(recovered.unknown)
        );
    }
    let tally = &report.tally;
    let rows = [
        ("sent", tally.sent, ""),
        (
            "retrying",
            tally.retried,
            " (temporary errors, queued again)",
        ),
        ("failed", tally.failed, " (permanent errors)"),
        ("dead", tally.dead, " (retries exhausted)"),
        (
            "unknown",
            tally.unknown,
            " (may have arrived; see `herald status`)",
        ),
        (
            "skipped",
            tally.skipped,
            " (consent revoked or suppressed since planning)",
        ),
    ];
    for (label, count, note) in rows {
        if count > 0 || label == "sent" {
            let _ = writeln!(out, "  {label:<11} {}{note}", grouped(count));
        }
    }
    if tally.suppressed > 0 {
        let _ = writeln!(
            out,
            "  suppressed  {} addresses the provider refused for good",
            grouped(tally.suppressed)
        );
    }
    for (provider, reason) in &tally.stopped {
        let _ = writeln!(out, "  stopped     provider `{provider}`: {reason}");
    }
    if interrupted {
        let _ = writeln!(
            out,
            "  interrupted: in-flight messages were recorded; the rest wait in the outbox"
        );
    }
    out
}
