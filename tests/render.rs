//! `herald render` end to end: the template fixture `tests/render/` is
//! rendered for contacts from files and for samples.

use std::path::Path;
use std::process::Command;

fn render(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render"))
        .args(["render", "--project", "project"])
        .args(args)
        .output()
        .expect("herald runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("UTF-8"),
        String::from_utf8(output.stderr).expect("UTF-8"),
    )
}

#[test]
fn contact_data_is_escaped_in_html_plain_in_sms_and_never_evaluated() {
    let (status, stdout, stderr) =
        render(&["promo", "--contact-file", "script.yaml", "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let renders = report["renders"].as_array().expect("renders");
    let email = renders
        .iter()
        .find(|r| r["channel"] == "email")
        .expect("email");
    let sms = renders.iter().find(|r| r["channel"] == "sms").expect("sms");
    let html = email["parts"]["html"].as_str().expect("html");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("{{ 7 * 7 }}"),
        "contact data must not be evaluated: {html}"
    );
    let text = sms["parts"]["text"].as_str().expect("sms text");
    assert!(text.starts_with("<script>"), "{text}");
    assert!(!text.contains("49"), "{text}");
    assert_eq!(sms["sms"]["encoding"], "UCS-2");
    assert!(
        email["headers"]
            .to_string()
            .contains("List-Unsubscribe-Post")
    );
    insta::assert_snapshot!(stdout);
}

#[test]
fn samples_human_output() {
    let (status, stdout, stderr) = render(&["promo", "--samples", "3"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}

/// An email laid out in tables gets a text part of paragraphs, one to a
/// line, with no borders or padding, and its links as footnotes.
#[test]
fn a_layout_of_tables_reads_as_paragraphs_in_the_text_part() {
    let (status, stdout, stderr) = render(&["newsletter", "--samples", "1", "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let email = report["renders"]
        .as_array()
        .expect("renders")
        .iter()
        .find(|r| r["channel"] == "email")
        .expect("email");
    let text = email["parts"]["text"].as_str().expect("text part");
    assert!(!text.contains('─') && !text.contains("  "), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn journey_step_and_template_targets() {
    let (status, stdout, stderr) = render(&["cart#nudge", "--samples", "1"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("3 товара"), "{stdout}");
    let (status, stdout, stderr) = render(&["templates/promo.html", "--samples", "1"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("Отписаться"), "{stdout}");
}

#[test]
fn unknown_target_is_a_usage_error_with_a_suggestion() {
    let (status, _, stderr) = render(&["prom"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("did you mean `promo`?"), "{stderr}");
}

/// A contact store in a temporary directory, written through the store's
/// own API for the fixture's data model.
fn store_with_contacts() -> tempfile::TempDir {
    use herald::contact::{Contact, Value};
    let directory = tempfile::tempdir().expect("temporary directory");
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/project");
    let compilation = herald::compile(&project).expect("fixture compiles");
    let manifest = &compilation
        .project
        .manifest
        .as_ref()
        .expect("manifest")
        .value;
    let store = herald::store::Store::open(&directory.path().join("herald.db"), manifest)
        .expect("store opens");
    let contact = |id: &str, attributes: Vec<(&str, Value)>| Contact {
        id: id.to_string(),
        attributes: attributes
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
        ..Contact::default()
    };
    let text = |value: &str| Value::String(value.to_string());
    for contact in [
        contact(
            "c-7",
            vec![
                ("first_name", text("ольга <b>&</b>")),
                ("gender", text("female")),
                ("orders_count", Value::Integer(4)),
                ("email", text("olga@example.com")),
                ("created_at", Value::Datetime(1_767_225_600)),
            ],
        ),
        contact(
            "c-8",
            vec![
                ("gender", text("male")),
                ("orders_count", Value::Integer(0)),
            ],
        ),
    ] {
        store.put_contact(&contact).expect("contact stored");
    }
    directory
}

#[test]
fn contact_from_the_store_by_id() {
    let directory = store_with_contacts();
    let store = directory.path().join("herald.db");
    let store = store.to_str().expect("UTF-8 path");

    let (status, stdout, stderr) = render(&["promo", "--store", store, "--contact", "c-7"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains("promo · email · c-7 (from the store)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Ольга &lt;b&gt;&amp;&lt;/b&gt;"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Ольга <b>&</b>: -25% до воскресенья"),
        "{stdout}"
    );
    insta::assert_snapshot!(stdout);

    // A contact without a first name is greeted by lifecycle and gender.
    let (status, stdout, stderr) = render(&[
        "promo",
        "--store",
        store,
        "--contact",
        "c-8",
        "--format",
        "json",
    ]);
    assert_eq!(status, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let renders = report["renders"].as_array().expect("renders");
    assert_eq!(renders.len(), 2);
    assert!(renders.iter().all(|r| r["contact"] == "c-8"));
    let sms = renders.iter().find(|r| r["channel"] == "sms").expect("sms");
    assert_eq!(sms["parts"]["text"], "Гость: -25% до воскресенья");

    let (status, _, stderr) = render(&["promo", "--store", store, "--contact", "c-9"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no contact `c-9` in the store"), "{stderr}");
}

#[test]
fn contact_from_a_missing_store_is_a_store_error() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = directory.path().join("absent.db");
    let (status, _, stderr) = render(&[
        "promo",
        "--store",
        store.to_str().expect("UTF-8 path"),
        "--contact",
        "c-1",
    ]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("no such file (import contacts first)"),
        "{stderr}"
    );
    assert!(!store.exists(), "a preview must not create a store");
}

#[test]
fn contact_from_a_store_another_program_is_writing() {
    let directory = store_with_contacts();
    let path = directory.path().join("herald.db");
    let writer = rusqlite::Connection::open(&path).expect("store opens");
    writer
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM contacts WHERE id = 'c-8'")
        .expect("write lock taken");
    let started = std::time::Instant::now();
    let (status, stdout, stderr) = render(&[
        "promo",
        "--store",
        path.to_str().expect("UTF-8 path"),
        "--contact",
        "c-7",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("c-7 (from the store)"), "{stdout}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    writer.execute_batch("ROLLBACK").expect("rolled back");
}

/// A subject-only A/B variant sends the campaign's body (issue 12, item 1):
/// variants inherit the default message part by part.
#[test]
fn a_subject_only_variant_renders_the_default_body() {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .args(["render", "--project", "empty-message", "subject-test"])
        .args(["--variant", "b", "--format", "json", "--samples", "1"])
        .output()
        .expect("herald runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let email = &report["renders"][0];
    assert_eq!(email["parts"]["subject"], "Только до воскресенья: −25%");
    let html = email["parts"]["html"].as_str().expect("the default body");
    assert!(html.contains("Скидка 25% до воскресенья."), "{html}");
    assert!(html.contains("https://unsubscribe.invalid/"), "{html}");
}

/// Issue 12, item 3: a contact whose values break a template names the
/// expression that failed, as `check`'s T005 does, not only the engine's error.
#[test]
fn a_render_error_for_a_contact_names_the_failing_expression() {
    let directory = tempfile::tempdir().expect("tempdir");
    let contact = directory.path().join("contact.yaml");
    std::fs::write(&contact, "id: c-1\norders_count: 3\n").expect("contact file");
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render-error");
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["render", "promo", "--project"])
        .arg(&project)
        .arg("--contact-file")
        .arg(&contact)
        .output()
        .expect("herald runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "render error: text part: `contact.orders_count + ' заказов'`: tried to use + operator on unsupported types number and string"
        ),
        "{stdout}"
    );
}
