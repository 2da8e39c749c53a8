//! `herald report --html`: one self-contained HTML file (inline CSS and
//! SVG, no script, nothing fetched), with the report's tables and charts
//! drawn by plotters' SVG backend: a funnel per campaign and journey, sends
//! and conversions per day, variants side by side with their intervals
//! (and the control group), cost by channel.
//!
//! Each chart is a `<figure class="chart" data-chart="KIND">` holding one
//! `<svg>`; a chart with nothing to show is left out rather than drawn
//! empty.

use std::fmt::Write as _;

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, SegmentValue, ValueFormatter};
use plotters::prelude::*;

use super::stats::Interval;
use super::{Funnel, Report, Row, Section, StepFlow};

const WIDTH: u32 = 720;
const HEIGHT: u32 = 300;
const BAR: RGBColor = RGBColor(0x3b, 0x6e, 0xa8);
const SECOND: RGBColor = RGBColor(0xd9, 0x6c, 0x2c);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// The whole page.
pub fn page(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>herald report</title><style>{STYLE}</style></head><body>\n\
         <h1>herald report</h1>\n<p class=\"meta\">As of {}{}{}; money in {}; intervals at {:.0}%.</p>\n",
        escape(&report.now.to_string()),
        report
            .from
            .as_ref()
            .map_or(String::new(), |from| format!(", from {}", escape(from))),
        report
            .to
            .as_ref()
            .map_or(String::new(), |to| format!(" to {}", escape(to))),
        escape(report.currency.as_deref().unwrap_or("the project currency")),
        100.0 * report.confidence
    );
    let mut idle = Vec::new();
    for section in report.campaigns.iter().chain(&report.journeys) {
        if section.is_idle() {
            idle.push(format!("{} {}", section.kind, escape(&section.name)));
        } else {
            write_section(section, &mut out);
        }
    }
    if !idle.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"idle\">Nothing planned in the period for: {}.</p>",
            idle.join(", ")
        );
    }
    out.push_str("</body></html>\n");
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}\
figure.chart{display:inline-block;margin:0.5em 1em 0.5em 0}\
figure.chart figcaption{font-size:13px;color:#555}\
td.why{text-align:left}.meta{color:#555}.missed{color:#b00020;font-weight:bold}.met{color:#1b5e20}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{:.2}%", 100.0 * v))
}

fn write_section(section: &Section, out: &mut String) {
    let _ = writeln!(
        out,
        "<section class=\"report\" data-kind=\"{}\" data-name=\"{}\">\n<h2>{} {}</h2>",
        section.kind,
        escape(&section.name),
        section.kind,
        escape(&section.name)
    );
    let goal = section.goal.as_ref().map_or("no goal".to_string(), |g| {
        format!("goal {} within {}", escape(&g.event), escape(&g.within))
    });
    let state = match (section.kind, section.finished) {
        ("campaign", true) => "; finished",
        ("campaign", false) => "; in progress",
        _ => "",
    };
    let _ = writeln!(out, "<p class=\"meta\">{goal}{state}</p>");
    write_table(section, out);
    write_flow(&section.flow, out);
    if let Some(test) = &section.test {
        let text = match &test.test {
            Some(result) => format!(
                "Pearson's chi-squared = {:.3} ({} df), p = {:.4}{}",
                result.statistic,
                result.degrees_of_freedom,
                result.p_value,
                test.winner.as_ref().map_or(
                    ": no significant difference".to_string(),
                    |w| format!(": variant {} converts better", escape(w))
                )
            ),
            None if test.status == "one_variant" => "only one variant has recipients".into(),
            None => "not enough data yet".into(),
        };
        let _ = writeln!(out, "<p>A/B test: {text}</p>");
    }
    if let Some(holdout) = &section.holdout {
        let _ = writeln!(
            out,
            "<p>Holdout: {} held out, {} converted ({}); lift {}{}</p>",
            holdout.held_out,
            holdout.conversions,
            percent(holdout.conversion_rate),
            holdout
                .lift
                .map_or("–".into(), |l| format!("{:+.2} pp", 100.0 * l)),
            holdout.lift_interval.map_or(String::new(), |i| format!(
                " [{:+.2}, {:+.2}]",
                100.0 * i.low,
                100.0 * i.high
            ))
        );
    }
    if !section.kpis.is_empty() {
        out.push_str("<ul class=\"kpis\">");
        for kpi in &section.kpis {
            let _ = write!(
                out,
                "<li class=\"{}\">{} {} {}: measured {}, {}</li>",
                kpi.status,
                escape(&kpi.name),
                if kpi.direction == "at_most" {
                    "≤"
                } else {
                    "≥"
                },
                kpi.target,
                kpi.measured.map_or("–".into(), |m| format!("{m:.2}")),
                kpi.status.replace('_', " ")
            );
        }
        out.push_str("</ul>\n");
    }
    let funnel = &section.totals;
    let stages = [
        ("planned", funnel.planned),
        ("sent", funnel.sent),
        ("delivered", funnel.delivered),
        ("opened", funnel.opened),
        ("clicked", funnel.clicked),
        ("converted", funnel.conversions),
    ];
    if funnel.planned + funnel.sent > 0 {
        let labels: Vec<String> = stages.iter().map(|(l, _)| l.to_string()).collect();
        let values: Vec<f64> = stages.iter().map(|(_, v)| *v as f64).collect();
        figure(out, "funnel", "Funnel", bars(&labels, &values, None, false));
    }
    if !section.daily.is_empty() {
        figure(
            out,
            "daily",
            "Sends (bars) and conversions (line) per day",
            daily(section),
        );
    }
    if !section.flow.is_empty() {
        let labels: Vec<String> = section.flow.iter().map(|step| step.label.clone()).collect();
        let values: Vec<f64> = section
            .flow
            .iter()
            .map(|step| step.reached as f64)
            .collect();
        figure(
            out,
            "steps",
            "Enrolments reaching each step",
            bars(&labels, &values, None, false),
        );
    }
    let mut arms: Vec<(String, &Funnel)> = section
        .variants
        .iter()
        .map(|row| (row.name.clone(), &row.funnel))
        .collect();
    let control;
    if let Some(holdout) = &section.holdout {
        control = Funnel {
            recipients: holdout.held_out,
            conversions: holdout.conversions,
            conversion_rate: holdout.conversion_rate,
            conversion_interval: holdout.conversion_interval,
            ..Funnel::default()
        };
        if arms.is_empty() {
            arms.push(("recipients".into(), &section.totals));
        }
        arms.push(("control".into(), &control));
    }
    let arms: Vec<&(String, &Funnel)> = arms
        .iter()
        .filter(|(_, funnel)| funnel.recipients > 0)
        .collect();
    if arms.len() > 1 {
        let labels: Vec<String> = arms.iter().map(|(name, _)| name.clone()).collect();
        let values: Vec<f64> = arms
            .iter()
            .map(|(_, f)| 100.0 * f.conversion_rate.unwrap_or(0.0))
            .collect();
        let intervals: Vec<Option<Interval>> =
            arms.iter().map(|(_, f)| f.conversion_interval).collect();
        figure(
            out,
            "variants",
            "Conversion rate (%) with 95% intervals",
            bars(&labels, &values, Some(&intervals), true),
        );
    }
    let costs: Vec<&Row> = section
        .channels
        .iter()
        .filter(|row| row.funnel.cost > 0.0)
        .collect();
    if !costs.is_empty() {
        let labels: Vec<String> = costs.iter().map(|row| row.name.clone()).collect();
        let values: Vec<f64> = costs.iter().map(|row| row.funnel.cost).collect();
        figure(
            out,
            "cost",
            "Cost by channel",
            bars(&labels, &values, None, false),
        );
    }
    out.push_str("</section>\n");
}

fn write_table(section: &Section, out: &mut String) {
    out.push_str(
        "<table><tr><th></th><th>planned</th><th>sent</th><th>delivered</th><th>opened</th>\
         <th>clicked</th><th>failed</th><th>unsubscribed</th><th>recipients</th>\
         <th>conversions</th><th>rate</th><th>interval</th><th>revenue</th><th>cost</th>\
         <th>cost/conversion</th><th>return on spend</th></tr>\n",
    );
    let mut row = |label: String, f: &Funnel| {
        let _ = writeln!(
            out,
            "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
             <td>{:.2}</td><td>{}</td><td>{}</td></tr>",
            f.planned,
            f.sent,
            f.delivered,
            f.opened,
            f.clicked,
            f.failed,
            f.unsubscribed,
            f.recipients,
            f.conversions,
            percent(f.conversion_rate),
            f.conversion_interval.map_or("–".into(), |i| format!(
                "{:.2}–{:.2}%",
                100.0 * i.low,
                100.0 * i.high
            )),
            f.revenue,
            f.cost,
            f.cost_per_conversion
                .map_or("–".into(), |c| format!("{c:.2}")),
            f.return_on_spend.map_or("–".into(), |r| format!("{r:.2}")),
        );
    };
    row("total".into(), &section.totals);
    for (prefix, rows) in [
        ("", &section.channels),
        ("variant ", &section.variants),
        ("step ", &section.steps),
    ] {
        for r in rows {
            row(format!("{prefix}{}", escape(&r.name)), &r.funnel);
        }
    }
    out.push_str("</table>\n");
}

/// A journey's enrolments step by step.
fn write_flow(flow: &[StepFlow], out: &mut String) {
    if flow.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"flow\"><tr><th>step</th><th>reached</th><th>moved on</th>\
         <th>waiting</th><th>completed</th><th>left</th><th>drop-off</th>\
         <th>why they left</th></tr>\n",
    );
    for step in flow {
        let why: Vec<String> = step
            .left
            .iter()
            .map(|(reason, count)| format!("{} {count}", escape(&reason.replace('_', " "))))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"why\">{}</td></tr>",
            escape(&step.label),
            step.reached,
            step.moved_on,
            step.waiting,
            step.completed,
            step.left.values().sum::<u64>(),
            percent(step.drop_off),
            why.join(", ")
        );
    }
    out.push_str("</table>\n");
}

