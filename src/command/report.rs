//! `herald report`: what each campaign and journey achieved
//! ([`crate::analytics`]), as a terminal table, JSON, or a self-contained
//! HTML page with charts; `--check-kpi` turns a missed KPI target of a
//! finished campaign into exit status 1 for a scheduled job.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::plan::{compiled, grouped};
use super::{Now, OutputFormat, Settings, print};
use crate::analytics::stats::Interval;
use crate::analytics::{self, Funnel, Report, ReportRequest, Row, Section, StepFlow};
use crate::error::Error;
use crate::store::Store;

#[derive(Debug)]
pub struct Request {
    pub names: Vec<String>,
    pub from: Option<Now>,
    pub to: Option<Now>,
    pub now: Option<Now>,
    pub format: OutputFormat,
    pub html: Option<PathBuf>,
    pub check_kpi: bool,
    pub threads: Option<usize>,
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "reported")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let known = |name: &String| {
        compilation.campaigns.iter().any(|c| &c.name == name)
            || compilation.journeys.iter().any(|j| &j.journey == name)
    };
    if let Some(unknown) = request.names.iter().find(|name| !known(name)) {
        let names = compilation
            .campaigns
            .iter()
            .map(|c| c.name.as_str())
            .chain(compilation.journeys.iter().map(|j| j.journey.as_str()));
        let hint = crate::suggestion::did_you_mean(unknown, names)
            .map_or(String::new(), |name| format!("; did you mean `{name}`?"));
        return Err(Error::Usage(format!(
            "no campaign or journey is named `{unknown}`{hint}"
        )));
    }
    let timezone = &manifest.value.timezone.value;
    let instant = |time: &Option<Now>| time.as_ref().map(|t| t.instant(timezone)).transpose();
    let (from, to) = (instant(&request.from)?, instant(&request.to)?);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(Error::Usage(format!(
            "--from {from} is not before --to {to}: the period is empty"
        )));
    }
    let now = Now::or_current(request.now.as_ref(), timezone)?;
    let path = settings.store.existing(&manifest.value)?;
    // Opened for writing so that an older store gets the report's indexes
    // (schema version 8); the report itself writes nothing.
    let store = Store::open_with_catalog(&path, compilation.filters.catalog.clone())?;
    let report = analytics::report(
        &compilation,
        &store,
        &ReportRequest {
            names: request.names.clone(),
            from,
            to,
            now,
            threads: request.threads,
        },
    )?;
    if let Some(file) = &request.html {
        let page = analytics::html::page(&report);
        std::fs::write(file, page)
            .map_err(|error| Error::Usage(format!("cannot write {}: {error}", file.display())))?;
    }
    match request.format {
        OutputFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ))?,
        OutputFormat::Human => print(&human(&report))?,
    }
    Ok(i32::from(request.check_kpi && report.missed_kpi()))
}

fn percent(fraction: Option<f64>) -> String {
    fraction.map_or("–".into(), |f| format!("{:.2}%", 100.0 * f))
}

fn interval(interval: Option<Interval>) -> String {
    interval.map_or("–".into(), |i| {
        format!("{:.2}–{:.2}%", 100.0 * i.low, 100.0 * i.high)
    })
}

fn money(amount: Option<f64>) -> String {
    amount.map_or("–".into(), |a| format!("{a:.2}"))
}

const HEADER: [&str; 15] = [
    "",
    "planned",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "failed",
    "unsub",
    "recipients",
    "conv",
    "rate",
    "95% interval",
    "revenue",
    "cost",
    "cost/conv",
];

fn cells(label: &str, funnel: &Funnel) -> Vec<String> {
    let counts = [
        funnel.planned,
        funnel.sent,
        funnel.delivered,
        funnel.opened,
        funnel.clicked,
        funnel.failed,
        funnel.unsubscribed,
        funnel.recipients,
        funnel.conversions,
    ];
    let mut cells = vec![label.to_string()];
    cells.extend(counts.iter().map(|&count| grouped(count)));
    cells.push(percent(funnel.conversion_rate));
    cells.push(interval(funnel.conversion_interval));
    cells.push(money(Some(funnel.revenue)));
    cells.push(money(Some(funnel.cost)));
    cells.push(money(funnel.cost_per_conversion));
    cells
}

