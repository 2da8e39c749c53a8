//! Delivery through messaging providers: one client per provider, each
//! turning a rendered [`Message`] into one attempt and its [`Outcome`].
//!
//! The runner owns everything around an attempt: the outbox, leases,
//! waiting ([`retry::Backoff`] computes how long, the runner sleeps), rate
//! limits and suppression. A client never sleeps, never retries and never
//! writes to the store; it only says what happened, in the vocabulary the
//! outbox states of SPEC section 8 need:
//!
//! - [`Outcome::Sent`]: the provider confirmed it;
//! - [`Outcome::Retry`]: a temporary refusal, nothing was delivered;
//! - [`Outcome::Failed`]: a permanent refusal of this message, possibly
//!   asking to suppress the address (Telegram 403, SMSC error 7, SMTP 550);
//! - [`Outcome::StopProvider`]: the provider refuses everything for now
//!   (credentials, money, quota): failing contact by contact would burn the
//!   whole audience on a configuration error;
//! - [`Outcome::Unknown`]: the request may have reached the provider (the
//!   connection broke or timed out after it left). Only a provider that
//!   [honours the idempotency key](Client::honours_idempotency_key) may
//!   be sent the message again; otherwise [`Client::reconcile`] asks the
//!   provider's status API, where one exists, or the message is reported.
//!
//! The manifest's provider declarations, typed, are in [`config`] (and
//! re-exported here): a [`Secret`] there is a reference to the environment,
//! resolved when a client is built. The value then travels as a
//! [`Credential`] (tokens, passwords, signing keys), which never appears in
//! a `Debug` output or in an outcome's reason.

pub mod config;
pub mod file;
mod http;
pub mod profile;
pub mod retry;
pub mod smsc;
pub mod smtp;
pub mod telegram;
pub mod unisender;
pub mod viber;
pub mod vk;
pub mod webhook;
pub mod whatsapp;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::config::{MissingSecret, Provider, ProviderConfig, Secret, env_variable};
pub use self::file::{FileProvider, FileSettings};
pub use self::profile::ContentProfile;
pub use self::retry::{Backoff, parse_retry_after};
pub use self::smsc::{SmscAuth, SmscProvider, SmscSettings};
pub use self::smtp::{SmtpProvider, SmtpSecurity, SmtpSettings};
pub use self::telegram::{TelegramProvider, TelegramSettings};
pub use self::unisender::{UnisenderProvider, UnisenderSettings};
pub use self::viber::{ViberProvider, ViberSettings};
pub use self::vk::{VkProvider, VkSettings};
pub use self::webhook::{WebhookProvider, WebhookSettings};
pub use self::whatsapp::{WhatsappProvider, WhatsappSettings};

/// One rendered message to one recipient, as the outbox holds it.
///
/// Its JSON form (used by the `file` provider's lines and the webhook body)
/// is the one SPEC section 11 promises: the key, the campaign or the
/// journey and step, the contact, the channel, the variant and the parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The deterministic idempotency key (SPEC section 8).
    pub key: String,
    #[serde(flatten)]
    pub origin: Origin,
    pub contact_id: String,
    /// The channel name as declared: `email`, `sms`, `telegram`, ...
    pub channel: String,
    #[serde(default)]
    pub variant: Option<String>,
    /// The address on that channel: an email address, an E.164 phone, a
    /// Telegram chat id.
    #[serde(rename = "to")]
    pub recipient: String,
    pub parts: Parts,
    /// Extra headers, such as `List-Unsubscribe`: SMTP writes them into the
    /// message, the webhook passes them in its body, others ignore them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Message {
    /// Adds the RFC 8058 one-click unsubscribe headers for an HTTPS address
    /// that accepts a POST.
    pub fn with_one_click_unsubscribe(mut self, url: &str) -> Self {
        self.headers
            .insert("List-Unsubscribe".to_owned(), format!("<{url}>"));
        self.headers.insert(
            "List-Unsubscribe-Post".to_owned(),
            "List-Unsubscribe=One-Click".to_owned(),
        );
        self
    }
}

/// What a message belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Origin {
    Journey { journey: String, step: String },
    Campaign { campaign: String },
}

/// The rendered content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Parts {
    Email {
        subject: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<String>,
    },
    /// SMS and messengers.
    Text { text: String },
}

impl Parts {
    /// The plain text every channel has.
    pub fn text(&self) -> &str {
        match self {
            Parts::Email { text, .. } | Parts::Text { text } => text,
        }
    }
}

/// What one attempt to deliver a message came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message.
    Sent { provider_message_id: Option<String> },
    /// A temporary refusal: nothing was delivered, try again (after the
    /// provider's hint, when it gave one, else after the backoff).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// A permanent refusal of this message. `suppress` carries the reason
    /// when the refusal is about the address itself, which the runner then
    /// suppresses on that channel.
    Failed {
        reason: String,
        suppress: Option<String>,
    },
    /// The provider refuses everything for now; `resume_after` when it said
    /// (or its documentation says) for how long, else until an operator
    /// fixes the configuration.
    StopProvider {
        reason: String,
        resume_after: Option<Duration>,
    },
    /// The request may have reached the provider.
    Unknown { reason: String },
}

