//! The `whatsapp` provider: the WhatsApp Cloud API
//! (`POST {base}/{version}/{phone_number_id}/messages`, Bearer token, JSON)
//! to the contact's `whatsapp` number.
//!
//! # Template or text: the 24-hour rule
//!
//! WhatsApp lets a business send free text only inside the 24-hour
//! customer-service window that the customer's last message opened;
//! outside it only an approved template may be sent. herald decides per
//! message, when it is sent: the window is open when the contact has an
//! inbound event ([`WhatsappSettings::inbound_event`], by default
//! `whatsapp_inbound`, as the shop's backend or `herald serve` records it)
//! less than 24 hours before the runner's clock. Inside the window the
//! rendered text goes as a `text` message; otherwise (and when the store
//! knows of no inbound message) as the approved template
//! [`WhatsappSettings::template`] in [`WhatsappSettings::language`], the
//! rendered text being its one body parameter (`{{1}}`). Should WhatsApp
//! still answer 131047 (the window is over) to a text, the same attempt
//! sends the template instead: 131047 means nothing was delivered.
//!
//! Every request carries herald's message key in `biz_opaque_callback_data`
//! (up to 512 characters, else its SHA-256), which WhatsApp echoes in the
//! status webhooks that report the failures arriving later.
//!
//! # Errors
//!
//! `{"error": {"message", "type", "code", "error_data": {"details"}}}`,
//! mapped as PROVIDERS.md says: 130429 (throughput), 131056 (too many to
//! one user), 131057 (account in maintenance), 131000, 133004, 1, 2, 4 and
//! 80007 (rate and service limits) and HTTP 429/5xx are retried; 131026
//! (undeliverable: not a WhatsApp user) fails and suppresses the number;
//! 131047 (window over, a template was needed), 131048 (spam limit),
//! 131009, 131051, 132018 (a parameter's format) and other codes fail the
//! message; 131031 and 368 (the account is restricted), 0, 3, 10, 190 and
//! 200-299 (the token or its permissions), 132000 and 132001 (the template
//! does not exist or takes other parameters) stop the provider, since
//! every message would fail alike. No idempotency key, no status lookup.

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, SetupError, hex, http};

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";
/// The event type that opens the customer-service window by default.
pub const DEFAULT_INBOUND_EVENT: &str = "whatsapp_inbound";
/// How long the customer-service window stays open.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest text message body, in characters.
pub const TEXT_LIMIT: usize = 4096;
/// The longest template body, in characters: the body parameter must fit.
pub const TEMPLATE_PARAMETER_LIMIT: usize = 1024;
/// The longest `biz_opaque_callback_data`.
pub const CALLBACK_DATA_LIMIT: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatsappSettings {
    pub token: Credential,
    /// The sending number's id in the WhatsApp Business account.
    pub phone_number_id: String,
    /// The approved template sent outside the window.
    pub template: String,
    /// The template's language code (`ru`, `en_US`).
    pub language: String,
    pub inbound_event: String,
    pub base_url: String,
    pub api_version: String,
    pub timeout: Duration,
}

impl WhatsappSettings {
    pub fn new(
        token: Credential,
        phone_number_id: String,
        template: String,
        language: String,
    ) -> Self {
        WhatsappSettings {
            token,
            phone_number_id,
            template,
            language,
            inbound_event: DEFAULT_INBOUND_EVENT.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct WhatsappProvider {
    settings: WhatsappSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    messages: Vec<SentMessage>,
    #[serde(default)]
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

#[derive(Deserialize)]
struct ApiError {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: String,
}

/// Whether the message went, or is to go, as free text or as the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Text,
    Template,
}

impl WhatsappProvider {
    pub fn new(settings: WhatsappSettings) -> Result<WhatsappProvider, SetupError> {
        http::check_base_url("WhatsApp", &settings.base_url)?;
        let client = http::client(settings.timeout)?;
        Ok(WhatsappProvider { settings, client })
    }

    /// The event type whose latest occurrence opens the window.
    pub fn inbound_event(&self) -> &str {
        &self.settings.inbound_event
    }

    /// Whether a contact whose last inbound message was at `last_inbound`
    /// may get free text at `now` (unix seconds).
    pub fn window_open(last_inbound: Option<i64>, now: i64) -> bool {
        last_inbound.is_some_and(|at| at <= now && now - at < WINDOW.as_secs() as i64)
    }

    /// One attempt; `window_open` as [`Self::window_open`] decided it.
    pub async fn send(&self, message: &Message, window_open: bool) -> Outcome {
        if !window_open {
            return self.send_as(message, Form::Template).await;
        }
        match self.send_as(message, Form::Text).await {
            Outcome::Failed { reason, .. } if reason.starts_with("WhatsApp error 131047") => {
                self.send_as(message, Form::Template).await
            }
            outcome => outcome,
        }
    }

    /// The request body.
    pub fn body(&self, message: &Message, form: Form) -> serde_json::Value {
        let text = message.parts.text();
        let mut body = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.recipient,
            "biz_opaque_callback_data": callback_data(&message.key),
        });
        match form {
            Form::Text => {
                body["type"] = "text".into();
                body["text"] = serde_json::json!({"preview_url": false, "body": text});
            }
            Form::Template => {
                body["type"] = "template".into();
                body["template"] = serde_json::json!({
                    "name": self.settings.template,
                    "language": {"code": self.settings.language},
                    "components": [{
                        "type": "body",
                        "parameters": [{"type": "text", "text": text}],
                    }],
                });
            }
        }
        body
    }

    async fn send_as(&self, message: &Message, form: Form) -> Outcome {
        let url = http::join(
            &self.settings.base_url,
            &format!(
                "{}/{}/messages",
                self.settings.api_version, self.settings.phone_number_id
            ),
        );
        let request = self
            .client
            .post(url)
            .bearer_auth(self.settings.token.expose())
            .json(&self.body(message, form));
        let answered = match http::send(request).await {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        match answered.json::<Answer>() {
            Some(Answer {
                error: Some(error), ..
            }) => read_error(error, answered.retry_after),
            Some(Answer { messages, .. }) if (200..300).contains(&answered.status) => {
                match messages.into_iter().next() {
                    Some(sent) => Outcome::Sent {
                        provider_message_id: Some(sent.id),
                    },
                    None => answered.unreadable("WhatsApp"),
                }
            }
            _ => answered.unreadable("WhatsApp"),
        }
    }
}

/// herald's key as WhatsApp can carry it back.
pub fn callback_data(key: &str) -> String {
    if key.chars().count() <= CALLBACK_DATA_LIMIT {
        key.to_owned()
    } else {
        use sha2::Digest;
        format!("sha256:{}", hex(&sha2::Sha256::digest(key.as_bytes())))
    }
}

fn read_error(error: ApiError, retry_after: Option<Duration>) -> Outcome {
    let details = error
        .error_data
        .map(|data| data.details)
        .filter(|details| !details.is_empty())
        .map(|details| format!(" ({details})"))
        .unwrap_or_default();
    let reason = format!("WhatsApp error {}: {}{details}", error.code, error.message);
    match error.code {
        130429 | 131056 | 131057 | 131000 | 133004 | 1 | 2 | 4 | 80007 => Outcome::Retry {
            after: retry_after,
            reason,
        },
        131026 => Outcome::Failed {
            suppress: Some(reason.clone()),
            reason,
        },
        131031 | 368 | 0 | 3 | 10 | 190 | 200..=299 | 132000 | 132001 => Outcome::StopProvider {
            reason,
            resume_after: None,
        },
        _ => Outcome::Failed {
            reason,
            suppress: None,
        },
    }
}
