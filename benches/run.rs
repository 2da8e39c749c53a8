//! Delivery throughput, the acceptance benchmark of `herald run`: 100,000
//! messages sent through the webhook provider to the local fake receiver
//! (tests/fakes: HMAC signature checked, deduplication by key), first
//! through the runner with its outbox (claims under a lease, each claim
//! committed before its request, outcomes and a ledger row per attempt
//! recorded after each answer), then by a bare loop of HTTP requests with the same
//! bodies, headers and concurrency and no outbox at all. Targets: the
//! runner at least half the bare rate and at least 5,000 messages a second.
//!
//! `cargo bench --bench run` (`-- N` for another count, `-- --runner-only`
//! to leave out the bare loop when profiling). The store is
//! created afresh in `target/bench-run/`.

#[path = "../tests/fakes/mod.rs"]
mod fakes;

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use herald::provider::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign};
use herald::provider::{
    Client, Credential, Message, Origin, Parts, WebhookProvider, WebhookSettings,
};
use herald::run::{Clock, Options, Route, deliver};
use herald::segment::catalog::Catalog;
use herald::store::Store;
use herald::store::outbox::{Intent, Kind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "whsec-bench";
/// Requests in flight at once, as the runner's default.
const CONCURRENCY: usize = 64;

fn message(index: usize) -> Message {
    Message {
        key: format!("campaign/receipt/2027-01-15T07:00:00Z/c{index:06}/email"),
        origin: Origin::Campaign {
            campaign: "receipt".into(),
        },
        contact_id: format!("c{index:06}"),
        channel: "email".into(),
        variant: None,
        recipient: format!("c{index:06}@example.com"),
        parts: Parts::Email {
            subject: format!("Ваш заказ c{index:06} принят"),
            text: "Спасибо за заказ! Мы сообщим, когда он будет в пути.".into(),
            html: Some("<p>Спасибо за заказ! Мы сообщим, когда он будет в пути.</p>".into()),
        },
        headers: BTreeMap::new(),
    }
}

fn per_message(cpu: f64, count: usize) -> String {
    format!("{:.0} µs CPU a message", cpu * 1e6 / count as f64)
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let messages: Vec<Message> = (0..count).map(message).collect();
    let payloads: Vec<String> = messages
        .iter()
        .map(|m| serde_json::to_string(m).expect("JSON"))
        .collect();

    // The runner, with its outbox.
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-run");
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("bench folder");
    let store =
        Store::open_with_catalog(&directory.join("herald.db"), Catalog::default()).expect("store");
    let now = 1_800_000_000;
    let intents: Vec<Intent> = messages
        .iter()
        .zip(&payloads)
        .map(|(message, payload)| Intent {
            key: &message.key,
            kind: Kind::Campaign,
            name: "receipt",
            occurrence: "2027-01-15T07:00:00Z",
            step: None,
            contact_id: &message.contact_id,
            channel: "email",
            provider: "hook",
            variant: None,
            payload,
            cost: 0.0,
            needs_consent: false,
            send_at: now,
        })
        .collect();
    let started = Instant::now();
    store.enqueue(&[], &intents, now).expect("enqueue");
    let enqueue_time = started.elapsed();

    let fake = runtime.block_on(fakes::webhook::WebhookFake::start(SECRET));
    let route = {
        let _entered = runtime.enter();
        let mut settings = WebhookSettings::new(fake.server.url.clone());
        settings.secret = Some(Credential::new(SECRET));
        Route {
            client: Arc::new(Client::Webhook(
                WebhookProvider::new(settings).expect("webhook client"),
            )),
            rate_limit: None,
        }
    };
    let routes = BTreeMap::from([("hook".to_string(), route)]);
    let clock = Clock::starting_at(jiff::Timestamp::from_second(now).expect("time"));
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let cpu_before = support::cpu_seconds();
    let tally = deliver(
        &store,
        &runtime,
        &routes,
        &clock,
        &Options::new("bench".into()),
        &stop,
        &mut |_| {},
    )
    .expect("deliver");
    let run_time = started.elapsed();
    let run_cpu = support::cpu_seconds() - cpu_before;
    assert_eq!(tally.sent as usize, count, "{tally:?}");
    assert_eq!(fake.received().len(), count);
    if std::env::args().any(|argument| argument == "--runner-only") {
        // For profiling the runner alone.
        println!(
            "herald run (outbox): {count} messages in {:.2} s, {}",
            run_time.as_secs_f64(),
            per_message(run_cpu, count)
        );
        return;
    }

    // The bare loop: the same requests, no outbox.
    let bare = runtime.block_on(fakes::webhook::WebhookFake::start(SECRET));
    let url = bare.server.url.clone();
    let started = Instant::now();
    let cpu_before = support::cpu_seconds();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (message, payload) in messages.iter().zip(&payloads) {
            let permit = permits.clone().acquire_owned().await.expect("permit");
            let client = client.clone();
            let url = url.clone();
            let key = message.key.clone();
            let body = payload.clone().into_bytes();
            tasks.spawn(async move {
                let timestamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("clock")
                    .as_secs();
                let signature = sign(SECRET.as_bytes(), timestamp, &body);
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(IDEMPOTENCY_HEADER, key)
                    .header(SIGNATURE_HEADER, signature)
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
    let bare_time = started.elapsed();
    let bare_cpu = support::cpu_seconds() - cpu_before;
    assert_eq!(bare.received().len(), count);

    let rate = |time: std::time::Duration| count as f64 / time.as_secs_f64();
    println!(
        "enqueue: {count} messages in {:.2} s ({:.0}/s)",
        enqueue_time.as_secs_f64(),
        rate(enqueue_time)
    );
    println!(
        "herald run (outbox): {count} messages in {:.2} s = {:.0} msg/s, {}",
        run_time.as_secs_f64(),
        rate(run_time),
        per_message(run_cpu, count)
    );
    println!(
        "bare HTTP loop:      {count} messages in {:.2} s = {:.0} msg/s, {}",
        bare_time.as_secs_f64(),
        rate(bare_time),
        per_message(bare_cpu, count)
    );
    println!(
        "bare CPU / runner CPU: {:.2} (the rate ratio a quiet machine shows when both are CPU-bound)",
        bare_cpu / run_cpu
    );
    println!(
        "runner / bare: {:.2} (target >= 0.5), runner rate target >= 5000 msg/s",
        rate(run_time) / rate(bare_time)
    );
}
