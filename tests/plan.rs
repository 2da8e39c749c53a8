//! `herald plan` end to end on the fixture `tests/plan/project` with a
//! ten-contact CSV base imported into a temp store: exclusions by every
//! reason, consent by message type, `first_reachable` falling through,
//! quiet hours across time zones and a DST change, an SMS over a
//! prospect's part limit, frequency caps across campaigns, a budget overrun,
//! deterministic keys, and a plan that writes nothing. Holdout and variant shares are checked on 100,000
//! generated ids through the library.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{copy, herald};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan/project")
}

/// A copy of the fixture with its base imported, and `c04` unsubscribed
/// from email (imports do not carry suppressions).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(), dir.path());
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let store = rusqlite::Connection::open(dir.path().join("herald.db")).unwrap();
    store
        .execute(
            "INSERT INTO suppressions (contact_id, channel, reason) VALUES ('c04', 'email', 'unsubscribed')",
            [],
        )
        .unwrap();
    dir
}

fn plan_json(root: &Path, now: &str) -> Value {
    let (stdout, stderr, _) = herald(root, &["plan", "--now", now, "--format", "json"]);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"))
}

/// (contact, channel) → the message.
fn message<'v>(plan: &'v Value, contact: &str, channel: &str) -> Option<&'v Value> {
    plan["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["contact_id"] == contact && m["channel"] == channel)
}

