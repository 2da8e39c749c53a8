//! `herald check` on the fixture projects in `tests/fixtures/`: each
//! fixture's human output and exit status are a snapshot, and every
//! diagnostic code must be produced by at least one fixture.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use herald::codes::Code;

fn herald() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herald"))
}

/// Runs `herald check` on a fixture from inside `tests/fixtures`, so paths in
/// the output are short and the same on every machine.
fn check(fixture: &str, format: &str) -> (i32, String) {
    let output = herald()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .args([
            "check",
            "--project",
            fixture,
            "--format",
            format,
            "--color",
            "never",
        ])
        .output()
        .expect("herald runs");
    assert!(
        output.stderr.is_empty(),
        "{fixture}: unexpected stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("UTF-8 output"),
    )
}

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
            .expect("fixtures folder")
            .flatten()
            .filter(|entry| entry.path().join("herald.yaml").is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

#[test]
fn fixture_diagnostics() {
    insta::glob!("fixtures/*/herald.yaml", |path| {
        let fixture = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .expect("fixture name");
        let (status, output) = check(fixture, "human");
        insta::assert_snapshot!(format!("exit status: {status}\n\n{output}"));
    });
}

#[test]
fn every_code_has_a_fixture_that_produces_it() {
    let mut produced = BTreeSet::new();
    for fixture in fixtures() {
        let (_, output) = check(&fixture, "json");
        let report: serde_json::Value = serde_json::from_str(&output).expect("JSON output");
        for diagnostic in report["diagnostics"].as_array().expect("diagnostics array") {
            produced.insert(diagnostic["code"].as_str().expect("code").to_string());
        }
    }
    let missing: Vec<String> = Code::ALL
        .iter()
        .filter(|code| !produced.contains(code.as_str()))
        .map(|code| format!("{} {}", code.as_str(), code.name()))
        .collect();
    assert!(
        missing.is_empty(),
        "codes with no fixture producing them: {missing:?}"
    );
}

#[test]
fn fixture_named_after_a_code_produces_that_code() {
    for fixture in fixtures() {
        let Some(code) = Code::lookup(&fixture) else {
            continue;
        };
        let (status, output) = check(&fixture, "json");
        assert!(
            output.contains(&format!("\"code\": \"{}\"", code.as_str())),
            "{fixture} does not produce {code}"
        );
        let expected = if code.default_severity() == herald::diagnostic::Severity::Error {
            1
        } else {
            0
        };
        assert_eq!(status, expected, "{fixture}: exit status");
    }
}

#[test]
fn the_clean_fixture_and_the_shop_example_have_no_diagnostics() {
    let (status, output) = check("clean", "json");
    assert_eq!(status, 0);
    assert!(output.contains("\"diagnostics\": []"), "{output}");
    let output = herald()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "--project", "campaigns/shop", "--format", "json"])
        .output()
        .expect("herald runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(
        report["diagnostics"],
        serde_json::json!([]),
        "campaigns/shop must stay clean"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn the_conflicts_example_fires_every_conflict_rule() {
    let output = herald()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "--project",
            "campaigns/conflicts",
            "--color",
            "never",
        ])
        .output()
        .expect("herald runs");
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    for code in Code::ALL
        .iter()
        .filter(|code| code.as_str().starts_with('X'))
    {
        assert!(
            text.contains(&format!("[{}]", code.as_str())),
            "{code} does not fire in campaigns/conflicts"
        );
    }
    // Warnings only: the example is valid, just risky.
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(text);
}
