//! `herald watch`: keeps running while templates and definitions are
//! edited. Every burst of saves (debounced) runs the static pipeline again,
//! prints the diagnostics and re-renders the previews of the messages that
//! the changed files affect, as [`graph`] decides; `--serve` also keeps a
//! preview page of every message up to date ([`server`], [`page`]).
//!
//! Errors in the project's files are what watch mode is for, so they are
//! printed and never end it; only a project directory that cannot be
//! watched, at the start or because it disappeared, ends it with status 2.

mod graph;
mod page;
mod server;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::compiler::{Compilation, compile_with};
use crate::diagnostic::Severity;
use crate::error::Error;
use crate::loader::MANIFEST;
use crate::model::Manifest;
use crate::report::Reporter;
use crate::schema::Schemas;
use crate::template::Target;
use crate::template::preview::{self, Recipient};
use crate::template::samples::SAMPLE_NOW;

use self::graph::{Graph, message_key};

/// How long the files must be quiet before a burst of saves is checked.
/// Short enough to feel immediate, long enough for an editor's
/// write-temp-then-rename to arrive as one change.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// How often the loop looks whether the project directory still exists.
const POLL: Duration = Duration::from_millis(500);

/// Clears the terminal and moves the cursor home.
const CLEAR: &str = "\x1b[2J\x1b[H";

/// The folders (and the manifest) whose files make up a project.
const PROJECT_ENTRIES: [&str; 5] = [MANIFEST, "segments", "campaigns", "journeys", "templates"];

/// What the command asks of a watch session.
pub struct Options {
    /// The project directory, as given.
    pub root: PathBuf,
    /// The project as diagnostics name it.
    pub prefix: String,
    pub color: bool,
    /// Serve the preview page on this port (0: any free one).
    pub serve: Option<u16>,
    /// The contacts previews render for, in each new compilation.
    pub recipients: Recipients,
    /// Writes a block of output.
    pub print: fn(&str) -> Result<(), Error>,
}

/// Finds the contacts to preview for in a compilation (the contact store's
/// path, for one, comes from the manifest).
pub type Recipients = Box<dyn Fn(&Compilation, &Manifest) -> Result<Vec<Recipient>, Error>>;

/// A watch session whose first compilation is done and that has not
/// started watching yet.
pub struct Watcher {
    options: Options,
    /// The canonical project directory, which file events name.
    watched: PathBuf,
    schemas: Schemas,
    compilation: Compilation,
}

impl Watcher {
    /// Compiles the project once; fails when it cannot be read.
    pub fn start(options: Options) -> Result<Watcher, Error> {
        let watched = options
            .root
            .canonicalize()
            .map_err(|error| project_error(&options.root, error.to_string()))?;
        let schemas = Schemas::new();
        let compilation = compile_with(&options.root, &schemas)?;
        Ok(Watcher {
            options,
            watched,
            schemas,
            compilation,
        })
    }

    /// The first compilation.
    pub fn compilation(&self) -> &Compilation {
        &self.compilation
    }

