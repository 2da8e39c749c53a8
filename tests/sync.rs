//! `herald sync` and the sync `plan` runs first, end to end on a copy of
//! the planner's fixture (`tests/plan/project`) given `sources:`: the first
//! sync imports contacts then events, a second with the same files does
//! nothing and says so, a changed file is imported again (only it), a source
//! that names nothing is a diagnostic, and `plan` syncs a fresh clone before
//! it reads.

use std::path::{Path, PathBuf};

mod common;
use common::{copy, herald};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan/project")
}

const EVENTS: &str = r#"{"id":"e1","contact_id":"c01","event":"purchase","at":"2026-03-01T10:00:00Z","properties":{"amount":1200}}
{"id":"e2","contact_id":"c09","event":"purchase","at":"2026-03-02T10:00:00Z","properties":{"amount":800}}
"#;

/// The fixture with a `purchase` event type, its contacts file and one
/// events file as sources, and no store.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(), dir.path());
    let manifest = dir.path().join("herald.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(
        "events:\n  purchase:\n    properties:\n      amount: number\n\
         sources:\n  contacts: [contacts.csv]\n  events: [exports/*.jsonl]\n",
    );
    std::fs::write(&manifest, text).unwrap();
    std::fs::create_dir_all(dir.path().join("exports")).unwrap();
    std::fs::write(dir.path().join("exports/2026-03.jsonl"), EVENTS).unwrap();
    dir
}

fn count(root: &Path, sql: &str) -> i64 {
    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    store.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn the_first_sync_imports_contacts_then_events() {
    let dir = project();
    let (stdout, stderr, code) = herald(dir.path(), &["sync"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "./contacts.csv: 10 contacts: 10 inserted, 0 updated, 0 unchanged, 0 rejected\n\
         ./exports/2026-03.jsonl: 2 events: 2 inserted, 0 updated, 0 unchanged, 0 rejected\n"
    );
    assert_eq!(count(dir.path(), "SELECT count(*) FROM contacts"), 10);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM events"), 2);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM source_files"), 2);
    // The fixture's base has no sign-up dates: the first sync says so.
    assert!(
        stderr
            .starts_with("warning: ./contacts.csv: 10 of the 10 new contacts have no `created_at`"),
        "{stderr}"
    );
}

#[test]
fn a_second_sync_with_the_same_files_does_nothing_and_says_so() {
    let dir = project();
    assert_eq!(herald(dir.path(), &["sync"]).2, 0);
    let synced_at = count(dir.path(), "SELECT max(synced_at) FROM source_files");
    let (stdout, stderr, code) = herald(dir.path(), &["sync"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Nothing to sync: 2 source files unchanged since the last sync.\n"
    );
    assert_eq!(
        count(dir.path(), "SELECT max(synced_at) FROM source_files"),
        synced_at
    );
    let (stdout, _, code) = herald(dir.path(), &["sync", "--format", "json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["files"][0]["kind"], "contacts");
    assert_eq!(report["files"][0]["name"], "contacts.csv");
    assert_eq!(report["files"][1]["status"], "unchanged");
}

#[test]
fn a_changed_file_is_imported_again_and_only_it() {
    let dir = project();
    assert_eq!(herald(dir.path(), &["sync"]).2, 0);
    let contacts = dir.path().join("contacts.csv");
    let text = std::fs::read_to_string(&contacts).unwrap();
    std::fs::write(&contacts, text.replace("Анна", "Аня")).unwrap();
    let (stdout, stderr, code) = herald(dir.path(), &["sync"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "./contacts.csv: 10 contacts: 0 inserted, 1 updated, 9 unchanged, 0 rejected\n\
         ./exports/2026-03.jsonl: unchanged since the last sync\n"
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT count(*) FROM contacts WHERE first_name = 'Аня'"
        ),
        1
    );
    // A new file matched by the glob is imported on its own.
    std::fs::write(
        dir.path().join("exports/2026-04.jsonl"),
        r#"{"id":"e3","contact_id":"c05","event":"purchase","at":"2026-04-01T10:00:00Z","properties":{"amount":500}}
{"id":"e4","contact_id":"nobody","event":"purchase","at":"2026-04-01T10:00:00Z","properties":{"amount":500}}
"#,
    )
    .unwrap();
    let (stdout, _, code) = herald(dir.path(), &["sync"]);
    // The unknown contact is rejected as `events ingest` rejects it.
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "./exports/2026-04.jsonl: 2 events: 1 inserted, 0 updated, 0 unchanged, 1 rejected \
             (see ./exports/2026-04.jsonl.rejects.jsonl)"
        ),
        "{stdout}"
    );
    assert!(
        dir.path()
            .join("exports/2026-04.jsonl.rejects.jsonl")
            .is_file()
    );
    // `--force` imports every file again, which changes nothing.
    let (stdout, _, _) = herald(dir.path(), &["sync", "--force"]);
    assert!(
        stdout.contains("./contacts.csv: 10 contacts: 0 inserted, 0 updated, 10 unchanged"),
        "{stdout}"
    );
    assert_eq!(count(dir.path(), "SELECT count(*) FROM events"), 3);
}

#[test]
fn a_missing_source_is_a_diagnostic_and_nothing_is_synced() {
    let dir = project();
    let manifest = dir.path().join("herald.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("contacts: [contacts.csv]", "contacts: [contact.csv]"),
    )
    .unwrap();
    let (stdout, _, code) = herald(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["code"], "R019");
    assert_eq!(diagnostic["file"], "herald.yaml");
    assert!(diagnostic["line"].as_u64() > Some(0), "{diagnostic}");
    assert!(diagnostic["column"].as_u64() > Some(0), "{diagnostic}");
    assert_eq!(diagnostic["help"], "did you mean `contacts.csv`?");
    let (_, stderr, code) = herald(dir.path(), &["sync"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error[R019]"), "{stderr}");
    assert!(stderr.contains("nothing is synced"), "{stderr}");
    assert!(!dir.path().join("herald.db").exists());
}

#[test]
fn plan_syncs_a_fresh_clone_first_and_then_only_reads() {
    let dir = project();
    // `--no-sync` plans on the store as it is: there is none yet.
    let (_, stderr, code) = herald(dir.path(), &["plan", "--no-sync"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no such file"), "{stderr}");
    let (stdout, stderr, code) = herald(dir.path(), &["plan", "--now", "2026-03-10 12:00"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("synced ./contacts.csv: 10 contacts: 10 inserted"),
        "{stderr}"
    );
    assert!(stdout.contains("Campaign sale"), "{stdout}");
    // Nothing changed: the next plan syncs nothing, says nothing about it,
    // and leaves the store as it was.
    let path = dir.path().join("herald.db");
    let before = std::fs::read(&path).unwrap();
    let (again, stderr, code) = herald(dir.path(), &["plan", "--now", "2026-03-10 12:00"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(again, stdout);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A changed source is synced by the next plan.
    std::fs::write(
        dir.path().join("exports/2026-03.jsonl"),
        format!("{EVENTS}{}\n", r#"{"id":"e5","contact_id":"c02","event":"purchase","at":"2026-03-03T10:00:00Z","properties":{"amount":300}}"#),
    )
    .unwrap();
    let (_, stderr, code) = herald(
        dir.path(),
        &["plan", "--now", "2026-03-10 12:00", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr,
        "synced ./exports/2026-03.jsonl: 3 events: 1 inserted, 0 updated, 2 unchanged, 0 rejected\n"
    );
}
