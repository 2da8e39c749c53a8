//! `herald simulate` end to end: the planner's fixture (`tests/plan/project`,
//! ten contacts, four one-off campaigns in March 2026) simulated over a
//! month as a snapshot of the human timeline, one contact followed, the
//! shop (`campaigns/shop`) over December as JSON, an events file changing
//! what happens, the real store left as it was, and bad inputs refused with
//! exit status 2.

mod common;

use std::path::Path;

use common::{copy, herald};
use serde_json::Value;

const FROM: &str = "2026-03-09";
const TO: &str = "2026-03-31";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan/project"),
        dir.path(),
    );
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    dir
}

fn timeline(root: &Path, extra: &[&str]) -> Vec<Value> {
    let mut arguments = vec!["simulate", "--from", FROM, "--to", TO, "--format", "json"];
    arguments.extend(extra);
    let (stdout, stderr, code) = herald(root, &arguments);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_month_of_the_fixture_prints_each_occurrence_by_day() {
    let dir = fixture();
    let (stdout, stderr, code) = herald(dir.path(), &["simulate", "--from", FROM, "--to", TO]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn the_real_store_is_left_exactly_as_it_was() {
    let dir = fixture();
    let store = dir.path().join("herald.db");
    let before = (
        std::fs::read(&store).unwrap(),
        std::fs::metadata(&store).unwrap().modified().unwrap(),
    );
    timeline(dir.path(), &[]);
    let after = (
        std::fs::read(&store).unwrap(),
        std::fs::metadata(&store).unwrap().modified().unwrap(),
    );
    assert!(before == after, "the store changed");
    assert!(!dir.path().join("out.jsonl").exists(), "something was sent");
}

#[test]
fn contact_follows_one_contact_through_deferral_caps_and_sends() {
    let dir = fixture();
    let entries = timeline(dir.path(), &["--contact", "c08"]);
    assert!(entries.iter().all(|entry| entry["contact_id"] == "c08"));
    let line = |entry: &Value| {
        format!(
            "{} {} {} {} {}",
            entry["at"].as_str().unwrap(),
            entry["kind"].as_str().unwrap(),
            entry["name"].as_str().unwrap(),
            entry["channel"].as_str().unwrap_or("-"),
            entry["reason"].as_str().unwrap_or("-"),
        )
    };
    let lines: Vec<String> = entries.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            "2026-03-10T09:00:00Z deferred sale email quiet_hours",
            "2026-03-10T09:00:00Z deferred sale telegram quiet_hours",
            "2026-03-10T13:00:00Z sent sale email -",
            "2026-03-10T13:00:00Z sent sale telegram -",
            "2026-03-11T09:00:00Z skipped news telegram frequency_cap",
            "2026-03-12T20:00:00Z sent notice email -",
            "2026-03-28T21:30:00Z sent night telegram -",
        ]
    );
    let deferred = &entries[0];
    assert_eq!(deferred["until"], "2026-03-10T13:00:00Z");
    assert_eq!(deferred["occurrence"], "2026-03-10T09:00:00Z");
}

fn shop() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop"),
        dir.path(),
    );
    dir
}