/// Columns padded to their widest cell: numbers right-aligned, the label
/// and the columns in `text` left-aligned.
fn table(rows: &[Vec<String>], text: &[usize], out: &mut String) {
    let mut widths = vec![0; rows.iter().map(Vec::len).max().unwrap_or(0)];
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from("  ");
        for (index, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[index] - cell.chars().count());
            if index > 0 {
                line.push_str("  ");
            }
            if index == 0 || text.contains(&index) {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str(&pad);
                line.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn section(section: &Section, currency: &str, out: &mut String) {
    let goal = section.goal.as_ref().map_or("no goal".to_string(), |goal| {
        format!("goal {} within {}", goal.event, goal.within)
    });
    // Only a campaign ends; a journey keeps taking contacts in.
    let state = match (section.kind, section.finished) {
        ("campaign", true) => "; finished",
        ("campaign", false) => "; in progress",
        _ => "",
    };
    let _ = writeln!(
        out,
        "{} {} ({goal}{state}; money in {currency})",
        section.kind, section.name
    );
    let mut rows = vec![HEADER.iter().map(|h| h.to_string()).collect()];
    rows.push(cells("total", &section.totals));
    let labelled = |prefix: &str, list: &[Row], rows: &mut Vec<Vec<String>>| {
        for row in list {
            rows.push(cells(&format!("{prefix}{}", row.name), &row.funnel));
        }
    };
    labelled("", &section.channels, &mut rows);
    labelled("variant ", &section.variants, &mut rows);
    labelled("step ", &section.steps, &mut rows);
    table(&rows, &[], out);
    if let Some(roas) = section.totals.return_on_spend {
        let _ = writeln!(out, "  return on spend: {roas:.2} (revenue / cost)");
    }
    if let Some(test) = &section.test {
        let text = match (&test.test, test.status) {
            (Some(result), _) => {
                let verdict = match &test.winner {
                    Some(winner) => {
                        format!("variant {winner} converts better (significant at 95%)")
                    }
                    None => "no significant difference at 95%".to_string(),
                };
                format!(
                    "chi² = {:.3} ({} df), p = {:.4}: {verdict}",
                    result.statistic, result.degrees_of_freedom, result.p_value
                )
            }
            (None, "one_variant") => "only one variant has recipients".to_string(),
            (None, _) => format!(
                "not enough data yet (each variant needs {} recipients and 5 expected \
                 conversions and non-conversions)",
                analytics::stats::MINIMUM_SAMPLE
            ),
        };
        let _ = writeln!(out, "  A/B test: {text}");
    }
    if let Some(holdout) = &section.holdout {
        let lift = holdout.lift.map_or("–".to_string(), |lift| {
            format!(
                "{:+.2} pp [{}]{}",
                100.0 * lift,
                holdout.lift_interval.map_or("–".into(), |i| format!(
                    "{:+.2}, {:+.2}",
                    100.0 * i.low,
                    100.0 * i.high
                )),
                holdout
                    .relative_lift
                    .map_or(String::new(), |r| format!(" ({:+.1}%)", 100.0 * r))
            )
        });
        let _ = writeln!(
            out,
            "  holdout: {} held out, {} converted ({} [{}]); lift {lift}",
            grouped(holdout.held_out),
            grouped(holdout.conversions),
            percent(holdout.conversion_rate),
            interval(holdout.conversion_interval)
        );
    }
    if !section.skipped.is_empty() {
        let skipped: Vec<String> = section
            .skipped
            .iter()
            .map(|(reason, count)| format!("{reason} {}", grouped(*count)))
            .collect();
        let _ = writeln!(out, "  skipped: {}", skipped.join(", "));
    }
    for kpi in &section.kpis {
        let sign = if kpi.direction == "at_most" {
            "≤"
        } else {
            "≥"
        };
        let unit = if kpi.name == "revenue" { "" } else { "%" };
        let measured = kpi
            .measured
            .map_or("–".to_string(), |m| format!("{m:.2}{unit}"));
        let _ = writeln!(
            out,
            "  KPI {} {sign} {}{unit}: measured {measured}, {}",
            kpi.name,
            kpi.target,
            kpi.status.replace('_', " ")
        );
    }
    flow(&section.flow, out);
}

/// A journey's enrolments step by step: the drop-off table.
fn flow(flow: &[StepFlow], out: &mut String) {
    if flow.is_empty() {
        return;
    }
    let _ = writeln!(out, "  enrolments by step:");
    let mut rows: Vec<Vec<String>> = vec![
        [
            "step",
            "reached",
            "moved on",
            "waiting",
            "completed",
            "left",
            "drop-off",
            "why they left",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
    ];
    for step in flow {
        let left: u64 = step.left.values().sum();
        let why: Vec<String> = step
            .left
            .iter()
            .map(|(reason, count)| format!("{} {}", reason.replace('_', " "), grouped(*count)))
            .collect();
        let mut row = vec![step.label.clone()];
        row.extend(
            [
                step.reached,
                step.moved_on,
                step.waiting,
                step.completed,
                left,
            ]
            .map(grouped),
        );
        row.push(percent(step.drop_off));
        row.push(why.join(", "));
        rows.push(row);
    }
    table(&rows, &[7], out);
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    let currency = report.currency.as_deref().unwrap_or("the project currency");
    let sections: Vec<&Section> = report.campaigns.iter().chain(&report.journeys).collect();
    if sections.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to report: the project has no campaigns or journeys."
        );
        return out;
    }
    // A campaign with no occurrence in the period would be a table of
    // zeros; one line names them all instead.
    let (idle, active): (Vec<&Section>, Vec<&Section>) =
        sections.into_iter().partition(|section| section.is_idle());
    for (index, item) in active.into_iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        section(item, currency, &mut out);
    }
    if !idle.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let names: Vec<String> = idle
            .iter()
            .map(|section| format!("{} {}", section.kind, section.name))
            .collect();
        let _ = writeln!(
            out,
            "Nothing planned in the period for: {}",
            names.join(", ")
        );
    }
    out
}
