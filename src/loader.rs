//! Loading a project: find its files, read them, parse the YAML with
//! positions, validate each file against its schema and read it into the
//! typed model. Every problem becomes a diagnostic; only a project that
//! cannot be read at all (no directory, no manifest) is an [`Error`].

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::model::{Campaign, Journey, Manifest, Segment};
use crate::schema::{Kind, Schemas};
use crate::source::{FileId, SourceFile, SourceMap, Span, relative_name};
use crate::yaml::{self, Node};

pub const MANIFEST: &str = "herald.yaml";

/// One definition read from a file: its name, file, YAML tree and typed value.
#[derive(Debug)]
pub struct Definition<T> {
    /// The file's path below its folder, without `.yaml`.
    pub name: String,
    pub file: FileId,
    pub node: Node,
    pub value: T,
}

/// A template file below `templates/`.
#[derive(Debug)]
pub struct TemplateFile {
    /// The path below `templates/`.
    pub name: String,
    pub file: FileId,
}

/// Everything read from a project; definitions that failed to load are absent
/// and their diagnostics say why.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub sources: SourceMap,
    pub manifest: Option<Definition<Manifest>>,
    pub segments: Vec<Definition<Segment>>,
    pub campaigns: Vec<Definition<Campaign>>,
    pub journeys: Vec<Definition<Journey>>,
    pub templates: Vec<TemplateFile>,
    /// Names of definitions that exist but did not load; references to them are not reported again.
    pub broken: Vec<(Kind, String)>,
    /// Kinds whose folder could not be listed in full: any name of that
    /// kind may exist unseen, so references to it are not reported.
    pub unreadable: Vec<Kind>,
    /// The YAML tree of a `herald.yaml` that parsed but failed its schema:
    /// checks that need only the text (literal secrets) still run on it, so
    /// fixing the schema error does not reveal them one run later.
    pub unchecked_manifest: Option<(FileId, Node)>,
    /// Names declared in a `herald.yaml` whose entries failed the schema and
    /// were left out so that the rest of the project is checked in the same
    /// run (an attribute `orders_count: int`, a provider with a misspelt
    /// setting): references to them are not reported as unknown.
    pub manifest_gaps: Vec<String>,
}

impl Project {
    pub fn manifest_file(&self) -> Option<FileId> {
        self.sources.find(MANIFEST)
    }

    /// "20 segments, 9 campaigns, 6 journeys, 55 templates".
    pub fn counts(&self) -> String {
        format!(
            "{} segments, {} campaigns, {} journeys, {} templates",
            self.segments.len(),
            self.campaigns.len(),
            self.journeys.len(),
            self.templates.len()
        )
    }
}

/// Reads the project at `root`.
pub fn load(root: &Path, schemas: &Schemas) -> Result<(Project, Diagnostics), Error> {
    let project_error = |reason: String| Error::Project {
        path: root.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(root).map_err(|error| project_error(error.to_string()))?;
    if !metadata.is_dir() {
        return Err(project_error("not a directory".into()));
    }
    let manifest_path = root.join(MANIFEST);
    match std::fs::metadata(&manifest_path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => {
            return Err(project_error(format!(
                "{MANIFEST} is a directory, not a file"
            )));
        }
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound && !is_symlink(&manifest_path) =>
        {
            return Err(project_error(format!(
                "no {MANIFEST} (run herald in a project directory or pass --project DIR)"
            )));
        }
        Err(error) => {
            return Err(project_error(format!(
                "{MANIFEST}: {}",
                unreadable_cause(&manifest_path, &error)
            )));
        }
    }

    let mut loader = Loader {
        root: root.to_path_buf(),
        schemas,
        project: Project {
            root: root.to_path_buf(),
            sources: SourceMap::default(),
            manifest: None,
            segments: Vec::new(),
            campaigns: Vec::new(),
            journeys: Vec::new(),
            templates: Vec::new(),
            broken: Vec::new(),
            unreadable: Vec::new(),
            unchecked_manifest: None,
            manifest_gaps: Vec::new(),
        },
        diagnostics: Diagnostics::default(),
    };

    let bytes = std::fs::read(&manifest_path)
        .map_err(|error| project_error(format!("{MANIFEST}: {error}")))?;
    if let Some(file) = loader.add_text(&manifest_path, bytes) {
        loader.project.manifest = loader.definition(Kind::Manifest, file, String::new());
    }
    for (folder, kind) in [
        ("segments", Kind::Segment),
        ("campaigns", Kind::Campaign),
        ("journeys", Kind::Journey),
    ] {
        let listing = files_below(&root.join(folder));
        for (path, cause) in &listing.problems {
            loader.unreadable_path(path, cause);
            if path.is_dir() || path == &root.join(folder) {
                loader.project.unreadable.push(kind);
            } else if let Some(name) = relative_name(&root.join(folder), path).strip_suffix(".yaml")
            {
                loader.project.broken.push((kind, name.to_string()));
            }
        }
        for path in listing.files {
            loader.load_definition(folder, kind, &path);
        }
    }
    let templates = files_below(&root.join("templates"));
    for (path, cause) in &templates.problems {
        loader.unreadable_path(path, cause);
    }
    for path in templates.files {
        let name = relative_name(&root.join("templates"), &path);
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Some(file) = loader.add_text(&path, bytes) {
                    loader.project.templates.push(TemplateFile { name, file });
                }
            }
            Err(error) => loader.unreadable_path(&path, &unreadable_cause(&path, &error)),
        }
    }
    Ok((loader.project, loader.diagnostics))
}