#[test]
fn a_promotion_excludes_by_every_reason_and_shows_the_plan() {
    let dir = project();
    let (stdout, stderr, code) = herald(dir.path(), &["plan", "--now", "2026-03-10 12:00"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("sale_human", stdout);
    let plan = plan_json(dir.path(), "2026-03-10 12:00");
    insta::assert_snapshot!("sale_json", serde_json::to_string_pretty(&plan).unwrap());
    let campaign = &plan["plan"]["campaigns"][0];
    for reason in ["unreachable", "suppressed", "no_consent", "held_out"] {
        assert!(campaign["excluded"][reason].as_u64() > Some(0), "{reason}");
    }
    for reason in ["frequency_cap", "sms_too_long"] {
        assert!(campaign["skipped"][reason].as_u64() > Some(0), "{reason}");
    }
    // c05 is a prospect: the two-part SMS is not for them, email is.
    assert!(message(&plan, "c05", "sms").is_none());
    assert!(message(&plan, "c05", "email").is_some());
    assert_eq!(message(&plan, "c09", "sms").unwrap()["sms_parts"], 2);
}

#[test]
fn detailed_exit_codes_say_whether_something_is_to_be_sent() {
    let dir = project();
    let run = |now| herald(dir.path(), &["plan", "--now", now, "--detailed-exitcode"]).2;
    assert_eq!(run("2026-03-10 12:00"), 2);
    assert_eq!(run("2026-03-20 12:00"), 0);
    let (stdout, _, code) = herald(dir.path(), &["plan", "--now", "2026-03-20 12:00"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("nothing_due", stdout);
}

#[test]
fn first_reachable_falls_through_to_the_next_channel() {
    let dir = project();
    let plan = plan_json(dir.path(), "2026-03-11 12:00");
    let channels: Vec<(String, String)> = plan["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["contact_id"].as_str().unwrap().to_string(),
                m["channel"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("c01", "telegram"),
        // No telegram: the next channel in the campaign's order.
        ("c05", "email"),
        // Prefers SMS, which the campaign lists last.
        ("c06", "sms"),
        ("c07", "telegram"),
        ("c08", "telegram"),
        ("c09", "email"),
        // Telegram consent revoked: email.
        ("c10", "email"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    assert_eq!(channels, expected);
}

#[test]
fn transactional_messages_need_no_consent_and_ignore_quiet_hours() {
    let dir = project();
    let plan = plan_json(dir.path(), "2026-03-12 23:00");
    let contacts: Vec<&str> = plan["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contact_id"].as_str().unwrap())
        .collect();
    // c02 revoked email consent; c04 unsubscribed (suppression still holds).
    assert_eq!(contacts, ["c01", "c02", "c05", "c06", "c08", "c09", "c10"]);
    assert!(
        plan["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["deferred"] == false && m["send_at"] == "2026-03-12T20:00:00Z")
    );
}

#[test]
fn quiet_hours_defer_in_each_contacts_zone_across_a_dst_change() {
    let dir = project();
    // 00:30 in Moscow on 29 March 2026 is 22:30 the evening before in
    // Berlin, the night Berlin moves its clocks forward (02:00 → 03:00).
    let plan = plan_json(dir.path(), "2026-03-29 00:30");
    let send_at = |contact| {
        message(&plan, contact, "telegram").unwrap()["send_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Moscow: 09:00 MSK (UTC+3).
    assert_eq!(send_at("c01"), "2026-03-29T06:00:00Z");
    // Berlin: 09:00 CEST (UTC+2 after the change), not 08:00 UTC.
    assert_eq!(send_at("c07"), "2026-03-29T07:00:00Z");
    // New York: 17:30 EDT, outside quiet hours: at once.
    assert_eq!(send_at("c08"), "2026-03-28T21:30:00Z");
    assert_eq!(
        message(&plan, "c08", "telegram").unwrap()["deferred"],
        false
    );
    assert_eq!(message(&plan, "c07", "telegram").unwrap()["deferred"], true);
}

#[test]
fn a_plan_over_budget_is_an_error() {
    let dir = project();
    let campaign = dir.path().join("campaigns/sale.yaml");
    let text = std::fs::read_to_string(&campaign).unwrap();
    std::fs::write(&campaign, text.replace("budget: 1000", "budget: 5")).unwrap();
    let (stdout, _, code) = herald(
        dir.path(),
        &["plan", "--now", "2026-03-10 12:00", "--detailed-exitcode"],
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("OVER the budget of 5.00 RUB"), "{stdout}");
    assert!(stdout.contains("error: the estimated cost"), "{stdout}");
}

#[test]
fn a_render_failure_is_reported_per_contact_and_is_an_error() {
    let dir = project();
    let campaign = dir.path().join("campaigns/news.yaml");
    let text = std::fs::read_to_string(&campaign).unwrap();
    std::fs::write(
        &campaign,
        text.replace(
            "text: \"Мы открыли новый магазин.\"\n  sms",
            "text: \"{{ (contact.orders_count / (contact.orders_count - 1)) }}\"\n  sms",
        ),
    )
    .unwrap();
    let (stdout, stderr, code) = herald(dir.path(), &["plan", "--now", "2026-03-11 12:00"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("render failures: 1 contacts"), "{stdout}");
    assert!(stdout.contains("c10 email text"), "{stdout}");
}

#[test]
fn keys_are_the_same_in_every_plan_of_an_occurrence() {
    let dir = project();
    let first = plan_json(dir.path(), "2026-03-10 12:00");
    // A plan later within the catch-up window decides the same keys.
    let second = plan_json(dir.path(), "2026-03-10 12:00");
    let keys = |plan: &Value| -> Vec<String> {
        plan["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&first), keys(&second));
    assert_eq!(
        keys(&first)[0],
        "campaign/sale/2026-03-10T09:00:00Z/c01/email"
    );
}

#[test]
fn a_plan_writes_nothing_to_the_store() {
    let dir = project();
    let path = dir.path().join("herald.db");
    // Checkpoint everything into the main file first.
    drop(rusqlite::Connection::open(&path).unwrap());
    let before = std::fs::read(&path).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    for format in ["human", "json"] {
        let (_, stderr, code) = herald(
            dir.path(),
            &["plan", "--now", "2026-03-10 12:00", "--format", format],
        );
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn an_unknown_campaign_is_a_usage_error() {
    let dir = project();
    let (_, stderr, code) = herald(dir.path(), &["plan", "--campaign", "sael"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `sale`?"), "{stderr}");
}

/// Holdout and variant shares on 100,000 ids: within five standard
/// deviations of the configured shares, and independent of each other.
#[test]
fn holdout_and_variant_shares_hold_on_100_000_contacts() {
    use herald::campaign::Variant;
    use herald::plan::policy::{held_out, variant};
    let n = 100_000;
    let variants = vec![
        Variant {
            name: "a".into(),
            weight: 30.0,
        },
        Variant {
            name: "b".into(),
            weight: 70.0,
        },
    ];
    let mut held = 0;
    let mut in_b = 0;
    let mut held_in_b = 0;
    for index in 0..n {
        let id = format!("c{index:07}");
        let h = held_out("monthly_sale", &id, Some(10.0));
        let b = variant("monthly_sale", &id, &variants) == 1;
        held += usize::from(h);
        in_b += usize::from(b);
        held_in_b += usize::from(h && b);
    }
    let within = |count: usize, total: usize, share: f64| {
        let expected = total as f64 * share;
        let sigma = (total as f64 * share * (1.0 - share)).sqrt();
        ((count as f64) - expected).abs() < 5.0 * sigma
    };
    assert!(within(held, n, 0.10), "held out {held}");
    assert!(within(in_b, n, 0.70), "variant b {in_b}");
    // Among the held out, variant b keeps its 70%: the hashes are independent.
    assert!(within(held_in_b, held, 0.70), "{held_in_b} of {held}");
}

/// Two campaigns due at the same moment share the caps: with one telegram
/// message a week allowed, nobody gets telegram from both, and the second
/// campaign's telegram messages to those the first reached are skipped and
/// counted as `frequency_cap`.
#[test]
fn frequency_caps_count_the_messages_of_every_campaign_in_the_plan() {
    let dir = project();
    let manifest = dir.path().join("herald.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "    - {max: 2, per: 1 day}\n",
            "    - {max: 2, per: 1 day}\n    - {channel: telegram, max: 1, per: 7 days}\n",
        ),
    )
    .unwrap();
    let telegram_alone = |plan: &Value| -> Vec<String> {
        let mut contacts: Vec<String> = plan["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "telegram")
            .map(|m| m["contact_id"].as_str().unwrap().to_string())
            .collect();
        contacts.sort();
        contacts
    };
    let sale_only = telegram_alone(&plan_json(dir.path(), "2026-03-10 12:00"));
    assert!(!sale_only.is_empty());
    std::fs::write(
        dir.path().join("campaigns/flash.yaml"),
        "type: promotional\naudience:\n  segment: everyone\nschedule:\n  at: \"2026-03-10 12:00\"\n\
         channels: [telegram]\nmessages:\n  telegram:\n    text: \"Флеш-распродажа: -30% до полуночи\"\n",
    )
    .unwrap();
    let plan = plan_json(dir.path(), "2026-03-10 12:00");
    let both = telegram_alone(&plan);
    let mut unique = both.clone();
    unique.dedup();
    assert_eq!(both, unique, "a contact got telegram from both campaigns");
    let campaigns = plan["plan"]["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
    let capped: u64 = campaigns
        .iter()
        .map(|c| c["skipped"]["frequency_cap"].as_u64().unwrap_or(0))
        .sum();
    // Whoever the first campaign reached on telegram, the second could not.
    assert!(capped >= sale_only.len() as u64, "{capped} capped");
    // Those the sale held out or did not reach on telegram get the flash sale.
    assert!(both.len() > sale_only.len(), "{both:?} vs {sale_only:?}");
}

/// A prospect gets one SMS part whatever the channel allows: the sale's
/// two-part SMS is skipped for c05 (`sms_too_long`, counted), sent to the
/// customers, and a one-part text reaches the prospect too.
#[test]
fn an_sms_over_a_prospects_part_limit_is_skipped_and_counted() {
    let dir = project();
    let plan = plan_json(dir.path(), "2026-03-10 12:00");
    let sale = &plan["plan"]["campaigns"][0];
    assert_eq!(sale["skipped"]["sms_too_long"], 1);
    assert!(message(&plan, "c05", "sms").is_none());
    assert_eq!(message(&plan, "c01", "sms").unwrap()["sms_parts"], 2);
    let (stdout, _, _) = herald(dir.path(), &["plan", "--now", "2026-03-10 12:00"]);
    assert!(
        stdout.contains("1  SMS longer than allowed (1 part for prospects"),
        "{stdout}"
    );
    let campaign = dir.path().join("campaigns/sale.yaml");
    let text = std::fs::read_to_string(&campaign).unwrap();
    std::fs::write(
        &campaign,
        text.replace(
            "text: \"-20% на всё до воскресенья в магазине «Ласточка»: промокод SALE20, подробности на сайте lastochka.example\"",
            "text: \"-20% на всё до воскресенья: промокод SALE20\"",
        ),
    )
    .unwrap();
    let plan = plan_json(dir.path(), "2026-03-10 12:00");
    assert!(plan["plan"]["campaigns"][0]["skipped"]["sms_too_long"].is_null());
    assert_eq!(message(&plan, "c05", "sms").unwrap()["sms_parts"], 1);
}
