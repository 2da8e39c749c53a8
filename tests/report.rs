//! `herald report` on a store filled by a deterministic generator whose
//! truth is known: a variant converting at 5 % against 4 %, a holdout with
//! a known lift, a journey whose second step loses a known share, decoy
//! goal events outside the windows. The report's counts must equal the
//! truth exactly; the chi-squared p-value must equal a reference computed
//! by an independent route; intervals must cover as often as they claim.

mod browser;
mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{copy, herald};
use herald::store::{EventRecord, Store};
use rusqlite::{Connection, params};
use serde_json::Value;

const SPRING: i64 = 1_773_133_200; // 2026-03-10T09:00:00Z, 12:00 in Moscow
const WINBACK: i64 = 1_773_565_200; // 2026-03-15T09:00:00Z
const CART: i64 = 1_773_997_200; // 2026-03-20T09:00:00Z
const CART_LATE: i64 = CART + 40 * DAY; // 2026-04-29T09:00:00Z, the day before NOW
const DAY: i64 = 86_400;
const NOW: &str = "2026-04-30T00:00:00Z";

/// Pearson's chi-squared p-value for 500/10,000 against 400/10,000,
/// computed independently of herald and statrs: the 2 × 2 closed form
/// χ² = N(ad − bc)² / ((a+b)(c+d)(a+c)(b+d)) = 11.634671320535196, and for
/// one degree of freedom P(χ²₁ > x) = erfc(√(x/2)), evaluated with
/// Python's `math.erfc` (libm): 0.0006473378010144566.
const REFERENCE_P: f64 = 0.000_647_337_801_014_456_6;
const REFERENCE_CHI2: f64 = 11.634_671_320_535_196;

/// Writes the outbox, goal events and journey tables directly, as the
/// runner would have left them, and the delivery feedback through the
/// store, as `herald serve` records it (which also sums it up on the
/// message's outbox row).
struct Generator {
    store: Store,
    event: u64,
}

impl Generator {
    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        key_source: (&str, &str, &str),
        step: Option<&str>,
        contact: &str,
        channel: &str,
        variant: Option<&str>,
        state: &str,
        cost: f64,
        send_at: i64,
    ) -> String {
        let (kind, name, occurrence) = key_source;
        let key = match step {
            Some(step) => format!("{kind}/{name}/{occurrence}/{step}/{contact}/{channel}"),
            None => format!("{kind}/{name}/{occurrence}/{contact}/{channel}"),
        };
        let reason = (state == "skipped").then_some("consent_revoked");
        let connection = self.store.connection();
        connection
            .execute("INSERT OR IGNORE INTO contacts (id) VALUES (?1)", [contact])
            .unwrap();
        connection
            .execute(
                "INSERT INTO outbox (key, kind, name, occurrence, step, contact_id, channel,
                 provider, variant, payload, cost, state, reason, send_at, not_before,
                 created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'out', ?8, '{}', ?9, ?10, ?11, ?12, ?12,
                 ?12, ?12)",
                params![
                    key, kind, name, occurrence, step, contact, channel, variant, cost, state,
                    reason, send_at
                ],
            )
            .unwrap();
        key
    }

    fn event(&mut self, contact: &str, event: &str, at: i64, properties: Value) {
        self.event += 1;
        self.store
            .connection()
            .execute(
                "INSERT INTO events (id, contact_id, event, at, properties)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    format!("e{}", self.event),
                    contact,
                    event,
                    at,
                    properties.to_string()
                ],
            )
            .unwrap();
    }

    fn feedback(&mut self, contact: &str, key: &str, event: &str, at: i64) {
        self.event += 1;
        let added = self
            .store
            .add_event(&EventRecord {
                id: &format!("e{}", self.event),
                contact,
                event,
                at,
                properties: &serde_json::json!({ "message_key": key }).to_string(),
            })
            .unwrap();
        assert!(added);
    }

    /// A line of `journey_log` for the cart journey.
    fn log(&self, enrolment: &str, contact: &str, at: i64, step: &str, kind: &str, detail: &str) {
        self.store
            .connection()
            .execute(
                "INSERT INTO journey_log (enrolment, journey, contact_id, at, step, kind, detail)
                 VALUES (?1, 'cart', ?2, ?3, ?4, ?5, ?6)",
                params![enrolment, contact, at, step, kind, detail],
            )
            .unwrap();
    }

    /// A cart enrolment where it stands or ended; `ended` is (converted
    /// at, ended at), a conversion at 0 meaning none.
    #[allow(clippy::too_many_arguments)]
    fn enrolment(
        &self,
        id: &str,
        contact: &str,
        entered: i64,
        step: &str,
        status: &str,
        reason: Option<&str>,
        ended: Option<(i64, i64)>,
    ) {
        let converted = ended.map(|(at, _)| at).filter(|&at| at > 0);
        self.store
            .connection()
            .execute(
                "INSERT INTO enrolments (id, journey, contact_id, step, step_at, status,
                 entered_at, converted_at, ended_at, exit_reason)
                 VALUES (?1, 'cart', ?2, ?3, ?4, ?5, ?4, ?6, ?7, ?8)",
                params![
                    id,
                    contact,
                    step,
                    entered,
                    status,
                    converted,
                    ended.map(|(_, e)| e),
                    reason
                ],
            )
            .unwrap();
    }

    fn purchase(&mut self, contact: &str, at: i64, amount: f64) {
        self.event(
            contact,
            "purchase",
            at,
            serde_json::json!({ "amount": amount }),
        );
    }
}

