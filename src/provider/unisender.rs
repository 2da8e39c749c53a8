//! The `unisender` provider: email through Unisender Go's transactional
//! API, SMS through the classic API's `sendSms`, delivery status through
//! `checkSms`. Which one a message takes follows from its parts (an email
//! has a subject). Unisender Go and the classic API have separate keys, so
//! a shop that sends both declares two `unisender` providers, one per
//! channel, each with its key.
//!
//! # Email: Unisender Go
//!
//! `POST {base}/ru/transactional/api/v1/email/send.json`, header
//! `X-API-KEY`, one recipient a request, herald's key in the recipient's
//! `metadata.herald_key` (Go returns it in its webhooks). The answer lists
//! the address under `emails` (sent) or `failed_emails` with a reason:
//! `invalid`, `permanent_unavailable` and `unsubscribed` fail and suppress
//! the address, `temporary_unavailable` is retried, `duplicate` fails
//! without suppressing (it was, or is being, sent). HTTP 401/403 stop the
//! provider, 429 and 5xx retry, other 4xx fail the message.
//!
//! # SMS: the classic API
//!
//! `POST {base}/ru/api/sendSms?format=json` with `api_key`, `phone` (digits,
//! no `+`), `sender` (the sms channel's `from`, 3-11 characters) and `text`
//! (up to 1000 characters). `{"result": {"sms_id", "price", "currency"}}`
//! is sent; `{"error", "code"}` is mapped: `invalid_api_key`,
//! `access_denied`, `not_enough_money` and `src_invalid` (the sender) stop
//! the provider, `dest_invalid` fails and suppresses the number,
//! `retry_later` and the `api_call_limit_exceeded_*` codes retry (after a
//! minute), `invalid_arg` fails the message, others retry.
//!
//! Unisender documents no idempotency key and `sendSms` takes no id of the
//! client's choosing, so a message whose answer was lost cannot be looked
//! up (there is no `sms_id` to ask about) and stays unknown. `checkSms`
//! reads what became of a sent SMS ([`UnisenderProvider::sms_status`],
//! which the runner asks after its deliveries: `crate::run::statuses`):
//! `ok_sent` is not final, `ok_delivered` delivered, `err_dest_invalid`
//! failed with the number suppressed, `err_delivery_failed` and
//! `err_not_allowed` failed.

use std::time::Duration;

use serde::Deserialize;

use super::{Credential, Message, Outcome, Parts, SetupError, http};

pub const DEFAULT_BASE_URL: &str = "https://api.unisender.com";
pub const DEFAULT_GO_BASE_URL: &str = "https://go1.unisender.ru";
/// The longest SMS text `sendSms` takes, in characters.
pub const SMS_TEXT_LIMIT: usize = 1000;
/// The SMS sender name's length, in characters.
pub const SENDER_LENGTH: std::ops::RangeInclusive<usize> = 3..=11;
/// The largest email Unisender Go takes (the whole JSON request).
pub const EMAIL_SIZE_LIMIT: usize = 10 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnisenderSettings {
    pub api_key: Credential,
    /// Overrides both APIs' address (a test's fake).
    pub base_url: Option<String>,
    /// The email channel's `from` address and display name.
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    /// The sms channel's `from`.
    pub sms_sender: Option<String>,
    pub timeout: Duration,
}