/// The files below a folder, and the paths below it that could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every regular file, sorted.
    pub files: Vec<PathBuf>,
    /// Each folder that could not be listed and each link that leads
    /// nowhere, with the cause in words.
    pub problems: Vec<(PathBuf, String)>,
}

/// Every regular file below `dir`, sorted, skipping hidden entries and
/// following symbolic links (each folder once, so a link to a parent ends).
/// A missing `dir` is an empty listing: every project folder is optional.
pub fn files_below(dir: &Path) -> Listing {
    let mut listing = Listing::default();
    let mut visited = std::collections::HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        if let Ok(canonical) = std::fs::canonicalize(&current)
            && !visited.insert(canonical)
        {
            continue;
        }
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(error) if current == dir && error.kind() == std::io::ErrorKind::NotFound => {
                continue;
            }
            Err(error) => {
                listing
                    .problems
                    .push((current.clone(), unreadable_cause(&current, &error)));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    listing
                        .problems
                        .push((current.clone(), unreadable_cause(&current, &error)));
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // `metadata` follows links, so a link reads as what it points to.
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_dir() => pending.push(path),
                Ok(metadata) if metadata.is_file() => listing.files.push(path),
                Ok(_) => {
                    let cause = if is_symlink(&path) {
                        "it is a symbolic link to a device, a pipe or a socket, not a file"
                    } else {
                        "it is a device, a pipe or a socket, not a file"
                    };
                    listing.problems.push((path, cause.to_string()));
                }
                Err(error) => {
                    let cause = unreadable_cause(&path, &error);
                    listing.problems.push((path, cause));
                }
            }
        }
    }
    listing.files.sort();
    listing.problems.sort();
    listing
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

/// Why `path` cannot be read, in the user's words: a link that leads nowhere
/// names its target, the rest is the system's reason.
fn unreadable_cause(path: &Path, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound
        && let Ok(target) = std::fs::read_link(path)
    {
        return format!(
            "it is a symbolic link to `{}`, which does not exist",
            target.display()
        );
    }
    // ELOOP has no stable `ErrorKind` yet; its text names the cause.
    let reason = error.to_string();
    let reason = reason
        .split(" (os error")
        .next()
        .unwrap_or(&reason)
        .to_lowercase();
    if is_symlink(path) {
        format!("it is a symbolic link that cannot be followed: {reason}")
    } else {
        reason
    }
}

struct Loader<'a> {
    root: PathBuf,
    schemas: &'a Schemas,
    project: Project,
    diagnostics: Diagnostics,
}