    /// Watches until interrupted; returns the exit status.
    pub fn run(self) -> Result<i32, Error> {
        let Watcher {
            options,
            watched,
            schemas,
            compilation,
        } = self;
        let root = options.root.clone();
        let project_error = |reason: String| project_error(&root, reason);
        let (sender, receiver) = channel::<DebounceEventResult>();
        let mut debouncer = new_debouncer(DEBOUNCE, None, sender)
            .map_err(|error| project_error(format!("cannot watch: {error}")))?;
        debouncer
            .watch(&watched, RecursiveMode::Recursive)
            .map_err(|error| project_error(format!("cannot watch: {error}")))?;

        let shared = Arc::new(server::Shared::default());
        let address = match options.serve {
            Some(port) => Some(server::start(port, shared.clone())?),
            None => None,
        };

        let mut session = Session {
            root: root.clone(),
            prefix: options.prefix,
            schemas,
            recipients: options.recipients,
            print: options.print,
            terminal: std::io::stdout().is_terminal(),
            color: options.color,
            graph: Graph::default(),
            texts: HashMap::new(),
            shared,
            address,
        };
        session.start(compilation)?;

        loop {
            match receiver.recv_timeout(POLL) {
                Ok(Ok(events)) => {
                    let mut changed = BTreeSet::new();
                    let mut first: Option<Instant> = None;
                    for event in &events {
                        if !is_edit(&event.kind) {
                            continue;
                        }
                        let mut relevant = false;
                        for path in &event.paths {
                            if let Some(name) = project_file(&watched, path) {
                                changed.insert(name);
                                relevant = true;
                            }
                        }
                        if relevant {
                            first = Some(first.map_or(event.time, |time| time.min(event.time)));
                        }
                    }
                    let changed = session.files(changed);
                    if !changed.is_empty() {
                        session.change(&changed, first.unwrap_or_else(Instant::now))?;
                    }
                }
                Ok(Err(errors)) => {
                    for error in errors {
                        eprintln!("herald: watching {}: {error}", root.display());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(project_error("the file watcher stopped".into()));
                }
            }
            if !watched.is_dir() {
                return Err(project_error("the directory was removed".into()));
            }
        }
    }
}

fn project_error(root: &Path, reason: String) -> Error {
    Error::Project {
        path: root.to_path_buf(),
        reason,
    }
}

fn text_hash(text: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Whether an event can change what a file holds. Reads (herald's own
/// among them) and metadata changes cannot, and reacting to them would
/// make every check trigger the next.
fn is_edit(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

/// The project-relative name of a file that belongs to the project, or
/// `None` for anything else: hidden files (editors' swap and temporary
/// files), backups ending in `~`, the store, other folders.
fn project_file(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let name = crate::source::relative_name(root, path);
    let first = relative.components().next()?.as_os_str().to_string_lossy();
    if !PROJECT_ENTRIES.contains(&first.as_ref()) {
        return None;
    }
    let ignored = relative.components().any(|component| {
        let part = component.as_os_str().to_string_lossy();
        part.starts_with('.') || part.ends_with('~') || part.ends_with(".swp")
    });
    (!ignored).then_some(name)
}

/// The state kept between changes.
struct Session {
    root: PathBuf,
    prefix: String,
    schemas: Schemas,
    recipients: Recipients,
    print: fn(&str) -> Result<(), Error>,
    terminal: bool,
    color: bool,
    /// The dependencies as of the last compilation.
    graph: Graph,
    /// A hash of every file's text as of the last compilation, so that
    /// events that changed nothing (a save without edits, the tail of a
    /// burst already checked) print nothing.
    texts: HashMap<String, u64>,
    shared: Arc<server::Shared>,
    address: Option<std::net::SocketAddr>,
}

impl Session {
    fn start(&mut self, compilation: Compilation) -> Result<(), Error> {
        let started = Instant::now();
        self.remember(&compilation);
        let mut out = self.header("started");
        self.graph = Graph::new(&compilation);
        out.push_str(&self.diagnostics(&compilation));
        let _ = writeln!(
            out,
            "watching {} ({}); previews show for the messages each save affects",
            self.root.display(),
            compilation.project.counts()
        );
        if let Some(address) = self.address {
            let _ = writeln!(out, "preview page: http://{address}/");
        }
        let _ = writeln!(
            out,
            "checked in {} ms · Ctrl-C stops",
            started.elapsed().as_millis()
        );
        self.publish(compilation);
        self.print(&out)
    }

    /// Re-checks after `changed` files were saved, the first at `saved`.
    fn change(&mut self, changed: &BTreeSet<String>, saved: Instant) -> Result<(), Error> {
        let started = Instant::now();
        if self.unchanged(changed) {
            return Ok(());
        }
        let list: Vec<&str> = changed.iter().map(String::as_str).collect();
        let mut out = self.header(&format!("changed {}", list.join(", ")));
        // A file half-way through an edit can reach corners of the
        // pipeline nothing else does; a bug there must not end the session.
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compile_with(&self.root, &self.schemas)
        }));
        let compilation = match compiled {
            Ok(Ok(compilation)) => compilation,
            Ok(Err(error)) => {
                // No manifest (deleted, or being renamed): wait for it.
                let _ = writeln!(out, "herald: {error}");
                let _ = writeln!(out, "{}", self.footer(started, saved, None));
                return self.print(&out);
            }
            Err(_) => {
                let _ = writeln!(
                    out,
                    "herald: internal error while checking (reported above); waiting for the next save"
                );
                let _ = writeln!(out, "{}", self.footer(started, saved, None));
                return self.print(&out);
            }
        };
        self.remember(&compilation);
        let mut graph = Graph::new(&compilation);
        let current = graph.clone();
        graph.merge(&self.graph);
        self.graph = current;

        let dependents = graph.dependents(changed);
        if !dependents.is_empty() {
            let _ = writeln!(
                out,
                "re-checked, as they use what changed: {}",
                dependents.join(", ")
            );
        }
        out.push_str(&self.diagnostics(&compilation));

        let mut previews = 0;
        if let (Some(templates), Some(manifest)) =
            (&compilation.templates, &compilation.project.manifest)
        {
            let affected: BTreeSet<String> = if changed.contains(MANIFEST) {
                graph.renders.keys().cloned().collect()
            } else {
                graph.affected_messages(changed)
            };
            let targets: Vec<Target> = templates
                .targets
                .iter()
                .filter_map(|target| {
                    let messages = target
                        .messages
                        .iter()
                        .filter(|message| affected.contains(&message_key(target, message)))
                        .cloned()
                        .collect::<Vec<_>>();
                    (!messages.is_empty()).then(|| Target {
                        messages,
                        ..target.clone()
                    })
                })
                .collect();
            match (self.recipients)(&compilation, &manifest.value) {
                Ok(recipients) => {
                    let outputs = preview::render_all(
                        templates,
                        &manifest.value,
                        &targets,
                        &recipients,
                        SAMPLE_NOW,
                    );
                    previews = outputs.len();
                    out.push_str(&preview::human(&outputs, &manifest.value, false));
                }
                Err(error) => {
                    let _ = writeln!(out, "herald: no previews: {error}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{}",
            self.footer(started, saved, Some((&compilation, previews)))
        );
        self.publish(compilation);
        self.print(&out)
    }

    fn remember(&mut self, compilation: &Compilation) {
        self.texts = compilation
            .project
            .sources
            .files()
            .map(|(_, file)| (file.name.clone(), text_hash(&file.text)))
            .collect();
    }

    /// The files behind changed paths: a folder that was created or moved
    /// in stands for the files below it, one that was removed (whose files
    /// the watcher does not report one by one) for the files it held.
    fn files(&self, paths: BTreeSet<String>) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        for name in paths {
            let path = self.root.join(&name);
            if path.is_dir() {
                let below = crate::loader::files_below(&path).files;
                files.extend(
                    below.iter().map(|file| {
                        format!("{name}/{}", crate::source::relative_name(&path, file))
                    }),
                );
            } else if !path.exists() && !self.texts.contains_key(&name) {
                let prefix = format!("{name}/");
                files.extend(
                    self.texts
                        .keys()
                        .filter(|known| known.starts_with(&prefix))
                        .cloned(),
                );
            } else {
                files.insert(name);
            }
        }
        files
    }

    /// Whether every changed file holds what the last compilation read.
    fn unchanged(&self, changed: &BTreeSet<String>) -> bool {
        changed.iter().all(|name| {
            let now = std::fs::read(self.root.join(name)).ok().map(|bytes| {
                let text = String::from_utf8_lossy(&bytes);
                text_hash(text.strip_prefix('\u{feff}').unwrap_or(&text))
            });
            now == self.texts.get(name).copied()
        })
    }

    fn header(&self, what: &str) -> String {
        let time = jiff::ZonedDateTime::now().strftime("%H:%M:%S").to_string();
        let clear = if self.terminal { CLEAR } else { "" };
        format!("{clear}── herald watch · {time} · {what}\n")
    }

    fn footer(
        &self,
        started: Instant,
        saved: Instant,
        result: Option<(&Compilation, usize)>,
    ) -> String {
        let mut line = format!(
            "rechecked in {} ms ({} ms after the save)",
            started.elapsed().as_millis(),
            saved.elapsed().as_millis()
        );
        if let Some((compilation, previews)) = result {
            let diagnostics = &compilation.diagnostics;
            let _ = write!(
                line,
                " · {} · {previews} preview{}",
                crate::report::summary(
                    diagnostics.count(Severity::Error),
                    diagnostics.count(Severity::Warning)
                ),
                if previews == 1 { "" } else { "s" }
            );
        }
        line
    }

    fn diagnostics(&self, compilation: &Compilation) -> String {
        if compilation.diagnostics.is_empty() {
            return format!("no problems in {}\n", compilation.project.counts());
        }
        self.reporter(compilation, self.color)
            .human(&compilation.diagnostics)
    }

    fn reporter<'c>(&self, compilation: &'c Compilation, color: bool) -> Reporter<'c> {
        Reporter {
            sources: &compilation.project.sources,
            prefix: self.prefix.clone(),
            color,
        }
    }

    /// Hands the compilation to the preview page, if one is served.
    fn publish(&self, compilation: Compilation) {
        if self.address.is_none() {
            return;
        }
        let diagnostics = self
            .reporter(&compilation, false)
            .human(&compilation.diagnostics);
        let recipients: Vec<Recipient> = compilation
            .project
            .manifest
            .as_ref()
            .and_then(|manifest| (self.recipients)(&compilation, &manifest.value).ok())
            .unwrap_or_default();
        self.shared.publish(page::Snapshot {
            compilation,
            recipients,
            diagnostics,
        });
    }

    fn print(&self, text: &str) -> Result<(), Error> {
        (self.print)(text)
    }
}