impl UnisenderSettings {
    pub fn new(api_key: Credential) -> Self {
        UnisenderSettings {
            api_key,
            base_url: None,
            from_email: None,
            from_name: None,
            sms_sender: None,
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct UnisenderProvider {
    settings: UnisenderSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct GoAnswer {
    #[serde(default)]
    status: String,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    failed_emails: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ClassicAnswer {
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// What `checkSms` said of a sent SMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsStatus {
    /// Handed on, not final yet (`ok_sent`).
    Pending,
    Delivered,
    /// Not delivered; `suppress` when the number itself is bad.
    Failed {
        reason: String,
        suppress: bool,
    },
}

impl UnisenderProvider {
    pub fn new(settings: UnisenderSettings) -> Result<UnisenderProvider, SetupError> {
        if let Some(url) = &settings.base_url {
            http::check_base_url("Unisender", url)?;
        }
        let client = http::client(settings.timeout)?;
        Ok(UnisenderProvider { settings, client })
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        match &message.parts {
            Parts::Email {
                subject,
                text,
                html,
            } => {
                self.send_email(message, subject, text, html.as_deref())
                    .await
            }
            Parts::Text { text } => self.send_sms(message, text).await,
        }
    }

    fn base(&self, default: &str) -> String {
        self.settings
            .base_url
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }

    async fn send_email(
        &self,
        message: &Message,
        subject: &str,
        text: &str,
        html: Option<&str>,
    ) -> Outcome {
        let Some(from_email) = &self.settings.from_email else {
            return Outcome::StopProvider {
                reason: "Unisender Go needs the email channel's `from` address".to_owned(),
                resume_after: None,
            };
        };
        let mut body = serde_json::json!({"plaintext": text});
        if let Some(html) = html {
            body["html"] = html.into();
        }
        let mut email = serde_json::json!({
            "recipients": [{
                "email": message.recipient,
                "metadata": {"herald_key": message.key},
            }],
            "subject": subject,
            "from_email": from_email,
            "body": body,
        });
        if let Some(name) = &self.settings.from_name {
            email["from_name"] = name.as_str().into();
        }
        if !message.headers.is_empty() {
            email["headers"] = serde_json::json!(message.headers);
        }
        let url = http::join(
            &self.base(DEFAULT_GO_BASE_URL),
            "ru/transactional/api/v1/email/send.json",
        );
        let request = self
            .client
            .post(url)
            .header("X-API-KEY", self.settings.api_key.expose())
            .json(&serde_json::json!({"message": email}));
        let answered = match http::send(request).await {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        let answer = answered.json::<GoAnswer>();
        if !(200..300).contains(&answered.status) {
            let detail = answer
                .and_then(|answer| answer.message)
                .unwrap_or_else(|| http::excerpt(&answered.body));
            let reason = format!("Unisender Go answered {}: {detail}", answered.status);
            return match answered.status {
                401 | 403 => Outcome::StopProvider {
                    reason,
                    resume_after: None,
                },
                429 | 500..=599 => Outcome::Retry {
                    after: answered.retry_after,
                    reason,
                },
                _ => Outcome::Failed {
                    reason,
                    suppress: None,
                },
            };
        }
        let Some(answer) = answer.filter(|answer| answer.status == "success") else {
            return answered.unreadable("Unisender Go");
        };
        let address = message.recipient.as_str();
        if let Some(why) = answer
            .failed_emails
            .iter()
            .find(|(email, _)| email.eq_ignore_ascii_case(address))
            .map(|(_, why)| why.as_str().unwrap_or_default().to_owned())
        {
            let reason = format!("Unisender Go did not send to the address: {why}");
            return match why.as_str() {
                "invalid" | "permanent_unavailable" | "unsubscribed" => Outcome::Failed {
                    suppress: Some(reason.clone()),
                    reason,
                },
                "temporary_unavailable" => Outcome::Retry {
                    after: None,
                    reason,
                },
                _ => Outcome::Failed {
                    reason,
                    suppress: None,
                },
            };
        }
        if answer
            .emails
            .iter()
            .any(|email| email.eq_ignore_ascii_case(address))
        {
            Outcome::Sent {
                provider_message_id: answer.job_id,
            }
        } else {
            answered.unreadable("Unisender Go")
        }
    }

    async fn send_sms(&self, message: &Message, text: &str) -> Outcome {
        let phone = message.recipient.trim_start_matches('+');
        let mut form = vec![("phone", phone), ("text", text)];
        if let Some(sender) = &self.settings.sms_sender {
            form.push(("sender", sender));
        }
        let answer = match self.call("sendSms", &form).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        if let Some(code) = &answer.code {
            return classic_error(code, answer.error.as_deref().unwrap_or(""));
        }
        match answer
            .result
            .as_ref()
            .and_then(|result| result.get("sms_id"))
        {
            Some(id) => Outcome::Sent {
                provider_message_id: Some(match id {
                    serde_json::Value::String(id) => id.clone(),
                    other => other.to_string(),
                }),
            },
            None => Outcome::Unknown {
                reason: "Unisender answered sendSms without an sms_id or an error".to_owned(),
            },
        }
    }

    /// What became of a sent SMS, by its `sms_id`; `Err` with the reason
    /// when Unisender could not say.
    pub async fn sms_status(&self, sms_id: &str) -> Result<SmsStatus, String> {
        let answer = self
            .call("checkSms", &[("sms_id", sms_id)])
            .await
            .map_err(|outcome| outcome.reason().to_owned())?;
        if let Some(code) = answer.code {
            return Err(format!(
                "Unisender checkSms error {code}: {}",
                answer.error.unwrap_or_default()
            ));
        }
        let status = answer
            .result
            .as_ref()
            .and_then(|result| result.get("status"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let failed = |suppress| SmsStatus::Failed {
            reason: format!("Unisender SMS status {status}"),
            suppress,
        };
        Ok(match status.as_str() {
            "ok_sent" => SmsStatus::Pending,
            "ok_delivered" => SmsStatus::Delivered,
            "err_dest_invalid" => failed(true),
            "err_delivery_failed" | "err_not_allowed" => failed(false),
            _ => return Err(format!("Unisender SMS status not understood: {status:?}")),
        })
    }

    /// Calls a classic API method; the key goes in the form body, never in
    /// a URL that could be logged.
    async fn call(&self, method: &str, form: &[(&str, &str)]) -> Result<ClassicAnswer, Outcome> {
        let url = http::join(
            &self.base(DEFAULT_BASE_URL),
            &format!("ru/api/{method}?format=json"),
        );
        let mut fields = vec![("api_key", self.settings.api_key.expose())];
        fields.extend_from_slice(form);
        let answered = http::send(self.client.post(url).form(&fields)).await?;
        match answered.json::<ClassicAnswer>() {
            Some(answer) if answer.result.is_some() || answer.code.is_some() => Ok(answer),
            _ => Err(answered.unreadable("Unisender")),
        }
    }
}

fn classic_error(code: &str, error: &str) -> Outcome {
    let reason = format!("Unisender error {code}: {error}");
    match code {
        "invalid_api_key" | "access_denied" | "not_enough_money" | "src_invalid" => {
            Outcome::StopProvider {
                reason,
                resume_after: None,
            }
        }
        "dest_invalid" => Outcome::Failed {
            suppress: Some(reason.clone()),
            reason,
        },
        "invalid_arg" => Outcome::Failed {
            reason,
            suppress: None,
        },
        code if code == "retry_later" || code.starts_with("api_call_limit_exceeded") => {
            Outcome::Retry {
                after: Some(Duration::from_secs(60)),
                reason,
            }
        }
        _ => Outcome::Retry {
            after: None,
            reason,
        },
    }
}

/// The address and display name of a `from` such as `Shop <news@shop.ru>`.
pub fn split_from(from: &str) -> (String, Option<String>) {
    match (from.find('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = from[..open].trim().trim_matches('"').trim();
            (
                from[open + 1..close].trim().to_owned(),
                (!name.is_empty()).then(|| name.to_owned()),
            )
        }
        _ => (from.trim().to_owned(), None),
    }
}
