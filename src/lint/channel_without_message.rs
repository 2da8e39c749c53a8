//! A channel listed for a campaign or send step that has no message for it.
//!
//! A channel that is not declared in `herald.yaml` is reported as R003
//! `unknown-channel` instead, not here.
//!
//! ## Why it matters
//! Contacts routed to that channel (the only one they are reachable on, or
//! every channel with `mode: all`) would get nothing, or the send would fail
//! at run time.
//!
//! ## Example
//! ```yaml
//! channels: [email, sms]
//! messages:
//!   email: {subject: "Скидки", html_file: promo.html}
//! ```
//!
//! ## Fix
//! ```yaml
//! channels: [email, sms]
//! messages:
//!   email: {subject: "Скидки", html_file: promo.html}
//!   sms: {text: "-20% до воскресенья: shop.example"}
//! ```

use super::Context;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::Messages;

pub(super) fn check(context: &Context, out: &mut Diagnostics) {
    for campaign in &context.project.campaigns {
        let value = &campaign.value;
        // An undeclared channel is R003's; "add a message for it" would be a schema error.
        for channel in value
            .channels
            .iter()
            .filter(|channel| context.channel_declared(&channel.value))
        {
            let has = |messages: &Messages| {
                messages
                    .by_channel()
                    .iter()
                    .any(|(name, _)| *name == channel.value)
            };
            let default = has(&value.messages);
            // Every variant must be able to send: its own message or the campaign's.
            let missing: Vec<&str> = value
                .variants
                .iter()
                .filter(|variant| !default && !has(&variant.messages))
                .map(|variant| variant.name.value.as_str())
                .collect();
            let no_message = if value.variants.is_empty() {
                !default
            } else {
                !missing.is_empty()
            };
            if no_message {
                let which = if missing.is_empty() || missing.len() == value.variants.len() {
                    String::new()
                } else {
                    format!(" in variant {}", missing.join(", "))
                };
                out.push(
                    Diagnostic::new(
                        Code::ChannelWithoutMessage,
                        channel.span(campaign.file),
                        format!(
                            "campaign `{}` sends on `{}` but has no message for it{which}",
                            campaign.name, channel.value
                        ),
                    )
                    .label("no message for this channel")
                    .help(format!(
                        "add `{}:` under `messages:`, or remove the channel",
                        channel.value
                    )),
                );
            }
        }
    }
    for journey in &context.project.journeys {
        for (index, step) in journey.value.steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            for channel in send
                .channels
                .iter()
                .filter(|channel| context.channel_declared(&channel.value))
            {
                if !send
                    .messages
                    .by_channel()
                    .iter()
                    .any(|(name, _)| *name == channel.value)
                {
                    out.push(
                        Diagnostic::new(
                            Code::ChannelWithoutMessage,
                            channel.span(journey.file),
                            format!(
                                "step {} of journey `{}` sends on `{}` but has no message for it",
                                index + 1,
                                journey.name,
                                channel.value
                            ),
                        )
                        .label("no message for this channel")
                        .help(format!(
                            "add `{}:` under `messages:`, or remove the channel",
                            channel.value
                        )),
                    );
                }
            }
        }
    }
}
