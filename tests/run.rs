//! `herald run` and `herald status` end to end on the planner's fixture
//! (`tests/plan/project`, ten contacts; the `sale` campaign at
//! 2026-03-10 12:00 Moscow plans 11 messages, 2 of them deferred by quiet
//! hours), delivering through the `file` provider, the webhook fake, the
//! Telegram fake and a real SMTP server (aiosmtpd), all on 127.0.0.1.

mod fakes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fakes::{Reply, Script};
use serde_json::Value;

mod common;
use common::copy;

const NOW: &str = "2026-03-10 12:00";
const SECRET: &str = "whsec-run-tests";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan/project")
}

/// The fixture with its base imported, its `providers:` replaced by
/// `providers` and its channels routed as `routes` (channel → provider).
fn project(providers: &str, routes: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(), dir.path());
    let manifest = dir.path().join("herald.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text = text.replace(
        "providers:\n  out: {kind: file, path: out.jsonl}\n",
        &format!("providers:\n{providers}"),
    );
    for (channel, provider) in routes {
        text = text.replace(
            &format!("  {channel}: {{provider: out,"),
            &format!("  {channel}: {{provider: {provider},"),
        );
    }
    std::fs::write(&manifest, text).unwrap();
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    dir
}

fn herald(root: &Path, arguments: &[&str]) -> (String, String, i32) {
    common::herald_with(
        root,
        arguments,
        &[
            ("HERALD_TEST_SECRET", SECRET),
            ("HERALD_TEST_TOKEN", "123:abc"),
        ],
    )
}

/// `herald` off the async runtime, so the fakes keep answering.
async fn herald_async(root: &Path, arguments: &[&str]) -> (String, String, i32) {
    let root = root.to_path_buf();
    let arguments: Vec<String> = arguments.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        herald(&root, &arguments)
    })
    .await
    .unwrap()
}

