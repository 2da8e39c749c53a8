//! The manifest's `sources:`: every entry names a file relative to the
//! project, or a glob that matches at least one. What resolves becomes the
//! typed [`Sources`] a sync reads; a missing file or an empty glob is
//! `missing-source`, a malformed glob `invalid-setting`.

use std::path::{Path, PathBuf};

use super::Resolver;
use crate::codes::Code;
use crate::compilation::{SourceFile, Sources};
use crate::contacts::read::csv_by_extension;
use crate::diagnostic::Diagnostic;
use crate::model::{self, Text};
use crate::source::FileId;
use crate::suggestion::did_you_mean;

/// Characters that make an entry a glob rather than a path.
const GLOB_CHARACTERS: &[char] = &['*', '?', '[', '{'];

impl Resolver<'_> {
    pub(super) fn sources(&mut self, file: FileId, sources: &model::Sources) -> Sources {
        Sources {
            contacts: self.source_files(file, "contacts", &sources.contacts),
            events: self.source_files(file, "events", &sources.events),
        }
    }

    /// The files of one list, in the order of its entries, each file once.
    fn source_files(&mut self, file: FileId, kind: &str, entries: &[Text]) -> Vec<SourceFile> {
        let mut files: Vec<SourceFile> = Vec::new();
        for entry in entries {
            for found in self.source_entry(file, kind, entry) {
                if kind == "contacts" && csv_by_extension(&found.path).is_none() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSetting,
                            entry.span(file),
                            format!(
                                "cannot tell the format of contacts source `{}` from its extension",
                                found.name
                            ),
                        )
                        .label("neither CSV nor JSONL")
                        .help("name contacts files `.csv` (or `.tsv`, `.txt`) or `.jsonl` (or `.ndjson`, `.json`)"),
                    );
                    continue;
                }
                if !files.iter().any(|known| known.path == found.path) {
                    files.push(found);
                }
            }
        }
        files
    }

    fn source_entry(&mut self, file: FileId, kind: &str, entry: &Text) -> Vec<SourceFile> {
        let root = self.project.root.clone();
        let text = entry.value.trim();
        if !text.contains(GLOB_CHARACTERS) {
            let path = root.join(text);
            if path.is_file() {
                return vec![SourceFile {
                    name: text.to_string(),
                    path,
                }];
            }
            let (what, label) = if path.is_dir() {
                ("is a directory, not a file", "a directory")
            } else {
                ("does not exist", "no such file")
            };
            // A misspelt name: the files beside where it should be.
            let siblings = sibling_names(&root, text);
            let close = did_you_mean(text, siblings.iter().map(String::as_str));
            let diagnostic = Diagnostic::new(
                Code::MissingSource,
                entry.span(file),
                format!("{kind} source `{text}` {what}"),
            )
            .label(label);
            self.push(match close {
                Some(_) => diagnostic.suggest(close),
                None => diagnostic.help(format!(
                    "paths are relative to the project directory; {CI_HELP}"
                )),
            });
            return Vec::new();
        }
        let glob = match globset::GlobBuilder::new(text)
            .literal_separator(true)
            .build()
        {
            Ok(glob) => glob.compile_matcher(),
            Err(error) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        entry.span(file),
                        format!("{kind} source `{text}` is not a valid glob: {}", error.kind()),
                    )
                    .label("not a glob")
                    .help("use `*` within a folder, `**` across folders, `?` for one character, e.g. `exports/events/*.jsonl`"),
                );
                return Vec::new();
            }
        };
        let base = literal_prefix(text);
        let mut found = Vec::new();
        walk(&root, &root.join(&base), &mut |relative, path| {
            if glob.is_match(relative) {
                found.push(SourceFile {
                    name: relative.to_string(),
                    path: path.to_path_buf(),
                });
            }
        });
        found.sort_by(|a, b| a.name.cmp(&b.name));
        if found.is_empty() {
            let place = if base.as_os_str().is_empty() {
                "the project".to_string()
            } else {
                format!("`{}`", base.display())
            };
            self.push(
                Diagnostic::new(
                    Code::MissingSource,
                    entry.span(file),
                    format!("{kind} source `{text}` matches no file"),
                )
                .label("matches nothing")
                .help(format!(
                    "no file below {place} matches (paths are relative to the project directory); {CI_HELP}"
                )),
            );
        }
        found
    }
}

/// Where the exports are produced elsewhere (a CI checkout has none), the
/// rule's level is the way out, so the help names it.
const CI_HELP: &str =
    "where the exports are absent (a CI checkout), set `lint: {missing-source: warn}`";

/// The files in the folder `text` names a file in, as `folder/name`.
fn sibling_names(root: &Path, text: &str) -> Vec<String> {
    let (folder, prefix) = match text.rsplit_once('/') {
        Some((folder, _)) => (root.join(folder), format!("{folder}/")),
        None => (root.to_path_buf(), String::new()),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.path().is_file())
        .map(|entry| format!("{prefix}{}", entry.file_name().to_string_lossy()))
        .collect()
}

/// The folders of a glob before its first component with a wildcard: the
/// only place its matches can be.
fn literal_prefix(glob: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let components: Vec<&str> = glob.split('/').collect();
    for component in &components[..components.len().saturating_sub(1)] {
        if component.contains(GLOB_CHARACTERS) {
            break;
        }
        prefix.push(component);
    }
    prefix
}

/// Calls `visit` with every file below `dir` (following no symbolic links
/// to folders, so a link loop cannot hang a check), named relative to
/// `root` with `/` separators.
fn walk(root: &Path, dir: &Path, visit: &mut dyn FnMut(&str, &Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, visit);
        } else if path.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            let relative: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            visit(&relative.join("/"), &path);
        }
    }
}
