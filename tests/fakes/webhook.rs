//! A webhook receiver that does what herald's webhook documentation asks of
//! one: it checks the `Herald-Signature` (with herald's own verifier) and
//! counts deliveries per `Idempotency-Key`, answering a repeated key with
//! the first answer, as Stripe-style receivers replay theirs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald::provider::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature};

use super::{FakeServer, Recorded, Reply};

pub struct WebhookFake {
    pub server: FakeServer,
    /// How many signed requests arrived per idempotency key.
    received: Arc<Mutex<HashMap<String, usize>>>,
}

impl WebhookFake {
    pub async fn start(secret: &str) -> WebhookFake {
        let received = Arc::new(Mutex::new(HashMap::new()));
        let counts = received.clone();
        let secret = secret.as_bytes().to_vec();
        let server = FakeServer::start(Arc::new(move |request: &Recorded| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let signature = request.header(SIGNATURE_HEADER).unwrap_or("");
            if let Err(error) = verify_signature(
                &secret,
                signature,
                &request.body,
                now,
                Duration::from_secs(300),
            ) {
                return Reply::json(401, serde_json::json!({"error": error.to_string()}));
            }
            let Some(key) = request.header(IDEMPOTENCY_HEADER) else {
                return Reply::json(400, serde_json::json!({"error": "no Idempotency-Key"}));
            };
            let mut counts = counts.lock().unwrap();
            let count = counts.entry(key.to_owned()).or_insert(0);
            *count += 1;
            Reply::json(
                200,
                serde_json::json!({"id": format!("wh-{key}"), "replayed": *count > 1}),
            )
        }))
        .await;
        WebhookFake { server, received }
    }

    /// Requests received per key.
    pub fn received(&self) -> HashMap<String, usize> {
        self.received.lock().unwrap().clone()
    }
}
