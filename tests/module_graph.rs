//! The crate's modules depend on each other without cycles.
//!
//! A cycle between modules means neither can be understood, tested or moved
//! without the other; the pipeline (load → schema → resolve → typecheck →
//! lint → render) should read in one direction. This test reads every file
//! below `src/` as Rust, resolves each path it names (`use` trees, paths in
//! code, `crate::` paths inside macro calls, `pub use` re-exports) to the
//! module that defines it, and builds two kinds of graph:
//!
//! - between the top-level modules (`crate` stands for `lib.rs`'s own items);
//! - between the sibling files of each folder (`template/email.rs` →
//!   `template/text_part.rs`), leaving out the folder's `mod.rs`, whose items
//!   its children naturally share.
//!
//! Test modules (`#[cfg(test)]`) are left out: they may reach for anything.
//! Run with `--nocapture` to print the top-level graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Dependencies that still close a cycle, each to be removed by the work
/// that breaks it: `(folder, from, to)`, with folder `""` for the top level.
/// The test fails when one of them no longer exists, so the list only shrinks.
const ALLOWED: &[(&str, &str, &str)] = &[
    // `Settings` holds the validated command, so settings.rs builds every
    // command's request while each command reads the settings.
    ("command", "settings", "check"),
    ("command", "settings", "contacts"),
    ("command", "settings", "events"),
    ("command", "settings", "render"),
    ("command", "settings", "plan"),
    ("command", "settings", "report"),
    ("command", "settings", "run"),
    ("command", "settings", "status"),
    ("command", "settings", "segment"),
    ("command", "settings", "serve"),
    ("command", "settings", "simulate"),
    ("command", "settings", "sync"),
    ("command", "settings", "watch"),
];

type ModulePath = Vec<String>;

/// What one file says about the modules it uses.
struct Module {
    file: PathBuf,
    /// Absolute paths named by the file, with the text they were found as.
    references: Vec<(ModulePath, String)>,
    /// `pub use` re-exports: the name they export and the absolute path.
    exports: BTreeMap<String, ModulePath>,
}

struct Crate {
    modules: BTreeMap<ModulePath, Module>,
}

fn module_path(src: &Path, file: &Path) -> ModulePath {
    let relative = file.strip_prefix(src).expect("file below src");
    let mut path: ModulePath = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = path.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        path.push(stem.to_string());
    }
    path
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable src")
        .map(|entry| entry.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Path>()
                .is_ok_and(|path| path.is_ident("test"))
    })
}

/// Collects the paths a file names, as written (relative to the module it is
/// written in, which [`resolve`] applies later).
struct Collector {
    /// The module of the code being visited (inline `mod` blocks nest it).
    module: ModulePath,
    paths: Vec<(ModulePath, Vec<String>)>,
    exports: Vec<(ModulePath, String, Vec<String>)>,
}

