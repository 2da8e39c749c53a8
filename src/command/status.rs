//! `herald status`: the outbox as it stands ([`Store::outbox_status`]):
//! messages by state per campaign and journey, the oldest pending message,
//! dead and unknown messages with their last error. Reads the store
//! read-only.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::plan::{compiled, grouped, local};
use super::{OutputFormat, Settings, print};
use crate::error::Error;
use crate::store::Store;
use crate::store::outbox::OutboxStatus;

#[derive(Debug)]
pub struct Request {
    pub format: OutputFormat,
}

/// The states in the order a message goes through them.
const STATES: [&str; 7] = [
    "queued", "sending", "sent", "failed", "dead", "unknown", "skipped",
];

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "shown")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let path = settings.store.existing(&manifest.value)?;
    let store = Store::open_read_only(&path, compilation.filters.catalog.clone())?;
    let status = store.outbox_status()?;
    match request.format {
        OutputFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        ))?,
        OutputFormat::Human => {
            let zone = compilation.timezone.clone().unwrap_or(TimeZone::UTC);
            print(&human(&status, &zone))?;
        }
    }
    Ok(0)
}

fn at(seconds: i64, zone: &TimeZone) -> String {
    Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |at| local(at, zone))
}

fn human(status: &OutboxStatus, zone: &TimeZone) -> String {
    let mut out = String::new();
    if status.groups.is_empty() {
        let _ = writeln!(out, "The outbox is empty: nothing has been sent yet.");
        return out;
    }
    let _ = writeln!(out, "Outbox");
    for group in &status.groups {
        let counts: Vec<String> = STATES
            .iter()
            .filter_map(|state| {
                let count = group.counts.get(*state)?;
                let reasons: Vec<String> = group
                    .skipped
                    .iter()
                    .filter(|_| *state == "skipped")
                    .map(|(reason, count)| format!("{reason} {}", grouped(*count)))
                    .collect();
                Some(if reasons.is_empty() {
                    format!("{state} {}", grouped(*count))
                } else {
                    format!("{state} {} ({})", grouped(*count), reasons.join(", "))
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "  {} {:<24} {}",
            group.kind,
            group.name,
            counts.join(", ")
        );
    }
    match &status.oldest_pending {
        Some(pending) => {
            let _ = writeln!(
                out,
                "\nOldest pending: {} ({}, {} attempts, enqueued {}, next attempt from {}){}",
                pending.key,
                pending.state,
                pending.attempts,
                at(pending.created_at, zone),
                at(pending.not_before, zone),
                pending
                    .last_error
                    .as_ref()
                    .map_or(String::new(), |error| format!("\n  last error: {error}"))
            );
        }
        None => {
            let _ = writeln!(out, "\nNothing pending.");
        }
    }
    if status.problem_count > 0 {
        let _ = writeln!(
            out,
            "\nDead and unknown: {} (most recent first)",
            grouped(status.problem_count)
        );
        for problem in &status.problems {
            let _ = writeln!(
                out,
                "  {:<8} {} via {} after {} attempts: {}",
                problem.state,
                problem.key,
                problem.provider,
                problem.attempts,
                problem.last_error.as_deref().unwrap_or("no error recorded")
            );
        }
        if status.problem_count > status.problems.len() as u64 {
            let _ = writeln!(
                out,
                "  … and {} more",
                status.problem_count - status.problems.len() as u64
            );
        }
    }
    out
}
