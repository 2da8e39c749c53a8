//! Pathological sizes (issue 13): deep nesting, long chains, huge lists and
//! long `in segment` chains, driven through the real binary on a temp project
//! whose store `herald contacts import` built. Every case must end in a
//! diagnostic (exit 1) or a result (exit 0): never a crash, a stack
//! overflow, or a store error blamed on the filter. How long each takes is
//! measured by `benches/check.rs`, not asserted here.

use std::path::Path;

mod common;
use common::herald;

const MANIFEST: &str = r#"timezone: Europe/Moscow
contact:
  attributes:
    city: string
    orders_count: integer
events:
  purchase:
    properties:
      amount: number
channels:
  sms: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
lint:
  unused-segment: allow
"#;

/// Ten contacts: c0…c9 in the cities city0…city9 with `orders_count` 0…9.
fn contacts_csv() -> String {
    let mut csv = String::from("id,phone,city,orders_count\n");
    for index in 0..10 {
        csv.push_str(&format!(
            "c{index},+7912000000{index},city{index},{index}\n"
        ));
    }
    csv
}

/// A project with the given segments (name, filter) and an imported store.
fn project(segments: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("herald.yaml"), MANIFEST).unwrap();
    std::fs::create_dir_all(root.join("segments")).unwrap();
    for (name, filter) in segments {
        write_segment(root, name, filter);
    }
    std::fs::write(root.join("contacts.csv"), contacts_csv()).unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "contacts.csv"]);
    assert_eq!(status, 0, "{stderr}");
    dir
}

fn write_segment(root: &Path, name: &str, filter: &str) {
    // A block scalar keeps the filter verbatim, whatever its length or quotes.
    std::fs::write(
        root.join(format!("segments/{name}.yaml")),
        format!("filter: |\n  {filter}\n"),
    )
    .unwrap();
}

/// The first lines of a long stderr, for assertion messages.
fn head(text: &str) -> String {
    text.lines().take(12).collect::<Vec<_>>().join("\n")
}

/// Asserts a diagnostic with `code` (exit 1; `check` prints on standard
/// output, `segment` on standard error) and nothing else alarming.
fn assert_diagnostic(outcome: &(String, String, i32), code: &str) {
    let (stdout, stderr, status) = outcome;
    let output = format!("{stdout}{stderr}");
    assert_eq!(*status, 1, "{}", head(&output));
    assert!(output.contains(code), "{}", head(&output));
    assert!(!output.contains("overflow"), "{}", head(&output));
}

