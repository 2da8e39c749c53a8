//! Webhook throughput, the acceptance benchmark of `herald serve`: N signed
//! WhatsApp status requests (one `delivered` status each, about messages
//! already in the outbox) posted over real HTTP on 127.0.0.1 by 64
//! concurrent clients to the service running in this process (axum on
//! tokio, the store writer thread batching commits, `synchronous = FULL`).
//! A request counts as accepted when it was answered 200, which the service
//! does only after its event committed; at the end the store must hold
//! exactly N events (nothing lost, nothing twice). Target: at least 5,000
//! events a second on 2 cores.
//!
//! `cargo bench --bench serve` (`-- N` for another count; default 50,000).
//! The store is created afresh in `target/bench-serve/`. The service's
//! request log goes to stderr: `2>/dev/null` keeps the terminal out of
//! the measurement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use herald::provider::Secret;
use herald::segment::catalog::Catalog;
use herald::serve::settings::{ServeSettings, WebhookKind, WebhookSettings};
use herald::serve::{Service, Writer};
use herald::store::Store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP_SECRET: &str = "wa-bench-secret";
/// Requests in flight at once.
const CONCURRENCY: usize = 64;
/// Outbox messages the statuses are about.
const MESSAGES: usize = 1_000;

fn body(index: usize) -> String {
    serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [
            {"id": format!("wamid.{index}"), "status": "delivered", "timestamp": "1773133200",
             "recipient_id": "79161234501",
             "biz_opaque_callback_data": format!("k{:05}", index % MESSAGES)}]}}]}]})
    .to_string()
}

fn signature(body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(50_000);
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-serve");
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("herald.db");
    {
        let store = Store::open_with_catalog(&path, Catalog::default()).unwrap();
        store.begin().unwrap();
        for index in 0..MESSAGES {
            store
                .connection()
                .execute(
                    "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel,
                     provider, payload, state, send_at, not_before, created_at, updated_at)
                     VALUES (?1, 'campaign', 'sale', '2026-03-10T09:00:00Z', ?2, 'whatsapp',
                     'wa', '{}', 'sent', 0, 0, 0, 0)",
                    rusqlite::params![format!("k{index:05}"), format!("c{index:05}")],
                )
                .unwrap();
        }
        store.commit().unwrap();
    }
    let settings = ServeSettings {
        listen: "127.0.0.1:0".into(),
        public_url: "https://mail.example".into(),
        secret: Secret::Literal("bench".into()),
        link_lifetime: 3600,
        max_body_bytes: 1 << 20,
        track_clicks: false,
        webhooks: BTreeMap::from([(
            "wa".to_string(),
            WebhookSettings {
                kind: WebhookKind::Whatsapp,
                secret: Secret::Literal(APP_SECRET.into()),
                verify_token: None,
            },
        )]),
        locale: "ru".into(),
    };
    let store = Store::open_with_catalog(&path, Catalog::default()).unwrap();
    let (writer, writing) = Writer::start(store);
    let service = Arc::new(Service::new(&settings, writer).unwrap());
    let bodies: Vec<(String, String)> = (0..count)
        .map(|index| {
            let body = body(index);
            let signature = signature(&body);
            (body, signature)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (accepted, elapsed) = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/wa", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(herald::serve::serve(listener, service, async move {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let queue = Arc::new(std::sync::Mutex::new(bodies));
        let started = Instant::now();
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                let queue = queue.clone();
                tokio::spawn(async move {
                    let mut accepted = 0usize;
                    loop {
                        let next = queue.lock().unwrap().pop();
                        let Some((body, signature)) = next else { break };
                        let response = client
                            .post(&url)
                            .header("X-Hub-Signature-256", signature)
                            .body(body)
                            .send()
                            .await;
                        if response.is_ok_and(|response| response.status() == 200) {
                            accepted += 1;
                        }
                    }
                    accepted
                })
            })
            .collect();
        let mut accepted = 0;
        for worker in workers {
            accepted += worker.await.unwrap();
        }
        let elapsed = started.elapsed();
        let _ = stop.send(());
        let _ = server.await;
        (accepted, elapsed)
    });
    drop(runtime);
    let _ = writing.join();
    let store = Store::open_with_catalog(&path, Catalog::default()).unwrap();
    let stored = store.count_events("message_delivered").unwrap();
    println!(
        "herald serve: {count} WhatsApp status webhooks, {CONCURRENCY} concurrent: \
         {accepted} accepted in {:.2} s = {:.0} events/s; {stored} events stored",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(accepted, count, "every request accepted");
    assert_eq!(stored, count as u64, "nothing lost, nothing twice");
}
