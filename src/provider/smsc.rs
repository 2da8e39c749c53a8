//! The `smsc` provider: SMSC.ru's HTTP API, `POST {base}/sys/send.php`
//! with `fmt=3` (JSON answers) and `charset=utf-8`, one phone a request.
//!
//! SMSC has no idempotency key, but `send.php` takes an `id` of the
//! client's choosing and `status.php` looks a message up by that `id` and
//! the phone. herald sends a stable number derived from the message's key
//! (the same on every attempt), so an unknown outcome can be reconciled
//! without knowing the answer that was lost.
//!
//! Error codes, as PROVIDERS.md maps them: 1 (parameters), 2 (login), 3
//! (no money) and 5 (date) stop the provider; 4 (the IP is blocked for a
//! while) stops it for [`SmscSettings::blocked_pause`]; 6 (text or sender
//! forbidden) and 8 (undeliverable) fail the message; 7 (bad number) fails
//! it and suppresses the phone; 9 (the same message to the same phone
//! within a minute) means it was probably sent already: the status is
//! asked, and the message is never sent again.

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, SetupError, http, key_number};

pub const DEFAULT_BASE_URL: &str = "https://smsc.ru";
/// The longest `mes` that `send.php` takes, in characters.
pub const TEXT_LIMIT: usize = 1000;

/// How herald signs in: a login and password, or an API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmscAuth {
    Login { login: String, password: Credential },
    ApiKey(Credential),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmscSettings {
    pub auth: SmscAuth,
    /// The sender name registered with SMSC; its default when absent.
    pub sender: Option<String>,
    /// `https://smsc.ru`, its backup host, or a test's fake.
    pub base_url: String,
    pub timeout: Duration,
    /// How long to stop after error 4. SMSC does not say how long a block
    /// lasts; its FAQ speaks of minutes.
    pub blocked_pause: Duration,
}

impl SmscSettings {
    pub fn new(auth: SmscAuth) -> Self {
        SmscSettings {
            auth,
            sender: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(30),
            blocked_pause: Duration::from_secs(10 * 60),
        }
    }
}

#[derive(Debug)]
pub struct SmscProvider {
    settings: SmscSettings,
    client: reqwest::Client,
}

/// Either answer of `send.php` or `status.php` with `fmt=3`.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    status: Option<i64>,
}

/// What `status.php` said about a message.
enum Status {
    Known(Outcome),
    /// SMSC has no message with this id and phone.
    NotFound,
    /// The lookup itself failed.
    Unavailable(String),
}

impl SmscProvider {
    pub fn new(settings: SmscSettings) -> Result<SmscProvider, SetupError> {
        reqwest::Url::parse(&settings.base_url)
            .map_err(|error| SetupError(format!("the SMSC base URL is not valid: {error}")))?;
        let client = http::client(settings.timeout)?;
        Ok(SmscProvider { settings, client })
    }

    /// The `id` herald gives this message at SMSC.
    pub fn message_id(message: &Message) -> u32 {
        key_number(&message.key)
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let id = Self::message_id(message).to_string();
        let mut form = self.auth_fields();
        form.extend([
            ("phones", message.recipient.as_str()),
            ("mes", message.parts.text()),
            ("id", id.as_str()),
            ("fmt", "3"),
            ("charset", "utf-8"),
            // Adds the price and the balance to the answer.
            ("cost", "3"),
        ]);
        if let Some(sender) = &self.settings.sender {
            form.push(("sender", sender));
        }
        let answer = match self.call("send.php", &form).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        match (answer.error_code, &answer.id) {
            (None, Some(id)) => Outcome::Sent {
                provider_message_id: Some(id_text(id)),
            },
            (Some(9), _) => match self.status(message).await {
                Status::Known(outcome) => outcome,
                Status::NotFound => Outcome::Unknown {
                    reason: "SMSC error 9 (the same message within a minute), and no message \
                             with herald's id: not sent again"
                        .to_owned(),
                },
                Status::Unavailable(reason) => Outcome::Unknown {
                    reason: format!(
                        "SMSC error 9 (the same message within a minute), status unknown: {reason}"
                    ),
                },
            },
            (Some(code), _) => send_error(code, &answer, self.settings.blocked_pause),
            (None, None) => Outcome::Unknown {
                reason: "SMSC answered without an id or an error".to_owned(),
            },
        }
    }

