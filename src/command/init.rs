//! `herald init [DIR]`: writes a minimal project that `herald check` passes
//! with no diagnostic, so a new user starts from something that works and
//! changes it one step at a time.
//!
//! The starter project lives in `init/project/` as real files (checked by
//! `tests/init.rs` through the binary). Files that would act on this
//! repository if they had their real names are stored under other ones:
//! `gitignore` is written as `.gitignore`, `vscode-settings.json` as
//! `.vscode/settings.json`. The JSON schemas come from the same code as
//! `herald schema`, so they match the herald that wrote them.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::schema::Kind;

/// What `herald init` was asked.
#[derive(Debug)]
pub struct Request {
    /// The folder to create the project in (created if missing).
    pub directory: PathBuf,
}

/// The starter project: where each file goes and what it holds.
const STARTER: &[(&str, &str)] = &[
    ("herald.yaml", include_str!("init/project/herald.yaml")),
    (".gitignore", include_str!("init/project/gitignore")),
    (
        ".vscode/settings.json",
        include_str!("init/project/vscode-settings.json"),
    ),
    (
        "segments/subscribers.yaml",
        include_str!("init/project/segments/subscribers.yaml"),
    ),
    (
        "campaigns/newsletter.yaml",
        include_str!("init/project/campaigns/newsletter.yaml"),
    ),
    (
        "journeys/welcome.yaml",
        include_str!("init/project/journeys/welcome.yaml"),
    ),
    (
        "templates/emails/newsletter.html",
        include_str!("init/project/templates/emails/newsletter.html"),
    ),
    (
        "templates/emails/welcome.html",
        include_str!("init/project/templates/emails/welcome.html"),
    ),
    (
        "templates/sms/welcome_reminder.txt",
        include_str!("init/project/templates/sms/welcome_reminder.txt"),
    ),
];

/// Writes the starter project; refuses (status 2) before writing anything
/// when DIR already holds a project or any file it would write.
pub fn run(request: &Request) -> Result<i32, Error> {
    let directory = &request.directory;
    if directory.join("herald.yaml").exists() {
        return Err(Error::Usage(format!(
            "{} already holds a herald project (herald.yaml); `herald init` never overwrites one: give another DIR",
            directory.display()
        )));
    }
    let files = files();
    // `symlink_metadata` also sees a dangling link, which writing would follow.
    let existing: Vec<&str> = files
        .iter()
        .filter(|(path, _)| directory.join(path).symlink_metadata().is_ok())
        .map(|(path, _)| path.as_str())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Usage(format!(
            "`herald init` would overwrite {} in {}: move them away or give another DIR",
            existing.join(", "),
            directory.display()
        )));
    }
    for (path, text) in &files {
        write(&directory.join(path), text)?;
    }
    println!(
        "created a herald project in {}: herald.yaml, a segment, a campaign, a journey, their templates, \
         .gitignore, and schemas/ with .vscode/settings.json for editors",
        directory.display()
    );
    println!("next: `herald check --project {}`", directory.display());
    Ok(0)
}

/// Every file of the project, with its path relative to DIR.
fn files() -> Vec<(String, String)> {
    let starter = STARTER
        .iter()
        .map(|(path, text)| ((*path).to_string(), (*text).to_string()));
    let schemas = Kind::ALL.into_iter().map(|kind| {
        (
            format!("schemas/{}", kind.schema_file()),
            kind.schema_text(),
        )
    });
    starter.chain(schemas).collect()
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}
