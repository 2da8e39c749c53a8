//! The `viber` provider: the Viber REST Bot API's `send_message`
//! (`POST {base}/pa/send_message`, header `X-Viber-Auth-Token`, JSON
//! `receiver`, `type: text`, `text`, `sender.name`, `tracking_data`) to the
//! contact's `viber_id`. `tracking_data` carries herald's message key, which
//! Viber echoes in its callbacks.
//!
//! Every answer is HTTP 200 with a `status`: 0 is sent (`message_token`),
//! anything else an error, as the Bot API documents them:
//! - 2 (bad token), 7 (account blocked), 8 (account not found), 9 (account
//!   suspended), 10 (webhook not set: Viber refuses to send until it is),
//!   15 (account not authorised), 23 (free messages exceeded) and 24 (no
//!   balance) stop the provider;
//! - 5 (the receiver is not registered) and 6 (not subscribed to the
//!   account) fail the message and suppress the address;
//! - 11 (the receiver has no suitable device) fails it without suppressing
//!   (a device may come back);
//! - 12 (too many requests: over 100 an hour to a user who has not replied)
//!   retries after an hour;
//! - others (1 bad URL, 3 bad data, 4 missing data, 13/14 API version, 16-22)
//!   fail the message.
//!
//! Viber documents no idempotency key and no status lookup.

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, SetupError, http};

pub const DEFAULT_BASE_URL: &str = "https://chatapi.viber.com";
/// The longest `text`, in characters.
pub const TEXT_LIMIT: usize = 7000;
/// The longest `sender.name`, in characters.
pub const SENDER_NAME_LIMIT: usize = 28;
/// The header the token travels in.
pub const TOKEN_HEADER: &str = "X-Viber-Auth-Token";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViberSettings {
    pub token: Credential,
    /// `sender.name`: the viber channel's `from`.
    pub sender_name: String,
    pub base_url: String,
    pub timeout: Duration,
}

impl ViberSettings {
    pub fn new(token: Credential, sender_name: String) -> Self {
        ViberSettings {
            token,
            sender_name,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct ViberProvider {
    settings: ViberSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    status: i64,
    #[serde(default)]
    status_message: String,
    #[serde(default)]
    message_token: Option<serde_json::Value>,
}

impl ViberProvider {
    pub fn new(settings: ViberSettings) -> Result<ViberProvider, SetupError> {
        http::check_base_url("Viber", &settings.base_url)?;
        let client = http::client(settings.timeout)?;
        Ok(ViberProvider { settings, client })
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let body = serde_json::json!({
            "receiver": message.recipient,
            "type": "text",
            "text": message.parts.text(),
            "sender": {"name": self.settings.sender_name},
            "tracking_data": message.key,
        });
        let request = self
            .client
            .post(http::join(&self.settings.base_url, "pa/send_message"))
            .header(TOKEN_HEADER, self.settings.token.expose())
            .json(&body);
        let answered = match http::send(request).await {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        match answered.json::<Answer>() {
            Some(answer) if answer.status == 0 => Outcome::Sent {
                provider_message_id: answer.message_token.map(|token| match token {
                    serde_json::Value::String(token) => token,
                    other => other.to_string(),
                }),
            },
            Some(answer) => error(answer.status, &answer.status_message),
            None => answered.unreadable("Viber"),
        }
    }
}

fn error(status: i64, status_message: &str) -> Outcome {
    let reason = format!("Viber status {status}: {status_message}");
    match status {
        2 | 7 | 8 | 9 | 10 | 15 | 23 | 24 => Outcome::StopProvider {
            reason,
            resume_after: None,
        },
        5 | 6 => Outcome::Failed {
            suppress: Some(reason.clone()),
            reason,
        },
        12 => Outcome::Retry {
            after: Some(Duration::from_secs(60 * 60)),
            reason,
        },
        _ => Outcome::Failed {
            reason,
            suppress: None,
        },
    }
}
