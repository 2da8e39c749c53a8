//! What a message on each provider may contain, as its documentation says
//! (PROVIDERS.md): the longest text, the largest message, the form of the
//! sender identity. `herald check` holds every rendered sample to the
//! profile of the provider its channel is routed to, and the manifest's
//! channel settings (`from`, `max_length`) to its sender rule and limits,
//! so a message the provider would refuse is found before a run.
//!
//! The numbers are the provider modules' own constants, the ones their
//! clients send by, so the check and the send cannot disagree.
//!
//! Sizes in bytes are not in the profile because no rendered message can
//! reach them: Unisender Go takes a 10 MB request (the classic `sendEmail`'s
//! 1 MB does not apply, herald does not call it) and a render stops at its
//! fuel (`template::FUEL`) long before; Viber's 30 KB request holds any
//! text within its 7000 characters.
//!
//! Buttons and keyboards are not in the profile: herald's messages carry
//! text only (no VK `keyboard`, no Telegram `reply_markup`), so there is
//! nothing of theirs to check yet. WhatsApp's `biz_opaque_callback_data`
//! (512 characters) carries herald's key, which [`super::whatsapp`] hashes
//! when longer, so no message can break that limit.

use std::ops::RangeInclusive;

use crate::channel::ChannelKind;
use crate::model::{Manifest, ProviderKind};

use super::{smsc, telegram, unisender, viber, vk, whatsapp};

/// One documented limit and the API field it applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    /// The request field, as the provider's documentation names it.
    pub field: &'static str,
}

/// What the sender identity (the channel's `from`) must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderForm {
    /// An email address, optionally with a display name: `Shop <hi@shop.example>`.
    Mailbox,
    /// A name whose length, in characters, is in the range.
    Name { length: RangeInclusive<usize> },
}

/// The sender identity a provider requires of the channels it delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderRule {
    /// The request field the channel's `from` becomes.
    pub field: &'static str,
    pub form: SenderForm,
}

/// What a message on one provider, for one channel, may contain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentProfile {
    /// The provider (and API) as messages name it: `Telegram`, `Unisender (sendSms)`.
    pub provider: &'static str,
    /// The longest text part, in characters.
    pub text: Option<Limit>,
    /// The longest text when it travels as an approved template's body
    /// parameter (WhatsApp outside the 24-hour window), which also may not
    /// contain line breaks, tabs or more than four spaces in a row.
    pub template_parameter: Option<Limit>,
    /// The channel's `from`, when the provider requires one.
    pub sender: Option<SenderRule>,
}

/// The channels a provider of `kind` can deliver; `None` for those that
/// pass any message on (`file`, `webhook`).
pub fn delivers(kind: ProviderKind) -> Option<&'static [ChannelKind]> {
    use ChannelKind as C;
    match kind {
        ProviderKind::File | ProviderKind::Webhook => None,
        ProviderKind::Smtp => Some(&[C::Email]),
        ProviderKind::Telegram => Some(&[C::Telegram]),
        ProviderKind::Smsc => Some(&[C::Sms]),
        ProviderKind::Unisender => Some(&[C::Email, C::Sms]),
        ProviderKind::Whatsapp => Some(&[C::Whatsapp]),
        ProviderKind::Viber => Some(&[C::Viber]),
        ProviderKind::Vk => Some(&[C::Vk]),
    }
}

