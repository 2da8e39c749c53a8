//! Previews of messages, for `herald render` and `herald watch`: picks the
//! targets a name stands for (a campaign or one variant, a journey step, a
//! template file), renders each message for each recipient and shows every
//! part per channel with the SMS analysis and the cost.

use std::fmt::Write as _;

use minijinja::value::Value;
use serde::Serialize;

use crate::error::Error;
use crate::model::Manifest;
use crate::suggestion::did_you_mean;
use crate::template::samples;
use crate::template::{
    ChannelMessage, ContextInput, Part, PartKind, Rendered, Target, Templates, load_name,
    vars_value,
};

/// One contact to render for.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub id: String,
    pub description: String,
    pub contact: Value,
    pub event: Option<Value>,
}

/// One message rendered for one contact, or why it failed.
#[derive(Serialize)]
pub(crate) struct Output {
    pub target: String,
    pub contact: String,
    pub description: String,
    #[serde(flatten)]
    pub rendered: Option<Rendered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub channel: &'static str,
}

/// Renders every message of `targets` for every recipient, in that order.
pub(crate) fn render_all<'t>(
    templates: &Templates,
    manifest: &Manifest,
    targets: impl IntoIterator<Item = &'t Target>,
    recipients: &[Recipient],
    now: &str,
) -> Vec<Output> {
    let vars = vars_value(manifest);
    let mut outputs = Vec::new();
    for target in targets {
        for recipient in recipients {
            let event = recipient.event.clone().or_else(|| {
                target
                    .event
                    .as_deref()
                    .and_then(|event| samples::event(manifest, event, false))
            });
            let context = crate::template::context(
                target,
                ContextInput {
                    contact: recipient.contact.clone(),
                    event,
                    vars: &vars,
                    now,
                },
            );
            for message in &target.messages {
                let (rendered, error) = match templates.render(target, message, &context) {
                    Ok(rendered) => (Some(rendered), None),
                    Err((part, error)) => {
                        // Name the expression, as check's T005 does.
                        let kind = part.kind.as_str();
                        let described = templates.describe_failure(&error);
                        (None, Some(format!("{kind} part: {described}")))
                    }
                };
                let cost = cost(manifest, message.channel, rendered.as_ref());
                outputs.push(Output {
                    target: target.label(),
                    contact: recipient.id.clone(),
                    description: recipient.description.clone(),
                    rendered,
                    cost,
                    error,
                    channel: message.channel,
                });
            }
        }
    }
    outputs
}

fn cost(manifest: &Manifest, channel: &str, rendered: Option<&Rendered>) -> Option<f64> {
    let per_message = manifest
        .channels
        .declared()
        .into_iter()
        .find(|(name, _)| *name == channel)
        .and_then(|(_, declared)| declared.cost)?;
    let units = match rendered?.sms.as_ref() {
        Some(analysis) => analysis.parts as f64,
        None => 1.0,
    };
    Some((per_message * units * 100.0).round() / 100.0)
}

