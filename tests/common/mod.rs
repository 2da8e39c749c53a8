//! What the CLI test binaries share: running the built `herald` in a
//! project and copying a fixture project to a temporary folder. Each test
//! binary includes this module and uses part of it.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;

/// Runs `herald` with `arguments` in `root`: stdout, stderr, exit code.
pub fn herald(root: &Path, arguments: &[&str]) -> (String, String, i32) {
    let output = Command::cargo_bin("herald")
        .unwrap()
        .current_dir(root)
        .args(arguments)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
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