impl Loader<'_> {
    /// Registers a file's text; a file that is not UTF-8 is a diagnostic.
    fn add_text(&mut self, path: &Path, bytes: Vec<u8>) -> Option<FileId> {
        let name = relative_name(&self.root, path);
        match String::from_utf8(bytes) {
            Ok(text) => {
                let text = text
                    .strip_prefix('\u{feff}')
                    .map(str::to_string)
                    .unwrap_or(text);
                Some(self.project.sources.add(name, path.to_path_buf(), text))
            }
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                let bytes = error.into_bytes();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let file = self.project.sources.add(name, path.to_path_buf(), text);
                let source = self.project.sources.file(file);
                let span = Span::new(file, valid, valid + 1);
                let line = source.position(valid).line;
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidEncoding,
                        span,
                        format!("the file is not UTF-8 (first bad byte on line {line})"),
                    )
                    .label("not UTF-8")
                    .help("re-save the file as UTF-8"),
                );
                None
            }
        }
    }

    /// A file or folder that exists but cannot be read.
    fn unreadable_path(&mut self, path: &Path, cause: &str) {
        let name = relative_name(&self.root, path);
        let folder = path.is_dir();
        let file = self
            .project
            .sources
            .add(name.clone(), path.to_path_buf(), String::new());
        let (what, help) = if folder {
            (
                "folder",
                "check the folder's permissions (herald needs to list and read it); until then its definitions are not checked",
            )
        } else {
            (
                "file",
                "fix the file's permissions or the link's target, or remove it",
            )
        };
        self.diagnostics.push(
            Diagnostic::new(
                Code::UnreadablePath,
                Span::new(file, 0, 0),
                format!("the {what} `{name}` cannot be read: {cause}"),
            )
            .help(help),
        );
    }

    fn load_definition(&mut self, folder: &str, kind: Kind, path: &Path) {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relative = relative_name(&self.root.join(folder), path);
        let Some(name) = relative.strip_suffix(".yaml") else {
            let project_name = relative_name(&self.root, path);
            let file = self
                .project
                .sources
                .add(project_name, path.to_path_buf(), String::new());
            let help = if file_name.ends_with(".yml") {
                format!(
                    "herald reads `.yaml` files only: rename it to `{}`",
                    file_name.trim_end_matches(".yml").to_string() + ".yaml"
                )
            } else {
                format!(
                    "only `*.yaml` files below `{folder}/` are {} definitions; move it elsewhere",
                    kind.noun()
                )
            };
            self.diagnostics.push(
                Diagnostic::new(
                    Code::StrayFile,
                    Span::new(file, 0, 0),
                    format!("`{folder}/{relative}` is not read: it is not a `.yaml` file"),
                )
                .help(help),
            );
            return;
        };
        let name = name.to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.unreadable_path(path, &unreadable_cause(path, &error));
                self.project.broken.push((kind, name));
                return;
            }
        };
        let Some(file) = self.add_text(path, bytes) else {
            self.project.broken.push((kind, name));
            return;
        };
        match kind {
            Kind::Segment => {
                if let Some(definition) = self.definition(kind, file, name.clone()) {
                    self.project.segments.push(definition);
                } else {
                    self.project.broken.push((kind, name));
                }
            }
            Kind::Campaign => {
                if let Some(definition) = self.definition(kind, file, name.clone()) {
                    self.project.campaigns.push(definition);
                } else {
                    self.project.broken.push((kind, name));
                }
            }
            Kind::Journey => {
                if let Some(definition) = self.definition(kind, file, name.clone()) {
                    self.project.journeys.push(definition);
                } else {
                    self.project.broken.push((kind, name));
                }
            }
            Kind::Manifest => {}
        }
    }

    /// Parses, validates and deserializes one file.
    fn definition<T: DeserializeOwned>(
        &mut self,
        kind: Kind,
        file: FileId,
        name: String,
    ) -> Option<Definition<T>> {
        let source = self.project.sources.file(file);
        let node = match yaml::parse(file, source) {
            Ok(node) => node,
            Err(diagnostic) => {
                self.diagnostics.push(diagnostic);
                return None;
            }
        };
        let problems = self.schemas.validate(kind, file, &node);
        let mut text = std::borrow::Cow::Borrowed(source.text.as_str());
        let mut node = node;
        if !problems.is_empty() {
            let unknown: Vec<Span> = problems
                .iter()
                .filter(|problem| problem.code == Code::UnknownKey)
                .filter_map(Diagnostic::span)
                .collect();
            let only_unknown_keys = unknown.len() == problems.len();
            let manifest_repair =
                (kind == Kind::Manifest).then(|| manifest_entries(&node, &problems));
            let suggested: Vec<(Span, String)> = problems
                .iter()
                .filter(|problem| problem.code == Code::UnknownKey)
                .filter_map(|problem| {
                    let help = problem.help.as_deref()?;
                    let name = help.strip_prefix("did you mean `")?.strip_suffix("`?")?;
                    Some((problem.span()?, name.to_string()))
                })
                .collect();
            for diagnostic in problems {
                self.diagnostics.push(diagnostic);
            }
            // A definition whose only problems are unknown keys is read
            // without them, so the rest of it (its references, its filters)
            // is checked in the same run rather than after the keys are fixed.
            // Not the manifest: every other file is checked against it, and a
            // misspelt `channels:` would make every channel look undeclared.
            // The manifest is repaired entry by entry instead: a failing
            // attribute, event, channel or provider is left out and its name
            // remembered, so nothing that refers to it is reported as unknown.
            // A misspelt key that "did you mean" names is read as that key
            // (`audiance:` as `audience:`), so a definition missing a
            // required key only by its spelling is still checked in full.
            let (base, renamed) = match kind {
                Kind::Manifest => (source.text.clone(), Vec::new()),
                _ => renamed_keys(&source.text, &suggested),
            };
            let unknown: Vec<Span> = unknown
                .into_iter()
                .filter(|span| !renamed.contains(span))
                .collect();
            let blank = match &manifest_repair {
                Some(Some((entries, _))) => Some(entries.as_slice()),
                Some(None) => None,
                None => only_unknown_keys.then_some(unknown.as_slice()),
            };
            let mut repaired = None;
            let mut names = Vec::new();
            let mut next = blank.map(|keys| (keys.to_vec(), node.clone(), base));
            // Leaving an entry out can leave another one incomplete (a
            // misspelt `tpye:` leaves the attribute without a type): a few
            // rounds, each on what the last one left, then give up.
            for _ in 0..3 {
                let Some((keys, tree, text)) = next.take() else {
                    break;
                };
                let text = without_keys(&text, &tree, &keys);
                let repaired_file =
                    SourceFile::new(source.name.clone(), source.path.clone(), text.clone());
                let Ok(tree) = yaml::parse(file, &repaired_file) else {
                    break;
                };
                let left = self.schemas.validate(kind, file, &tree);
                if left.is_empty() {
                    repaired = Some((text, tree));
                    break;
                }
                if kind != Kind::Manifest {
                    break;
                }
                let Some((keys, more)) = manifest_entries(&tree, &left) else {
                    break;
                };
                names.extend(more);
                next = Some((keys, tree, text));
            }
            if let Some(Some((_, first))) = &manifest_repair {
                names.extend(first.iter().cloned());
            }
            match repaired {
                Some((repaired, tree)) => {
                    text = std::borrow::Cow::Owned(repaired);
                    node = tree;
                    if kind == Kind::Manifest {
                        self.project.manifest_gaps = names;
                    }
                }
                None => {
                    if kind == Kind::Manifest {
                        self.project.unchecked_manifest = Some((file, node));
                    }
                    return None;
                }
            }
        }
        match serde_saphyr::from_str_with_options::<T>(&text, yaml::options()) {
            Ok(value) => Some(Definition {
                name,
                file,
                node,
                value,
            }),
            Err(error) => {
                // The schema accepted the file, so this is a shape the schema
                // cannot express; report it where the reader stopped.
                let mut diagnostic = yaml::error_diagnostic(file, source, &error);
                if diagnostic.code == Code::YamlSyntax {
                    diagnostic.code = Code::InvalidValue;
                    diagnostic.message = diagnostic.message.replacen("invalid YAML: ", "", 1);
                }
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }
}

/// The manifest entries to leave out so that what remains passes the
/// schema, by their key spans, and the names they declared: for each
/// problem, the entry of a section (`events.signed_up`, `providers.bot`,
/// `contact.attributes.orders_count`) that contains it, or a top-level key
/// the schema does not know. `None` when a problem lies elsewhere (a
/// required section missing, a scalar setting of the wrong type): then the
/// manifest stays unread, as before.
fn manifest_entries(root: &Node, problems: &[Diagnostic]) -> Option<(Vec<Span>, Vec<String>)> {
    let yaml::Value::Mapping(sections) = &root.value else {
        return None;
    };
    let inside = |node: &Node, span: &Span| node.start <= span.start && span.end <= node.end;
    let entry_of = |map: &Node, span: &Span| -> Option<(Span, String)> {
        let yaml::Value::Mapping(entries) = &map.value else {
            return None;
        };
        entries.iter().find_map(|(key, value)| {
            let whole = key.start <= span.start && span.end <= value.end.max(key.end);
            let yaml::Value::String(name) = &key.value else {
                return None;
            };
            whole.then(|| {
                (
                    Span {
                        file: span.file,
                        start: key.start,
                        end: key.end,
                    },
                    name.clone(),
                )
            })
        })
    };
    let mut blank = Vec::new();
    let mut names = Vec::new();
    for problem in problems {
        let span = problem.span()?;
        let (key, section) = sections
            .iter()
            .find(|(key, value)| key.start <= span.start && span.end <= value.end.max(key.end))?;
        if problem.code == Code::UnknownKey {
            if key.start == span.start {
                // A misspelt section (`chanels:`): left out, every channel
                // would look undeclared, so the manifest stays unread.
                return None;
            }
            // A misspelt setting goes alone; what it leaves missing, if
            // anything, is the next round's problem.
            blank.push(span);
            continue;
        }
        let yaml::Value::String(section_name) = &key.value else {
            return None;
        };
        let holder = if section_name == "contact" {
            let yaml::Value::Mapping(entries) = &section.value else {
                return None;
            };
            entries
                .iter()
                .find(|(key, value)| {
                    key.value == yaml::Value::String("attributes".into()) && inside(value, &span)
                })
                .map_or(section, |(_, attributes)| attributes)
        } else {
            section
        };
        let (entry, name) = entry_of(holder, &span)?;
        if entry.start == span.start && entry.end == span.end && problem.code != Code::UnknownKey {
            // The problem is the name of a section's entry itself.
            return None;
        }
        blank.push(entry);
        names.push(name);
    }
    Some((blank, names))
}

/// `text` with each misspelt key at its span written as suggested, where
/// the suggestion fits without moving anything after it: a shorter or
/// equal one padded before the colon (`audience  :`), a longer one taking
/// spaces after the colon. Returns the text and the keys it renamed.
fn renamed_keys(text: &str, suggested: &[(Span, String)]) -> (String, Vec<Span>) {
    let mut bytes = text.as_bytes().to_vec();
    let mut renamed = Vec::new();
    for (span, name) in suggested {
        let (start, end) = (span.start as usize, span.end as usize);
        let Some(key) = text.get(start..end) else {
            continue;
        };
        if key.contains(['"', '\'', ' '])
            || !name.is_ascii()
            || text.as_bytes().get(end) != Some(&b':')
        {
            continue;
        }
        let spaces = text[end + 1..]
            .bytes()
            .take_while(|byte| *byte == b' ')
            .count();
        let replacement = if name.len() <= key.len() {
            format!("{name}{}:", " ".repeat(key.len() - name.len()))
        } else if name.len() - key.len() < spaces {
            format!("{name}:")
        } else {
            continue;
        };
        bytes[start..start + replacement.len()].copy_from_slice(replacement.as_bytes());
        renamed.push(*span);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, renamed),
        Err(_) => (text.to_string(), Vec::new()),
    }
}

/// `text` with the entries whose keys are at `keys` blanked out: every byte
/// from the key to the end of its value becomes a space (line breaks stay),
/// so every other value keeps its byte offsets and its diagnostics' positions.
fn without_keys(text: &str, node: &Node, keys: &[Span]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut pending = vec![node];
    while let Some(current) = pending.pop() {
        match &current.value {
            yaml::Value::Mapping(entries) => {
                for (key, value) in entries {
                    let hit = keys
                        .iter()
                        .any(|span| span.start == key.start && span.end == key.end);
                    if hit {
                        let end = value.end.max(key.end) as usize;
                        for byte in &mut bytes[key.start as usize..end.min(text.len())] {
                            if *byte != b'\n' && *byte != b'\r' {
                                *byte = b' ';
                            }
                        }
                    } else {
                        pending.push(value);
                    }
                }
            }
            yaml::Value::Sequence(items) => pending.extend(items),
            _ => {}
        }
    }
    // Only whole UTF-8 sequences were replaced, byte by byte, by spaces.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}
