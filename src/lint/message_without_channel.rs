//! A message written for a channel that the campaign or send step does not use.
//!
//! Not reported while `channels:` names an undeclared channel (R003
//! `unknown-channel`): the message is most likely the one it misspells.
//!
//! ## Why it matters
//! The message is never sent. Usually the channel was forgotten in
//! `channels:` (the SMS that was meant to go with the email), or the message
//! is left over from an earlier version.
//!
//! ## Example
//! ```yaml
//! channels: [email]
//! messages:
//!   email: {subject: "Скидки", html_file: promo.html}
//!   sms: {text: "-20% до воскресенья"}
//! ```
//!
//! ## Fix
//! ```yaml
//! channels: [email, sms]
//! ```
//! or delete the unused message.

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::loader::Definition;
use crate::model::Text;
use crate::yaml::Node;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for campaign in &context.project.campaigns {
        let value = &campaign.value;
        let mut sets = vec![(vec!["messages".to_string()], &value.messages)];
        for (index, variant) in value.variants.iter().enumerate() {
            sets.push((
                vec!["variants".into(), index.to_string(), "messages".into()],
                &variant.messages,
            ));
        }
        // With a misspelt channel in `channels:` (R003), the message is most
        // likely the one it meant: saying it is never sent repeats the typo.
        if !all_declared(context, &value.channels) {
            continue;
        }
        for (path, messages) in sets {
            for (name, _) in messages.by_channel() {
                if !value.channels.iter().any(|c| c.value == name) {
                    report(
                        out,
                        campaign_key(campaign, &path, name),
                        &value.channels,
                        name,
                        &format!("campaign `{}`", campaign.name),
                    );
                }
            }
        }
    }
    for journey in &context.project.journeys {
        for (index, step) in journey.value.steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            if !all_declared(context, &send.channels) {
                continue;
            }
            for (name, _) in send.messages.by_channel() {
                if !send.channels.iter().any(|c| c.value == name) {
                    let path = [
                        "steps".to_string(),
                        index.to_string(),
                        "send".into(),
                        "messages".into(),
                    ];
                    report(
                        out,
                        campaign_key(journey, &path, name),
                        &send.channels,
                        name,
                        &format!("step {} of journey `{}`", index + 1, journey.name),
                    );
                }
            }
        }
    }
}

fn all_declared(context: &Context, channels: &[Text]) -> bool {
    channels
        .iter()
        .all(|channel| context.channel_declared(&channel.value))
}

/// The span of the channel's key under `path` in the file, if found.
fn campaign_key<T>(
    definition: &Definition<T>,
    path: &[String],
    channel: &str,
) -> crate::source::Span {
    let mut node: Option<&Node> = Some(&definition.node);
    for step in path {
        node = node.and_then(|n| match &n.value {
            crate::yaml::Value::Sequence(items) => {
                step.parse::<usize>().ok().and_then(|i| items.get(i))
            }
            _ => n.entry(step).map(|(_, value)| value),
        });
    }
    node.and_then(|n| n.entry(channel)).map_or(
        crate::source::Span::new(definition.file, 0, 0),
        |(key, _)| key.span(definition.file),
    )
}

fn report(
    out: &mut Diagnostics,
    span: crate::source::Span,
    channels: &[Text],
    name: &str,
    what: &str,
) {
    let listed: Vec<&str> = channels.iter().map(|c| c.value.as_str()).collect();
    out.push(
        Diagnostic::new(
            Code::MessageWithoutChannel,
            span,
            format!("{what} has a `{name}` message but does not send on `{name}`"),
        )
        .label("never sent")
        .help(format!(
            "add `{name}` to `channels:` (now [{}]), or delete the message",
            listed.join(", ")
        )),
    );
}