fn or_chain(terms: usize) -> String {
    (0..terms)
        .map(|index| format!("city = \"city{index}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn and_chain(terms: usize) -> String {
    (0..terms)
        .map(|index| format!("orders_count != {}", index + 100))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[test]
fn twelve_thousand_nots_are_a_diagnostic_not_a_stack_overflow() {
    let filter = format!("{}city = \"city1\"", "not ".repeat(12_000));
    let dir = project(&[("deep".into(), filter.clone())]);
    assert_diagnostic(&herald(dir.path(), &["check"]), "error[F011]");
    assert_diagnostic(
        &herald(dir.path(), &["segment", "--filter", &filter]),
        "error[F011]",
    );
}

#[test]
fn nested_did_where_chains_are_a_diagnostic() {
    // `where` binds the rest of its conjunction, so each `did` nests in the
    // previous one's condition without a single parenthesis.
    let filter = format!("{}amount > 1", "did purchase where ".repeat(5_000));
    let dir = project(&[("deep".into(), filter)]);
    assert_diagnostic(&herald(dir.path(), &["check"]), "error[F011]");
}

#[test]
fn deep_parentheses_are_a_diagnostic() {
    let filter = format!("{}city = \"x\"{}", "(".repeat(5_000), ")".repeat(5_000));
    let dir = project(&[("deep".into(), filter)]);
    assert_diagnostic(&herald(dir.path(), &["check"]), "error[F011]");
}

#[test]
fn a_long_chain_of_segment_references_is_reported_by_check() {
    let mut segments = vec![("s0".to_string(), "city = \"city1\"".to_string())];
    for index in 1..=200 {
        segments.push((
            format!("s{index}"),
            format!("in segment \"s{}\"", index - 1),
        ));
    }
    let dir = project(&segments);
    assert_diagnostic(&herald(dir.path(), &["check"]), "error[F011]");
    assert_diagnostic(
        &herald(dir.path(), &["segment", "s200", "--count"]),
        "error[F011]",
    );
    // Within the limit the chain counts.
    assert_eq!(
        herald(dir.path(), &["segment", "s10", "--count"]),
        ("1\n".into(), String::new(), 0)
    );
}

#[test]
fn a_thousand_and_terms_count_in_the_store() {
    let filter = and_chain(1_000);
    let dir = project(&[("many".into(), filter.clone())]);
    let (_, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!(status, 0, "{}", head(&stderr));
    assert_eq!(
        herald(dir.path(), &["segment", "many", "--count"]),
        ("10\n".into(), String::new(), 0)
    );
    assert_eq!(
        herald(dir.path(), &["segment", "--filter", &filter, "--count"]),
        ("10\n".into(), String::new(), 0)
    );
}

#[test]
fn twelve_hundred_or_terms_count_in_the_store() {
    let dir = project(&[("many".into(), or_chain(1_200))]);
    let (_, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!(status, 0, "{}", head(&stderr));
    assert_eq!(
        herald(dir.path(), &["segment", "many", "--count"]),
        ("10\n".into(), String::new(), 0)
    );
    // Mixed fields and negations keep the tree balanced too.
    let mixed = (0..1_500)
        .map(|index| {
            if index % 2 == 0 {
                format!("not (orders_count = {index})")
            } else {
                format!("city = \"city{}\"", index % 10)
            }
        })
        .collect::<Vec<_>>()
        .join(" or ");
    assert_eq!(
        herald(dir.path(), &["segment", "--filter", &mixed, "--count"]),
        ("10\n".into(), String::new(), 0)
    );
}

/// A project with one segment `a`, a segment `b` that refers to `vip`, and
/// no store: the loader's cases below need only `check`.
fn bare_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("herald.yaml"), MANIFEST).unwrap();
    std::fs::create_dir_all(root.join("segments")).unwrap();
    write_segment(root, "a", "city = \"a\"");
    write_segment(root, "b", "in segment \"vip\" or in segment \"a\"");
    dir
}

/// Asserts exactly one diagnostic, P002, naming `path` and `cause`.
fn assert_one_unreadable(outcome: &(String, String, i32), path: &str, cause: &str) {
    assert_diagnostic(outcome, "error[P002]");
    let output = format!("{}{}", outcome.0, outcome.1);
    assert!(
        output.contains(&format!("`{path}` cannot be read: {cause}")),
        "{output}"
    );
    assert!(output.contains("1 error, 0 warnings"), "{output}");
}

#[cfg(unix)]
#[test]
fn a_dangling_yaml_symlink_is_one_diagnostic_naming_its_target() {
    let dir = bare_project();
    std::os::unix::fs::symlink("../shared/vip.yaml", dir.path().join("segments/vip.yaml")).unwrap();
    // The reference to `vip` is not reported again as an unknown segment.
    assert_one_unreadable(
        &herald(dir.path(), &["check"]),
        "segments/vip.yaml",
        "it is a symbolic link to `../shared/vip.yaml`, which does not exist",
    );
}

#[cfg(unix)]
#[test]
fn a_looping_yaml_symlink_is_one_diagnostic() {
    let dir = bare_project();
    std::os::unix::fs::symlink("vip.yaml", dir.path().join("segments/vip.yaml")).unwrap();
    assert_one_unreadable(
        &herald(dir.path(), &["check"]),
        "segments/vip.yaml",
        "it is a symbolic link that cannot be followed: too many levels of symbolic links",
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_folder_that_links_back_is_read_once() {
    let dir = bare_project();
    write_segment(dir.path(), "vip", "city = \"vip\"");
    std::os::unix::fs::symlink(".", dir.path().join("segments/again")).unwrap();
    let (stdout, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
}

#[test]
fn a_manifest_that_is_a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("herald.yaml")).unwrap();
    let (stdout, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!((stdout.as_str(), status), ("", 2));
    assert!(
        stderr.contains("herald.yaml is a directory, not a file"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_dangling_manifest_symlink_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("shared/herald.yaml", dir.path().join("herald.yaml")).unwrap();
    let (_, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains(
            "herald.yaml: it is a symbolic link to `shared/herald.yaml`, which does not exist"
        ),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_segments_folder_is_one_diagnostic_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = bare_project();
    // Root (and a process with CAP_DAC_OVERRIDE) reads every folder whatever
    // its mode, so the case cannot arise: tell whoever runs the test.
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&probe).is_ok() {
        eprintln!("skipped: running as root, which reads an unreadable folder anyway");
        return;
    }
    let segments = dir.path().join("segments");
    std::fs::set_permissions(&segments, std::fs::Permissions::from_mode(0o000)).unwrap();
    let outcome = herald(dir.path(), &["check"]);
    std::fs::set_permissions(&segments, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_one_unreadable(&outcome, "segments", "permission denied");
}

#[test]
fn twenty_thousand_or_equalities_are_one_in_list() {
    // 20,000 distinct cities would be 20,000 parameters as terms; as one
    // `IN` list bound as one JSON parameter they are far below the limit.
    let dir = project(&[("many".into(), or_chain(20_000))]);
    let (stdout, stderr, status) = herald(dir.path(), &["check"]);
    assert_eq!(status, 0, "{}", head(&format!("{stdout}{stderr}")));
    assert_eq!(
        herald(dir.path(), &["segment", "many", "--count"]),
        ("10\n".into(), String::new(), 0)
    );
}

#[test]
fn more_distinct_values_than_a_query_binds_is_a_check_diagnostic() {
    let filter = (0..33_000)
        .map(|index| format!("city contains \"{index}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let dir = project(&[("many".into(), filter)]);
    let outcome = herald(dir.path(), &["check"]);
    assert_diagnostic(&outcome, "error[F012]");
    assert!(
        outcome.0.contains("33000 distinct values"),
        "{}",
        head(&outcome.0)
    );
}
