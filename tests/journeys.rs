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
