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
use crate::source::{FileId, SourceMap, Span, relative_name};
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
    if !manifest_path.is_file() {
        return Err(project_error(format!(
            "no {MANIFEST} (run herald in a project directory or pass --project DIR)"
        )));
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
        for path in files_below(&root.join(folder)) {
            loader.load_definition(folder, kind, &path);
        }
    }
    for path in files_below(&root.join("templates")) {
        let name = relative_name(&root.join("templates"), &path);
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Some(file) = loader.add_text(&path, bytes) {
                    loader.project.templates.push(TemplateFile { name, file });
                }
            }
            Err(error) => loader.unreadable(&path, &error),
        }
    }
    Ok((loader.project, loader.diagnostics))
}

/// Every regular file below `dir`, sorted, skipping hidden entries.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(_) if path.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    files
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

    fn unreadable(&mut self, path: &Path, error: &std::io::Error) {
        let name = relative_name(&self.root, path);
        let file = self
            .project
            .sources
            .add(name, path.to_path_buf(), String::new());
        self.diagnostics.push(
            Diagnostic::new(
                Code::InvalidEncoding,
                Span::new(file, 0, 0),
                format!("the file cannot be read: {error}"),
            )
            .help("check the file's permissions"),
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
                self.unreadable(path, &error);
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
        if !problems.is_empty() {
            for diagnostic in problems {
                self.diagnostics.push(diagnostic);
            }
            return None;
        }
        match serde_saphyr::from_str_with_options::<T>(&source.text, yaml::options()) {
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