/// The fixture project with its store filled with the known truth: filled
/// once per test binary, copied for each test.
fn project() -> tempfile::TempDir {
    static FILLED: OnceLock<tempfile::TempDir> = OnceLock::new();
    let filled = FILLED.get_or_init(fill);
    let dir = tempfile::tempdir().unwrap();
    copy(filled.path(), dir.path());
    dir
}

fn fill() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(Path::new("tests/report/project"), dir.path());
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let catalog = herald::compile(dir.path()).unwrap().filters.catalog;
    let store = Store::open_with_catalog(&dir.path().join("herald.db"), catalog).unwrap();
    // The generator writes the tables the report reads and the contacts'
    // ids, not their attributes and consents (which the suppressions and
    // events would reference).
    store
        .connection()
        .execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
        .unwrap();
    let mut generator = Generator { store, event: 0 };
    spring_sale(&mut generator);
    winback(&mut generator);
    cart(&mut generator);
    generator
        .store
        .connection()
        .execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    dir
}

/// Variant a: 10,000 emails, 500 converting (5 %); every tenth contact
/// also gets a 2-part SMS. Variant b: 10,000 emails, 400 converting (4 %),
/// 100 more that failed, 30 skipped at send time, 10 unsubscribes.
fn spring_sale(g: &mut Generator) {
    let source = ("campaign", "spring_sale", "2026-03-10T09:00:00Z");
    for (variant, every) in [("a", 20), ("b", 25)] {
        for i in 0..10_000 {
            let contact = format!("s{variant}{i:05}");
            let key = g.message(
                source,
                None,
                &contact,
                "email",
                Some(variant),
                "sent",
                0.5,
                SPRING,
            );
            // Every 50th has no delivery feedback: received when sent.
            if i % 50 != 49 {
                g.feedback(&contact, &key, "message_delivered", SPRING + 60);
            }
            if i % 4 == 0 {
                g.feedback(&contact, &key, "email_opened", SPRING + 600);
            }
            if i % 20 == 0 {
                g.feedback(&contact, &key, "email_clicked", SPRING + 700);
            }
            if variant == "a" && i % 10 == 0 {
                let sms = g.message(
                    source,
                    None,
                    &contact,
                    "sms",
                    Some("a"),
                    "sent",
                    4.4,
                    SPRING,
                );
                g.feedback(&contact, &sms, "message_delivered", SPRING + 120);
            }
            if i % every == 0 {
                g.purchase(&contact, SPRING + DAY, 1000.0);
                // A second purchase: one conversion per contact, the first counts.
                g.purchase(&contact, SPRING + 2 * DAY, 5000.0);
            } else if i % 20 == 10 {
                // Before the message: not a conversion.
                g.purchase(&contact, SPRING - DAY, 700.0);
            } else if i % 20 == 5 {
                // Eight days after: outside the 7-day window.
                g.purchase(&contact, SPRING + 8 * DAY, 700.0);
            }
            if variant == "b" && i % 1000 == 1 {
                g.store
                    .connection()
                    .execute(
                        "INSERT INTO suppressions (contact_id, channel, reason, at)
                         VALUES (?1, 'email', 'unsubscribed', ?2)",
                        params![contact, SPRING + 7200],
                    )
                    .unwrap();
            }
        }
    }
    for i in 0..100 {
        g.message(
            source,
            None,
            &format!("sf{i:03}"),
            "email",
            Some("b"),
            "failed",
            0.5,
            SPRING,
        );
    }
    for i in 0..30 {
        g.message(
            source,
            None,
            &format!("sk{i:03}"),
            "email",
            Some("a"),
            "skipped",
            0.5,
            SPRING,
        );
    }
    g.store
        .connection()
        .execute(
            "INSERT INTO campaign_runs (campaign, occurrence, enqueued_at, planned, held_out,
             excluded, cost) VALUES ('spring_sale', ?1, ?2, 21130, 0, '{\"no_consent\": 12}', 0)",
            params![source.2, SPRING],
        )
        .unwrap();
}