fn figure(out: &mut String, kind: &str, caption: &str, svg: Option<String>) {
    let Some(svg) = svg else { return };
    let _ = writeln!(
        out,
        "<figure class=\"chart\" data-chart=\"{kind}\">{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

/// An x axis of one equal slot per category, addressed as plotters'
/// segmented axes are (`Exact(i)` the slot's left edge, `CenterOf(i)` its
/// middle). plotters' integer ranges include their end, so
/// `(0..n).into_segmented()` has n + 1 slots and left an empty one after
/// the last bar; and a range of one value maps every point to the middle.
#[derive(Clone)]
struct Categories(i32);

impl Ranged for Categories {
    type FormatOption = NoDefaultFormatting;
    type ValueType = SegmentValue<i32>;

    fn map(&self, value: &Self::ValueType, limit: (i32, i32)) -> i32 {
        let slot = match value {
            SegmentValue::Exact(index) => f64::from(*index),
            SegmentValue::CenterOf(index) => f64::from(*index) + 0.5,
            SegmentValue::Last => f64::from(self.0),
        };
        let width = f64::from(limit.1 - limit.0);
        limit.0 + (width * slot / f64::from(self.0.max(1))).round() as i32
    }

    /// Every slot's middle, or every k-th one when fewer labels fit.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<Self::ValueType> {
        let count = usize::try_from(self.0).unwrap_or(0);
        let step = count.div_ceil(hint.max_num_points().max(1)).max(1);
        (0..self.0)
            .step_by(step)
            .map(SegmentValue::CenterOf)
            .collect()
    }

    fn range(&self) -> Range<Self::ValueType> {
        SegmentValue::Exact(0)..SegmentValue::Exact(self.0)
    }
}

/// Every chart labels its slots with its own formatter.
impl ValueFormatter<SegmentValue<i32>> for Categories {
    fn format(value: &SegmentValue<i32>) -> String {
        match value {
            SegmentValue::Exact(index) | SegmentValue::CenterOf(index) => index.to_string(),
            SegmentValue::Last => String::new(),
        }
    }
}

/// The y axis' top: a little above the highest value, never zero.
fn top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

/// A bar per label, with optional intervals (in fractions, drawn in percent
/// when `percent`). `None` when plotters cannot draw it.
fn bars(
    labels: &[String],
    values: &[f64],
    intervals: Option<&[Option<Interval>]>,
    percent: bool,
) -> Option<String> {
    let scale = if percent { 100.0 } else { 1.0 };
    let highest = intervals
        .into_iter()
        .flatten()
        .flatten()
        .map(|i| i.high * scale);
    let y_top = top(values.iter().copied().chain(highest));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let count = labels.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(Categories(count), 0.0..y_top)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|value| match value {
                SegmentValue::CenterOf(index) | SegmentValue::Exact(index) => labels
                    .get(usize::try_from(*index).unwrap_or(usize::MAX))
                    .cloned()
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|v| format!("{v:.1}"))
            .axis_style(INK)
            .draw()
            .ok()?;
        chart
            .draw_series(values.iter().enumerate().map(|(index, &value)| {
                let index = index as i32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(index), 0.0),
                        (SegmentValue::Exact(index + 1), value),
                    ],
                    BAR.filled(),
                );
                bar.set_margin(0, 0, 10, 10);
                bar
            }))
            .ok()?;
        if let Some(intervals) = intervals {
            chart
                .draw_series(
                    intervals
                        .iter()
                        .enumerate()
                        .filter_map(|(index, interval)| {
                            let interval = (*interval)?;
                            Some(ErrorBar::new_vertical(
                                SegmentValue::CenterOf(index as i32),
                                interval.low * scale,
                                values[index],
                                interval.high * scale,
                                SECOND.stroke_width(2),
                                12,
                            ))
                        }),
                )
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// Sends per day as bars, conversions per day as a line on a second axis.
fn daily(section: &Section) -> Option<String> {
    let days = &section.daily;
    let count = days.len() as i32;
    let sends_top = top(days.iter().map(|d| d.sent as f64));
    let conversions_top = top(days.iter().map(|d| d.conversions as f64));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .right_y_label_area_size(60)
            .build_cartesian_2d(Categories(count), 0.0..sends_top)
            .ok()?
            .set_secondary_coord(Categories(count), 0.0..conversions_top);
        let label = |value: &SegmentValue<i32>| match value {
            SegmentValue::CenterOf(index) | SegmentValue::Exact(index) => days
                .get(usize::try_from(*index).unwrap_or(usize::MAX))
                .map(|day| day.date.get(5..).unwrap_or(&day.date).to_string())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.len().min(12))
            .x_label_formatter(&label)
            .y_desc("sent")
            .axis_style(INK)
            .draw()
            .ok()?;
        chart
            .configure_secondary_axes()
            .y_desc("conversions")
            .draw()
            .ok()?;
        chart
            .draw_series(days.iter().enumerate().map(|(index, day)| {
                let index = index as i32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(index), 0.0),
                        (SegmentValue::Exact(index + 1), day.sent as f64),
                    ],
                    BAR.filled(),
                );
                bar.set_margin(0, 0, 3, 3);
                bar
            }))
            .ok()?;
        chart
            .draw_secondary_series(LineSeries::new(
                days.iter().enumerate().map(|(index, day)| {
                    (SegmentValue::CenterOf(index as i32), day.conversions as f64)
                }),
                SECOND.stroke_width(2),
            ))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}