impl ContentProfile {
    /// The profile of a provider of `kind` delivering `channel`'s messages.
    /// Providers that pass messages on unchanged (`file`, `webhook`) have an
    /// empty one: herald cannot know where they end up.
    pub fn of(kind: ProviderKind, channel: ChannelKind) -> ContentProfile {
        let name = |provider| ContentProfile {
            provider,
            ..ContentProfile::default()
        };
        match kind {
            ProviderKind::File | ProviderKind::Webhook => ContentProfile::default(),
            ProviderKind::Smtp => name("SMTP").sender("From", SenderForm::Mailbox),
            ProviderKind::Telegram => name("Telegram").text(telegram::TEXT_LIMIT, "text"),
            ProviderKind::Smsc => name("SMSC").text(smsc::TEXT_LIMIT, "mes"),
            // The client sends a message with a subject through Unisender
            // Go and any other through the classic `sendSms`.
            ProviderKind::Unisender if channel == ChannelKind::Email => {
                name("Unisender Go").sender("from_email", SenderForm::Mailbox)
            }
            ProviderKind::Unisender => name("Unisender (sendSms)")
                .text(unisender::SMS_TEXT_LIMIT, "text")
                .sender(
                    "sender",
                    SenderForm::Name {
                        length: unisender::SENDER_LENGTH,
                    },
                ),
            ProviderKind::Whatsapp => ContentProfile {
                template_parameter: Some(Limit {
                    max: whatsapp::TEMPLATE_PARAMETER_LIMIT,
                    field: "template body parameter",
                }),
                ..name("WhatsApp").text(whatsapp::TEXT_LIMIT, "text.body")
            },
            ProviderKind::Viber => name("Viber").text(viber::TEXT_LIMIT, "text").sender(
                "sender.name",
                SenderForm::Name {
                    length: 1..=viber::SENDER_NAME_LIMIT,
                },
            ),
            ProviderKind::Vk => name("VK").text(vk::TEXT_LIMIT, "message"),
        }
    }

    fn text(self, max: usize, field: &'static str) -> ContentProfile {
        ContentProfile {
            text: Some(Limit { max, field }),
            ..self
        }
    }

    fn sender(self, field: &'static str, form: SenderForm) -> ContentProfile {
        ContentProfile {
            sender: Some(SenderRule { field, form }),
            ..self
        }
    }

    /// The provider a declared channel is routed to, by its name under
    /// `providers:`, and its profile for that channel; `None` when the
    /// channel or its provider is not declared (reported elsewhere).
    pub fn for_channel(
        manifest: &Manifest,
        channel: ChannelKind,
    ) -> Option<(&str, ContentProfile)> {
        let provider = &manifest.channels.get(channel)?.provider.value;
        let (name, declared) = manifest
            .providers
            .iter()
            .find(|(name, _)| name.value == *provider)?;
        Some((
            &name.value,
            ContentProfile::of(declared.kind.value, channel),
        ))
    }

    /// Why `from` is not a sender this provider takes, if it is not.
    pub fn sender_problem(&self, from: &str) -> Option<String> {
        let rule = self.sender.as_ref()?;
        match &rule.form {
            SenderForm::Mailbox => {
                from.trim()
                    .parse::<lettre::message::Mailbox>()
                    .err()
                    .map(|_| {
                        format!("`{from}` is not an email address (`Name <address>` or `address`)")
                    })
            }
            SenderForm::Name { length } => {
                let count = from.chars().count();
                (!length.contains(&count)).then(|| {
                    let range = if *length.start() <= 1 {
                        format!("at most {}", length.end())
                    } else {
                        format!("{} to {}", length.start(), length.end())
                    };
                    format!(
                        "`{from}` has {count} characters, and `{}` takes {range}",
                        rule.field
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_held_to_the_documented_form() {
        let sms = ContentProfile::of(ProviderKind::Unisender, ChannelKind::Sms);
        assert_eq!(sms.sender_problem("LASTOCHKA"), None);
        assert!(sms.sender_problem("LA").is_some());
        assert!(sms.sender_problem("LASTOCHKA-SHOP").is_some());
        let viber = ContentProfile::of(ProviderKind::Viber, ChannelKind::Viber);
        assert_eq!(viber.sender_problem("Ласточка"), None);
        assert!(viber.sender_problem(&"Л".repeat(29)).is_some());
        let mail = ContentProfile::of(ProviderKind::Unisender, ChannelKind::Email);
        assert_eq!(mail.sender_problem("Ласточка <hi@lastochka.example>"), None);
        assert!(mail.sender_problem("Ласточка").is_some());
        let file = ContentProfile::of(ProviderKind::File, ChannelKind::Sms);
        assert_eq!(file.sender_problem(""), None);
    }
}