/// 9,000 recipients, 450 converting (5 %); 1,000 held out, 30 converting
/// (3 %): a lift of 2 percentage points.
fn winback(g: &mut Generator) {
    let source = ("campaign", "winback", "2026-03-15T09:00:00Z");
    for i in 0..9_000 {
        let contact = format!("w{i:05}");
        let key = g.message(source, None, &contact, "email", None, "sent", 0.5, WINBACK);
        g.feedback(&contact, &key, "message_delivered", WINBACK + 60);
        if i % 20 == 0 {
            g.purchase(&contact, WINBACK + 3 * DAY, 2000.0);
        }
    }
    for i in 0..1_000 {
        let contact = format!("h{i:05}");
        // As the runner records a held-out contact: a `skipped` row with
        // no channel or provider and reason `held_out`.
        g.store
            .connection()
            .execute(
                "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
                 payload, state, reason, send_at, not_before, created_at, updated_at)
                 VALUES (?1, 'campaign', 'winback', ?2, ?3, '', '', '', 'skipped', 'held_out',
                 ?4, ?4, ?4, ?4)",
                params![
                    format!("campaign/winback/{}/{contact}", source.2),
                    source.2,
                    contact,
                    WINBACK
                ],
            )
            .unwrap();
        if i % 100 < 3 {
            g.purchase(&contact, WINBACK + 5 * DAY, 2000.0);
        } else if i % 100 == 50 {
            // Before being held out: not a conversion.
            g.purchase(&contact, WINBACK - DAY, 2000.0);
        }
    }
    g.store
        .connection()
        .execute(
            "INSERT INTO campaign_runs (campaign, occurrence, enqueued_at, planned, held_out,
             excluded, cost) VALUES ('winback', ?1, ?2, 9000, 1000, '{\"held_out\": 1000}', 0)",
            params![source.2, WINBACK],
        )
        .unwrap();
}

/// 1,000 contacts get the reminder; 300 buy within the day and leave (the
/// purchase is the goal and an exit event), the other 700 get the last
/// email and complete the journey, after which 100 buy. 50 more entered
/// the day before the report: 10 empty their cart (an exit event) and 40
/// wait at `wait_a_day`. The generator writes the enrolments and their log
/// as the journey runtime does.
fn cart(g: &mut Generator) {
    for i in 0..1_050 {
        let contact = format!("j{i:04}");
        let enrolment = format!("{i}");
        let source = ("journey", "cart", enrolment.as_str());
        let entered = if i < 1_000 { CART } else { CART_LATE };
        let key = g.message(
            source,
            Some("reminder"),
            &contact,
            "email",
            None,
            "sent",
            0.5,
            entered,
        );
        g.feedback(&contact, &key, "message_delivered", entered + 60);
        g.log(&enrolment, &contact, entered, "reminder", "entered", "{}");
        g.log(&enrolment, &contact, entered, "reminder", "sent", "{}");
        g.log(&enrolment, &contact, entered, "wait_a_day", "waited", "{}");
        if i >= 1_010 {
            g.enrolment(
                &enrolment,
                &contact,
                entered,
                "wait_a_day",
                "active",
                None,
                None,
            );
            continue;
        }
        if i >= 1_000 {
            let emptied = entered + 3600;
            g.log(&enrolment, &contact, emptied, "wait_a_day", "exited", "{}");
            g.enrolment(
                &enrolment,
                &contact,
                entered,
                "wait_a_day",
                "exited",
                Some("exit_event"),
                Some((0, emptied)),
            );
            continue;
        }
        if i % 10 < 3 {
            let bought = CART + 3600;
            g.purchase(&contact, bought, 1500.0);
            g.log(
                &enrolment,
                &contact,
                bought,
                "wait_a_day",
                "converted",
                "{}",
            );
            g.log(&enrolment, &contact, bought, "wait_a_day", "exited", "{}");
            g.enrolment(
                &enrolment,
                &contact,
                entered,
                "wait_a_day",
                "exited",
                Some("exit_event"),
                Some((bought, bought)),
            );
            continue;
        }
        let later = CART + DAY;
        let key = g.message(
            source,
            Some("last_email"),
            &contact,
            "email",
            None,
            "sent",
            0.5,
            later,
        );
        g.feedback(&contact, &key, "message_delivered", later + 60);
        g.log(&enrolment, &contact, later, "wait_a_day", "woke", "{}");
        g.log(&enrolment, &contact, later, "last_email", "sent", "{}");
        g.log(&enrolment, &contact, later, "last_email", "exited", "{}");
        let mut converted = 0;
        if i % 10 == 3 {
            converted = later + 3600;
            g.purchase(&contact, converted, 1500.0);
            g.log(
                &enrolment,
                &contact,
                converted,
                "last_email",
                "converted",
                "{}",
            );
        }
        g.enrolment(
            &enrolment,
            &contact,
            entered,
            "last_email",
            "completed",
            Some("completed"),
            Some((converted, later)),
        );
    }
}