impl Outcome {
    /// Why, in words, for the outbox's last error; empty for a send.
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Sent { .. } => "",
            Outcome::Retry { reason, .. }
            | Outcome::Failed { reason, .. }
            | Outcome::StopProvider { reason, .. }
            | Outcome::Unknown { reason } => reason,
        }
    }
}

/// A configuration the client cannot be built with (a malformed address, a
/// plain-text SMTP connection to a remote host): reported before any send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// A secret's value ([`Secret::resolve`]). Its `Debug` does not show it, so
/// settings can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    pub fn new(value: impl Into<String>) -> Self {
        Credential(value.into())
    }

    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(..)")
    }
}

/// A client for one configured provider. An enum rather than a trait object
/// so the runner can hold any of them and call `async` methods without
/// boxing.
#[derive(Debug)]
pub enum Client {
    File(FileProvider),
    Webhook(WebhookProvider),
    Telegram(TelegramProvider),
    Smsc(SmscProvider),
    Smtp(SmtpProvider),
    Unisender(UnisenderProvider),
    Vk(VkProvider),
    Whatsapp(WhatsappProvider),
    Viber(ViberProvider),
}

impl Client {
    /// The provider kind as the manifest spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Client::File(_) => "file",
            Client::Webhook(_) => "webhook",
            Client::Telegram(_) => "telegram",
            Client::Smsc(_) => "smsc",
            Client::Smtp(_) => "smtp",
            Client::Unisender(_) => "unisender",
            Client::Vk(_) => "vk",
            Client::Whatsapp(_) => "whatsapp",
            Client::Viber(_) => "viber",
        }
    }

    /// Whether sending the same key twice delivers once: then an
    /// [`Outcome::Unknown`] may simply be sent again.
    pub fn honours_idempotency_key(&self) -> bool {
        matches!(self, Client::File(_) | Client::Webhook(_) | Client::Vk(_))
    }

    /// The event type whose latest occurrence for the contact opens a
    /// conversation window (WhatsApp's 24 hours), for the providers whose
    /// messages depend on one: the runner looks it up before
    /// [`Client::send_in_window`].
    pub fn inbound_event(&self) -> Option<&str> {
        match self {
            Client::Whatsapp(provider) => Some(provider.inbound_event()),
            _ => None,
        }
    }

    /// One attempt, with no conversation window open.
    pub async fn send(&self, message: &Message) -> Outcome {
        self.send_in_window(message, false).await
    }

    /// One attempt; `window_open` says whether the contact wrote within the
    /// window (see [`whatsapp`]); other providers ignore it.
    pub async fn send_in_window(&self, message: &Message, window_open: bool) -> Outcome {
        match self {
            Client::File(provider) => provider.send(message),
            Client::Webhook(provider) => provider.send(message).await,
            Client::Telegram(provider) => provider.send(message).await,
            Client::Smsc(provider) => provider.send(message).await,
            Client::Smtp(provider) => provider.send(message).await,
            Client::Unisender(provider) => provider.send(message).await,
            Client::Vk(provider) => provider.send(message).await,
            Client::Whatsapp(provider) => provider.send(message, window_open).await,
            Client::Viber(provider) => provider.send(message).await,
        }
    }

    /// Asks the provider what became of a message whose outcome was
    /// [`Outcome::Unknown`]. `None` when the provider has no way to tell
    /// (no status API); a provider that honours the key is better asked by
    /// sending again.
    /// Whether [`Client::reconcile`] can find out what became of a message.
    pub fn can_reconcile(&self) -> bool {
        matches!(self, Client::Smsc(_) | Client::File(_))
    }

    pub async fn reconcile(&self, message: &Message) -> Option<Outcome> {
        match self {
            Client::Smsc(provider) => Some(provider.reconcile(message).await),
            Client::File(provider) => Some(provider.reconcile(message)),
            // VK is asked by sending again: a repeated `random_id` answers
            // the first message's id. Unisender's `sendSms` takes no id of
            // herald's choosing, so a lost answer leaves nothing to look up.
            Client::Webhook(_)
            | Client::Telegram(_)
            | Client::Smtp(_)
            | Client::Unisender(_)
            | Client::Vk(_)
            | Client::Whatsapp(_)
            | Client::Viber(_) => None,
        }
    }
}

/// A stable 31-bit positive number derived from an idempotency key, for the
/// providers that take a numeric message id of the client's choosing.
pub(crate) fn key_number(key: &str) -> u32 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let number = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff;
    number.max(1)
}

/// A stable positive 63-bit number derived from an idempotency key, for
/// VK's `random_id` (unique per sender over its whole history).
pub(crate) fn key_number63(key: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    (i64::from_be_bytes(bytes) & i64::MAX).max(1)
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Decodes lower- or upper-case hexadecimal; `None` for anything else.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}
