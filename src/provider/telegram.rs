//! The `telegram` provider: the Bot API's `sendMessage`
//! (`POST {base}/bot{token}/sendMessage`, JSON `chat_id`, `text` and an
//! optional `parse_mode`), to the chat id the contact gave.
//!
//! Answers, as the Bot API documents them (PROVIDERS.md): `{"ok": true,
//! "result": {"message_id": ...}}`, or `{"ok": false, "error_code",
//! "description", "parameters": {"retry_after"}}`. 429 waits
//! `retry_after`; 403 (the bot was blocked, the user is deactivated) and
//! 400 "chat not found" fail for good and suppress the chat; other 400s
//! fail the message; 401 and 404 (a wrong token) stop the provider; 5xx
//! retry. The Bot API has no idempotency key and no status lookup.
//!
//! The token is part of the URL, so no URL is ever put in a reason.

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, SetupError, http};

pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";
/// The longest `text` of `sendMessage`, in characters.
pub const TEXT_LIMIT: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramSettings {
    pub token: Credential,
    /// `https://api.telegram.org`, or a local Bot API server (or a test's
    /// fake).
    pub base_url: String,
    /// `HTML` or `MarkdownV2` when the rendered text uses markup.
    pub parse_mode: Option<String>,
    pub timeout: Duration,
}

impl TelegramSettings {
    pub fn new(token: Credential) -> Self {
        TelegramSettings {
            token,
            base_url: DEFAULT_BASE_URL.to_owned(),
            parse_mode: None,
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct TelegramProvider {
    settings: TelegramSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Option<SentMessage>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

impl TelegramProvider {
    pub fn new(settings: TelegramSettings) -> Result<TelegramProvider, SetupError> {
        reqwest::Url::parse(&settings.base_url)
            .map_err(|error| SetupError(format!("the Telegram base URL is not valid: {error}")))?;
        let client = http::client(settings.timeout)?;
        Ok(TelegramProvider { settings, client })
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.token.expose()
        );
        let mut body = serde_json::json!({
            "chat_id": message.recipient,
            "text": message.parts.text(),
        });
        if let Some(parse_mode) = &self.settings.parse_mode {
            body["parse_mode"] = serde_json::Value::from(parse_mode.as_str());
        }
        let response = match self.client.post(url).json(&body).send().await {
            Ok(response) => response,
            Err(error) => return http::transport_outcome(error),
        };
        let status = response.status().as_u16();
        let retry_after = http::retry_after(&response);
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Answer>(&text) {
            Ok(answer) => read_answer(status, answer, retry_after),
            Err(_) if (200..300).contains(&status) => Outcome::Unknown {
                reason: format!("Telegram answered {status} with an unreadable body"),
            },
            Err(_) => read_error(status, &http::excerpt(&text), retry_after),
        }
    }
}

fn read_answer(status: u16, answer: Answer, header_retry_after: Option<Duration>) -> Outcome {
    if answer.ok {
        return Outcome::Sent {
            provider_message_id: answer.result.map(|sent| sent.message_id.to_string()),
        };
    }
    let retry_after = answer
        .parameters
        .and_then(|parameters| parameters.retry_after)
        .map(Duration::from_secs)
        .or(header_retry_after);
    read_error(
        answer.error_code.unwrap_or(status),
        answer.description.as_deref().unwrap_or(""),
        retry_after,
    )
}

fn read_error(code: u16, description: &str, retry_after: Option<Duration>) -> Outcome {
    let reason = format!("Telegram error {code}: {description}");
    match code {
        429 | 500..=599 => Outcome::Retry {
            after: retry_after,
            reason,
        },
        // The address itself is gone: the bot was blocked, the user
        // deactivated, or the chat never existed.
        400 | 403 if code == 403 || description.to_lowercase().contains("chat not found") => {
            Outcome::Failed {
                suppress: Some(reason.clone()),
                reason,
            }
        }
        401 | 404 => Outcome::StopProvider {
            reason,
            resume_after: None,
        },
        _ => Outcome::Failed {
            reason,
            suppress: None,
        },
    }
}