fn json_report(dir: &Path, extra: &[&str]) -> (Value, i32) {
    let mut arguments = vec!["report", "--format", "json", "--now", NOW];
    arguments.extend_from_slice(extra);
    let (stdout, stderr, code) = herald(dir, &arguments);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    (json, code)
}

fn section<'a>(report: &'a Value, list: &str, name: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|section| section["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn row<'a>(section: &'a Value, list: &str, name: &str) -> &'a Value {
    section[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {section}"))
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

#[test]
fn counts_equal_the_generated_truth() {
    let dir = project();
    let (report, code) = json_report(dir.path(), &[]);
    assert_eq!(code, 0);
    let spring = section(&report, "campaigns", "spring_sale");
    let totals = &spring["totals"];
    assert_eq!(count(&totals["planned"]), 21_130);
    assert_eq!(count(&totals["sent"]), 21_000);
    assert_eq!(count(&totals["delivered"]), 20_600);
    assert_eq!(count(&totals["opened"]), 5_000);
    assert_eq!(count(&totals["clicked"]), 1_000);
    assert_eq!(count(&totals["failed"]), 100);
    assert_eq!(count(&totals["unsubscribed"]), 10);
    assert_eq!(count(&totals["recipients"]), 20_000);
    assert_eq!(count(&totals["conversions"]), 900);
    assert_eq!(totals["revenue"], 900_000.0);
    assert_eq!(spring["skipped"]["consent_revoked"], 30);
    assert_eq!(spring["skipped"]["no_consent"], 12);
    // Cost: 20,000 emails at 0.5 and 1,000 two-part SMS at 2.2 a part.
    let cost = totals["cost"].as_f64().unwrap();
    assert!((cost - 14_400.0).abs() < 1e-6, "{cost}");
    let sms = row(spring, "channels", "sms");
    assert!((sms["cost"].as_f64().unwrap() - 4_400.0).abs() < 1e-6);
    // The SMS arrived after the email: a's conversions are credited to it.
    assert_eq!(count(&sms["conversions"]), 500);
    assert_eq!(count(&row(spring, "channels", "email")["conversions"]), 400);
    let a = row(spring, "variants", "a");
    let b = row(spring, "variants", "b");
    assert_eq!(
        (count(&a["conversions"]), count(&a["recipients"])),
        (500, 10_000)
    );
    assert_eq!(
        (count(&b["conversions"]), count(&b["recipients"])),
        (400, 10_000)
    );
    assert_eq!(a["conversion_rate"], 0.05);
    assert_eq!(b["conversion_rate"], 0.04);

    let winback = section(&report, "campaigns", "winback");
    assert_eq!(count(&winback["totals"]["recipients"]), 9_000);
    assert_eq!(count(&winback["totals"]["conversions"]), 450);
    let holdout = &winback["holdout"];
    assert_eq!(count(&holdout["held_out"]), 1_000);
    assert_eq!(count(&holdout["conversions"]), 30);
    let lift = holdout["lift"].as_f64().unwrap();
    assert!((lift - 0.02).abs() < 1e-12, "{lift}");
    let relative = holdout["relative_lift"].as_f64().unwrap();
    assert!((relative - 2.0 / 3.0).abs() < 1e-12, "{relative}");

    let cart = section(&report, "journeys", "cart");
    let steps: Vec<&str> = cart["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["reminder", "last_email"]);
    let reminder = row(cart, "steps", "reminder");
    let last = row(cart, "steps", "last_email");
    assert_eq!(count(&reminder["recipients"]), 1_050);
    assert_eq!(
        count(&last["recipients"]),
        700,
        "30 % drop off after the reminder"
    );
    assert_eq!(count(&reminder["conversions"]), 300);
    assert_eq!(count(&last["conversions"]), 100);
    assert_eq!(count(&cart["totals"]["conversions"]), 400);
    assert_eq!(cart["totals"]["revenue"], 400.0 * 1500.0);
}

/// The journey's drop-off, step by step, from its enrolments and their
/// log: everyone reaches the reminder and the wait; 300 leave at the wait
/// on reaching the goal, 10 on another exit event (the drop-off), 40 still
/// wait there; 700 reach the last email and complete the journey.
#[test]
fn a_journey_step_shows_its_known_drop_off() {
    let dir = project();
    let (report, code) = json_report(dir.path(), &["cart"]);
    assert_eq!(code, 0);
    let flow = section(&report, "journeys", "cart")["flow"]
        .as_array()
        .unwrap();
    let table: Vec<(&str, [u64; 5], &Value)> = flow
        .iter()
        .map(|step| {
            let counts =
                ["reached", "moved_on", "waiting", "completed"].map(|field| count(&step[field]));
            let left: u64 = step["left"].as_object().unwrap().values().map(count).sum();
            (
                step["step"].as_str().unwrap(),
                [counts[0], counts[1], counts[2], counts[3], left],
                &step["left"],
            )
        })
        .collect();
    let expected = serde_json::json!({});
    let left = serde_json::json!({ "goal": 300, "exit_event": 10 });
    assert_eq!(
        table,
        [
            ("reminder", [1_050, 1_050, 0, 0, 0], &expected),
            ("wait_a_day", [1_050, 700, 40, 0, 310], &left),
            ("last_email", [700, 0, 0, 700, 0], &expected),
        ]
    );
    // Leaving on the goal is converting, not dropping off.
    let drop_off = flow[1]["drop_off"].as_f64().unwrap();
    assert!((drop_off - 10.0 / 1_050.0).abs() < 1e-12, "{drop_off}");

    // A period is a cohort: the enrolments that entered in it.
    let (report, _) = json_report(dir.path(), &["cart", "--from", "2026-04-01 00:00"]);
    let flow = section(&report, "journeys", "cart")["flow"]
        .as_array()
        .unwrap();
    let reached: Vec<(&str, u64, u64)> = flow
        .iter()
        .map(|step| {
            (
                step["step"].as_str().unwrap(),
                count(&step["reached"]),
                count(&step["waiting"]),
            )
        })
        .collect();
    assert_eq!(reached, [("reminder", 50, 0), ("wait_a_day", 50, 40)]);

    let (stdout, stderr, code) = herald(dir.path(), &["report", "cart", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("wait_a_day"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        [
            "wait_a_day",
            "1",
            "050",
            "700",
            "40",
            "0",
            "310",
            "0.95%",
            "exit",
            "event",
            "10,",
            "goal",
            "300"
        ],
        "{stdout}"
    );
}

#[test]
fn the_chi_squared_p_value_equals_an_independent_reference() {
    let dir = project();
    let (report, _) = json_report(dir.path(), &["spring_sale"]);
    let test = &section(&report, "campaigns", "spring_sale")["test"];
    assert_eq!(test["status"], "tested");
    assert_eq!(test["degrees_of_freedom"], 1);
    let statistic = test["statistic"].as_f64().unwrap();
    let p = test["p_value"].as_f64().unwrap();
    assert!((statistic - REFERENCE_CHI2).abs() < 1e-9, "{statistic}");
    assert!((p - REFERENCE_P).abs() < 1e-12, "{p} vs {REFERENCE_P}");
    assert_eq!(test["significant"], true);
    assert_eq!(test["winner"], "a");
}

#[test]
fn intervals_contain_the_true_rates() {
    let dir = project();
    let (report, _) = json_report(dir.path(), &[]);
    let spring = section(&report, "campaigns", "spring_sale");
    for (variant, truth) in [("a", 0.05), ("b", 0.04)] {
        let interval = &row(spring, "variants", variant)["conversion_interval"];
        let (low, high) = (
            interval["low"].as_f64().unwrap(),
            interval["high"].as_f64().unwrap(),
        );
        assert!(low < truth && truth < high, "{variant}: {interval}");
    }
    let holdout = &section(&report, "campaigns", "winback")["holdout"];
    let lift = &holdout["lift_interval"];
    let (low, high) = (
        lift["low"].as_f64().unwrap(),
        lift["high"].as_f64().unwrap(),
    );
    assert!(low < 0.02 && 0.02 < high, "{lift}");
}

/// Wilson intervals at 95 % cover the true rate in about 95 % of samples:
/// 4,000 binomial samples (n = 500, p = 0.04) from a fixed-seed generator.
#[test]
fn wilson_intervals_cover_about_95_percent_of_samples() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*: deterministic, independent of herald's code.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (samples, n, p) = (4_000, 500, 0.04);
    let mut covered = 0;
    for _ in 0..samples {
        let successes = (0..n).filter(|_| next() < p).count() as u64;
        let interval = herald::analytics::stats::wilson(successes, n).unwrap();
        covered += u32::from(interval.low <= p && p <= interval.high);
    }
    let coverage = f64::from(covered) / f64::from(samples);
    assert!((0.93..=0.97).contains(&coverage), "coverage {coverage}");
}

#[test]
fn small_variants_say_not_enough_data() {
    let dir = project();
    let connection = Connection::open(dir.path().join("herald.db")).unwrap();
    // Keep 60 recipients per variant.
    connection
        .execute(
            "DELETE FROM outbox WHERE name = 'spring_sale'
             AND CAST(substr(contact_id, 3) AS INTEGER) >= 60",
            [],
        )
        .unwrap();
    let (report, _) = json_report(dir.path(), &["spring_sale"]);
    let spring = section(&report, "campaigns", "spring_sale");
    assert_eq!(count(&row(spring, "variants", "a")["recipients"]), 60);
    assert_eq!(spring["test"]["status"], "not_enough_data");
    let (stdout, _, _) = herald(dir.path(), &["report", "spring_sale", "--now", NOW]);
    assert!(stdout.contains("not enough data yet"), "{stdout}");
}

#[test]
fn check_kpi_exits_1_when_a_finished_campaign_missed_a_target() {
    let dir = project();
    // winback: conversion rate 5 % against a 6 % target.
    let (report, code) = json_report(dir.path(), &["--check-kpi"]);
    assert_eq!(code, 1);
    let winback = section(&report, "campaigns", "winback");
    assert_eq!(winback["finished"], true);
    let kpi = &winback["kpis"][0];
    assert_eq!(kpi["name"], "conversion_rate");
    assert_eq!(kpi["status"], "missed");
    // spring_sale met both of its targets.
    let (report, code) = json_report(dir.path(), &["spring_sale", "--check-kpi"]);
    assert_eq!(code, 0);
    let kpis = &section(&report, "campaigns", "spring_sale")["kpis"];
    assert!(
        kpis.as_array()
            .unwrap()
            .iter()
            .all(|k| k["status"] == "met"),
        "{kpis}"
    );
    // Before the goal window has passed nothing is final, so nothing fails.
    let (stdout, _, code) = herald(
        dir.path(),
        &["report", "--check-kpi", "--now", "2026-03-20T00:00:00Z"],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("in progress"), "{stdout}");
}

#[test]
fn a_period_counts_only_messages_planned_in_it() {
    let dir = project();
    let (report, _) = json_report(
        dir.path(),
        &["--from", "2026-03-14 00:00", "--to", "2026-03-16 00:00"],
    );
    assert_eq!(
        count(&section(&report, "campaigns", "spring_sale")["totals"]["sent"]),
        0
    );
    assert_eq!(
        count(&section(&report, "campaigns", "winback")["totals"]["sent"]),
        9_000
    );
    // A section of zeros is a name on one line in the table, not a table.
    let (stdout, stderr, code) = herald(
        dir.path(),
        &[
            "report",
            "--from",
            "2026-03-14 00:00",
            "--to",
            "2026-03-16 00:00",
            "--now",
            NOW,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with("Nothing planned in the period for: campaign spring_sale, journey cart\n"),
        "{stdout}"
    );
    assert!(stdout.starts_with("campaign winback"), "{stdout}");
    let (_, stderr, code) = herald(
        dir.path(),
        &["report", "--from", "2026-03-16", "--now", NOW],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--from `2026-03-16` is not a time"),
        "{stderr}"
    );
    let (_, stderr, code) = herald(dir.path(), &["report", "sprng_sale"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `spring_sale`"), "{stderr}");
}

#[test]
fn json_output_is_stable() {
    let dir = project();
    let (report, _) = json_report(dir.path(), &["spring_sale", "winback", "cart"]);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap());
}

/// `--threads`: read in ranges of contacts on a thread each, the sections
/// add up to what one pass reads (channels, variants, steps, skip reasons,
/// days, the control group), whatever the number of ranges.
#[test]
fn the_report_read_in_ranges_of_contacts_is_the_one_pass_report() {
    let dir = project();
    let (whole, code) = json_report(dir.path(), &["--threads", "1"]);
    assert_eq!(code, 0);
    for threads in ["2", "3", "8"] {
        let (split, code) = json_report(dir.path(), &["--threads", threads]);
        assert_eq!(code, 0);
        assert_eq!(split, whole, "--threads {threads}");
    }
    let (_, stderr, code) = herald(dir.path(), &["report", "--threads", "0"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn terminal_table() {
    let dir = project();
    let (stdout, stderr, code) = herald(dir.path(), &["report", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}

/// After a real run, the report's control group is the runner's: every
/// contact held out of the occurrence, as many as the run record counts.
#[test]
fn the_control_group_is_the_one_the_runner_held_out() {
    let dir = tempfile::tempdir().unwrap();
    copy(Path::new("tests/plan/project"), dir.path());
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let (stdout, stderr, code) = herald(
        dir.path(),
        &["run", "--once", "--no-sync", "--now", "2026-03-10 12:00"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let connection = Connection::open(dir.path().join("herald.db")).unwrap();
    let counted: i64 = connection
        .query_row(
            "SELECT held_out FROM campaign_runs WHERE campaign = 'sale'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let counted = counted as u64;
    assert!(counted > 0, "the fixture holds someone out");
    let (report, code) = json_report(dir.path(), &["sale"]);
    assert_eq!(code, 0);
    let sale = section(&report, "campaigns", "sale");
    assert_eq!(count(&sale["holdout"]["held_out"]), counted);
    assert_eq!(count(&sale["skipped"]["held_out"]), counted);
    // The excluded contacts are in no channel's funnel.
    assert!(
        sale["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "")
    );
}

/// The HTML report opened in headless Chromium: a screenshot is taken, every
/// chart is an SVG with data in it, and the page logs no console error
/// (nothing to fetch: no script, no external resource).
#[test]
fn the_html_report_shows_its_charts_in_a_browser() {
    let dir = project();
    let html = dir.path().join("report.html");
    let html_arg = html.to_string_lossy().into_owned();
    let (_, stderr, code) = herald(dir.path(), &["report", "--now", NOW, "--html", &html_arg]);
    assert_eq!(code, 0, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    for external in ["<script", "<link", "src=\"http", "href=\"http", "url(http"] {
        assert!(
            !page.contains(external),
            "the page loads something: {external}"
        );
    }
    if !browser::have_chromium() {
        return;
    }
    let url = format!("file://{}", html.display());
    let profile = tempfile::tempdir().unwrap();
    let screenshot = dir.path().join("report.png");
    let mut command = browser::chromium(profile.path());
    command.args([
        &format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,4000",
        "--hide-scrollbars",
        &url,
    ]);
    browser::output_within(command, std::time::Duration::from_secs(60));
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    // The DOM as the browser built it, and its console log.
    let log = dir.path().join("chromium.log");
    let mut command = browser::chromium(profile.path());
    command
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom", &url])
        .stderr(std::fs::File::create(&log).unwrap());
    let dom = dump_dom(command);
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let errors: Vec<&str> = console
        .lines()
        .filter(|line| line.contains("CONSOLE") || line.contains("Uncaught"))
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");

    let charts: Vec<(&str, &str)> = dom
        .split("<figure class=\"chart\" data-chart=\"")
        .skip(1)
        .map(|rest| {
            let (kind, body) = rest.split_once('"').unwrap();
            (kind, body.split("</figure>").next().unwrap())
        })
        .collect();
    let kinds: Vec<&str> = charts.iter().map(|(kind, _)| *kind).collect();
    for kind in ["funnel", "daily", "variants", "cost"] {
        assert!(kinds.contains(&kind), "no {kind} chart in {kinds:?}");
    }
    for (kind, body) in &charts {
        assert!(body.contains("<svg"), "{kind}: no SVG");
        // Bars are rects; the background is one more.
        let bars = body.matches("<rect").count();
        let lines = body.matches("<polyline").count() + body.matches("<path").count();
        assert!(bars >= 3 || lines >= 1, "{kind}: no data drawn");
        assert!(body.contains("<text"), "{kind}: no labels");
    }
    // The variants chart has an error bar per variant, and its labels.
    let (_, variants) = charts.iter().find(|(kind, _)| *kind == "variants").unwrap();
    let labels: Vec<&str> = variants
        .split("<text")
        .skip(1)
        .filter_map(|text| text.split_once('>')?.1.split("</text>").next())
        .map(str::trim)
        .collect();
    assert!(labels.contains(&"a") && labels.contains(&"b"), "{labels:?}");
    assert!(variants.matches("<line").count() + variants.matches("<polyline").count() >= 2);
}

/// Every bar chart has one slot per category and its bars fill the axis:
/// plotters' inclusive integer range once left an empty slot after the last
/// bar of every chart.
#[test]
fn bar_charts_have_a_slot_per_category_and_no_empty_one() {
    let dir = project();
    let html = dir.path().join("report.html");
    let html_arg = html.to_string_lossy().into_owned();
    let (_, stderr, code) = herald(
        dir.path(),
        &["report", "spring_sale", "--now", NOW, "--html", &html_arg],
    );
    assert_eq!(code, 0, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    let (report, _) = json_report(dir.path(), &["spring_sale"]);
    let spring = section(&report, "campaigns", "spring_sale");
    let categories = [
        ("funnel", 6),
        ("daily", spring["daily"].as_array().unwrap().len()),
        ("variants", spring["variants"].as_array().unwrap().len()),
        ("cost", spring["channels"].as_array().unwrap().len()),
    ];
    for (kind, expected) in categories {
        let start = format!("<figure class=\"chart\" data-chart=\"{kind}\">");
        let svg = page
            .split(&start)
            .nth(1)
            .and_then(|rest| rest.split("</figure>").next())
            .unwrap_or_else(|| panic!("no {kind} chart"));
        // The bars, as (left, right) in pixels.
        let bars: Vec<(f64, f64)> = svg
            .split("<rect ")
            .skip(1)
            .filter(|rect| rect.contains("fill=\"#3B6EA8\""))
            .map(|rect| {
                let attribute = |name: &str| -> f64 {
                    let value = rect.split(&format!(" {name}=\"")).nth(1).unwrap();
                    value.split('"').next().unwrap().parse().unwrap()
                };
                let x = rect
                    .strip_prefix("x=\"")
                    .and_then(|rest| rest.split('"').next())
                    .unwrap()
                    .parse::<f64>()
                    .unwrap();
                (x, x + attribute("width"))
            })
            .collect();
        assert_eq!(bars.len(), expected, "{kind}: one bar per category");
        // The x axis: the longest horizontal line.
        let (axis_left, axis_right) = svg
            .split("points=\"")
            .skip(1)
            .filter_map(|points| {
                let points: Vec<(f64, f64)> = points
                    .split('"')
                    .next()?
                    .split_whitespace()
                    .filter_map(|point| {
                        let (x, y) = point.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect();
                let [(x1, y1), (x2, y2)] = points[..] else {
                    return None;
                };
                (y1 == y2).then_some((x1, x2))
            })
            .max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
            .unwrap();
        let slot = (axis_right - axis_left) / expected as f64;
        let (first, last) = (bars[0], bars[bars.len() - 1]);
        let (left_gap, right_gap) = (first.0 - axis_left, axis_right - last.1);
        assert!(
            (left_gap - right_gap).abs() < slot / 4.0,
            "{kind}: the bars leave {left_gap} px before the first and {right_gap} px after \
             the last of {axis_left}..{axis_right}"
        );
    }
}

/// `--dump-dom`'s stdout (read as it comes: the DOM outgrows a pipe's
/// buffer), waiting at most a minute.
fn dump_dom(mut command: std::process::Command) -> String {
    use std::io::Read;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !matches!(child.try_wait(), Ok(Some(_))) {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    reader.join().unwrap_or_default()
}
