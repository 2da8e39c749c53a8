//! The journey runtime in virtual time on the shop (`campaigns/shop`) with a
//! small base of its own: each journey's scenario with the exact messages
//! and times, a runner killed mid-week that ends with the same outbox and
//! log, and a property test over random event streams.

use std::path::{Path, PathBuf};

use herald::compiler::{Compilation, compile};
use herald::run::journeys::advance;
use herald::store::Store;
use jiff::{SignedDuration, Timestamp};

mod common;
use common::{copy, herald};

const HEADER: &str = "id,email,phone,telegram_chat_id,timezone,created_at,first_name,gender,birthday,city,orders_count,total_spent,last_purchase_at,lifecycle,loyalty,preferred_channel,consent.email,consent.sms,consent.telegram,consent.whatsapp";

fn shop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop")
}

/// The shop with `contacts` (rows after [`HEADER`]) and `events` (JSONL) as
/// its sources, synced into a fresh store.
struct Shop {
    dir: tempfile::TempDir,
    compilation: Compilation,
    store: Store,
}

impl Shop {
    fn new(contacts: &[&str], events: &[String]) -> Shop {
        Shop::edited(contacts, events, |_| {})
    }

    fn edited(contacts: &[&str], events: &[String], edit: impl Fn(&Path)) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        copy(&shop_dir(), dir.path());
        let _ = std::fs::remove_file(dir.path().join("herald.db"));
        edit(dir.path());
        let mut csv = format!("{HEADER}\n");
        for row in contacts {
            csv.push_str(row);
            csv.push('\n');
        }
        std::fs::write(dir.path().join("data/contacts.csv"), csv).unwrap();
        std::fs::write(
            dir.path().join("data/events.jsonl"),
            events.join("\n") + "\n",
        )
        .unwrap();
        let (_, stderr, code) = herald(dir.path(), &["sync"]);
        assert_eq!(code, 0, "{stderr}");
        let compilation = compile(dir.path()).unwrap();
        assert!(
            !compilation.diagnostics.has_errors(),
            "{:?}",
            compilation.diagnostics
        );
        let store = Store::open(
            &dir.path().join("herald.db"),
            &compilation.project.manifest.as_ref().unwrap().value,
        )
        .unwrap();
        Shop {
            dir,
            compilation,
            store,
        }
    }

    /// Ticks every `step` from `from` to `to` (both included).
    fn run(&self, from: &str, to: &str, step: SignedDuration) {
        let mut now: Timestamp = from.parse().unwrap();
        let to: Timestamp = to.parse().unwrap();
        while now <= to {
            advance(&self.compilation, &self.store, now).unwrap();
            now = now.checked_add(step).unwrap();
        }
    }

    /// Journey messages in the outbox: `send_at contact journey/step channel`.
    fn messages(&self) -> Vec<String> {
        let mut statement = self
            .store
            .connection()
            .prepare(
                "SELECT send_at, contact_id, name, step, channel FROM outbox
                 WHERE kind = 'journey' ORDER BY send_at, contact_id, key",
            )
            .unwrap();
        statement
            .query_map([], |row| {
                let at: i64 = row.get(0)?;
                Ok(format!(
                    "{} {} {}/{} {}",
                    Timestamp::from_second(at).unwrap(),
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The log of one journey: `at contact kind step detail`.
    fn log(&self, journey: &str) -> Vec<String> {
        self.store
            .journey_log(i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .filter(|entry| entry.journey == journey)
            .map(|entry| {
                format!(
                    "{} {} {} {} {}",
                    Timestamp::from_second(entry.at).unwrap(),
                    entry.contact_id,
                    entry.kind,
                    entry.step.unwrap_or_default(),
                    entry.detail
                )
            })
            .collect()
    }
}

fn event(id: &str, contact: &str, name: &str, at: &str, properties: &str) -> String {
    format!(
        r#"{{"id":"{id}","contact_id":"{contact}","event":"{name}","at":"{at}","properties":{properties}}}"#
    )
}

const HOUR: SignedDuration = SignedDuration::from_hours(1);

#[test]
fn welcome_series_sends_hello_incentive_bestsellers_and_an_sms_nudge() {
    let shop = Shop::new(
        &[
            "w1,w1@example.com,+79001234567,,Europe/Moscow,2026-12-01T07:00:00Z,Анна,female,,Москва,0,0,,cold,basic,,granted,granted,,",
            // No consent for promotional email: skipped, and nothing else.
            "w2,w2@example.com,,,Europe/Moscow,2026-12-01T07:00:00Z,Иван,male,,Москва,0,0,,cold,basic,,,,,",
        ],
        &[
            event(
                "e1",
                "w1",
                "signed_up",
                "2026-12-01T07:00:00Z",
                r#"{"source":"site"}"#,
            ),
            event(
                "e2",
                "w2",
                "signed_up",
                "2026-12-01T07:30:00Z",
                r#"{"source":"site"}"#,
            ),
        ],
    );
    shop.run("2026-12-01T00:00:00Z", "2026-12-12T00:00:00Z", HOUR);
    let messages = shop.messages();
    let incentive = if messages[1].contains("coupon") {
        "coupon"
    } else {
        "free_delivery"
    };
    assert_eq!(
        messages,
        vec![
            "2026-12-01T07:00:00Z w1 welcome/hello email".to_string(),
            format!("2026-12-03T07:00:00Z w1 welcome/{incentive} email"),
            "2026-12-06T07:00:00Z w1 welcome/bestsellers email".to_string(),
            "2026-12-10T07:00:00Z w1 welcome/sms_nudge sms".to_string(),
        ]
    );
    let log = shop.log("welcome");
    assert!(
        log.iter()
            .any(|l| l.contains("w2 skipped hello {\"reason\":\"no_consent\"}")),
        "{log:#?}"
    );
    assert!(
        log.last().unwrap().contains(
            "exited finish {\"message\":\"welcome series complete\",\"reason\":\"exit_step\"}"
        ),
        "{log:#?}"
    );
}

/// Routes every channel of the shop to its `file` provider (`outbox.jsonl`).
fn to_file(root: &Path) {
    let manifest = root.join("herald.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    for provider in ["smtp", "smsc", "telegram", "whatsapp"] {
        text = text.replace(
            &format!("    provider: {provider}\n"),
            "    provider: outbox\n",
        );
    }
    std::fs::write(manifest, text).unwrap();
}

#[test]
fn order_status_is_sent_at_night_without_consent_through_run_once() {
    let shop = Shop::edited(
        &[
            "o1,o1@example.com,+79001234567,,Europe/Moscow,2026-01-01T07:00:00Z,Олег,male,,Москва,2,9000,2026-12-01T20:00:00Z,active,basic,,,,,",
        ],
        &[
            // 23:30 in Moscow, inside quiet hours: transactional, not deferred.
            event(
                "s1",
                "o1",
                "order_status_changed",
                "2026-12-01T20:30:00Z",
                r#"{"order_id":"1001","status":"paid"}"#,
            ),
            event(
                "s2",
                "o1",
                "order_status_changed",
                "2026-12-02T08:00:00Z",
                r#"{"order_id":"1001","status":"handed_to_courier"}"#,
            ),
            event(
                "s3",
                "o1",
                "order_status_changed",
                "2026-12-02T09:00:00Z",
                r#"{"order_id":"1001","status":"assembling"}"#,
            ),
        ],
        to_file,
    );
    for now in [
        "2026-12-01T20:00:00Z",
        "2026-12-01T21:00:00Z",
        "2026-12-02T12:00:00Z",
    ] {
        let (stdout, stderr, code) = herald(
            shop.dir.path(),
            &[
                "run",
                "--once",
                "--no-sync",
                "--now",
                now,
                "--format",
                "json",
            ],
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    assert_eq!(
        shop.messages(),
        vec![
            "2026-12-01T20:30:00Z o1 order_status/paid email",
            "2026-12-02T08:00:00Z o1 order_status/courier_same_day sms",
        ]
    );
    let sent = std::fs::read_to_string(shop.dir.path().join("outbox.jsonl")).unwrap();
    assert_eq!(sent.lines().count(), 2, "{sent}");
    assert!(sent.contains("Заказ №1001 оплачен"), "{sent}");
}

#[test]
fn abandoned_cart_reminds_then_texts_and_a_purchase_in_between_stops_it() {
    let cart = r#"{"cart_id":"k1","items_count":2,"cart_total":5000,"first_item":"Кеды"}"#;
    let shop = Shop::new(
        &[
            "a1,a1@example.com,+79001234567,,Europe/Moscow,2025-01-01T07:00:00Z,Анна,female,,Москва,2,9000,2026-10-01T10:00:00Z,active,basic,,granted,granted,,",
            "a2,a2@example.com,+79001234568,,Europe/Moscow,2025-01-01T07:00:00Z,Борис,male,,Москва,2,9000,2026-10-01T10:00:00Z,active,basic,,granted,granted,,",
            // A cart under 1000 does not start the journey.
            "a3,a3@example.com,,,Europe/Moscow,2025-01-01T07:00:00Z,Вера,female,,Москва,1,900,2026-10-01T10:00:00Z,active,basic,,granted,,,",
        ],
        &[
            event("c1", "a1", "cart_abandoned", "2026-12-01T08:00:00Z", cart),
            event("c2", "a2", "cart_abandoned", "2026-12-01T08:00:00Z", cart),
            event(
                "c3",
                "a3",
                "cart_abandoned",
                "2026-12-01T08:00:00Z",
                r#"{"cart_id":"k3","items_count":1,"cart_total":500,"first_item":"Носки"}"#,
            ),
            event(
                "p2",
                "a2",
                "purchase",
                "2026-12-01T12:00:00Z",
                r#"{"order_id":"2001","amount":5000,"category":"shoes"}"#,
            ),
        ],
    );
    shop.run("2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z", HOUR);
    assert_eq!(
        shop.messages(),
        vec![
            "2026-12-01T09:00:00Z a1 abandoned_cart/reminder email",
            "2026-12-01T09:00:00Z a2 abandoned_cart/reminder email",
            "2026-12-02T09:00:00Z a1 abandoned_cart/sms_customer sms",
        ]
    );
    let log = shop.log("abandoned_cart");
    let a2: Vec<&String> = log.iter().filter(|l| l.contains(" a2 ")).collect();
    let last_two: Vec<String> = a2[a2.len() - 2..]
        .iter()
        .map(|l| l.split(" {").next().unwrap().to_string())
        .collect();
    assert_eq!(
        last_two,
        vec![
            "2026-12-01T12:00:00Z a2 converted wait_for_order",
            "2026-12-01T12:00:00Z a2 exited wait_for_order",
        ]
    );
    assert!(
        a2[a2.len() - 2].contains("\"message\":\"journey/abandoned_cart/"),
        "{a2:#?}"
    );
    assert!(
        a2[a2.len() - 1].contains("\"reason\":\"exit_event\""),
        "{a2:#?}"
    );
    assert!(!log.iter().any(|l| l.contains(" a3 ")), "{log:#?}");
}

#[test]
fn reactivation_marks_passive_sends_twice_and_marks_lapsed() {
    let shop = Shop::new(
        &[
            "r1,r1@example.com,,,Europe/Moscow,2025-01-01T07:00:00Z,Роман,male,,Москва,3,15000,2026-09-02T10:00:00Z,active,basic,,granted,,,",
        ],
        &[],
    );
    shop.run(
        "2026-12-01T10:00:00Z",
        "2027-03-21T10:00:00Z",
        SignedDuration::from_hours(24),
    );
    assert_eq!(
        shop.messages(),
        vec![
            // Entered on Thursday 3 December; the Saturday 11:00 in Moscow.
            "2026-12-05T08:00:00Z r1 reactivation/miss_you email",
            "2026-12-19T08:00:00Z r1 reactivation/comeback_offer email",
        ]
    );
    let history: Vec<(String, String, String)> = shop
        .store
        .attribute_history("r1")
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                Timestamp::from_second(c.at).unwrap().to_string(),
                c.from,
                c.to,
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            (
                "2026-12-03T10:00:00Z".into(),
                "\"active\"".into(),
                "\"passive\"".into()
            ),
            (
                "2027-03-19T08:00:00Z".into(),
                "\"passive\"".into(),
                "\"lapsed\"".into()
            ),
        ]
    );
}

#[test]
fn birthday_gift_at_ten_local_across_time_zones_and_on_28_february() {
    let shop = Shop::new(
        &[
            "b1,b1@example.com,,,Europe/Moscow,2020-01-01T07:00:00Z,Белла,female,1990-12-05,Москва,0,0,,cold,basic,,granted,,,",
            "b2,b2@example.com,,,Asia/Vladivostok,2020-01-01T07:00:00Z,Глеб,male,1985-12-05,Владивосток,0,0,,cold,basic,,granted,,,",
            "b3,b3@example.com,,,Europe/Moscow,2020-01-01T07:00:00Z,Дина,female,2000-02-29,Москва,0,0,,cold,basic,,granted,,,",
        ],
        &[],
    );
    shop.run("2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z", HOUR);
    shop.run("2027-02-27T00:00:00Z", "2027-03-01T00:00:00Z", HOUR);
    assert_eq!(
        shop.messages(),
        vec![
            "2026-12-05T00:00:00Z b2 birthday/gift email",
            "2026-12-05T07:00:00Z b1 birthday/gift email",
            "2026-12-10T00:00:00Z b2 birthday/reminder email",
            "2026-12-10T07:00:00Z b1 birthday/reminder email",
            "2027-02-28T07:00:00Z b3 birthday/gift email",
        ]
    );
}

#[test]
fn post_purchase_review_asks_at_noon_and_a_review_ends_it() {
    let delivered = |id: &str, contact: &str| {
        event(
            id,
            contact,
            "order_status_changed",
            "2026-12-01T15:00:00Z",
            &format!(r#"{{"order_id":"{id}","status":"delivered"}}"#),
        )
    };
    let shop = Shop::new(
        &[
            "p1,p1@example.com,,555001,Europe/Moscow,2025-01-01T07:00:00Z,Пётр,male,,Москва,1,3000,2026-12-01T10:00:00Z,active,basic,,granted,,granted,",
            "p2,p2@example.com,,555002,Europe/Moscow,2025-01-01T07:00:00Z,Полина,female,,Москва,1,3000,2026-12-01T10:00:00Z,active,basic,,granted,,granted,",
        ],
        &[
            delivered("3001", "p1"),
            delivered("3002", "p2"),
            event(
                "r2",
                "p2",
                "review_left",
                "2026-12-06T10:00:00Z",
                r#"{"order_id":"3002","rating":5}"#,
            ),
        ],
    );
    shop.run("2026-12-01T00:00:00Z", "2026-12-11T00:00:00Z", HOUR);
    assert_eq!(
        shop.messages(),
        vec![
            "2026-12-05T09:00:00Z p1 post_purchase_review/ask email",
            "2026-12-05T09:00:00Z p2 post_purchase_review/ask email",
            "2026-12-09T09:00:00Z p1 post_purchase_review/telegram_nudge telegram",
        ]
    );
    let log = shop.log("post_purchase_review");
    assert!(
        log.iter()
            .any(|l| l.starts_with("2026-12-06T10:00:00Z p2 converted")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("2026-12-06T10:00:00Z p2 exited")),
        "{log:#?}"
    );
}

#[test]
fn plan_counts_waiting_contacts_and_a_removed_step_stops_run_until_the_journey_says_what_to_do() {
    let shop = Shop::edited(
        &[
            "w1,w1@example.com,,,Europe/Moscow,2026-12-01T07:00:00Z,Анна,female,,Москва,0,0,,cold,basic,,granted,,,",
        ],
        &[event(
            "e1",
            "w1",
            "signed_up",
            "2026-12-01T07:00:00Z",
            r#"{"source":"site"}"#,
        )],
        to_file,
    );
    let root = shop.dir.path();
    let tick = |now: &str| herald(root, &["run", "--once", "--no-sync", "--now", now]);
    let (stdout, stderr, code) = tick("2026-12-01T08:00:00Z");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("journeys    1 entered, 1 messages"),
        "{stdout}"
    );
    let (stdout, _, code) = herald(
        root,
        &["plan", "--no-sync", "--now", "2026-12-03T08:00:00Z"],
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Journeys (contacts waiting at each step")
            && stdout.contains("  welcome#2          1 waiting, 1 due\n"),
        "{stdout}"
    );
    let (stdout, _, _) = herald(
        root,
        &[
            "plan",
            "--no-sync",
            "--now",
            "2026-12-03T08:00:00Z",
            "--format",
            "json",
        ],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        plan["plan"]["journeys"],
        serde_json::json!([{"journey": "welcome", "step": "2", "waiting": 1, "due": 1, "removed": false}])
    );

    // The hello letter goes: the wait everyone is in becomes step 1, so step 2 is gone.
    let journey = root.join("journeys/welcome.yaml");
    let text = std::fs::read_to_string(&journey).unwrap();
    let (head, rest) = text.split_once("  - id: hello\n").unwrap();
    let (_, tail) = rest.split_once("  - wait: 2 days\n").unwrap();
    std::fs::write(&journey, format!("{head}  - wait: 2 days\n{tail}")).unwrap();
    let (stdout, _, code) = herald(root, &["check", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "error[J009]: 1 contact waits in step `2`, which journey `welcome` no longer has"
        ),
        "{stdout}"
    );
    let (stdout, stderr, code) = tick("2026-12-03T08:00:00Z");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("`welcome` step `2` (1 waiting)"),
        "{stderr}"
    );
    assert!(stderr.contains("on_removed_step"), "{stderr}");

    let text = std::fs::read_to_string(&journey).unwrap();
    std::fs::write(
        &journey,
        text.replace("priority: 10\n", "priority: 10\non_removed_step: next\n"),
    )
    .unwrap();
    let (stdout, _, code) = herald(root, &["check", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}");
    let (stdout, stderr, code) = tick("2026-12-03T08:00:00Z");
    assert_eq!(code, 0, "{stdout}{stderr}");
    let messages = shop.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages[1].starts_with("2026-12-03T08:00:00Z w1 welcome/")
            && (messages[1].contains("/coupon ") || messages[1].contains("/free_delivery ")),
        "{messages:#?}"
    );
    assert!(
        shop.log("welcome")
            .iter()
            .any(|l| l.contains("woke 2 {\"cause\":\"removed_step\"}")),
        "{:#?}",
        shop.log("welcome")
    );
}

/// Every channel to the file provider, and a base of `count` contacts with
/// a week of sign-ups, carts, purchases and order updates from `seed`.
fn busy_week(count: usize, seed: u64) -> (Vec<String>, Vec<String>) {
    let mut random = fastrand::Rng::with_seed(seed);
    let start: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let at = |minutes: u64| {
        start
            .checked_add(SignedDuration::from_mins(minutes as i64))
            .unwrap()
            .to_string()
    };
    let zones = ["Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad"];
    let mut contacts = Vec::new();
    let mut events = Vec::new();
    for index in 0..count {
        let id = format!("k{index:04}");
        let sms = if index % 2 == 0 { "granted" } else { "" };
        contacts.push(format!(
            "{id},{id}@example.com,+7900{index:07},,{},2026-11-01T00:00:00Z,Анна,female,,Москва,0,0,,cold,basic,,granted,{sms},,",
            zones[index % 3]
        ));
        let signed = random.u64(0..7 * 24 * 60);
        events.push(event(
            &format!("{id}-s"),
            &id,
            "signed_up",
            &at(signed),
            r#"{"source":"site"}"#,
        ));
        if random.bool() {
            let cart = signed + random.u64(1..3 * 24 * 60);
            events.push(event(
                &format!("{id}-c"),
                &id,
                "cart_abandoned",
                &at(cart),
                r#"{"cart_id":"k","items_count":2,"cart_total":4000,"first_item":"Кеды"}"#,
            ));
            if random.bool() {
                let bought = cart + random.u64(1..2 * 24 * 60);
                events.push(event(
                    &format!("{id}-p"),
                    &id,
                    "purchase",
                    &at(bought),
                    r#"{"order_id":"o1","amount":4000,"category":"shoes"}"#,
                ));
                events.push(event(
                    &format!("{id}-o"),
                    &id,
                    "order_status_changed",
                    &at(bought + 30),
                    r#"{"order_id":"o1","status":"paid"}"#,
                ));
                events.push(event(
                    &format!("{id}-d"),
                    &id,
                    "order_status_changed",
                    &at(bought + 24 * 60),
                    r#"{"order_id":"o1","status":"delivered"}"#,
                ));
            }
        }
    }
    (contacts, events)
}

/// What a run leaves that must not depend on how often it was killed: the
/// outbox's messages (not their delivery state), the enrolments and the log.
fn outcome(root: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    let rows = |sql: &str| -> Vec<String> {
        let mut statement = store.prepare(sql).unwrap();
        let count = statement.column_count();
        statement
            .query_map([], |row| {
                let mut fields = Vec::new();
                for index in 0..count {
                    let value: rusqlite::types::Value = row.get(index)?;
                    fields.push(format!("{value:?}"));
                }
                Ok(fields.join(" "))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    (
        rows(
            "SELECT key, name, occurrence, step, contact_id, channel, payload, send_at FROM outbox ORDER BY key",
        ),
        rows("SELECT * FROM enrolments ORDER BY journey, id"),
        rows(
            "SELECT enrolment, journey, contact_id, at, step, kind, detail FROM journey_log ORDER BY rowid",
        ),
    )
}

#[test]
fn a_runner_killed_at_random_moments_ends_with_the_same_outbox_and_log() {
    let (contacts, events) = busy_week(120, 7);
    let contacts: Vec<&str> = contacts.iter().map(String::as_str).collect();
    let reference = Shop::edited(&contacts, &events, to_file);
    let killed = Shop::edited(&contacts, &events, to_file);
    let ticks: Vec<String> = (0..=14)
        .map(|tick| {
            "2026-12-01T00:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .checked_add(SignedDuration::from_hours(12 * tick))
                .unwrap()
                .to_string()
        })
        .collect();
    let arguments = |now: &str| -> Vec<String> {
        [
            "run",
            "--once",
            "--no-sync",
            "--now",
            now,
            "--format",
            "json",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    for now in &ticks {
        let (stdout, stderr, code) = herald(
            reference.dir.path(),
            &arguments(now)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    let mut random = fastrand::Rng::with_seed(21);
    let mut kills = 0;
    for now in &ticks {
        loop {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
                .current_dir(killed.dir.path())
                .args(arguments(now))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            if random.bool() {
                std::thread::sleep(std::time::Duration::from_millis(random.u64(20..900)));
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    continue;
                }
            }
            assert!(child.wait().unwrap().success(), "run at {now} failed");
            break;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed");
    let (outbox, enrolments, log) = outcome(reference.dir.path());
    assert!(log.len() > 500, "a busy week: {} log rows", log.len());
    let (killed_outbox, killed_enrolments, killed_log) = outcome(killed.dir.path());
    assert_eq!(killed_outbox, outbox);
    assert_eq!(killed_enrolments, enrolments);
    assert_eq!(killed_log, log);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const KINDS: [(&str, &str); 5] = [
        ("signed_up", r#"{"source":"site"}"#),
        (
            "cart_abandoned",
            r#"{"cart_id":"k","items_count":1,"cart_total":1500,"first_item":"Шарф"}"#,
        ),
        (
            "purchase",
            r#"{"order_id":"o","amount":1500,"category":"accessories"}"#,
        ),
        (
            "order_status_changed",
            r#"{"order_id":"o","status":"delivered"}"#,
        ),
        ("review_left", r#"{"order_id":"o","rating":5}"#),
    ];
    const START: &str = "2026-12-01T00:00:00Z";
    const END: &str = "2026-12-07T00:00:00Z";

    fn detail(line: &herald::store::enrolments::LogEntry) -> serde_json::Value {
        serde_json::from_str(&line.detail).unwrap()
    }

    fn seconds(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// For random event streams: at most one active enrolment per
        /// journey and contact (and enrolments of one journey never
        /// overlap), no message after an exit event, and every wait ends at
        /// its time or with its event.
        #[test]
        fn journeys_keep_their_promises(
            stream in proptest::collection::btree_map(
                (0usize..3, 0u64..6 * 24 * 60),
                0usize..KINDS.len(),
                0..24,
            )
        ) {
            let start: Timestamp = START.parse().unwrap();
            let events: Vec<String> = stream
                .iter()
                .enumerate()
                .map(|(index, ((contact, minute), kind))| {
                    let at = start
                        .checked_add(SignedDuration::from_mins(*minute as i64))
                        .unwrap();
                    event(&format!("x{index}"), &format!("q{contact}"), KINDS[*kind].0,
                        &at.to_string(), KINDS[*kind].1)
                })
                .collect();
            let shop = Shop::new(
                &[
                    "q0,q0@example.com,+79001110000,,Europe/Moscow,2026-01-01T00:00:00Z,Анна,female,,Москва,1,2000,2026-11-20T10:00:00Z,active,basic,,granted,granted,,",
                    "q1,q1@example.com,,,Asia/Vladivostok,2026-01-01T00:00:00Z,Борис,male,,Москва,0,0,,cold,basic,,granted,,,",
                    "q2,q2@example.com,+79001110002,,Europe/Kaliningrad,2026-01-01T00:00:00Z,Вера,female,,Москва,0,0,,cold,basic,,,granted,,",
                ],
                &events,
            );
            shop.run(START, END, SignedDuration::from_hours(2));
            let end = seconds(END);
            let store = &shop.store;

            let mut by_pair: BTreeMap<(String, String), Vec<herald::store::enrolments::Enrolment>> =
                BTreeMap::new();
            for machine in &shop.compilation.journeys {
                for contact in ["q0", "q1", "q2"] {
                    let list = store.enrolments_of(contact, &machine.journey, i64::MIN).unwrap();
                    by_pair.insert((machine.journey.clone(), contact.to_string()), list);
                }
            }
            for ((journey, contact), list) in &by_pair {
                let active = list.iter().filter(|e| e.status == herald::store::enrolments::Status::Active).count();
                prop_assert!(active <= 1, "{journey} {contact}: {active} active");
                for pair in list.windows(2) {
                    prop_assert!(
                        pair[0].ended_at.is_some_and(|ended| ended <= pair[1].entered_at),
                        "{journey} {contact}: enrolments overlap"
                    );
                }
            }

            let stored: Vec<(String, String, i64, String)> = stream
                .iter()
                .enumerate()
                .map(|(index, ((contact, minute), kind))| {
                    (format!("x{index}"), format!("q{contact}"), start.as_second() + *minute as i64 * 60,
                     KINDS[*kind].0.to_string())
                })
                .collect();
            let log = store.journey_log(i64::MIN, i64::MAX).unwrap();
            for (index, line) in log.iter().enumerate() {
                let machine = shop.compilation.journeys.iter().find(|m| m.journey == line.journey).unwrap();
                let enrolment = by_pair[&(line.journey.clone(), line.contact_id.clone())]
                    .iter()
                    .find(|e| e.id == line.enrolment)
                    .unwrap();
                if line.kind == "sent" {
                    let exited = stored.iter().find(|(id, contact, at, name)| {
                        contact == &line.contact_id
                            && machine.exit.contains(name)
                            && *at >= enrolment.entered_at
                            && *at <= line.at
                            && !enrolment.trigger.contains(&format!("\"{id}\""))
                    });
                    prop_assert!(exited.is_none(), "{line:?} after exit event {exited:?}");
                }
                if line.kind == "waited" {
                    let until = detail(line)["until"].as_str().map(seconds);
                    let next = log[index + 1..]
                        .iter()
                        .find(|l| l.enrolment == line.enrolment && l.journey == line.journey && l.kind != "converted");
                    match (next, until) {
                        (None, Some(until)) => prop_assert!(until > end, "{line:?} never ended"),
                        (None, None) => {}
                        (Some(next), until) => {
                            let cause = detail(next)["cause"].as_str().map(str::to_string);
                            let on_time = next.kind == "woke"
                                && matches!(cause.as_deref(), Some("timer" | "timeout"))
                                && Some(next.at) == until;
                            let by_event = (next.kind == "woke" && cause.as_deref() == Some("event"))
                                || (next.kind == "exited" && detail(next)["reason"] == "exit_event");
                            prop_assert!(
                                on_time || (by_event && until.is_none_or(|u| next.at <= u)),
                                "{line:?} ended by {next:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}
