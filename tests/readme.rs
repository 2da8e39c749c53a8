//! The README cannot drift from the program: every `console` example in
//! README.md is run and its output compared, and its module map must name
//! exactly the top-level modules in `src/`.
//!
//! A `console` block holds `$ herald …` lines, each followed by the output
//! it prints (standard output, then standard error). In the expected
//! output a line `...` stands for any number of lines and `[..]` for any
//! text within a line, so long output can be shortened. A command exits 0
//! unless its line ends in a `# exits N` comment. The examples run in order
//! in one temporary directory holding copies of `campaigns/` and
//! `tests/fixtures/`, so an example may use the store an earlier one
//! filled. `sh` blocks are not run, so they may only hold what cannot run
//! as a one-shot example (`herald watch`, cargo).

use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../README.md");

/// A fenced block of README.md: its info string, the line of its opening
/// fence (1-based) and its lines.
struct Block<'a> {
    language: &'a str,
    line: usize,
    lines: Vec<&'a str>,
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some(Block {
                    language: language.trim(),
                    line: index + 1,
                    lines: Vec::new(),
                });
            }
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some(block), None) => block.lines.push(line),
            (None, None) => {}
        }
    }
    blocks
}

/// One `$ herald …` line of a console block and the output it shows.
struct Example {
    line: usize,
    command: String,
    words: Vec<String>,
    status: i32,
    expected: Vec<String>,
}

fn examples() -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    for block in blocks(README).iter().filter(|b| b.language == "console") {
        for (offset, line) in block.lines.iter().enumerate() {
            match line.strip_prefix("$ ") {
                Some(command) => {
                    let (words, comment) = split(command).unwrap_or_else(|error| {
                        panic!("README.md:{}: {error}", block.line + 1 + offset)
                    });
                    let status = comment
                        .and_then(|c| c.trim().strip_prefix("exits ")?.parse().ok())
                        .unwrap_or(0);
                    examples.push(Example {
                        line: block.line + 1 + offset,
                        command: command.to_string(),
                        words,
                        status,
                        expected: Vec::new(),
                    });
                }
                None => match examples.last_mut() {
                    Some(example) if example.line > block.line => {
                        example.expected.push(line.to_string());
                    }
                    _ => panic!(
                        "README.md:{}: a console block must start with a `$ ` command",
                        block.line + 1 + offset
                    ),
                },
            }
        }
    }
    examples
}

/// Splits a command line into words as a POSIX shell would for the quoting
/// the README uses (single and double quotes, backslash escapes), and
/// returns the text of a trailing `#` comment.
fn split(line: &str) -> Result<(Vec<String>, Option<String>), String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut characters = line.chars();
    while let Some(character) = characters.next() {
        match character {
            ' ' | '\t' => words.extend(word.take()),
            '#' if word.is_none() => return Ok((words, Some(characters.collect()))),
            '\'' => {
                let text = word.get_or_insert_with(String::new);
                loop {
                    match characters.next() {
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err("unclosed ' quote".into()),
                    }
                }
            }
            '"' => {
                let text = word.get_or_insert_with(String::new);
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some('\\') => text.extend(characters.next()),
                        Some(c) => text.push(c),
                        None => return Err("unclosed \" quote".into()),
                    }
                }
            }
            '\\' => word
                .get_or_insert_with(String::new)
                .extend(characters.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok((words, None))
}

/// Whether `actual` matches one expected line, `[..]` matching any text.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return expected == actual;
    };
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether the output lines match the expected ones, `...` matching any
/// number of lines.
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual.split_first().is_some_and(|(line, others)| {
            line_matches(first.trim_end(), line.trim_end()) && lines_match(rest, others)
        }),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            // A fixture's link (unreadable-path) stays a link, wherever it points.
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().starts_with("herald.db") {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn readme_console_examples_print_what_the_readme_shows() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let directory = tempfile::tempdir().unwrap();
    copy_dir(&root.join("campaigns"), &directory.path().join("campaigns"));
    copy_dir(
        &root.join("tests/fixtures"),
        &directory.path().join("tests/fixtures"),
    );
    let examples = examples();
    assert!(
        examples.len() >= 10,
        "only {} examples found",
        examples.len()
    );
    let mut failures = Vec::new();
    for example in &examples {
        let Some(("herald", arguments)) = example.words.split_first().map(|(w, a)| (w.as_str(), a))
        else {
            failures.push(format!(
                "README.md:{}: `{}` does not run herald",
                example.line, example.command
            ));
            continue;
        };
        let output = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(arguments)
            .current_dir(directory.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let actual: Vec<&str> = text.trim_end().lines().collect();
        let mut expected = example.expected.clone();
        while expected.last().is_some_and(|line| line.trim().is_empty()) {
            expected.pop();
        }
        let status = output.status.code().unwrap_or(-1);
        if status != example.status || !lines_match(&expected, &actual) {
            failures.push(format!(
                "README.md:{}: $ {}\nexit status {status} (README: {})\n--- README shows\n{}\n--- herald printed\n{}",
                example.line,
                example.command,
                example.status,
                expected.join("\n"),
                text.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn readme_sh_blocks_hold_only_what_cannot_run_as_an_example() {
    for block in blocks(README).iter().filter(|b| b.language == "sh") {
        for (offset, line) in block.lines.iter().enumerate() {
            let command = line.trim_start();
            let runnable = command.starts_with("herald ") && !command.starts_with("herald watch");
            assert!(
                !runnable,
                "README.md:{}: `{command}` can run: make it a `console` example with its output",
                block.line + 1 + offset
            );
        }
    }
}

#[test]
fn readme_module_map_names_every_top_level_module() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let map = blocks(README)
        .into_iter()
        .find(|block| {
            block
                .lines
                .iter()
                .any(|line| line.starts_with("src/main.rs"))
        })
        .expect("README.md has a module map starting with src/main.rs");
    let mut named: Vec<String> = map
        .lines
        .iter()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|path| path.starts_with("src/"))
        .map(str::to_string)
        .collect();
    let mut modules: Vec<String> = std::fs::read_dir(root.join("src"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                format!("src/{name}/")
            } else {
                format!("src/{name}")
            }
        })
        .collect();
    named.sort();
    modules.sort();
    assert_eq!(named, modules, "README.md's module map and src/ differ");
}

#[test]
fn wildcards_match_as_documented() {
    assert!(line_matches("rechecked in [..] ms", "rechecked in 12 ms"));
    assert!(!line_matches("a[..]b", "ab c"));
    let expected = ["a".to_string(), "...".to_string(), "d".to_string()];
    assert!(lines_match(&expected, &["a", "b", "c", "d"]));
    assert!(lines_match(&expected, &["a", "d"]));
    assert!(!lines_match(&expected, &["a", "b"]));
    let (words, comment) =
        split(r#"herald segment --filter 'city = "Москва"' --now "2026-12-12 10:00"  # exits 1"#)
            .unwrap();
    assert_eq!(
        words,
        [
            "herald",
            "segment",
            "--filter",
            "city = \"Москва\"",
            "--now",
            "2026-12-12 10:00"
        ]
    );
    assert_eq!(comment.as_deref(), Some(" exits 1"));
}
