//! `herald check` on the fixture projects in `tests/fixtures/`: each
//! fixture's human output and exit status are a snapshot, and every
//! diagnostic code must be produced by at least one fixture.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use herald::codes::Code;

mod common;

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

/// Every `mistake: CODE` marker of a fixture: (file, line, code).
fn planted_mistakes(root: &Path) -> BTreeSet<(String, u64, String)> {
    let mut planted = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("fixture file");
            let file = path
                .strip_prefix(root)
                .expect("inside the fixture")
                .to_string_lossy()
                .replace('\\', "/");
            for (index, line) in text.lines().enumerate() {
                if let Some((_, marker)) = line.split_once("mistake: ") {
                    let code: String = marker.chars().take(4).collect();
                    if Code::lookup(&code).is_some() {
                        planted.insert((file.clone(), index as u64 + 1, code));
                    }
                }
            }
        }
    }
    planted
}

/// `herald check --format json` on `root`: (exit status, (file, line, code) of each diagnostic).
fn reported(root: &Path) -> (i32, Vec<(String, u64, String)>) {
    let output = herald()
        .args(["check", "--project"])
        .arg(root)
        .args(["--format", "json"])
        .output()
        .expect("herald runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let diagnostics = report["diagnostics"]
        .as_array()
        .expect("diagnostics array")
        .iter()
        .map(|diagnostic| {
            let file = diagnostic["file"].as_str().unwrap_or_default();
            let file = Path::new(file)
                .strip_prefix(root)
                .map_or_else(|_| file.to_string(), |p| p.to_string_lossy().into_owned());
            (
                file,
                diagnostic["line"].as_u64().unwrap_or_default(),
                diagnostic["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (output.status.code().unwrap_or(-1), diagnostics)
}

/// Issue 12's acceptance: a project written from scratch in the README's
/// words, with the trial's mistakes planted, gets one precise diagnostic per
/// mistake and nothing else, all in one run; doing what each diagnostic's
/// help says makes the project clean.
#[test]
fn a_first_project_gets_one_diagnostic_per_mistake_and_advice_that_works() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/first-project");
    let planted = planted_mistakes(&fixture);
    assert_eq!(planted.len(), 15, "{planted:#?}");
    let (status, diagnostics) = reported(&fixture);
    assert_eq!(status, 1);
    let found: BTreeSet<_> = diagnostics.iter().cloned().collect();
    assert_eq!(
        found.len(),
        diagnostics.len(),
        "a mistake reported twice: {diagnostics:#?}"
    );
    assert_eq!(found, planted);

    // Each fix is what the diagnostic's help (or message) says to write.
    let dir = tempfile::tempdir().expect("temporary folder");
    let root = dir.path().join("first-project");
    common::copy(&fixture, &root);
    let fixes: [(&str, &str, &str); 15] = [
        (
            "herald.yaml",
            "orders_count: int  # mistake: S004",
            "orders_count: integer",
        ),
        (
            "herald.yaml",
            "    telegram_chat_id: string  # mistake: R014\n",
            "",
        ),
        (
            "herald.yaml",
            "\"123456:AAE-literal-token\"  # mistake: R008",
            "${env:BOT_TOKEN}",
        ),
        ("herald.yaml", "    colour: red  # mistake: S001\n", ""),
        (
            "segments/buyers.yaml",
            "descripton: Ordered recently.  # mistake: S001",
            "description: Ordered recently.",
        ),
        (
            "segments/buyers.yaml",
            "within 60d  # mistake: F001",
            "within 60 days",
        ),
        ("segments/men.yaml", "\"м\"  # mistake: F006", "\"male\""),
        (
            "campaigns/birthday.yaml",
            "telegramm]  # mistake: R003",
            "telegram]",
        ),
        (
            "journeys/reactivation.yaml",
            "60d  # mistake: R012",
            "60 days",
        ),
        ("journeys/reactivation.yaml", "don  # mistake: R009", "done"),
        (
            "journeys/reactivation.yaml",
            "quattro  # mistake: F006",
            "margherita",
        ),
        (
            "journeys/welcome.yaml",
            "[ordr]  # mistake: R005",
            "[order]",
        ),
        (
            "journeys/welcome.yaml",
            "sms: {}  # mistake: C007",
            "sms: {text: \"Ваш первый заказ ждёт: {{ vars.site_url }}\"}",
        ),
        (
            "templates/emails/promo.html",
            "capitalise }}, привет!</p>  {# mistake: T004 #}",
            "capitalize }}, привет!</p>",
        ),
        (
            "templates/telegram/birthday.txt",
            "{{ names[contact.favourite] }} в подарок.{% endif %}  {# mistake: T005 #}",
            "{{ names[contact.favourite] | default(\"пицца\") }} в подарок.{% endif %}",
        ),
    ];
    for (file, from, to) in fixes {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).expect("fixture file");
        assert!(text.contains(from), "{file}: `{from}` not found");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("fixed file");
    }
    let (status, diagnostics) = reported(&root);
    assert_eq!((status, diagnostics), (0, Vec::new()));
}

/// The manifest's provider settings are checked like every other key: each
/// kind of mistake gets its own code and points at the setting (or the
/// provider or channel that lacks it).
#[test]
fn every_kind_of_provider_setting_mistake_has_a_code_and_a_span() {
    let cases = [
        (
            "provider-setting-schema",
            "S001",
            "a misspelt setting",
            12,
            35,
        ),
        (
            "provider-setting-schema",
            "S002",
            "a setting of the wrong type",
            12,
            80,
        ),
        (
            "provider-setting",
            "R011",
            "a setting the kind needs",
            18,
            3,
        ),
        (
            "missing-sender",
            "R020",
            "the sender the provider needs",
            11,
            21,
        ),
        ("invalid-sender", "R021", "a sender out of range", 11, 30),
        ("literal-secret", "R008", "a secret written inline", 20, 12),
        (
            "provider-kind-mismatch",
            "R023",
            "a channel the kind cannot deliver",
            11,
            19,
        ),
        (
            "invalid-provider-value",
            "R024",
            "a malformed value",
            13,
            64,
        ),
        (
            "rate-limit-beyond-provider",
            "R025",
            "a rate above the documented one",
            12,
            73,
        ),
    ];
    for (fixture, code, what, line, column) in cases {
        let (_, output) = check(fixture, "json");
        let report: serde_json::Value = serde_json::from_str(&output).expect("JSON output");
        let found = report["diagnostics"]
            .as_array()
            .expect("diagnostics array")
            .iter()
            .any(|diagnostic| {
                diagnostic["code"] == code
                    && diagnostic["file"] == "herald.yaml"
                    && diagnostic["line"] == line
                    && diagnostic["column"] == column
            });
        assert!(
            found,
            "{what}: no {code} at herald.yaml:{line}:{column} in {fixture}: {output}"
        );
    }
}