/// An abandoned cart in the events file enrols the contact in the
/// abandoned-cart journey at the event's time; without it, nothing.
#[test]
fn an_events_file_changes_what_happens() {
    let dir = shop();
    let window = [
        "simulate",
        "--from",
        "2026-12-02",
        "--to",
        "2026-12-04",
        "--step",
        "1h",
    ];
    let follow = ["--contact", "c00190", "--format", "json"];
    let run = |extra: &[&str]| -> Vec<Value> {
        let arguments: Vec<&str> = window.iter().chain(&follow).chain(extra).copied().collect();
        let (stdout, stderr, code) = herald(dir.path(), &arguments);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let entered = |entries: &[Value]| -> Vec<String> {
        entries
            .iter()
            .filter(|entry| entry["kind"] == "entered")
            .map(|entry| format!("{} {}", entry["at"], entry["name"]))
            .collect()
    };
    assert!(
        !entered(&run(&[])).contains(&"\"2026-12-02T10:00:00Z\" \"abandoned_cart\"".to_string())
    );
    std::fs::write(
        dir.path().join("what-if.jsonl"),
        "{\"id\": \"w1\", \"contact_id\": \"c00190\", \"event\": \"cart_abandoned\", \"at\": \"2026-12-02T10:00:00Z\", \"properties\": {\"cart_id\": \"w\", \"cart_total\": 5000, \"first_item\": \"Худи\", \"first_item_image\": \"https://lastochka.example/img/1.jpg\", \"items_count\": 1}}\n",
    )
    .unwrap();
    let with = run(&["--events", "what-if.jsonl"]);
    assert!(
        entered(&with).contains(&"\"2026-12-02T10:00:00Z\" \"abandoned_cart\"".to_string()),
        "{with:#?}"
    );
}

fn refused(root: &Path, arguments: &[&str], expected: &str) {
    let (stdout, stderr, code) = herald(root, arguments);
    assert_eq!(code, 2, "{arguments:?}: {stdout}{stderr}");
    assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--events` with a file of `text` (none when `None`) over `[from, to]` is
/// refused with `expected`.
fn refused_events(root: &Path, window: (&str, &str), text: Option<&str>, expected: &str) {
    if let Some(text) = text {
        std::fs::write(root.join("events.what-if.jsonl"), text).unwrap();
    }
    let (from, to) = window;
    let arguments = ["simulate", "--from", from, "--to", to, "--no-sync"];
    let file = ["--events", "events.what-if.jsonl"];
    let all: Vec<&str> = arguments.iter().chain(&file).copied().collect();
    refused(root, &all, expected);
}

#[test]
fn bad_inputs_are_clear_errors_with_exit_status_2() {
    let dir = fixture();
    let root = dir.path();
    refused(
        root,
        &["simulate", "--from", TO, "--to", FROM],
        "must be after --from",
    );
    refused(
        root,
        &["simulate", "--from", "yesterday", "--to", TO],
        "--from `yesterday` is not a time",
    );
    for step in ["0h", "soon", "1 month"] {
        refused(
            root,
            &["simulate", "--from", FROM, "--to", TO, "--step", step],
            &format!("--step `{step}`"),
        );
    }
    let march = (FROM, TO);
    refused_events(
        root,
        march,
        None,
        "--events events.what-if.jsonl: No such file",
    );
    refused_events(
        root,
        march,
        Some("{\"id\": \"x\",\n"),
        "line 1: not valid JSON",
    );
    refused_events(
        root,
        march,
        Some(
            "{\"id\": \"u1\", \"contact_id\": \"c01\", \"event\": \"purchase\", \"at\": \"2026-03-10T00:00:00Z\"}\n",
        ),
        "line 1: unknown event `purchase`",
    );
    let shop = shop();
    let december = ("2026-12-01", "2026-12-02");
    let signed_up = |contact: &str, at: &str| {
        format!(
            "{{\"id\": \"w1\", \"contact_id\": \"{contact}\", \"event\": \"signed_up\", \"at\": \"{at}\", \"properties\": {{\"source\": \"site\"}}}}\n"
        )
    };
    refused_events(
        shop.path(),
        december,
        Some(&signed_up("c00190", "2027-01-01T00:00:00Z")),
        "outside the simulation",
    );
    refused_events(
        shop.path(),
        december,
        Some(&signed_up("nobody", "2026-12-01T10:00:00Z")),
        "unknown contact `nobody`",
    );
}

/// The shop over December, from its sources alone (no store yet): the
/// campaigns' occurrences of the month are sent at their time, journeys
/// enter, send and exit, and every entry is inside the month.
#[test]
fn the_shop_over_december_sends_each_occurrence_and_runs_the_journeys() {
    let dir = shop();
    let (stdout, stderr, code) = herald(
        dir.path(),
        &[
            "simulate",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-31",
            "--step",
            "6h",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !dir.path().join("herald.db").exists(),
        "a store was created"
    );
    let entries: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let mut occurrences: Vec<(String, String)> = entries
        .iter()
        .filter(|entry| entry["source"] == "campaign" && entry["kind"] == "sent")
        .map(|entry| {
            (
                entry["name"].as_str().unwrap().to_string(),
                entry["occurrence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    occurrences.sort();
    occurrences.dedup();
    assert_eq!(
        occurrences,
        [
            (
                "holidays/new_year".to_string(),
                "2026-12-15T08:00:00Z".to_string()
            ),
            (
                "info/express_delivery".into(),
                "2026-12-08T09:00:00Z".into()
            ),
            ("info/re_permission".into(), "2026-12-01T09:00:00Z".into()),
            ("promo/first_order".into(), "2026-12-12T09:00:00Z".into()),
        ]
    );
    for entry in &entries {
        if entry["source"] == "campaign" && entry["kind"] == "sent" {
            assert!(
                entry["at"].as_str() >= entry["occurrence"].as_str(),
                "{entry}"
            );
        }
        if entry["kind"] == "skipped" {
            assert!(entry["reason"].is_string(), "{entry}");
        }
    }
    for kind in ["entered", "sent", "exited"] {
        assert!(
            entries
                .iter()
                .any(|entry| entry["source"] == "journey" && entry["kind"] == kind),
            "no journey {kind}"
        );
    }
}

/// `--keep-store` keeps the simulated store, so `herald report` can say what
/// the month achieved: every message the timeline sent is in the report,
/// and the real store is still untouched. An existing file is refused.
#[test]
fn the_kept_store_is_what_herald_report_reads() {
    let dir = fixture();
    let kept = dir.path().join("simulated.db");
    let kept_arg = kept.to_string_lossy().into_owned();
    let sent = timeline(dir.path(), &["--keep-store", &kept_arg])
        .iter()
        .filter(|entry| entry["kind"] == "sent")
        .count() as u64;
    assert!(sent > 0, "the fixture sends something");
    let (stdout, stderr, code) = herald(
        dir.path(),
        &[
            "report",
            "--store",
            &kept_arg,
            "--now",
            "2026-03-31 00:00",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let reported: u64 = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["journeys"].as_array().unwrap())
        .map(|section| section["totals"]["sent"].as_u64().unwrap())
        .sum();
    assert_eq!(reported, sent);
    let (_, stderr, code) = herald(
        dir.path(),
        &[
            "simulate",
            "--from",
            FROM,
            "--to",
            TO,
            "--keep-store",
            &kept_arg,
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("the file exists"), "{stderr}");
}
