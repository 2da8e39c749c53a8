//! The `webhook` provider: each message is POSTed as JSON ([`Message`]'s
//! JSON form, SPEC section 11) to the configured URL.
//!
//! # What the receiver gets
//!
//! - `Content-Type: application/json`, the body as above.
//! - `Idempotency-Key: <herald's key>`: the same key may arrive more than
//!   once (a retry after a lost answer); the receiver must deliver it once.
//!   This is why herald may send a webhook message again after an unknown
//!   outcome.
//! - `Herald-Signature: t=<unix seconds>,v1=<hex>`, when a secret is set:
//!   `v1` is HMAC-SHA256 under the secret of the timestamp, a `.` and the
//!   raw body bytes (`"{t}.{body}"`), as Stripe signs its webhooks. The
//!   receiver recomputes it, compares in constant time, and rejects a
//!   timestamp too far from its clock, so a captured request cannot be
//!   replayed later. [`verify_signature`] does exactly that.
//! - `Authorization: Bearer <token>`, when a token is set.
//!
//! # How the answer is read
//!
//! 2xx sent (an `id` in a JSON answer becomes the provider's message id);
//! 429 and 503 retry after `Retry-After`; 408 and other 5xx retry; 401 and
//! 403 stop the provider (the secret or token is wrong for every message);
//! 3xx stop it too (the URL is wrong: redirects are not followed); any
//! other 4xx fails the message permanently.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{Credential, Message, Outcome, SetupError, hex, http, unhex};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Herald-Signature";
/// The header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    pub url: String,
    /// The HMAC signing secret.
    pub secret: Option<Credential>,
    /// A bearer token for receivers that want one.
    pub token: Option<Credential>,
    /// How long one request may take, answer included.
    pub timeout: Duration,
}

impl WebhookSettings {
    pub fn new(url: impl Into<String>) -> Self {
        WebhookSettings {
            url: url.into(),
            secret: None,
            token: None,
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct WebhookProvider {
    settings: WebhookSettings,
    client: reqwest::Client,
}

impl WebhookProvider {
    pub fn new(settings: WebhookSettings) -> Result<WebhookProvider, SetupError> {
        reqwest::Url::parse(&settings.url)
            .map_err(|error| SetupError(format!("the webhook URL is not valid: {error}")))?;
        let client = http::client(settings.timeout)?;
        Ok(WebhookProvider { settings, client })
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let body = match serde_json::to_vec(message) {
            Ok(body) => body,
            Err(error) => {
                return Outcome::Failed {
                    reason: format!("cannot encode the message: {error}"),
                    suppress: None,
                };
            }
        };
        let mut request = self
            .client
            .post(&self.settings.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, &message.key);
        if let Some(secret) = &self.settings.secret {
            let header = sign(secret.expose().as_bytes(), unix_now(), &body);
            request = request.header(SIGNATURE_HEADER, header);
        }
        if let Some(token) = &self.settings.token {
            request = request.bearer_auth(token.expose());
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => return http::transport_outcome(error),
        };
        let status = response.status();
        let retry_after = http::retry_after(&response);
        // A body that cannot be read after a 2xx status does not change the
        // fact that the receiver accepted the message.
        let body = response.text().await.unwrap_or_default();
        let reason = || format!("webhook answered {status}: {}", http::excerpt(&body));
        match status.as_u16() {
            200..=299 => Outcome::Sent {
                provider_message_id: answered_id(&body),
            },
            408 | 429 | 500..=599 => Outcome::Retry {
                after: retry_after,
                reason: reason(),
            },
            300..=399 | 401 | 403 => Outcome::StopProvider {
                reason: reason(),
                resume_after: None,
            },
            _ => Outcome::Failed {
                reason: reason(),
                suppress: None,
            },
        }
    }
}

fn answered_id(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    match value.get("id")? {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Herald-Signature` value for a body sent at `timestamp` (Unix
/// seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The header is not `t=<seconds>,v1=<hex>`.
    Malformed,
    /// The timestamp is further from `now` than the tolerance allows.
    Stale,
    /// No `v1` value matches the body under the secret.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Malformed => "the signature header is malformed",
            SignatureError::Stale => "the signature's timestamp is outside the tolerance",
            SignatureError::Mismatch => "the signature does not match the body",
        })
    }
}

impl std::error::Error for SignatureError {}

/// Checks a `Herald-Signature` header against the raw body: the timestamp
/// within `tolerance` of `now` (Unix seconds), and any `v1` value equal, in
/// constant time, to the HMAC of `"{t}.{body}"`. Several `v1` values are
/// accepted so a secret can be rotated.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            Some(("v1", value)) => {
                signatures.push(unhex(value).ok_or(SignatureError::Malformed)?);
            }
            // Later schemes (v2, ...) are skipped, as Stripe's are.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if timestamp.abs_diff(now) > tolerance.as_secs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}