impl Collector {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let name = name.ident.to_string();
                self.leaf(prefix, &name, &name, public);
            }
            syn::UseTree::Rename(rename) => {
                self.leaf(
                    prefix,
                    &rename.ident.to_string(),
                    &rename.rename.to_string(),
                    public,
                );
            }
            syn::UseTree::Glob(_) => self.paths.push((self.module.clone(), prefix.clone())),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree, public);
                }
            }
        }
    }

    fn leaf(&mut self, prefix: &[String], name: &str, exported_as: &str, public: bool) {
        let mut path = prefix.to_vec();
        if name != "self" {
            path.push(name.to_string());
        }
        if public {
            self.exports
                .push((self.module.clone(), exported_as.to_string(), path.clone()));
        }
        self.paths.push((self.module.clone(), path));
    }

    /// Macro arguments are tokens, not syntax: find `a::b::c` runs in them.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        use proc_macro2::TokenTree;
        let mut path: Vec<String> = Vec::new();
        let mut colons = 0;
        let mut after_dollar = false;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => {
                    if colons != 2 {
                        self.flush(&mut path);
                    }
                    // `$crate` is whichever crate defined the macro.
                    if !(after_dollar && path.is_empty()) {
                        path.push(ident.to_string());
                    }
                    colons = 0;
                    after_dollar = false;
                }
                TokenTree::Punct(punct) if punct.as_char() == ':' => colons += 1,
                TokenTree::Punct(punct) => {
                    self.flush(&mut path);
                    colons = 0;
                    after_dollar = punct.as_char() == '$';
                }
                TokenTree::Group(group) => {
                    self.flush(&mut path);
                    colons = 0;
                    self.tokens(group.stream());
                }
                TokenTree::Literal(_) => {
                    self.flush(&mut path);
                    colons = 0;
                }
            }
        }
        self.flush(&mut path);
    }

    fn flush(&mut self, path: &mut Vec<String>) {
        if path.len() > 1 {
            self.paths.push((self.module.clone(), std::mem::take(path)));
        }
        path.clear();
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if is_cfg_test(&item.attrs) {
            return;
        }
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        self.use_tree(&mut Vec::new(), &item.tree, public);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if is_cfg_test(&item.attrs) {
            return;
        }
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_impl(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        if segments.len() > 1 {
            self.paths.push((self.module.clone(), segments));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let mut collected = Vec::new();
        for file in files {
            if file == src.join("main.rs") {
                continue; // the binary is another crate: it sees only `herald::`
            }
            let text = std::fs::read_to_string(&file).expect("readable file");
            let syntax = syn::parse_file(&text)
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            let mut collector = Collector {
                module: module_path(src, &file),
                paths: Vec::new(),
                exports: Vec::new(),
            };
            collector.visit_file(&syntax);
            collected.push((file, collector));
        }
        let mut known: BTreeSet<ModulePath> = collected
            .iter()
            .map(|(file, _)| module_path(src, file))
            .collect();
        // Inline `mod name { … }` blocks are modules too.
        for (_, collector) in &collected {
            for (module, _) in &collector.paths {
                known.insert(module.clone());
            }
        }
        let mut modules: BTreeMap<ModulePath, Module> = BTreeMap::new();
        for (file, collector) in &collected {
            let own = module_path(src, file);
            let mut references = Vec::new();
            for (module, path) in &collector.paths {
                if let Some(absolute) = absolute(&known, module, path) {
                    references.push((absolute, path.join("::")));
                }
            }
            modules.entry(own.clone()).or_insert_with(|| Module {
                file: file.clone(),
                references,
                exports: BTreeMap::new(),
            });
            for (module, name, path) in &collector.exports {
                if let Some(absolute) = absolute(&known, module, path) {
                    let entry = modules.entry(module.clone()).or_insert_with(|| Module {
                        file: file.clone(),
                        references: Vec::new(),
                        exports: BTreeMap::new(),
                    });
                    entry.exports.insert(name.clone(), absolute);
                }
            }
        }
        Crate { modules }
    }

    /// The module that defines what `path` names, following re-exports.
    fn defining_module(&self, path: &[String]) -> ModulePath {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let mut module: ModulePath = Vec::new();
            for segment in &path {
                let mut next = module.clone();
                next.push(segment.clone());
                if self.modules.contains_key(&next) {
                    module = next;
                } else {
                    break;
                }
            }
            let item = path.get(module.len());
            match item.and_then(|item| self.modules.get(&module)?.exports.get(item)) {
                Some(target) if *target != path => {
                    let mut followed = target.clone();
                    followed.extend(path[module.len() + 1..].iter().cloned());
                    path = followed;
                }
                _ => return module,
            }
        }
        Vec::new()
    }
}

