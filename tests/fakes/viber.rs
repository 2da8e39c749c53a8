//! A Viber REST Bot API fake: `POST /pa/send_message` with the
//! `X-Viber-Auth-Token` header and a JSON body, answered as the Bot API
//! documents: HTTP 200 with `{"status": 0, "status_message": "ok",
//! "message_token"}`, or a non-zero `status` (2 a bad token, 3 bad data
//! such as a sender name over 28 characters, 4 missing data, 6 a receiver
//! not subscribed to the account, listed in `unsubscribed`).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{FakeServer, Recorded, Reply};

pub async fn start(token: &str, unsubscribed: &[&str]) -> FakeServer {
    let token = token.to_owned();
    let unsubscribed: BTreeSet<String> = unsubscribed.iter().map(|id| id.to_string()).collect();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(5_000_000_000));
    FakeServer::start(Arc::new(move |request: &Recorded| {
        if request.path != "/pa/send_message" {
            return status(1, "invalidUrl");
        }
        if request.header("x-viber-auth-token") != Some(token.as_str()) {
            return status(2, "invalidAuthToken");
        }
        let body = request.json();
        let (Some(receiver), Some(text), Some(name)) = (
            body["receiver"].as_str(),
            body["text"].as_str(),
            body["sender"]["name"].as_str(),
        ) else {
            return status(4, "missingData");
        };
        if body["type"] != "text" || text.is_empty() {
            return status(4, "missingData");
        }
        if name.chars().count() > 28 || text.chars().count() > 7000 {
            return status(3, "badData");
        }
        if unsubscribed.contains(receiver) {
            return status(6, "notSubscribed");
        }
        let token = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Reply::json(
            200,
            serde_json::json!({
                "status": 0,
                "status_message": "ok",
                "message_token": token,
                "chat_hostname": "SN-CHAT-01_",
                "billing_status": 1,
            }),
        )
    }))
    .await
}

/// A Bot API answer with this status (HTTP 200, as Viber answers errors).
pub fn status(code: i64, message: &str) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"status": code, "status_message": message}),
    )
}
