//! End-to-end tests of the `herald` binary: output formats, exit statuses,
//! `explain` and `schema`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use herald::codes::Code;
use herald::schema::Kind;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(root().join("tests/fixtures"))
        .args(args)
        .output()
        .expect("herald runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

#[test]
fn json_output_has_the_documented_shape() {
    let output = herald(&["check", "--project", "many-errors", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let diagnostics = report["diagnostics"].as_array().expect("array");
    assert_eq!(report["errors"], diagnostics.len());
    assert_eq!(report["warnings"], 0);
    let keys = [
        "code",
        "name",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "help",
    ];
    for diagnostic in diagnostics {
        let object = diagnostic.as_object().expect("object");
        let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
        found.sort_unstable();
        let mut expected = keys.to_vec();
        expected.sort_unstable();
        assert_eq!(found, expected);
        assert!(diagnostic["line"].as_u64().expect("line") >= 1);
        assert!(diagnostic["column"].as_u64().expect("column") >= 1);
        let file = diagnostic["file"].as_str().expect("file");
        assert!(
            !file.starts_with("many-errors"),
            "file is relative to the project: {file}"
        );
        assert!(
            root()
                .join("tests/fixtures/many-errors")
                .join(file)
                .is_file()
        );
    }
    let step = diagnostics
        .iter()
        .find(|d| d["code"] == "R009")
        .expect("unknown step reported");
    assert_eq!(step["name"], "unknown-step");
    assert_eq!(step["severity"], "error");
    assert_eq!(step["file"], "journeys/after.yaml");
    assert_eq!(
        (step["line"].as_u64(), step["column"].as_u64()),
        (Some(16), Some(17))
    );
    assert_eq!(
        (step["end_line"].as_u64(), step["end_column"].as_u64()),
        (Some(16), Some(22))
    );
    assert_eq!(step["help"], "did you mean `thanks`?");
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    // The official file's `language` patterns have a stray `]` that a strict
    // regex check rejects when the schema is compiled; it is only about the
    // optional `run.language` property, which herald does not emit.
    for definition in ["run", "toolComponent"] {
        schema["definitions"][definition]["properties"]["language"]["pattern"] =
            serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
    }
    let validator = jsonschema::validator_for(&schema).expect("SARIF schema compiles");
    for fixture in ["many-errors", "segment-cycle", "clean", "stray-file"] {
        let output = herald(&["check", "--project", fixture, "--format", "sarif"]);
        let sarif: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{fixture}: {errors:#?}");
        assert_eq!(sarif["version"], "2.1.0");
        let results = sarif["runs"][0]["results"].as_array().expect("results");
        if fixture == "clean" {
            assert!(results.is_empty());
        } else {
            let uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("uri");
            assert!(uri.starts_with(&format!("{fixture}/")), "{uri}");
        }
    }
    let output = herald(&["check", "--project", "segment-cycle", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "R006");
    assert!(
        result["relatedLocations"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
}

#[test]
fn github_output_is_workflow_commands() {
    let output = herald(&["check", "--project", "unknown-step", "--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "::error file=unknown-step/journeys/after.yaml,line=16,col=17,endLine=16,endColumn=22,title=R009 unknown-step::no step has the id `thank`%0Ahelp: did you mean `thanks`?\n"
    );
    let output = herald(&["check", "--project", "unused-segment", "--format", "github"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output)
            .starts_with("::warning file=unused-segment/segments/old.yaml,line=2,col=1,")
    );
}

#[test]
fn exit_statuses() {
    assert_eq!(
        herald(&["check", "--project", "clean"]).status.code(),
        Some(0)
    );
    assert_eq!(
        herald(&["check", "--project", "unknown-step"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        herald(&["check", "--project", "unused-segment"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        herald(&["check", "--project", "unused-segment", "--deny-warnings"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        herald(&["check", "--project", "lint-levels"]).status.code(),
        Some(1)
    );
    assert_eq!(
        herald(&["check", "--format", "yaml"]).status.code(),
        Some(2)
    );
    assert_eq!(herald(&["--version"]).status.code(), Some(0));
}

#[test]
fn a_missing_project_is_one_clear_line_and_exit_2() {
    let output = herald(&["check", "--project", "no-such-project"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("herald: cannot read the herald project at no-such-project"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["check", "--project"])
        .arg(empty.path())
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no herald.yaml"));
}

#[test]
fn a_clean_project_says_so() {
    let output = herald(&["check", "--project", "clean"]);
    assert_eq!(
        stdout(&output),
        "clean: no problems in 1 segments, 1 campaigns, 0 journeys, 1 templates\n"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = stdout(&herald(&["check", "--project", "unknown-step"]));
    assert!(!plain.contains('\u{1b}'), "no escape codes when piped");
    let coloured = stdout(&herald(&[
        "check",
        "--project",
        "unknown-step",
        "--color",
        "always",
    ]));
    assert!(coloured.contains('\u{1b}'));
}

#[test]
fn explain_prints_the_rule_documentation() {
    let output = herald(&["explain", "R001"]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&output));
    assert_eq!(
        stdout(&herald(&["explain", "unknown-segment"])),
        stdout(&output)
    );
    let output = herald(&["explain", "unused-segmnt"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `unused-segment`?"));
}

#[test]
fn explain_list_names_every_rule() {
    let output = stdout(&herald(&["explain", "--list"]));
    for code in Code::ALL {
        assert!(
            output
                .lines()
                .any(|line| line.starts_with(code.as_str()) && line.contains(code.name())),
            "{code} missing from the list"
        );
    }
}

#[test]
fn committed_schemas_are_in_sync_with_the_types() {
    for kind in Kind::ALL {
        let path = root().join("schemas").join(kind.schema_file());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == kind.schema_text(),
            "{} is out of date: run `cargo run -- schema --out schemas`",
            path.display()
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["schema", "--check", "--out"])
        .arg(root().join("schemas"))
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn schema_writes_files_an_editor_can_use() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["schema", "--out"])
        .arg(out.path())
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(0));
    for kind in Kind::ALL {
        let text = std::fs::read_to_string(out.path().join(kind.schema_file())).expect("written");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(
            jsonschema::meta::is_valid(&schema),
            "{} is a valid JSON schema",
            kind.schema_file()
        );
    }
    let _ = Path::new("unused");
}
