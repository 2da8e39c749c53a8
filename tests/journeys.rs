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
