//! What the CLI test binaries share: running the built `herald` in a
//! project and copying a fixture project to a temporary folder. Each test
//! binary includes this module and uses part of it.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;

/// Runs `herald` with `arguments` in `root`: stdout, stderr, exit code.
pub fn herald(root: &Path, arguments: &[&str]) -> (String, String, i32) {
    herald_with(root, arguments, &[])
}

/// [`herald`] with variables added to its environment (the secrets a
/// manifest reads), and a timeout so a hung run fails the test.
pub fn herald_with(
    root: &Path,
    arguments: &[&str],
    environment: &[(&str, &str)],
) -> (String, String, i32) {
    let output = Command::cargo_bin("herald")
        .unwrap()
        .current_dir(root)
        .envs(environment.iter().copied())
        .args(arguments)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

/// Starts `herald` with `arguments` in `root` and its environment extended,
/// output discarded, for a test that kills it mid-run.
pub fn spawn_with(
    root: &Path,
    arguments: &[&str],
    environment: &[(&str, &str)],
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(root)
        .envs(environment.iter().copied())
        .args(arguments)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Copies the folder `from` into `to`, recursively.
pub fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