/// `path` as written in `module`, made absolute; `None` when it names
/// something outside the crate (another crate, a local item).
fn absolute(
    known: &BTreeSet<ModulePath>,
    module: &[String],
    path: &[String],
) -> Option<ModulePath> {
    let first = path.first()?;
    let mut base: ModulePath = module.to_vec();
    let mut rest = path;
    match first.as_str() {
        "crate" => {
            base.clear();
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {
            let mut child = base.clone();
            child.push(first.clone());
            if !known.contains(&child) {
                return None;
            }
        }
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Edges of one graph with, for each, the first place that makes it.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn node(module: &[String]) -> String {
    module
        .first()
        .cloned()
        .unwrap_or_else(|| "crate".to_string())
}

fn graphs(krate: &Crate) -> BTreeMap<String, Graph> {
    let mut graphs: BTreeMap<String, Graph> = BTreeMap::new();
    for (own, module) in &krate.modules {
        graphs
            .entry(String::new())
            .or_default()
            .entry(node(own))
            .or_default();
        for (path, written) in &module.references {
            let target = krate.defining_module(path);
            let place = format!("{}: {written}", module.file.display());
            let (from, to) = (node(own), node(&target));
            if from != to {
                let top = graphs.entry(String::new()).or_default();
                top.entry(from)
                    .or_default()
                    .entry(to)
                    .or_insert(place.clone());
            }
            // Siblings inside each folder both modules share.
            let shared = own.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if shared < own.len() && shared < target.len() && shared > 0 {
                let folder = own[..shared].join("/");
                graphs
                    .entry(folder)
                    .or_default()
                    .entry(own[shared].clone())
                    .or_default()
                    .entry(target[shared].clone())
                    .or_insert(place);
            }
        }
    }
    graphs
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn connect<'g>(state: &mut State<'g>, node: &'g str) {
        let index = state.index.len();
        state.index.insert(node, index);
        state.low.insert(node, index);
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                connect(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_string());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            connect(&mut state, node);
        }
    }
    state.found
}

/// One cycle through the component's first member, each step with its reason.
fn explain_cycle(graph: &Graph, component: &[String]) -> String {
    let members: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    // Breadth-first from the start back to itself, inside the component.
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut last = None;
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            let next = next.as_str();
            if !members.contains(next) {
                continue;
            }
            if next == start {
                last = Some(node);
                break;
            }
            if !previous.contains_key(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
        if last.is_some() {
            break;
        }
    }
    let mut path = vec![start];
    let mut node = last.expect("a component has a cycle");
    while node != start {
        path.push(node);
        node = previous[node];
    }
    path.push(start);
    path.reverse();
    path.windows(2)
        .map(|step| {
            format!(
                "    {} → {}   ({})\n",
                step[0], step[1], graph[step[0]][step[1]]
            )
        })
        .collect()
}

/// Every edge between members of a component, each with its reason.
fn edges_within(graph: &Graph, component: &[String]) -> String {
    let mut out = String::new();
    for from in component {
        for (to, place) in graph.get(from).into_iter().flatten() {
            if component.contains(to) {
                out.push_str(&format!("    {from} → {to}   ({place})\n"));
            }
        }
    }
    out
}

fn read_crate() -> BTreeMap<String, Graph> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let krate = Crate::read(&root.join("src"));
    let mut graphs = graphs(&krate);
    // Relative to the crate, so that messages read the same everywhere.
    for graph in graphs.values_mut() {
        for edges in graph.values_mut() {
            for place in edges.values_mut() {
                let prefix = format!("{}/", root.display());
                *place = place.trim_start_matches(&prefix).to_string();
            }
        }
    }
    graphs
}

/// The top-level graph as text: each module and the modules it uses.
fn render(graph: &Graph) -> String {
    let width = graph.keys().map(String::len).max().unwrap_or(0);
    graph
        .iter()
        .map(|(from, edges)| {
            let to: Vec<&str> = edges.keys().map(String::as_str).collect();
            format!("{from:<width$} → {}\n", to.join(", "))
        })
        .collect()
}

#[test]
fn modules_import_each_other_without_cycles() {
    let mut graphs = read_crate();
    for (folder, graph) in &graphs {
        match folder.as_str() {
            "" => println!("top-level modules (crate = lib.rs):\n{}", render(graph)),
            folder => println!("files of src/{folder}/:\n{}", render(graph)),
        }
    }
    let mut problems = String::new();
    for (folder, from, to) in ALLOWED {
        let edges = graphs
            .get_mut(*folder)
            .and_then(|graph| graph.get_mut(*from));
        if edges.and_then(|edges| edges.remove(*to)).is_none() {
            problems.push_str(&format!(
                "{folder}: {from} → {to} no longer exists: remove it from ALLOWED\n"
            ));
        }
    }
    for (folder, graph) in &graphs {
        for component in cycles(graph) {
            let place = if folder.is_empty() {
                "top-level modules".to_string()
            } else {
                format!("files of src/{folder}/")
            };
            problems.push_str(&format!(
                "cycle between {place} {}:\n{}  every dependency inside it:\n{}",
                component.join(", "),
                explain_cycle(graph, &component),
                edges_within(graph, &component)
            ));
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}
