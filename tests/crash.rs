//! The crash test of issue 14: a `herald run` sending one campaign through
//! the webhook provider to the fake receiver is killed with SIGKILL at
//! random moments, at least five times, and started again until the outbox
//! holds nothing pending. Then:
//!
//! - the receiver got every key, and delivered each once: it deduplicates
//!   by `Idempotency-Key` as PROVIDERS.md says a receiver must, so a key
//!   sent again after a kill (its answer was lost with the runner) is a
//!   replay, counted apart from deliveries, and bounded by what can be in
//!   flight when a runner dies;
//! - the outbox records every message `sent` (none `unknown`: the webhook
//!   honours the key, so recovery resends rather than gives up) and
//!   `PRAGMA integrity_check` says `ok`.
//!
//! `cargo test` sends 2,000 messages (a debug build, on a shared 2-core
//! machine); `HERALD_CRASH_MESSAGES=100000 cargo test --release --test
//! crash` is the acceptance run of 100,000.

mod fakes;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec-crash";
const NOW: &str = "2027-01-15 10:00";

fn herald() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("herald"));
    command.env("HERALD_TEST_SECRET", SECRET);
    command
}

fn project(root: &Path, url: &str, count: usize, rate: Option<u32>) {
    let rate = rate.map_or(String::new(), |rate| format!(", rate_limit: {rate}"));
    std::fs::write(
        root.join("herald.yaml"),
        format!(
            "timezone: Europe/Moscow\ncountry: RU\n\
             channels:\n  email: {{provider: hook, cost: 0}}\n\
             providers:\n  hook: {{kind: webhook, url: \"{url}\", secret: \"${{env:HERALD_TEST_SECRET}}\"{rate}}}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("campaigns")).unwrap();
    std::fs::write(
        root.join("campaigns/receipt.yaml"),
        format!(
            "type: transactional\naudience:\n  filter: 'email != \"\"'\n\
             schedule:\n  at: \"{NOW}\"\nchannels: [email]\n\
             messages:\n  email:\n    subject: \"Ваш заказ, {{{{ contact.id }}}}\"\n    \
             text: \"Спасибо за заказ.\"\n"
        ),
    )
    .unwrap();
    let mut csv = String::from("id,email\n");
    for index in 0..count {
        csv.push_str(&format!("c{index:06},c{index:06}@example.com\n"));
    }
    std::fs::write(root.join("contacts.csv"), csv).unwrap();
    let status = herald()
        .current_dir(root)
        .args(["contacts", "import", "contacts.csv"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn pending(root: &Path) -> i64 {
    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    // Before the first enqueue committed there is no outbox row at all.
    let enqueued: i64 = store
        .query_row("SELECT count(*) FROM campaign_runs", [], |row| row.get(0))
        .unwrap_or(0);
    if enqueued == 0 {
        return -1;
    }
    store
        .query_row(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')",
            [],
            |row| row.get(0),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_random_moments_delivers_every_message_once() {
    let count: usize = std::env::var("HERALD_CRASH_MESSAGES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2_000);
    let fake = fakes::webhook::WebhookFake::start(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A small run is slowed down so that the kills land mid-delivery; a
    // large one at full speed (100,000 go out in about 5 s on 2 cores) is
    // killed within half a second of delivering, so that five kills land
    // well before it ends.
    let (rate, kill_after) = if count < 10_000 {
        (Some(500), 0..500)
    } else {
        (None, 0..500)
    };
    project(root, &fake.server.url, count, rate);
    let arguments = [
        "run",
        "--once",
        "--now",
        NOW,
        "--lease",
        "1",
        "--no-sync",
        "--format",
        "json",
    ];
    let started = Instant::now();
    let mut random = fastrand::Rng::with_seed(14);
    let mut kills = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let mut child = herald()
            .current_dir(root)
            .args(arguments)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if kills < 5 {
            // At a random moment once this run is delivering (planning a
            // large base takes a while, and a kill then tests nothing).
            let before = fake.received().len();
            let deadline = Instant::now() + Duration::from_secs(300);
            while fake.received().len() == before
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let wait = Duration::from_millis(random.u64(kill_after.clone()));
            tokio::time::sleep(wait).await;
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
        }
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        // The killed runner's leases run out before the next one starts.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        if pending(root) == 0 {
            break;
        }
        assert!(
            runs < 40,
            "the outbox never drained ({} pending)",
            pending(root)
        );
    }
    assert!(
        kills >= 5,
        "the run finished after {kills} kills: make it longer"
    );
    let elapsed = started.elapsed();

    let received = fake.received();
    assert_eq!(received.len(), count, "every key reached the receiver");
    for index in 0..count {
        let key = format!("campaign/receipt/2027-01-15T07:00:00Z/c{index:06}/email");
        assert!(received.contains_key(&key), "{key} never arrived");
    }
    let requests: usize = received.values().sum();
    let replays = requests - count;
    // Only what a dead runner had in flight can be sent again: at most a
    // claimed batch (256) per kill.
    assert!(
        replays <= kills * 256,
        "{replays} replays after {kills} kills"
    );

    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    let integrity: String = store
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let states: Vec<(String, i64)> = store
        .prepare("SELECT state, count(*) FROM outbox GROUP BY state")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(states, vec![("sent".to_string(), count as i64)]);
    let interrupted: i64 = store
        .query_row(
            "SELECT count(*) FROM outbox_attempts WHERE outcome = 'interrupted'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    eprintln!(
        "crash test: {count} messages, {kills} kills, {runs} runs, {requests} requests \
         ({replays} replays of a key, {interrupted} attempts interrupted), {:.1} s",
        elapsed.as_secs_f64()
    );
}
