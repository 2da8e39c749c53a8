//! A VK API fake: `POST /method/messages.send`, form-encoded (a JSON body
//! carries no parameters, as on the real API), answered as VK documents:
//! always HTTP 200, `{"response": message_id}` or `{"error": {"error_code",
//! "error_msg", "request_params"}}`. It keeps every `random_id` it has seen
//! per sender: a repeat sends nothing and answers the first message's id.
//! Peers in `forbidden` get error 901 (the user has not allowed the
//! community to message them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::{FakeServer, Recorded, Reply};

/// A message the fake delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub id: u64,
    pub peer_id: String,
    pub random_id: String,
    pub message: String,
}

pub struct VkFake {
    pub server: FakeServer,
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl VkFake {
    pub async fn start(token: &str, forbidden: &[&str]) -> VkFake {
        let delivered: Arc<Mutex<Vec<Delivered>>> = Arc::new(Mutex::new(Vec::new()));
        let store = delivered.clone();
        let token = token.to_owned();
        let forbidden: BTreeSet<String> = forbidden.iter().map(|peer| peer.to_string()).collect();
        let server = FakeServer::start(Arc::new(move |request: &Recorded| {
            if request.path != "/method/messages.send" {
                return error(3, "Unknown method passed");
            }
            let form = request.form();
            let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
            let bearer = request
                .header("authorization")
                .and_then(|value| value.strip_prefix("Bearer "));
            if field("access_token") != token && bearer != Some(token.as_str()) {
                return error(5, "User authorization failed: invalid access_token (4).");
            }
            if field("v").is_empty() {
                return error(8, "Invalid request: v is required");
            }
            let (peer_id, random_id, message) =
                (field("peer_id"), field("random_id"), field("message"));
            if peer_id.is_empty() || random_id.parse::<i64>().is_err() || message.is_empty() {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid",
                );
            }
            if message.chars().count() > 9000 {
                return error(914, "Message is too long");
            }
            let mut store = store.lock().unwrap();
            if let Some(first) = store.iter().find(|sent| sent.random_id == random_id) {
                return Reply::json(200, serde_json::json!({"response": first.id}));
            }
            if forbidden.contains(peer_id) {
                return error(901, "Can't send messages for users without permission");
            }
            let id = 100 + store.len() as u64;
            store.push(Delivered {
                id,
                peer_id: peer_id.to_owned(),
                random_id: random_id.to_owned(),
                message: message.to_owned(),
            });
            Reply::json(200, serde_json::json!({"response": id}))
        }))
        .await;
        VkFake { server, delivered }
    }

    /// Messages actually delivered (a replayed `random_id` is not one).
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap().clone()
    }

    /// Delivered messages by peer.
    pub fn by_peer(&self) -> BTreeMap<String, Vec<String>> {
        let mut peers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sent in self.delivered() {
            peers.entry(sent.peer_id).or_default().push(sent.message);
        }
        peers
    }
}

/// VK's error answer: HTTP 200 with the error inside.
pub fn error(code: i64, message: &str) -> Reply {
    Reply::json(
        200,
        serde_json::json!({
            "error": {
                "error_code": code,
                "error_msg": message,
                "request_params": [{"key": "method", "value": "messages.send"}],
            }
        }),
    )
}
