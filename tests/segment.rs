//! `herald segment` end to end: a project and a real SQLite store in a temp
//! directory, the real binary, exact output and exit codes.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use herald::contact::{Contact, Event, Value};
use herald::model::Manifest;
use herald::store::Store;

const MANIFEST: &str = r#"timezone: Europe/Moscow
contact:
  attributes:
    city: string
    orders_count: integer
    total_spent: number
    last_purchase_at: datetime
    tags: list
    loyalty: {type: enum, values: [bronze, silver, gold]}
events:
  purchase:
    properties:
      amount: number
      category: string
channels:
  sms: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
lint:
  unused-segment: allow
"#;

/// 2026-03-01T09:00:00Z, 12:00 in Moscow.
const NOW: i64 = 1_772_355_600;
const DAY: i64 = 86_400;

fn contact(id: &str, city: Option<&str>, orders: i64, purchases: &[(i64, f64)]) -> Contact {
    let mut attributes = BTreeMap::new();
    if let Some(city) = city {
        attributes.insert("city".to_string(), Value::String(city.to_string()));
    }
    attributes.insert("orders_count".to_string(), Value::Integer(orders));
    Contact {
        id: id.to_string(),
        attributes,
        events: purchases
            .iter()
            .enumerate()
            .map(|(index, (days_ago, amount))| Event {
                id: format!("{id}-{index}"),
                event: "purchase".into(),
                at: NOW - days_ago * DAY,
                properties: serde_json::json!({"amount": amount, "category": "обувь"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect(),
        ..Contact::default()
    }
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("herald.yaml"), MANIFEST).unwrap();
    std::fs::create_dir_all(root.join("segments/lifecycle")).unwrap();
    std::fs::write(
        root.join("segments/lifecycle/active.yaml"),
        "filter: did purchase within 90 days\n",
    )
    .unwrap();
    std::fs::write(
        root.join("segments/moscow.yaml"),
        "filter: |\n  city = \"МОСКВА\"\n  and in segment \"lifecycle/active\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("segments/broken.yaml"),
        "filter: \"city = \\\"Москва\\\" and orders_count >> 1\"\n",
    )
    .unwrap();
    let manifest: Manifest = serde_saphyr::from_str(MANIFEST).unwrap();
    let store = Store::open(&root.join("herald.db"), &manifest).unwrap();
    for contact in [
        contact("c1", Some("москва"), 3, &[(10, 5000.0), (200, 7000.0)]),
        contact("c2", Some("Москва"), 1, &[(120, 100.0)]),
        contact("c3", Some("Санкт-Петербург"), 0, &[]),
        contact("c4", None, 7, &[(1, 20000.0), (2, 1.5)]),
    ] {
        store.put_contact(&contact).unwrap();
    }
    dir
}

fn herald(root: &Path, arguments: &[&str]) -> (String, String, i32) {
    let output = Command::cargo_bin("herald")
        .unwrap()
        .arg("--project")
        .arg(root)
        .args(arguments)
        .args(["--now", "2026-03-01T09:00:00Z"])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

#[test]
fn counts_and_lists_a_segment_with_cyrillic_case_folding_and_references() {
    let dir = project();
    assert_eq!(
        herald(dir.path(), &["segment", "moscow"]),
        ("1\n".into(), String::new(), 0)
    );
    assert_eq!(
        herald(dir.path(), &["segment", "moscow", "--list"]),
        ("c1\n".into(), String::new(), 0)
    );
    assert_eq!(
        herald(
            dir.path(),
            &["segment", "lifecycle/active", "--count", "--format", "json"]
        )
        .0,
        "{\"count\":2}\n"
    );
    assert_eq!(
        herald(
            dir.path(),
            &[
                "segment",
                "--filter",
                "city = \"МОСКВА\"",
                "--list",
                "--format",
                "json"
            ]
        )
        .0,
        "{\"ids\":[\"c1\",\"c2\"]}\n"
    );
}

#[test]
fn event_aggregates_and_missing_values() {
    let dir = project();
    let count = |filter: &str| herald(dir.path(), &["segment", "--filter", filter, "--list"]).0;
    assert_eq!(
        count("sum(purchase.amount within 365 days) > 10000"),
        "c1\nc4\n"
    );
    assert_eq!(count("count(purchase within 30 days) >= 2"), "c4\n");
    assert_eq!(count("did not purchase within 90 days"), "c2\nc3\n");
    // A comparison with a missing value is false; `not` is boolean negation.
    assert_eq!(count("city != \"Москва\""), "c3\n");
    assert_eq!(count("not (city = \"Москва\")"), "c3\nc4\n");
    assert_eq!(count("city contains \"ПЕТЕРБУРГ\""), "c3\n");
}

#[test]
fn now_accepts_local_time_in_the_project_zone() {
    let dir = project();
    let output = Command::cargo_bin("herald")
        .unwrap()
        .arg("--project")
        .arg(dir.path())
        .args(["segment", "--filter", "did purchase within 1 day", "--list"])
        .args(["--now", "2026-03-01 12:00"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "c4\n");
    let (_, stderr, status) = herald(dir.path(), &["segment", "moscow", "--now", "yesterday"]);
    assert_eq!(status, 2, "{stderr}");
}

#[test]
fn explain_prints_parameterised_sql_and_a_plan_using_the_events_index() {
    let dir = project();
    let (stdout, _, status) = herald(
        dir.path(),
        &[
            "segment",
            "--filter",
            "city = \"Москва\" and did purchase within 90 days",
            "--explain",
        ],
    );
    assert_eq!(status, 0);
    assert!(
        !stdout.contains("Москва\""),
        "values must be bound, not spliced:\n{stdout}"
    );
    assert!(stdout.contains("herald_fold(c.\"city\") = ?"), "{stdout}");
    assert!(stdout.contains("\"москва\""), "{stdout}");
    assert!(stdout.contains("events_by_contact"), "{stdout}");
}

#[test]
fn filter_errors_point_into_the_command_line_and_the_yaml() {
    let dir = project();
    let (stdout, stderr, status) = herald(
        dir.path(),
        &["segment", "--filter", "orders_count > 0 an city = \"x\""],
    );
    assert_eq!((stdout.as_str(), status), ("", 1));
    insta::assert_snapshot!("command_line_syntax_error", stderr);
    let (_, stderr, status) = herald(dir.path(), &["segment", "--filter", "total_spend > 1"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!("command_line_unknown_attribute", stderr);
    let (_, stderr, status) = herald(dir.path(), &["segment", "broken"]);
    assert_eq!(status, 1);
    let stderr = stderr.replace(&dir.path().display().to_string(), "PROJECT");
    insta::assert_snapshot!("yaml_syntax_error", stderr);
}

#[test]
fn unknown_segment_and_missing_store_are_usage_errors() {
    let dir = project();
    let (_, stderr, status) = herald(dir.path(), &["segment", "mosow"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("did you mean `moscow`?"), "{stderr}");
    std::fs::remove_file(dir.path().join("herald.db")).unwrap();
    let (_, stderr, status) = herald(dir.path(), &["segment", "moscow"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no such file"), "{stderr}");
}

/// The project's store with one more contact whose values need CSV quoting.
fn project_with_quoted_values() -> tempfile::TempDir {
    let dir = project();
    let manifest: Manifest = serde_saphyr::from_str(MANIFEST).unwrap();
    let store = Store::open(&dir.path().join("herald.db"), &manifest).unwrap();
    let mut contact = contact("c5", Some("Москва, \"Центр\""), 4, &[(3, 10.0)]);
    contact
        .attributes
        .insert("tags".into(), Value::List(vec!["vip".into(), "опт".into()]));
    contact
        .attributes
        .insert("loyalty".into(), Value::String("gold".into()));
    store.put_contact(&contact).unwrap();
    dir
}

#[test]
fn why_shows_each_condition_with_the_contacts_values_and_expands_in_segment() {
    let dir = project();
    let (stdout, stderr, status) = herald(dir.path(), &["segment", "moscow", "--why", "c1"]);
    assert_eq!((stderr.as_str(), status), ("", 0));
    insta::assert_snapshot!("why_matches", stdout);
    // c2 lives in Moscow but fails inside the referenced segment.
    let (stdout, _, status) = herald(dir.path(), &["segment", "moscow", "--why", "c2"]);
    assert_eq!(status, 0);
    insta::assert_snapshot!("why_fails_in_referenced_segment", stdout);
}

#[test]
fn why_explains_a_command_line_filter_with_or_not_and_missing_values() {
    let dir = project();
    let (stdout, _, status) = herald(
        dir.path(),
        &[
            "segment",
            "--filter",
            "orders_count >= 3 or (city = \"Москва\" and not did purchase within 30 days) or total_spent > 1",
            "--why",
            "c2",
        ],
    );
    assert_eq!(status, 0);
    insta::assert_snapshot!("why_command_line_filter", stdout);
    let (stdout, _, status) = herald(
        dir.path(),
        &["segment", "moscow", "--why", "c2", "--format", "json"],
    );
    assert_eq!(status, 0);
    insta::assert_snapshot!("why_json", stdout);
}

#[test]
fn why_an_unknown_contact_is_a_usage_error_naming_it() {
    let dir = project();
    let (stdout, stderr, status) = herald(dir.path(), &["segment", "moscow", "--why", "c9"]);
    assert_eq!((stdout.as_str(), status), ("", 2));
    let stderr = stderr.replace(&dir.path().display().to_string(), "PROJECT");
    insta::assert_snapshot!("why_unknown_contact", stderr);
}

#[test]
fn list_with_fields_exports_csv_and_json_lines() {
    let dir = project_with_quoted_values();
    let arguments = [
        "segment",
        "--filter",
        "orders_count >= 1",
        "--list",
        "--fields",
        "city,orders_count,tags,loyalty",
    ];
    let (stdout, stderr, status) = herald(dir.path(), &arguments);
    assert_eq!((stderr.as_str(), status), ("", 0));
    insta::assert_snapshot!("list_fields_csv", stdout);
    let (stdout, _, status) = herald(
        dir.path(),
        &[&arguments[..], &["--format", "json"]].concat(),
    );
    assert_eq!(status, 0);
    insta::assert_snapshot!("list_fields_jsonl", stdout);
}

#[test]
fn list_with_an_unknown_field_is_a_usage_error_with_a_suggestion() {
    let dir = project();
    let (stdout, stderr, status) = herald(
        dir.path(),
        &[
            "segment",
            "moscow",
            "--list",
            "--fields",
            "city,order_count",
        ],
    );
    assert_eq!((stdout.as_str(), status), ("", 2));
    insta::assert_snapshot!("list_fields_unknown", stderr);
    let (_, stderr, status) = herald(dir.path(), &["segment", "moscow", "--fields", "city"]);
    assert_eq!(status, 2, "--fields needs --list: {stderr}");
}