/// The readable preview; `with_html` false leaves out HTML bodies (their
/// text part is shown).
pub(crate) fn human(outputs: &[Output], manifest: &Manifest, with_html: bool) -> String {
    let currency = manifest
        .currency
        .as_ref()
        .map_or("RUB", |c| c.value.as_str());
    let mut out = String::new();
    for output in outputs {
        let _ = writeln!(
            out,
            "━━ {} · {} · {} ({})",
            output.target, output.channel, output.contact, output.description
        );
        if let Some(error) = &output.error {
            let _ = writeln!(out, "render error: {error}\n");
            continue;
        }
        let Some(rendered) = &output.rendered else {
            continue;
        };
        for kind in [PartKind::Subject, PartKind::Preheader] {
            if let Some(value) = rendered.parts.get(&kind) {
                let _ = writeln!(out, "{}: {value}", kind.as_str());
            }
        }
        for (name, value) in &rendered.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        for kind in [PartKind::Text, PartKind::Html] {
            if let Some(value) = rendered.parts.get(&kind) {
                if kind == PartKind::Html && !with_html {
                    let _ = writeln!(out, "── html ── {} bytes", value.len());
                    continue;
                }
                let _ = writeln!(out, "── {} ──\n{}", kind.as_str(), value.trim_end());
            }
        }
        if let Some(analysis) = &rendered.sms {
            let because = analysis
                .ucs2_because
                .map(|c| format!(" (because of {c:?})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "── sms ──\nencoding {}{because}, {} characters, {} units, {} part{}, {} units left in the last part",
                analysis.encoding.as_str(),
                analysis.characters,
                analysis.units,
                analysis.parts,
                if analysis.parts == 1 { "" } else { "s" },
                analysis.remaining,
            );
        }
        if let Some(cost) = output.cost {
            let _ = writeln!(out, "cost: {cost:.2} {currency}");
        }
        out.push('\n');
    }
    out
}

/// The targets `text` names: a campaign (one variant), a journey step
/// (`JOURNEY#STEP`), a journey (every send step) or a template file.
pub(crate) fn select(
    templates: &Templates,
    text: &str,
    variant: Option<&str>,
) -> Result<Vec<Target>, Error> {
    let text = text.trim_end_matches(".yaml");
    let (name, step) = match text.split_once('#') {
        Some((name, step)) => (name, Some(step)),
        None => (text, None),
    };
    let campaign = name.strip_prefix("campaigns/").unwrap_or(name);
    let journey = name.strip_prefix("journeys/").unwrap_or(name);
    let campaigns: Vec<&Target> = templates
        .targets
        .iter()
        .filter(|t| t.kind == "campaign" && t.name == campaign)
        .collect();
    if step.is_none() && !campaigns.is_empty() {
        let chosen: Vec<Target> = match variant {
            Some(variant) => campaigns
                .iter()
                .filter(|t| t.variant.as_deref() == Some(variant))
                .map(|t| (*t).clone())
                .collect(),
            None => campaigns
                .iter()
                .find(|t| t.variant.is_none())
                .or(campaigns.first())
                .map(|t| vec![(*t).clone()])
                .unwrap_or_default(),
        };
        if chosen.is_empty() {
            let names: Vec<&str> = campaigns
                .iter()
                .filter_map(|t| t.variant.as_deref())
                .collect();
            return Err(Error::Usage(format!(
                "campaign `{campaign}` has no variant `{}` (variants: {})",
                variant.unwrap_or_default(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
        return Ok(chosen);
    }
    let steps: Vec<Target> = templates
        .targets
        .iter()
        .filter(|t| t.kind == "journey" && t.name == journey)
        .filter(|t| step.is_none() || t.step.as_deref() == step)
        .cloned()
        .collect();
    if !steps.is_empty() {
        return Ok(steps);
    }
    if let Some(step) = step
        && templates
            .targets
            .iter()
            .any(|t| t.kind == "journey" && t.name == journey)
    {
        return Err(Error::Usage(format!(
            "journey `{journey}` has no send step `{step}` (steps are named by `id`, else by position)"
        )));
    }
    let template = text.strip_prefix("templates/").unwrap_or(text);
    if templates.origins.contains_key(template) {
        return Ok(vec![template_target(templates, template)]);
    }
    let names = templates.targets.iter().map(|t| t.name.as_str()).chain(
        templates
            .origins
            .keys()
            .map(String::as_str)
            .filter(|n| !n.contains(".yaml:")),
    );
    let hint = match did_you_mean(text, names) {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::new(),
    };
    Err(Error::Usage(format!(
        "`{text}` is not a campaign, a journey step or a template{hint}"
    )))
}

/// A template rendered on its own, in the context of the first message
/// that uses it (for its `event`), as HTML when its name says so.
fn template_target(templates: &Templates, template: &str) -> Target {
    let kind = if template.ends_with(".html") || template.ends_with(".htm") {
        PartKind::Html
    } else {
        PartKind::Text
    };
    let user = templates.targets.iter().find(|target| {
        target.messages.iter().any(|message| {
            message
                .parts
                .iter()
                .any(|part| crate::template::base_name(&part.template) == template)
        })
    });
    let (file, message_type, event) = match user {
        Some(target) => (target.file, target.message_type, target.event.clone()),
        None => (
            crate::source::FileId(0),
            crate::model::MessageType::Transactional,
            None,
        ),
    };
    let declared = crate::source::Span::new(file, 0, 0);
    Target {
        kind: "template",
        name: format!("templates/{template}"),
        file,
        variant: None,
        step: None,
        message_type,
        offer: None,
        event,
        messages: vec![ChannelMessage {
            channel: "template",
            parts: vec![Part {
                kind,
                template: load_name(kind, template),
                declared,
            }],
            max_parts: None,
            declared,
            missing: Vec::new(),
        }],
    }
}
