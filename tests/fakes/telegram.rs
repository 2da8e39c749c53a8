//! A Telegram Bot API fake: `POST /bot<token>/sendMessage` with a JSON
//! body, answered as the Bot API documents (`{"ok": true, "result": ...}`
//! or `{"ok": false, "error_code", "description", "parameters"}`); a wrong
//! token gets the API's 404.

use std::sync::Arc;

use super::{FakeServer, Recorded, Reply};

pub async fn start(token: &str) -> FakeServer {
    let path = format!("/bot{token}/sendMessage");
    FakeServer::start(Arc::new(move |request: &Recorded| {
        if request.path != path {
            return error(404, "Not Found", None);
        }
        let body = request.json();
        let (Some(chat_id), Some(text)) = (body.get("chat_id"), body["text"].as_str()) else {
            return error(400, "Bad Request: message text is empty", None);
        };
        if text.is_empty() {
            return error(400, "Bad Request: message text is empty", None);
        }
        Reply::json(
            200,
            serde_json::json!({
                "ok": true,
                "result": {
                    "message_id": 4711,
                    "date": 1_796_000_000,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": text,
                }
            }),
        )
    }))
    .await
}

/// The Bot API's error answer, with `parameters.retry_after` when given.
pub fn error(code: u16, description: &str, retry_after: Option<u64>) -> Reply {
    let mut body = serde_json::json!({
        "ok": false,
        "error_code": code,
        "description": description,
    });
    if let Some(seconds) = retry_after {
        body["parameters"] = serde_json::json!({"retry_after": seconds});
    }
    Reply::json(code, body)
}
