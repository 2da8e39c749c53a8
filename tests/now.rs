//! `--now` means the same to every command that takes it: one parser, the
//! same accepted forms, the same refusal (exit 2, one message) for the rest.
//! The project's time zone is Europe/Moscow, so the four accepted forms
//! below all name 2026-03-01T09:00:00Z, and each command's output must not
//! depend on which one was given.

use clap::CommandFactory;

mod common;
use common::herald;

const MANIFEST: &str = r#"timezone: Europe/Moscow
contact:
  attributes:
    first_name: string
events:
  purchase:
    properties:
      amount: number
channels:
  email: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
policies:
  lapse_after: 6 months
lint:
  unused-segment: allow
"#;

/// The same instant, in every form `--now` accepts.
const ACCEPTED: [&str; 4] = [
    "2026-03-01T09:00:00Z",
    "2026-03-01T12:00:00+03:00",
    "2026-03-01 12:00",
    "2026-03-01 12:00:00",
];

const REJECTED: [&str; 4] = ["tomorrow", "2026-13-01 10:00", "2026-02-30 10:00", ""];

/// Every command that takes `--now`, with the arguments that make it run
/// on the project below.
const COMMANDS: [&[&str]; 7] = [
    &["segment", "recent", "--list"],
    &["plan"],
    &["run", "--once"],
    &["contacts", "clean", "--dry-run"],
    &["contacts", "show", "c1"],
    &["render", "now.txt"],
    &["report"],
];

/// A project with one contact who bought at 08:30 UTC that day.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("herald.yaml"), MANIFEST).unwrap();
    std::fs::create_dir_all(root.join("segments")).unwrap();
    std::fs::write(
        root.join("segments/recent.yaml"),
        "filter: did purchase within 1 hour\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("templates/now.txt"), "now is {{ now }}\n").unwrap();
    std::fs::write(root.join("contacts.csv"), "id,email\nc1,anna@example.ru\n").unwrap();
    std::fs::write(
        root.join("events.jsonl"),
        r#"{"id": "e1", "contact_id": "c1", "event": "purchase", "at": "2026-03-01T08:30:00Z", "properties": {"amount": 10}}"#,
    )
    .unwrap();
    for arguments in [
        &["contacts", "import", "contacts.csv"][..],
        &["events", "ingest", "events.jsonl"],
    ] {
        let (_, stderr, status) = herald(root, arguments);
        assert_eq!(status, 0, "{arguments:?}: {stderr}");
    }
    dir
}

fn with_now<'a>(command: &[&'a str], now: &'a str) -> Vec<&'a str> {
    let mut arguments = command.to_vec();
    arguments.extend(["--now", now]);
    arguments
}

#[test]
fn every_command_that_takes_now_is_tested_here() {
    let mut taking: Vec<String> = Vec::new();
    fn walk(command: &clap::Command, path: &str, taking: &mut Vec<String>) {
        if command
            .get_arguments()
            .any(|argument| argument.get_id() == "now")
        {
            taking.push(path.trim().to_string());
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), taking);
        }
    }
    walk(&herald::cli::Arguments::command(), "", &mut taking);
    // The words of a tested command line that name the command, not its
    // arguments: the longest run of them that is a command taking `--now`.
    let mut tested: Vec<String> = COMMANDS
        .iter()
        .filter_map(|command| {
            (1..=command.len())
                .rev()
                .map(|words| command[..words].join(" "))
                .find(|name| taking.contains(name))
        })
        .collect();
    taking.sort();
    tested.sort();
    assert_eq!(taking, tested);
}

#[test]
fn every_command_accepts_the_same_now_forms_as_the_same_instant() {
    let dir = project();
    for command in COMMANDS {
        let mut outputs = Vec::new();
        for now in ACCEPTED {
            let (stdout, stderr, status) = herald(dir.path(), &with_now(command, now));
            assert_eq!(status, 0, "{command:?} --now {now:?}: {stderr}");
            outputs.push(stdout);
        }
        assert!(
            outputs.iter().all(|output| *output == outputs[0]),
            "{command:?}: {outputs:#?}"
        );
    }
}

#[test]
fn render_hands_templates_the_parsed_time_not_the_argument() {
    let dir = project();
    let (stdout, stderr, status) = herald(
        dir.path(),
        &[
            "render",
            "now.txt",
            "--samples",
            "1",
            "--now",
            "2026-03-01 12:00",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("now is 2026-03-01T09:00:00Z"), "{stdout}");
}

#[test]
fn a_local_now_is_read_in_the_project_time_zone() {
    let dir = project();
    let (stdout, _, _) = herald(
        dir.path(),
        &with_now(&["segment", "recent", "--list"], "2026-03-01 12:00"),
    );
    assert_eq!(stdout, "c1\n");
    let (stdout, _, _) = herald(
        dir.path(),
        &with_now(&["segment", "recent", "--list"], "2026-03-01 13:00"),
    );
    assert_eq!(stdout, "");
}

#[test]
fn every_command_rejects_the_same_bad_now_with_exit_2_and_one_message() {
    let dir = project();
    for now in REJECTED {
        let expected = format!(
            "herald: --now `{now}` is not a time; give RFC 3339 (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]` in the project's time zone\n"
        );
        for command in COMMANDS {
            let (stdout, stderr, status) = herald(dir.path(), &with_now(command, now));
            assert_eq!(status, 2, "{command:?} --now {now:?}: {stderr}");
            assert_eq!(stderr, expected, "{command:?} --now {now:?}");
            assert_eq!(stdout, "", "{command:?} --now {now:?}");
        }
    }
}

#[test]
fn a_bad_now_is_refused_before_the_project_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr, status) = herald(dir.path(), &["segment", "x", "--now", "tomorrow"]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("--now `tomorrow` is not a time"),
        "{stderr}"
    );
}
