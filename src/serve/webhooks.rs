//! Provider delivery webhooks: each request is verified the way its
//! provider documents, read into [`Status`]es, and written as events of the
//! message's contact, linked to the outbox message they are about
//! (`message_key` in the event's properties). The event id is derived from
//! what identifies the status at the provider, so a replayed request (the
//! providers retry until they get a 2xx) is counted once. A hard bounce,
//! a complaint or a permanent failure suppresses the address (the
//! message's channel of its contact) with the reason; an unsubscribe
//! through the provider (Unisender's link, leaving the Viber bot) also
//! revokes the channel's consent, as a one-click unsubscribe does.
//!
//! | provider | verification | message |
//! |---|---|---|
//! | WhatsApp Cloud API | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`; `GET` handshake echoes `hub.challenge` when `hub.verify_token` matches | `biz_opaque_callback_data` (herald's key), else the `wamid` |
//! | Viber | `X-Viber-Content-Signature: <hex HMAC-SHA256(auth token, body)>` | `message_token`; `unsubscribed`: the contact whose `viber_id` is `user_id` |
//! | Unisender | `auth`: MD5 of the body with `auth`'s value replaced by the API key | `metadata.herald_key`, else `job_id` |
//! | SMSC | `md5`: MD5 of `id:phone:status:<secret word>` | `id` |
//!
//! Answers: 200 once written (statuses about messages the outbox does not
//! hold are counted as unmatched, not retried), 403 for a bad signature
//! (nothing is written), 400 for a body that is not the provider's format,
//! 404 for a provider without a webhook, 503 when the store failed (the
//! provider retries).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::{Service, Webhook, WebhookKind, Written, now};
use crate::channel::ChannelKind;
use crate::provider::unhex;
use crate::store::feedback::MessageReference;
use crate::store::{EventRecord, Store, StoreError, SuppressionReason};

/// One delivery status, read from a provider's request.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// The event id: the same status always gets the same one.
    pub id: String,
    /// `message_delivered`, `message_read`, `message_failed`,
    /// `email_bounced`, `email_complained`, `email_opened`, `email_clicked`,
    /// or `unsubscribed` (through the provider's own unsubscribe).
    pub event: &'static str,
    /// Unix seconds.
    pub at: i64,
    pub message: MessageReference,
    pub properties: Map<String, Value>,
    /// Suppress the address, with the detail stored beside the reason.
    pub suppress: Option<(SuppressionReason, String)>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The signature is missing or does not match: 403.
    Signature,
    /// Not the provider's format: 400.
    Malformed(String),
}

