//! The click redirect: `GET /c/<token>?url=<address>`. The token is signed
//! for one outbox message; the click is recorded as that contact's
//! `email_clicked` event (once per message and address) and answered with
//! a redirect, but only to an address the rendered message contained, so
//! the service is no open redirect for anyone's phishing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Service, Written, now};
use crate::provider::{Message, Parts};
use crate::signed_link::{CLICK_PATH, Purpose, percent_encode};
use crate::store::feedback::MessageReference;
use crate::store::{EventRecord, Store, StoreError};

/// Whether the rendered message links to `url`: an `href` of its HTML
/// (entities of `&` undone), or this very click address (`token`) for it
/// where the runner pointed the links at the redirect, or an address in its
/// text.
pub fn contains_link(message: &Message, url: &str, token: &str) -> bool {
    let tracked = format!(
        "{CLICK_PATH}{token}?url={}",
        percent_encode(url).collect::<String>()
    );
    let in_html = |html: &str| {
        let html = html.replace("&amp;", "&");
        html.contains(&format!("href=\"{url}\""))
            || html.contains(&format!("href='{url}'"))
            || html.contains(&tracked)
    };
    match &message.parts {
        Parts::Email { text, html, .. } => {
            html.as_deref().is_some_and(in_html) || text.contains(url)
        }
        Parts::Text { text } => text.contains(url),
    }
}

/// Records the click when `url` is in the message; `unmatched` otherwise.
fn record(
    store: &Store,
    key: &str,
    token: &str,
    url: &str,
    at: i64,
) -> Result<Written, StoreError> {
    let refused = Written {
        added: 0,
        unmatched: 1,
    };
    let Some(sent) = store.sent_message(&MessageReference::Key(key.to_string()))? else {
        return Ok(refused);
    };
    let Ok(message) = serde_json::from_str::<Message>(&sent.payload) else {
        return Ok(refused);
    };
    if !contains_link(&message, url, token) {
        return Ok(refused);
    }
    let properties = json!({
        "message_key": sent.key,
        "channel": sent.channel,
        "provider": sent.provider,
        "url": url,
    })
    .to_string();
    let id = format!("click:{key}:{url}");
    let added = store.add_event(&EventRecord {
        id: &id,
        contact: &sent.contact_id,
        event: "email_clicked",
        at,
        properties: &properties,
    })?;
    Ok(Written {
        added: u64::from(added),
        unmatched: 0,
    })
}

/// `GET /c/<token>?url=...`.
pub async fn click(
    State(service): State<Arc<Service>>,
    Path(token): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let Ok(mut fields) = service.signer.verify(Purpose::Click, &token, now()) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let (Some(key), Some(url)) = (fields.pop(), query.get("url").cloned()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let target = url.clone();
    let at = now();
    match service
        .writer
        .write(move |store| record(store, &key, &token, &url, at))
        .await
    {
        Ok(written) if written.unmatched == 0 => {
            (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            eprintln!("herald serve: click not recorded: {error}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
