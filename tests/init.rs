//! `herald init`: the project it writes passes `herald check` with no
//! diagnostic, carries editor support that points at real files, and an
//! existing project or file is never overwritten.

use std::path::Path;
use std::process::{Command, Output};

fn herald(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(directory)
        .args(args)
        .args(["--color", "never"])
        .output()
        .expect("herald runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Every file below `root`, relative to it, sorted.
fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, directory: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(directory)
            .expect("readable folder")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).expect("below the root");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

#[test]
fn init_writes_a_project_that_check_passes_with_no_diagnostic() {
    let temp = tempfile::tempdir().expect("tempdir");
    let output = herald(temp.path(), &["init", "shop"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    insta::assert_snapshot!(text(&output.stdout), @r"
    created a herald project in shop: herald.yaml, a segment, a campaign, a journey, their templates, .gitignore, and schemas/ with .vscode/settings.json for editors
    next: `herald check --project shop`
    ");
    insta::assert_snapshot!(files(&temp.path().join("shop")).join("\n"), @r"
    .gitignore
    .vscode/settings.json
    campaigns/newsletter.yaml
    herald.yaml
    journeys/welcome.yaml
    schemas/campaign.schema.json
    schemas/herald.schema.json
    schemas/journey.schema.json
    schemas/segment.schema.json
    segments/subscribers.yaml
    templates/emails/newsletter.html
    templates/emails/welcome.html
    templates/sms/welcome_reminder.txt
    ");

    let check = herald(temp.path(), &["check", "--project", "shop"]);
    assert_eq!(check.status.code(), Some(0));
    insta::assert_snapshot!(text(&check.stdout), @"shop: no problems in 1 segments, 1 campaigns, 1 journeys, 3 templates");

    let schemas = herald(temp.path(), &["schema", "--check", "--out", "shop/schemas"]);
    assert_eq!(schemas.status.code(), Some(0), "{}", text(&schemas.stderr));
}

#[test]
fn every_yaml_file_names_its_schema_for_editors() {
    let temp = tempfile::tempdir().expect("tempdir");
    assert_eq!(herald(temp.path(), &["init", "p"]).status.code(), Some(0));
    let project = temp.path().join("p");
    for file in files(&project).iter().filter(|f| f.ends_with(".yaml")) {
        let path = project.join(file);
        let source = std::fs::read_to_string(&path).expect("readable");
        let first = source.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{file}: no modeline on the first line: {first}"));
        let kind = file.split('/').next().expect("a first component");
        let expected = if kind == "herald.yaml" {
            "herald".to_string()
        } else {
            kind.trim_end_matches('s').to_string()
        };
        assert!(
            schema.ends_with(&format!("schemas/{expected}.schema.json")),
            "{file}: {schema}"
        );
        let parent = path.parent().expect("a parent");
        assert!(parent.join(schema).is_file(), "{file}: {schema} is missing");
    }
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join(".vscode/settings.json")).expect("settings"),
    )
    .expect("JSON");
    for (schema, _) in settings["yaml.schemas"].as_object().expect("a mapping") {
        assert!(project.join(schema).is_file(), "{schema} is missing");
    }
}

#[test]
fn the_gitignore_keeps_the_store_outbox_and_rejects_out_of_git() {
    let temp = tempfile::tempdir().expect("tempdir");
    assert_eq!(herald(temp.path(), &["init", "p"]).status.code(), Some(0));
    let ignore = std::fs::read_to_string(temp.path().join("p/.gitignore")).expect("gitignore");
    let lines: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    for pattern in [
        "herald.db",
        "herald.db-wal",
        "herald.db-shm",
        "outbox.jsonl",
        "*.rejects.csv",
        "*.rejects.jsonl",
    ] {
        assert!(lines.contains(&pattern), "{pattern} is not ignored");
    }
    let manifest = std::fs::read_to_string(temp.path().join("p/herald.yaml")).expect("manifest");
    assert!(
        manifest.contains("store: herald.db"),
        "the ignored store is the manifest's"
    );
}

#[test]
fn init_twice_refuses_and_changes_nothing() {
    let temp = tempfile::tempdir().expect("tempdir");
    assert_eq!(herald(temp.path(), &["init", "p"]).status.code(), Some(0));
    let manifest = temp.path().join("p/herald.yaml");
    std::fs::write(&manifest, "timezone: UTC\n").expect("writable");
    let output = herald(temp.path(), &["init", "p"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    insta::assert_snapshot!(text(&output.stderr), @"herald: p already holds a herald project (herald.yaml); `herald init` never overwrites one: give another DIR");
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("readable"),
        "timezone: UTC\n"
    );
}

#[test]
fn init_refuses_to_overwrite_any_file_and_writes_nothing() {
    let temp = tempfile::tempdir().expect("tempdir");
    let project = temp.path().join("p");
    std::fs::create_dir_all(project.join("segments")).expect("writable");
    std::fs::write(project.join(".gitignore"), "/build\n").expect("writable");
    std::fs::write(project.join("segments/subscribers.yaml"), "x").expect("writable");
    let output = herald(temp.path(), &["init", "p"]);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!(text(&output.stderr), @"herald: `herald init` would overwrite .gitignore, segments/subscribers.yaml in p: move them away or give another DIR");
    assert_eq!(files(&project), [".gitignore", "segments/subscribers.yaml"]);
}

#[test]
fn without_dir_init_writes_into_the_project_folder() {
    let temp = tempfile::tempdir().expect("tempdir");
    let output = herald(temp.path(), &["init", "--project", "q"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(temp.path().join("q/herald.yaml").is_file());
    let empty = tempfile::tempdir().expect("tempdir");
    assert_eq!(herald(empty.path(), &["init"]).status.code(), Some(0));
    assert!(empty.path().join("herald.yaml").is_file());
}

#[test]
fn the_project_works_with_a_store() {
    let temp = tempfile::tempdir().expect("tempdir");
    assert_eq!(herald(temp.path(), &["init", "p"]).status.code(), Some(0));
    std::fs::write(
        temp.path().join("contacts.csv"),
        "id,email,first_name,consent.email\nc1,anna@example.com,Анна,granted\nc2,,Иван,\n",
    )
    .expect("writable");
    let import = herald(
        temp.path(),
        &["contacts", "import", "contacts.csv", "--project", "p"],
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    assert!(temp.path().join("p/herald.db").is_file());
    let count = herald(temp.path(), &["segment", "subscribers", "--project", "p"]);
    assert_eq!(text(&count.stdout).trim(), "1", "{}", text(&count.stderr));
    let render = herald(
        temp.path(),
        &["render", "newsletter", "--contact", "c1", "--project", "p"],
    );
    assert_eq!(render.status.code(), Some(0), "{}", text(&render.stderr));
    assert!(text(&render.stdout).contains("Анна"));
}
