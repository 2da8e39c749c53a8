//! The `vk` provider: community messages through VK's `messages.send`
//! (`POST {base}/method/messages.send`, form-encoded, never JSON), to the
//! contact's `vk_id` as `peer_id`. Senler delivers through the same method.
//!
//! VK is the one provider here with a true idempotency key: `random_id` is
//! unique per sender over its whole history, and a repeated `random_id`
//! does not send again (the API answers the first message's id). herald
//! sends a stable 63-bit number derived from the message's key, the same
//! on every attempt, so a message whose answer was lost is simply sent
//! again ([`super::Client::honours_idempotency_key`]).
//!
//! Errors arrive inside HTTP 200 as `{"error": {"error_code",
//! "error_msg"}}`, mapped as PROVIDERS.md says: 1 (unknown), 6 (too many
//! requests a second), 9 (flood control) and 10 (internal) are retried;
//! 29 (the method's daily quota) stops the provider for
//! [`VkSettings::quota_pause`]; 5, 27 and 28 (the token is not valid), 15
//! (access denied) and 7 (no permission for the method) stop it until the
//! configuration is fixed; 901 (the user did not allow the community to
//! message them), 902 (privacy settings), 900 (the user blocked the
//! community) and 113 (no such user) fail the message and suppress the
//! address; other codes fail the message (100: a parameter, 914: too long,
//! 911/912: the keyboard).

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, SetupError, http};

pub const DEFAULT_BASE_URL: &str = "https://api.vk.com";
/// The API version herald speaks.
pub const DEFAULT_API_VERSION: &str = "5.199";
/// The longest `message` the method takes, in characters.
pub const TEXT_LIMIT: usize = 9000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VkSettings {
    /// A community access token with the `messages` right.
    pub token: Credential,
    pub base_url: String,
    pub api_version: String,
    pub timeout: Duration,
    /// How long to stop after error 29 (the daily quota): "for the day".
    pub quota_pause: Duration,
}

impl VkSettings {
    pub fn new(token: Credential) -> Self {
        VkSettings {
            token,
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
            quota_pause: Duration::from_secs(24 * 60 * 60),
        }
    }
}

#[derive(Debug)]
pub struct VkProvider {
    settings: VkSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    response: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    error_code: i64,
    #[serde(default)]
    error_msg: String,
}

impl VkProvider {
    pub fn new(settings: VkSettings) -> Result<VkProvider, SetupError> {
        http::check_base_url("VK", &settings.base_url)?;
        let client = http::client(settings.timeout)?;
        Ok(VkProvider { settings, client })
    }

    /// The `random_id` of a message: a stable positive 63-bit number
    /// derived from its idempotency key.
    pub fn random_id(message: &Message) -> i64 {
        super::key_number63(&message.key)
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let random_id = Self::random_id(message).to_string();
        let form = [
            ("access_token", self.settings.token.expose()),
            ("v", self.settings.api_version.as_str()),
            ("peer_id", message.recipient.as_str()),
            ("random_id", random_id.as_str()),
            ("message", message.parts.text()),
        ];
        let url = http::join(&self.settings.base_url, "method/messages.send");
        let answered = match http::send(self.client.post(url).form(&form)).await {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        match answered.json::<Answer>() {
            Some(Answer {
                error: Some(error), ..
            }) => self.error(error),
            Some(Answer {
                response: Some(id), ..
            }) => Outcome::Sent {
                provider_message_id: Some(match id {
                    serde_json::Value::String(id) => id,
                    other => other.to_string(),
                }),
            },
            _ => answered.unreadable("VK"),
        }
    }

    fn error(&self, error: ApiError) -> Outcome {
        let reason = format!("VK error {}: {}", error.error_code, error.error_msg);
        match error.error_code {
            // Too many requests a second: the next second will do.
            6 => Outcome::Retry {
                after: Some(Duration::from_secs(1)),
                reason,
            },
            1 | 9 | 10 => Outcome::Retry {
                after: None,
                reason,
            },
            29 => Outcome::StopProvider {
                reason,
                resume_after: Some(self.settings.quota_pause),
            },
            5 | 7 | 15 | 27 | 28 => Outcome::StopProvider {
                reason,
                resume_after: None,
            },
            113 | 900 | 901 | 902 => Outcome::Failed {
                suppress: Some(reason.clone()),
                reason,
            },
            _ => Outcome::Failed {
                reason,
                suppress: None,
            },
        }
    }
}