    /// Looks the message up by herald's id and the phone. A message SMSC
    /// does not know was never accepted and may be sent again; the runner
    /// should reconcile only after the timeout of the lost request has
    /// passed, so the lookup does not overtake it.
    pub async fn reconcile(&self, message: &Message) -> Outcome {
        match self.status(message).await {
            Status::Known(outcome) => outcome,
            Status::NotFound => Outcome::Retry {
                after: None,
                reason: "SMSC has no message with herald's id: it was not accepted".to_owned(),
            },
            Status::Unavailable(reason) => Outcome::Unknown { reason },
        }
    }

    async fn status(&self, message: &Message) -> Status {
        let id = Self::message_id(message).to_string();
        let mut form = self.auth_fields();
        form.extend([
            ("phone", message.recipient.as_str()),
            ("id", id.as_str()),
            ("fmt", "3"),
            ("charset", "utf-8"),
        ]);
        let answer = match self.call("status.php", &form).await {
            Ok(answer) => answer,
            Err(outcome) => return Status::Unavailable(outcome.reason().to_owned()),
        };
        if let Some(code) = answer.error_code {
            return Status::Unavailable(format!(
                "SMSC status error {code}: {}",
                answer.error.as_deref().unwrap_or("")
            ));
        }
        let Some(status) = answer.status else {
            return Status::Unavailable("SMSC answered the status without one".to_owned());
        };
        let reason = |what: &str| format!("SMSC status {status}: {what}");
        Status::Known(match status {
            -3 => return Status::NotFound,
            // Waiting, handed to the operator, delivered, read, link opened.
            -1 | 0 | 1 | 2 | 4 => Outcome::Sent {
                provider_message_id: Some(id),
            },
            22 => Outcome::Failed {
                reason: reason("invalid number"),
                suppress: Some(reason("invalid number")),
            },
            24 => Outcome::StopProvider {
                reason: reason("not enough money"),
                resume_after: None,
            },
            3 | 20 | 23 | 25 => Outcome::Failed {
                reason: reason("not delivered"),
                suppress: None,
            },
            _ => return Status::Unavailable(reason("not understood")),
        })
    }

    fn auth_fields(&self) -> Vec<(&'static str, &str)> {
        match &self.settings.auth {
            SmscAuth::Login { login, password } => {
                vec![("login", login.as_str()), ("psw", password.expose())]
            }
            SmscAuth::ApiKey(key) => vec![("apikey", key.expose())],
        }
    }

    /// POSTs the form (credentials stay out of URLs and logs) and reads the
    /// JSON answer; an outcome when there is no readable answer.
    async fn call(&self, script: &str, form: &[(&str, &str)]) -> Result<Answer, Outcome> {
        let url = format!(
            "{}/sys/{script}",
            self.settings.base_url.trim_end_matches('/')
        );
        let response = self
            .client
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(http::transport_outcome)?;
        let status = response.status();
        let retry_after = http::retry_after(&response);
        let body = response.text().await.unwrap_or_default();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Outcome::Retry {
                after: retry_after,
                reason: format!("SMSC answered {status}: {}", http::excerpt(&body)),
            });
        }
        serde_json::from_str(&body).map_err(|_| Outcome::Unknown {
            reason: format!("SMSC answered {status}: {}", http::excerpt(&body)),
        })
    }
}

fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(id) => id.clone(),
        other => other.to_string(),
    }
}

fn send_error(code: i64, answer: &Answer, blocked_pause: Duration) -> Outcome {
    let reason = format!(
        "SMSC error {code}: {}",
        answer.error.as_deref().unwrap_or("")
    );
    match code {
        1 | 2 | 3 | 5 => Outcome::StopProvider {
            reason,
            resume_after: None,
        },
        4 => Outcome::StopProvider {
            reason,
            resume_after: Some(blocked_pause),
        },
        6 | 8 => Outcome::Failed {
            reason,
            suppress: None,
        },
        7 => Outcome::Failed {
            suppress: Some(format!("invalid phone number ({reason})")),
            reason,
        },
        // A code this client does not know: not sent, and perhaps passing.
        _ => Outcome::Retry {
            after: None,
            reason,
        },
    }
}
