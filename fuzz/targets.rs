//! The bodies of herald's fuzz targets, shared by cargo-fuzz
//! (`fuzz/fuzz_targets/*.rs`, which needs a nightly toolchain) and the
//! bounded mutational loop that runs on stable in `tests/fuzz.rs`. Each
//! target takes arbitrary bytes and must neither panic nor overflow its
//! stack; the filter target also requires the SQL and the in-memory
//! evaluator to select the same contacts.

use std::collections::BTreeMap;
use std::path::Path;

use herald::contact::{Contact, Value};
use herald::model::Manifest;
use herald::segment::ast::Expr;
use herald::segment::catalog::Catalog;
use herald::segment::eval::Evaluator;
use herald::segment::functions::Clock;
use herald::segment::sql::{Selection, SqlCompiler, Sqlite};
use herald::segment::typecheck::Context;
use herald::store::Store;

/// The data model filters are checked against: every type of the language.
pub const MANIFEST: &str = r#"
timezone: Europe/Moscow
contact:
  attributes:
    city: string
    orders_count: integer
    total_spent: number
    birthday: date
    last_purchase_at: datetime
    subscribed: boolean
    tags: list
    loyalty: {type: enum, values: [bronze, silver, gold]}
events:
  purchase:
    properties:
      amount: number
      category: string
channels:
  email: {provider: file}
  sms: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
"#;

/// 2026-03-01T09:00:00Z.
const NOW: i64 = 1_772_355_600;

/// What the filter target keeps between inputs: the catalog, a small
/// population in an in-memory store, and one segment to refer to.
pub struct FilterTarget {
    catalog: Catalog,
    clock: Clock,
    store: Store,
    ids: Vec<String>,
    segments: BTreeMap<String, Expr>,
}

impl Default for FilterTarget {
    fn default() -> FilterTarget {
        let catalog = FilterTarget::catalog();
        let store = Store::open_with_catalog(Path::new(":memory:"), catalog.clone())
            .expect("an in-memory store");
        let mut ids = Vec::new();
        let people: [(&str, &[(&str, Value)]); 4] = [
            ("nobody", &[]),
            (
                "anna",
                &[
                    ("city", Value::String("Москва".into())),
                    ("orders_count", Value::Integer(3)),
                    ("total_spent", Value::Number(1990.5)),
                    ("subscribed", Value::Boolean(true)),
                    ("tags", Value::List(vec!["vip".into(), "Опт".into()])),
                    ("loyalty", Value::String("gold".into())),
                ],
            ),
            (
                "boris",
                &[
                    ("city", Value::String("kazan".into())),
                    ("orders_count", Value::Integer(0)),
                    ("subscribed", Value::Boolean(false)),
                ],
            ),
            (
                "vera",
                &[
                    ("city", Value::String("".into())),
                    ("orders_count", Value::Integer(-7)),
                    ("total_spent", Value::Number(0.0)),
                    ("tags", Value::List(Vec::new())),
                ],
            ),
        ];
        for (id, attributes) in people {
            let contact = Contact {
                id: id.to_string(),
                attributes: attributes
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect(),
                ..Contact::default()
            };
            store.put_contact(&contact).expect("a contact is stored");
            ids.push(id.to_string());
        }
        let mut segments = BTreeMap::new();
        segments.insert(
            "vip".to_string(),
            herald::segment::parse(r#"loyalty = "gold" or tags has "vip""#).expect("parses"),
        );
        FilterTarget {
            catalog,
            clock: Clock::new(
                jiff::Timestamp::from_second(NOW).expect("a time"),
                "Europe/Moscow",
            ),
            store,
            ids,
            segments,
        }
    }
}

impl FilterTarget {
    /// The catalog of [`MANIFEST`].
    pub fn catalog() -> Catalog {
        let manifest: Manifest = serde_saphyr::from_str(MANIFEST).expect("the fuzz manifest");
        Catalog::from_manifest(&manifest)
    }

    /// Parses, type-checks and analyses the text; a filter without errors
    /// is then compiled to SQL, run, and evaluated in memory: both must
    /// select the same contacts.
    pub fn run(&self, data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (expr, issues) = herald::segment::check::check_text(text, Some(&self.catalog), None);
        let Some(expr) = expr else { return };
        if issues
            .iter()
            .any(|issue| issue.code.default_severity() == herald::diagnostic::Severity::Error)
        {
            return;
        }
        let compiler = SqlCompiler {
            catalog: &self.catalog,
            clock: &self.clock,
            segments: &self.segments,
            dialect: &Sqlite,
        };
        // A filter too large for one query is refused with a message, which is fine.
        let Ok(query) = compiler.query(&expr, Selection::Ids) else {
            return;
        };
        let by_sql = self.store.ids(&query).expect("a compiled filter runs");
        let evaluator = Evaluator {
            catalog: &self.catalog,
            clock: &self.clock,
            segments: &self.segments,
            context: Context::default(),
            trigger: None,
        };
        let by_memory: Vec<String> = self
            .ids
            .iter()
            .filter(|id| {
                let contact = self.store.contact(id).expect("reads").expect("stored");
                evaluator.matches(&expr, &contact)
            })
            .cloned()
            .collect();
        let mut by_sql = by_sql;
        by_sql.sort();
        let mut by_memory = by_memory;
        by_memory.sort();
        assert_eq!(
            by_sql, by_memory,
            "SQL and memory disagree on {text:?}\n{}",
            query.sql
        );
    }
}

/// The files of a small clean project (tests/fixtures/clean) that the
/// project targets start from.
const CLEAN: [(&str, &str); 4] = [
    (
        "herald.yaml",
        include_str!("../tests/fixtures/clean/herald.yaml"),
    ),
    (
        "segments/buyers.yaml",
        include_str!("../tests/fixtures/clean/segments/buyers.yaml"),
    ),
    (
        "campaigns/promo.yaml",
        include_str!("../tests/fixtures/clean/campaigns/promo.yaml"),
    ),
    (
        "templates/promo.html",
        include_str!("../tests/fixtures/clean/templates/promo.html"),
    ),
];

/// A copy of the clean project in a temporary directory, one of whose
/// files each input replaces.
pub struct ProjectTarget {
    directory: tempfile::TempDir,
}

impl Default for ProjectTarget {
    fn default() -> ProjectTarget {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let target = ProjectTarget { directory };
        target.reset();
        target
    }
}

impl ProjectTarget {
    fn reset(&self) {
        for (name, text) in CLEAN {
            let path = self.directory.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }

    /// The YAML loader (and every later stage): the first byte chooses the
    /// file the rest replaces (the manifest, a segment or a campaign).
    pub fn yaml(&self, data: &[u8]) {
        let Some((choice, content)) = data.split_first() else {
            return;
        };
        let name = CLEAN[usize::from(*choice) % 3].0;
        self.compile_with(name, content);
    }

    /// The template checks: the input is the campaign's HTML template.
    pub fn template(&self, data: &[u8]) {
        self.compile_with("templates/promo.html", data);
    }

    fn compile_with(&self, name: &str, content: &[u8]) {
        self.reset();
        std::fs::write(self.directory.path().join(name), content).expect("write");
        // An error (exit 2) or diagnostics are both fine; a panic is not.
        let _ = herald::compile(self.directory.path());
    }
}