fn run_json(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn status(root: &Path) -> Value {
    let (stdout, stderr, code) = herald(root, &["status", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Counts by state of the `sale` campaign.
fn counts(root: &Path) -> HashMap<String, u64> {
    let status = status(root);
    let group = &status["groups"][0];
    assert_eq!(group["name"], "sale");
    group["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(state, count)| (state.clone(), count.as_u64().unwrap()))
        .collect()
}

/// Keys the plan sends now (not deferred), sorted.
fn planned_now(root: &Path) -> Vec<String> {
    let (stdout, _, _) = herald(root, &["plan", "--now", NOW, "--format", "json"]);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let mut keys: Vec<String> = plan["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["deferred"] == false)
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_file_provider_gets_every_planned_message_once_and_a_rerun_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(), dir.path());
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let expected = planned_now(dir.path());
    assert_eq!(expected.len(), 9);

    let (stdout, stderr, code) = herald(dir.path(), &["run", "--once", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("file_run", stdout);
    let lines = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let mut keys: Vec<String> = lines
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, expected);

    // The occurrence is enqueued: the same --now plans and sends nothing.
    let (stdout, stderr, code) = herald(dir.path(), &["run", "--once", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("planned     0 messages (nothing due)"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap(),
        lines
    );
    let (stdout, _, _) = herald(dir.path(), &["plan", "--now", NOW]);
    assert!(stdout.contains("0 messages to send"), "{stdout}");

    let counts = counts(dir.path());
    assert_eq!((counts["sent"], counts["queued"]), (9, 2));
    let (stdout, _, code) = herald(dir.path(), &["status"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("campaign sale                     queued 2, sent 9"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Oldest pending: campaign/sale/"),
        "{stdout}"
    );
}

#[test]
fn consent_revoked_between_plan_and_send_skips_the_deferred_message() {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(), dir.path());
    herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    let (_, stderr, code) = herald(dir.path(), &["run", "--once", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    // c08 (New York) is deferred past her quiet hours; she revokes email
    // consent before then.
    let store = rusqlite::Connection::open(dir.path().join("herald.db")).unwrap();
    let deferred: Vec<String> = store
        .prepare("SELECT key FROM outbox WHERE state = 'queued' ORDER BY key")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        deferred.iter().any(|key| key.ends_with("/c08/email")),
        "{deferred:?}"
    );
    store
        .execute(
            "UPDATE consents SET status = 'revoked' WHERE contact_id = 'c08'",
            [],
        )
        .unwrap();
    let (stdout, stderr, code) = herald(
        dir.path(),
        &[
            "run",
            "--once",
            "--now",
            "2026-03-10 23:00",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report = run_json(&stdout);
    assert!(report["skipped"].as_u64().unwrap() >= 1, "{report}");
    let (state, reason): (String, String) = store
        .query_row(
            "SELECT state, reason FROM outbox WHERE key LIKE '%/c08/email'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("skipped", "consent_revoked")
    );
    let lines = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert!(!lines.contains("/c08/email"));
}

fn webhook_providers(url: &str) -> String {
    format!("  out: {{kind: webhook, url: \"{url}\", secret: \"${{env:HERALD_TEST_SECRET}}\"}}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_gets_every_message_through_429_5xx_and_a_dropped_connection() {
    let fake = fakes::webhook::WebhookFake::start(SECRET).await;
    fake.server.script([
        Script::Answer(
            Reply::json(429, serde_json::json!({"error": "slow down"}))
                .with_header("retry-after", "1"),
        ),
        Script::Answer(Reply::json(503, serde_json::json!({"error": "busy"}))),
        // Handled, then the connection drops: the webhook honours the key,
        // so it is sent again and the receiver delivers it once.
        Script::Drop,
    ]);
    let dir = project(&webhook_providers(&fake.server.url), &[]);
    let expected = planned_now(dir.path());
    let (stdout, stderr, code) = herald_async(
        dir.path(),
        &["run", "--once", "--now", NOW, "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report = run_json(&stdout);
    assert_eq!(report["sent"], 9, "{report}");
    assert_eq!(report["retried"], 3, "{report}");
    assert_eq!(report["unknown"], 0, "{report}");
    let received = fake.received();
    let mut keys: Vec<String> = received.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, expected);
    // Every request carried a valid signature (the fake checks it), and
    // the one whose answer was lost arrived twice under the same key.
    assert_eq!(received.values().sum::<usize>(), 10);
    assert_eq!(fake.server.requests().len(), 12);
    assert_eq!(counts(dir.path())["sent"], 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_fails_the_message_without_a_retry() {
    let fake = fakes::webhook::WebhookFake::start(SECRET).await;
    fake.server.script([Script::Answer(Reply::json(
        422,
        serde_json::json!({"error": "unprocessable"}),
    ))]);
    let dir = project(&webhook_providers(&fake.server.url), &[]);
    let (stdout, stderr, code) = herald_async(
        dir.path(),
        &["run", "--once", "--now", NOW, "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report = run_json(&stdout);
    assert_eq!(
        (report["sent"].as_u64(), report["failed"].as_u64()),
        (Some(8), Some(1))
    );
    assert_eq!(fake.server.requests().len(), 9);
    let counts = counts(dir.path());
    assert_eq!((counts["sent"], counts["failed"]), (8, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_telegram_request_is_unknown_and_not_resent_without_at_least_once() {
    let fake = fakes::webhook::WebhookFake::start(SECRET).await;
    let bot = fakes::telegram::start("123:abc").await;
    bot.script([Script::Drop]);
    let providers = format!(
        "{}  bot: {{kind: telegram, token: \"${{env:HERALD_TEST_TOKEN}}\", base_url: \"{}\"}}\n",
        webhook_providers(&fake.server.url),
        bot.url
    );
    let dir = project(&providers, &[("telegram", "bot")]);
    let (stdout, stderr, code) = herald_async(
        dir.path(),
        &["run", "--once", "--now", NOW, "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report = run_json(&stdout);
    assert_eq!(report["unknown"], 1, "{report}");
    let telegram_requests = bot.requests().len();
    let status = status(dir.path());
    assert_eq!(status["problem_count"], 1);
    assert_eq!(status["problems"][0]["state"], "unknown");
    assert!(
        status["problems"][0]["key"]
            .as_str()
            .unwrap()
            .ends_with("/telegram")
    );
    let (human, _, _) = herald_async(dir.path(), &["status"]).await;
    assert!(human.contains("Dead and unknown: 1"), "{human}");

    // Not resent by a later run...
    herald_async(dir.path(), &["run", "--once", "--now", NOW]).await;
    assert_eq!(bot.requests().len(), telegram_requests);
    // ...unless the user accepts that it may arrive twice.
    let (stdout, _, _) = herald_async(
        dir.path(),
        &[
            "run",
            "--once",
            "--now",
            NOW,
            "--at-least-once",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(run_json(&stdout)["sent"], 1, "{stdout}");
    assert_eq!(bot.requests().len(), telegram_requests + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_through_a_real_smtp_server() {
    let Some(smtp) = fakes::smtp::SmtpFake::start() else {
        return;
    };
    let fake = fakes::webhook::WebhookFake::start(SECRET).await;
    let providers = format!(
        "{}  mail: {{kind: smtp, host: 127.0.0.1, port: {}}}\n",
        webhook_providers(&fake.server.url),
        smtp.port
    );
    let dir = project(&providers, &[("email", "mail")]);
    let manifest = dir.path().join("herald.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "{provider: mail,",
        "{provider: mail, from: \"Ласточка <news@shop.example>\",",
    );
    std::fs::write(&manifest, text).unwrap();
    let emails = planned_now(dir.path())
        .iter()
        .filter(|key| key.ends_with("/email"))
        .count();
    let (stdout, stderr, code) = herald_async(
        dir.path(),
        &["run", "--once", "--now", NOW, "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(run_json(&stdout)["sent"], 9, "{stdout}");
    let received = smtp.received(emails, Duration::from_secs(10));
    assert_eq!(received.len(), emails);
    for message in &received {
        let text = message.to_string();
        assert!(text.contains("-20% для вас"), "{text}");
        assert!(text.contains("news@shop.example"), "{text}");
    }
}

/// The tick `herald run` is made of, with the virtual sink `herald
/// simulate` delivers to: the plan's messages due now are recorded as sent
/// at the tick's time, the deferred ones wait for a later tick, and nothing
/// is written to the file provider.
#[test]
fn a_tick_with_the_virtual_sink_records_due_messages_as_sent_and_sends_nothing() {
    use herald::run::{Tick, VirtualSink, tick};
    let dir = project("  out: {kind: file, path: out.jsonl}\n", &[]);
    let compilation = herald::compile(dir.path()).unwrap();
    let store = herald::store::Store::open_with_catalog(
        &dir.path().join("herald.db"),
        compilation.filters.catalog.clone(),
    )
    .unwrap();
    let at = |text: &str| -> jiff::Timestamp { text.parse().unwrap() };
    let request = |now| Tick {
        now,
        wall: 0,
        honouring: &[],
        at_least_once: false,
        links: None,
    };
    let now = at("2026-03-10T09:00:00Z");
    let first = tick(&compilation, &store, &request(now), &mut VirtualSink)
        .unwrap()
        .unwrap();
    assert_eq!((first.planned, first.enqueued), (11, 11));
    // Two of the eleven are deferred by quiet hours.
    assert_eq!(first.tally.sent, 9);
    assert!(!dir.path().join("out.jsonl").exists());
    let later = tick(
        &compilation,
        &store,
        &request(at("2026-03-11T08:00:00Z")),
        &mut VirtualSink,
    )
    .unwrap()
    .unwrap();
    assert_eq!(later.planned, 0);
    assert_eq!(first.tally.sent + later.tally.sent, 11);
    assert_eq!(counts(dir.path())["sent"], 11);
}

/// A runner killed while SMSC holds its request leaves the message with an
/// expired lease; the next run makes it `unknown` and asks SMSC's status
/// API, which knows herald's id: the message is recorded as sent, not sent
/// again (SMSC has no idempotency key, so a blind resend would double it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_whose_runner_died_mid_request_is_reconciled_through_smsc_status_not_resent() {
    let fake = fakes::smsc::SmscFake::start("shop", SECRET).await;
    // The first request is handled (SMSC accepts it), its answer never comes in time.
    fake.server.script([Script::Slow(Duration::from_secs(120))]);
    let providers = format!(
        "  out: {{kind: file, path: out.jsonl}}\n  gate: {{kind: smsc, login: shop, password: \"${{env:HERALD_TEST_SECRET}}\", base_url: \"{}\"}}\n",
        fake.server.url
    );
    let dir = project(&providers, &[("sms", "gate")]);
    let sms_planned = planned_now(dir.path())
        .iter()
        .filter(|key| key.ends_with("/sms"))
        .count();
    assert!(sms_planned >= 2, "the fixture plans several SMS");

    let mut runner = common::spawn_with(
        dir.path(),
        &["run", "--once", "--now", NOW, "--lease", "2"],
        &[("HERALD_TEST_SECRET", SECRET)],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fake.accepted().len() < sms_planned && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.accepted().len(), sms_planned, "every SMS reached SMSC");
    // Killed while the slow request is still open: its message stays `sending`.
    runner.kill().unwrap();
    runner.wait().unwrap();
    let sending = status(dir.path())["groups"][0]["counts"]["sending"].as_u64();
    assert!(sending >= Some(1), "{}", status(dir.path()));
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let (stdout, stderr, code) = herald_async(
        dir.path(),
        &["run", "--once", "--now", NOW, "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report = run_json(&stdout);
    assert_eq!(report["unknown"], 0, "{report}");
    let counts = counts(dir.path());
    assert_eq!(
        counts.get("unknown"),
        None,
        "{counts:?} {}",
        status(dir.path())
    );
    assert_eq!(counts.get("sending"), None, "{counts:?}");
    // Nothing reached SMSC twice: the status lookup found the message.
    assert_eq!(fake.accepted().len(), sms_planned);
    let sends = fake
        .server
        .requests()
        .iter()
        .filter(|request| request.path == "/sys/send.php")
        .count();
    assert_eq!(sends, sms_planned);
    let lookups = fake
        .server
        .requests()
        .iter()
        .filter(|request| request.path == "/sys/status.php")
        .count();
    // One lookup per message the dead runner left without an answer.
    let left_unknown = report["recovered"]["unknown"].as_u64().unwrap();
    assert!(left_unknown >= 1, "{report}");
    assert_eq!(lookups as u64, left_unknown);
}

/// Every contact the plan kept from the occurrence is in the outbox as
/// `skipped` with the plan's reason, one row per contact that gets nothing
/// (no channel in its key) or per message skipped on a channel; the counts
/// agree with the plan's, and `herald status` lists them by reason.
#[test]
fn plan_time_exclusions_are_recorded_per_contact_with_their_reason() {
    let dir = project("  out: {kind: file, path: out.jsonl}\n", &[]);
    let (stdout, _, _) = herald(dir.path(), &["plan", "--now", NOW, "--format", "json"]);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let sale = &plan["plan"]["campaigns"][0];
    let mut expected: HashMap<String, u64> = HashMap::new();
    for group in [&sale["excluded"], &sale["skipped"]] {
        for (reason, count) in group.as_object().unwrap() {
            *expected.entry(reason.clone()).or_default() += count.as_u64().unwrap();
        }
    }
    let (_, stderr, code) = herald(dir.path(), &["run", "--once", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    let store = rusqlite::Connection::open(dir.path().join("herald.db")).unwrap();
    let rows: Vec<(String, String, String)> = store
        .prepare("SELECT key, channel, reason FROM outbox WHERE state = 'skipped' ORDER BY key")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut recorded: HashMap<String, u64> = HashMap::new();
    for (_, _, reason) in &rows {
        *recorded.entry(reason.clone()).or_default() += 1;
    }
    assert_eq!(recorded, expected);
    let occurrence = "campaign/sale/2026-03-10T09:00:00Z";
    assert!(rows.contains(&(
        format!("{occurrence}/c02"),
        String::new(),
        "no_consent".into()
    )));
    assert!(rows.contains(&(
        format!("{occurrence}/c05/sms"),
        "sms".into(),
        "sms_too_long".into()
    )));
    let status = status(dir.path());
    assert_eq!(status["groups"][0]["skipped"]["held_out"], 1, "{status}");
    let (stdout, _, _) = herald(dir.path(), &["status"]);
    assert!(
        stdout.contains(
            "skipped 5 (frequency_cap 1, held_out 1, no_consent 1, sms_too_long 1, unreachable 1)"
        ),
        "{stdout}"
    );
}