/// Reads and verifies a request of `kind`; `query` holds the address's
/// parameters (SMSC may call with GET).
pub fn statuses(
    webhook: &Webhook,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
    query: &BTreeMap<String, String>,
    received_at: i64,
) -> Result<Vec<Status>, Refusal> {
    let secret = webhook.secret.as_bytes();
    match webhook.kind {
        WebhookKind::Whatsapp => {
            let signature = header(headers, "x-hub-signature-256")
                .and_then(|value| value.strip_prefix("sha256="))
                .ok_or(Refusal::Signature)?;
            verify_hmac(secret, body, signature)?;
            whatsapp(&json(body)?, provider, received_at)
        }
        WebhookKind::Viber => {
            let signature =
                header(headers, "x-viber-content-signature").ok_or(Refusal::Signature)?;
            verify_hmac(secret, body, signature)?;
            viber(&json(body)?, provider, received_at)
        }
        WebhookKind::Unisender => unisender(body, &webhook.secret, provider, received_at),
        WebhookKind::Smsc => {
            let mut parameters: BTreeMap<String, String> = query.clone();
            parameters.extend(form_urlencoded::parse(body).into_owned());
            smsc(&parameters, &webhook.secret, provider, received_at)
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn json(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|error| Refusal::Malformed(error.to_string()))
}

/// Whether two byte strings are equal, in time that does not depend on
/// where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An HMAC-SHA256 of `body` under `secret` against a hex signature, in
/// constant time.
fn verify_hmac(secret: &[u8], body: &[u8], signature: &str) -> Result<(), Refusal> {
    let expected = unhex(signature.trim()).ok_or(Refusal::Signature)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Refusal::Signature)
}

/// An MD5 digest against a hex checksum, in constant time.
fn verify_md5(data: &[u8], checksum: &str) -> Result<(), Refusal> {
    let expected = unhex(checksum.trim()).ok_or(Refusal::Signature)?;
    if same(&expected, &Md5::digest(data)) {
        Ok(())
    } else {
        Err(Refusal::Signature)
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn seconds(value: &Value) -> Option<i64> {
    text(value)?.parse().ok()
}

/// WhatsApp Cloud API: `entry[].changes[].value.statuses[]`. Failures carry
/// `errors[]`; 131026 (undeliverable: no WhatsApp on the number) suppresses it.
fn whatsapp(body: &Value, provider: &str, received_at: i64) -> Result<Vec<Status>, Refusal> {
    let entries = body["entry"]
        .as_array()
        .ok_or_else(|| Refusal::Malformed("no `entry` list".into()))?;
    let mut statuses = Vec::new();
    for status in entries
        .iter()
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten())
        .flat_map(|change| change["value"]["statuses"].as_array().into_iter().flatten())
    {
        let (Some(wamid), Some(state)) = (text(&status["id"]), text(&status["status"])) else {
            return Err(Refusal::Malformed(
                "a status without `id` or `status`".into(),
            ));
        };
        let event = match state.as_str() {
            "delivered" => "message_delivered",
            "read" => "message_read",
            "failed" => "message_failed",
            _ => continue,
        };
        let mut properties = Map::new();
        properties.insert("status".into(), state.clone().into());
        properties.insert("provider_message_id".into(), wamid.clone().into());
        let error = &status["errors"][0];
        let code = seconds(&error["code"]);
        if let Some(code) = code {
            properties.insert("error_code".into(), code.into());
        }
        if let Some(title) = text(&error["title"]).or_else(|| text(&error["message"])) {
            properties.insert("error".into(), title.into());
        }
        let suppress = (event == "message_failed" && code == Some(131_026)).then(|| {
            (
                SuppressionReason::Invalid,
                "WhatsApp 131026: message undeliverable".to_string(),
            )
        });
        let message = match text(&status["biz_opaque_callback_data"]) {
            Some(key) => MessageReference::Key(key),
            None => MessageReference::ProviderId {
                provider: provider.to_string(),
                id: wamid.clone(),
            },
        };
        statuses.push(Status {
            id: format!("{provider}:{wamid}:{state}"),
            event,
            at: seconds(&status["timestamp"]).unwrap_or(received_at),
            message,
            properties,
            suppress,
        });
    }
    Ok(statuses)
}

/// Viber: one callback per request; `delivered`, `seen` and `failed` are
/// about a message, the others (`subscribed`, `webhook`, ...) are accepted
/// and not recorded.
fn viber(body: &Value, provider: &str, received_at: i64) -> Result<Vec<Status>, Refusal> {
    let state = text(&body["event"]).ok_or_else(|| Refusal::Malformed("no `event`".into()))?;
    let at = seconds(&body["timestamp"]).map_or(received_at, |millis| millis / 1000);
    let event = match state.as_str() {
        "delivered" => "message_delivered",
        "seen" => "message_read",
        "failed" => "message_failed",
        // The user unsubscribed from the bot: no message, only the user.
        "unsubscribed" => {
            let user =
                text(&body["user_id"]).ok_or_else(|| Refusal::Malformed("no `user_id`".into()))?;
            let mut properties = Map::new();
            properties.insert("status".into(), state.clone().into());
            return Ok(vec![Status {
                id: format!("{provider}:{user}:{state}:{at}"),
                event: "unsubscribed",
                at,
                message: MessageReference::Recipient {
                    channel: ChannelKind::Viber,
                    address: user,
                },
                properties,
                suppress: Some((
                    SuppressionReason::Unsubscribed,
                    "Viber: unsubscribed from the bot".to_string(),
                )),
            }]);
        }
        _ => return Ok(Vec::new()),
    };
    let token = text(&body["message_token"])
        .ok_or_else(|| Refusal::Malformed("no `message_token`".into()))?;
    let mut properties = Map::new();
    properties.insert("status".into(), state.clone().into());
    properties.insert("provider_message_id".into(), token.clone().into());
    if let Some(description) = text(&body["desc"]) {
        properties.insert("error".into(), description.into());
    }
    Ok(vec![Status {
        id: format!("{provider}:{token}:{state}"),
        event,
        at,
        message: MessageReference::ProviderId {
            provider: provider.to_string(),
            id: token,
        },
        properties,
        suppress: None,
    }])
}

/// Unisender (and Unisender Go): `events_by_user[].events[]` of email
/// statuses, signed by `auth`.
fn unisender(
    body: &[u8],
    api_key: &str,
    provider: &str,
    received_at: i64,
) -> Result<Vec<Status>, Refusal> {
    let parsed = json(body)?;
    let auth = parsed["auth"].as_str().ok_or(Refusal::Signature)?;
    let raw = std::str::from_utf8(body).map_err(|_| Refusal::Signature)?;
    if auth.is_empty() || !raw.contains(auth) {
        return Err(Refusal::Signature);
    }
    verify_md5(raw.replacen(auth, api_key, 1).as_bytes(), auth)?;
    let mut statuses = Vec::new();
    for item in parsed["events_by_user"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|user| user["events"].as_array().into_iter().flatten())
    {
        let data = &item["event_data"];
        let Some(state) = text(&data["status"]) else {
            continue;
        };
        let (event, suppress) = match state.as_str() {
            "delivered" => ("message_delivered", None),
            "opened" => ("email_opened", None),
            "clicked" => ("email_clicked", None),
            "soft_bounced" => ("email_bounced", None),
            "hard_bounced" => ("email_bounced", Some(SuppressionReason::Bounced)),
            "spam" => ("email_complained", Some(SuppressionReason::Complained)),
            "unsubscribed" => ("unsubscribed", Some(SuppressionReason::Unsubscribed)),
            _ => continue,
        };
        let job = text(&data["job_id"]).unwrap_or_default();
        let email = text(&data["email"]).unwrap_or_default();
        let time = text(&data["event_time"]).unwrap_or_default();
        let url = text(&data["url"]);
        let mut properties = Map::new();
        properties.insert("status".into(), state.clone().into());
        properties.insert("provider_message_id".into(), job.clone().into());
        if let Some(url) = &url {
            properties.insert("url".into(), url.clone().into());
        }
        let delivery = &data["delivery_info"];
        let detail =
            text(&delivery["delivery_status"]).or_else(|| text(&delivery["destination_response"]));
        if let Some(detail) = &detail {
            properties.insert("error".into(), detail.clone().into());
        }
        let metadata = &data["metadata"];
        let message = match text(&metadata["herald_key"]).or_else(|| text(&metadata["key"])) {
            Some(key) => MessageReference::Key(key),
            None if !job.is_empty() => MessageReference::ProviderId {
                provider: provider.to_string(),
                id: job.clone(),
            },
            None => return Err(Refusal::Malformed("a status without its message".into())),
        };
        statuses.push(Status {
            id: format!(
                "{provider}:{job}:{email}:{state}:{time}{}",
                url.map(|url| format!(":{url}")).unwrap_or_default()
            ),
            event,
            at: utc_seconds(&time).unwrap_or(received_at),
            message,
            properties,
            suppress: suppress.map(|reason| {
                (
                    reason,
                    format!(
                        "Unisender {state}{}",
                        detail.map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                )
            }),
        });
    }
    Ok(statuses)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as Unisender writes event times.
fn utc_seconds(text: &str) -> Option<i64> {
    let civil: jiff::civil::DateTime = text.trim().replace(' ', "T").parse().ok()?;
    civil
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp().as_second())
}

/// SMSC: form or query parameters `id`, `phone`, `status` (numeric),
/// `err`, `ts`/`time`, and `md5` of `id:phone:status:<secret word>`.
/// 22 (invalid number) suppresses the number.
fn smsc(
    parameters: &BTreeMap<String, String>,
    secret: &str,
    provider: &str,
    received_at: i64,
) -> Result<Vec<Status>, Refusal> {
    let field = |name: &str| parameters.get(name).map(String::as_str).unwrap_or_default();
    let (id, phone, state) = (field("id"), field("phone"), field("status"));
    let checksum = parameters.get("md5").ok_or(Refusal::Signature)?;
    verify_md5(
        format!("{id}:{phone}:{state}:{secret}").as_bytes(),
        checksum,
    )?;
    if id.is_empty() {
        return Err(Refusal::Malformed("no `id`".into()));
    }
    let code: i64 = state
        .parse()
        .map_err(|_| Refusal::Malformed(format!("`status` {state:?} is not a number")))?;
    let event = match code {
        1 => "message_delivered",
        2 => "message_read",
        3 | 20 | 22 | 23 | 24 | 25 => "message_failed",
        _ => return Ok(Vec::new()),
    };
    let mut properties = Map::new();
    properties.insert("status".into(), code.into());
    properties.insert("provider_message_id".into(), id.into());
    if let Ok(error) = field("err").parse::<i64>() {
        properties.insert("error_code".into(), error.into());
    }
    let at = field("ts")
        .parse()
        .or_else(|_| field("time").parse())
        .unwrap_or(received_at);
    Ok(vec![Status {
        id: format!("{provider}:{id}:{phone}:{code}"),
        event,
        at,
        message: MessageReference::ProviderId {
            provider: provider.to_string(),
            id: id.to_string(),
        },
        properties,
        suppress: (code == 22).then(|| {
            (
                SuppressionReason::Invalid,
                "SMSC status 22: invalid number".to_string(),
            )
        }),
    }])
}

/// Writes statuses inside the writer's transaction.
pub fn record(store: &Store, statuses: &[Status]) -> Result<Written, StoreError> {
    let mut written = Written::default();
    for status in statuses {
        let Some(addressee) = store.addressee(&status.message)? else {
            written.unmatched += 1;
            continue;
        };
        let mut properties = status.properties.clone();
        properties.insert("channel".into(), addressee.channel.clone().into());
        if let Some(message) = &addressee.message {
            properties.insert("message_key".into(), message.key.clone().into());
            properties.insert("provider".into(), message.provider.clone().into());
        }
        let properties = Value::Object(properties).to_string();
        let event = EventRecord {
            id: &status.id,
            contact: &addressee.contact_id,
            event: status.event,
            at: status.at,
            properties: &properties,
        };
        let suppress = status
            .suppress
            .as_ref()
            .map(|(reason, detail)| (*reason, detail.as_str()));
        if store.record_status(&event, &addressee.channel, suppress)? {
            written.added += 1;
        }
    }
    Ok(written)
}

/// `POST /webhooks/<provider>`.
pub async fn receive(
    State(service): State<Arc<Service>>,
    Path(provider): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    accept(&service, provider, &headers, &body, &query).await
}

/// `GET /webhooks/<provider>`: WhatsApp's subscription handshake, or an
/// SMSC status sent as a GET.
pub async fn handshake(
    State(service): State<Arc<Service>>,
    Path(provider): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(webhook) = service.webhooks.get(&provider) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match webhook.kind {
        WebhookKind::Whatsapp => {
            let expected = webhook.verify_token.as_deref().unwrap_or_default();
            let given = query.get("hub.verify_token").map_or("", String::as_str);
            let matches = !expected.is_empty() && same(given.as_bytes(), expected.as_bytes());
            match query.get("hub.challenge") {
                Some(challenge)
                    if matches
                        && query.get("hub.mode").map(String::as_str) == Some("subscribe") =>
                {
                    (StatusCode::OK, challenge.clone()).into_response()
                }
                _ => StatusCode::FORBIDDEN.into_response(),
            }
        }
        WebhookKind::Smsc => accept(&service, provider, &headers, &[], &query).await,
        WebhookKind::Viber | WebhookKind::Unisender => {
            StatusCode::METHOD_NOT_ALLOWED.into_response()
        }
    }
}

async fn accept(
    service: &Service,
    provider: String,
    headers: &HeaderMap,
    body: &[u8],
    query: &BTreeMap<String, String>,
) -> Response {
    let Some(webhook) = service.webhooks.get(&provider) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let statuses = match statuses(webhook, &provider, headers, body, query, now()) {
        Ok(statuses) => statuses,
        Err(Refusal::Signature) => {
            return (StatusCode::FORBIDDEN, "signature does not match\n").into_response();
        }
        Err(Refusal::Malformed(reason)) => {
            return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response();
        }
    };
    if statuses.is_empty() {
        return Json(Written::default()).into_response();
    }
    let statuses = Arc::new(statuses);
    match service
        .writer
        .write(move |store| record(store, &statuses))
        .await
    {
        Ok(written) => Json(written).into_response(),
        Err(error) => {
            eprintln!("herald serve: statuses from `{provider}` not recorded: {error}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
