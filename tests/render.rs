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
