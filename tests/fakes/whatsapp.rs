//! A WhatsApp Cloud API fake: `POST /{version}/{phone_number_id}/messages`
//! with a Bearer token and a JSON body, answered as the Cloud API
//! documents: `{"messaging_product", "contacts": [{"input", "wa_id"}],
//! "messages": [{"id": "wamid..."}]}`, or an HTTP error with `{"error":
//! {"message", "type", "code", "error_data": {"details"}, "fbtrace_id"}}`.
//!
//! It enforces what the API enforces synchronously: the token (401, code
//! 190), free text only to numbers whose 24-hour window is open (`open`;
//! others get 131047), templates only by an approved name and language
//! (132001), template parameters without line breaks, tabs or more than
//! four spaces in a row (132018). Failures that WhatsApp reports later
//! arrive through status webhooks, which `herald serve` handles.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::{FakeServer, Recorded, Reply};

/// A message the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub to: String,
    /// `text` or `template`.
    pub kind: String,
    /// The text, or the template's body parameter.
    pub text: String,
    pub callback_data: String,
}

pub struct WhatsappFake {
    pub server: FakeServer,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

pub struct Account<'a> {
    pub token: &'a str,
    pub phone_number_id: &'a str,
    /// Approved templates: name and language code.
    pub templates: &'a [(&'a str, &'a str)],
    /// Numbers that wrote within the last 24 hours.
    pub open: &'a [&'a str],
}

impl WhatsappFake {
    pub async fn start(account: Account<'_>) -> WhatsappFake {
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::new(Mutex::new(Vec::new()));
        let store = accepted.clone();
        let authorization = format!("Bearer {}", account.token);
        let suffix = format!("/{}/messages", account.phone_number_id);
        let templates: BTreeSet<(String, String)> = account
            .templates
            .iter()
            .map(|(name, language)| (name.to_string(), language.to_string()))
            .collect();
        let open: BTreeSet<String> = account.open.iter().map(|n| n.to_string()).collect();
        let server = FakeServer::start(Arc::new(move |request: &Recorded| {
            if request.header("authorization") != Some(authorization.as_str()) {
                return error(401, 190, "Invalid OAuth access token.", "");
            }
            if !request.path.ends_with(&suffix) || request.method != "POST" {
                return error(400, 100, "Unsupported post request.", "");
            }
            let body = request.json();
            let Some(to) = body["to"].as_str() else {
                return error(400, 100, "(#100) The parameter to is required.", "");
            };
            if body["messaging_product"] != "whatsapp" {
                return error(400, 100, "(#100) Param messaging_product must be whatsapp", "");
            }
            let callback_data = body["biz_opaque_callback_data"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let (kind, text) = match body["type"].as_str() {
                Some("text") => {
                    let text = body["text"]["body"].as_str().unwrap_or("");
                    if !open.contains(to) {
                        return error(
                            400,
                            131047,
                            "Re-engagement message",
                            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                        );
                    }
                    ("text", text.to_owned())
                }
                Some("template") => {
                    let template = &body["template"];
                    let name = template["name"].as_str().unwrap_or("").to_owned();
                    let language = template["language"]["code"].as_str().unwrap_or("").to_owned();
                    if !templates.contains(&(name, language)) {
                        return error(
                            404,
                            132001,
                            "Template name does not exist in the translation",
                            "template name does not exist in the language",
                        );
                    }
                    let text = template["components"][0]["parameters"][0]["text"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    if text.contains(['\n', '\t']) || text.contains("     ") {
                        return error(
                            400,
                            132018,
                            "There was an issue with the parameters in your template.",
                            "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                        );
                    }
                    ("template", text)
                }
                _ => return error(400, 131051, "Unsupported message type", ""),
            };
            let mut store = store.lock().unwrap();
            store.push(Accepted {
                to: to.to_owned(),
                kind: kind.to_owned(),
                text,
                callback_data,
            });
            Reply::json(
                200,
                serde_json::json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
                    "messages": [{"id": format!("wamid.HBgL{:04}", store.len())}],
                }),
            )
        }))
        .await;
        WhatsappFake { server, accepted }
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap().clone()
    }
}

/// The Cloud API's error answer.
pub fn error(status: u16, code: i64, message: &str, details: &str) -> Reply {
    Reply::json(
        status,
        serde_json::json!({
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": "AbCdEfGh123",
            }
        }),
    )
}
