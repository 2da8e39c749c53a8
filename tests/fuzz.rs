//! The standing guard of issue 13, on stable: the fuzz targets of
//! `fuzz/targets.rs` (the filter stage with SQL-against-memory agreement,
//! the YAML loader, the template checks) run over their committed seed
//! corpora (`tests/corpus/<target>/`) and then over inputs mutated from them
//! by a small deterministic mutator (byte edits, dictionary tokens, splices,
//! repeated slices for size blow-ups). Property tests add structured
//! generators: filters nested to any depth.
//!
//! By default each target runs a fixed number of mutations, so `cargo test`
//! stays quick and reproducible; CI runs longer with
//! `HERALD_FUZZ_SECONDS=60 cargo test --release --test fuzz -- --nocapture`
//! (`HERALD_FUZZ_SEED` varies the inputs). A failing input is written to
//! `target/fuzz-failures/` and named in the panic message.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// xorshift64*: deterministic, dependency-free, good enough to pick mutations.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            0
        } else {
            (self.next() % bound as u64) as usize
        }
    }
}

/// Inputs grow by repetition; past this they stop growing.
const MAX_INPUT: usize = 256 * 1024;

fn mutate(random: &mut Random, corpus: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
    let mut input = corpus[random.below(corpus.len())].clone();
    for _ in 0..=random.below(4) {
        let at = random.below(input.len() + 1);
        match random.below(7) {
            0 if !input.is_empty() => {
                let index = random.below(input.len());
                input[index] ^= 1 << random.below(8);
            }
            1 => input.insert(at, random.next() as u8),
            2 if !input.is_empty() => {
                let end = (at + 1 + random.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 | 4 => {
                let token = dictionary[random.below(dictionary.len())].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            5 => {
                let other = &corpus[random.below(corpus.len())];
                let from = random.below(other.len() + 1);
                let to = (from + random.below(64)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            _ if !input.is_empty() => {
                // A slice repeated many times: deep nesting, long chains.
                let end = (at + 1 + random.below(24)).min(input.len());
                let start = at.min(end.saturating_sub(1));
                let slice = input[start..end].to_vec();
                let times = 1 << random.below(14);
                let repeated: Vec<u8> = slice
                    .iter()
                    .copied()
                    .cycle()
                    .take((slice.len() * times).min(MAX_INPUT))
                    .collect();
                input.splice(start..start, repeated);
            }
            _ => input.push(random.next() as u8),
        }
        input.truncate(MAX_INPUT);
    }
    input
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .flatten()
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a corpus file"))
        .collect()
}

/// The stack of the thread a target runs on: the main thread's, which is
/// where the CLI runs checks (test threads get 2 MiB).
const STACK: usize = 8 << 20;

/// Runs a target made by `make` on every seed, then on mutated inputs until
/// the budget is spent, on a thread with the CLI's stack.
fn fuzz<T: 'static>(
    name: &'static str,
    dictionary: &'static [&'static str],
    default_iterations: usize,
    make: fn() -> T,
    target: fn(&T, &[u8]),
) {
    let thread = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let made = make();
            fuzz_on_this_thread(name, dictionary, default_iterations, &|input| {
                target(&made, input)
            });
        })
        .expect("a fuzzing thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

fn fuzz_on_this_thread(
    name: &str,
    dictionary: &[&str],
    default_iterations: usize,
    target: &dyn Fn(&[u8]),
) {
    let seeds = corpus(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let seconds: Option<u64> = std::env::var("HERALD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let seed: u64 = std::env::var("HERALD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut random = Random(seed | 1);
    let start = Instant::now();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    std::fs::create_dir_all(&folder).expect("mkdir");
    // A stack overflow aborts the process before any panic handler runs, so
    // the input being tried is always on disk.
    let current = folder.join(format!("{name}-current"));
    let run = |input: &[u8]| {
        std::fs::write(&current, input).expect("write the current input");
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            let path = folder.join(format!("{name}-{:016x}", xxhash(input)));
            std::fs::write(&path, input).expect("write the failing input");
            panic!("{name} failed on the input saved as {}", path.display());
        }
    };
    for input in &seeds {
        run(input);
    }
    let mut iterations = 0usize;
    loop {
        let done = match seconds {
            Some(seconds) => start.elapsed() >= Duration::from_secs(seconds),
            None => iterations >= default_iterations,
        };
        if done {
            break;
        }
        run(&mutate(&mut random, &seeds, dictionary));
        iterations += 1;
    }
    eprintln!(
        "fuzz {name}: {} seeds and {iterations} mutated inputs in {:?}, no failure",
        seeds.len(),
        start.elapsed()
    );
}

/// FNV-1a, to name a failing input by its content.
fn xxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
    })
}

const FILTER_WORDS: &[&str] = &[
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    ", ",
    "\"",
    "\\",
    " = ",
    " != ",
    " < ",
    " >= ",
    " in ",
    " not in ",
    " between 1 and 5",
    " contains ",
    " starts with ",
    " ends with ",
    " is set",
    " is not set",
    " has ",
    " has any ",
    " has all ",
    " within 30 days",
    " before 6 months ago",
    " after 2026-01-01",
    "did purchase",
    "did not purchase",
    " where amount > 10",
    "count(purchase within 90 days)",
    "sum(purchase.amount)",
    "age(birthday)",
    "days_since(last_purchase_at)",
    "in segment \"vip\"",
    "reachable by sms",
    "city",
    "orders_count",
    "total_spent",
    "birthday",
    "last_purchase_at",
    "subscribed",
    "tags",
    "loyalty",
    "\"gold\"",
    "\"Москва\"",
    "-1.5",
    "99999999999999999999",
    "0",
    "2026-02-30",
    "2026-03-01T09:00:00+03:00",
    "true",
    "# comment\n",
    "\\u{41}",
];

const YAML_WORDS: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "\n  ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "|\n  ",
    ">\n  ",
    "'",
    "\"",
    "#",
    "~",
    "null",
    "yes",
    "on",
    "1e400",
    "filter: ",
    "segment: ",
    "channels: ",
    "messages:\n  email:\n    subject: x\n",
    "\u{feff}",
    "\t",
    "key: value\nkey: value\n",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.2\n",
];

const TEMPLATE_WORDS: &[&str] = &[
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "contact.first_name",
    "vars.shop_name",
    "{% if contact.birthday %}",
    "{% endif %}",
    "{% for t in contact.tags %}",
    "{% endfor %}",
    " | upper",
    " | default(\"\")",
    "{{ unsubscribe_url }}",
    "<a href=\"",
    "\">",
    "</a>",
    "<html>",
    "</html>",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ x.y.z.w }}",
    "\u{0}",
];

#[test]
fn fuzz_the_filter_stage_with_sql_and_memory_agreement() {
    fuzz(
        "filter",
        FILTER_WORDS,
        3_000,
        targets::FilterTarget::default,
        targets::FilterTarget::run,
    );
}

#[test]
fn fuzz_the_yaml_loader() {
    fuzz(
        "yaml",
        YAML_WORDS,
        150,
        targets::ProjectTarget::default,
        targets::ProjectTarget::yaml,
    );
}

#[test]
fn fuzz_the_template_checks() {
    fuzz(
        "template",
        TEMPLATE_WORDS,
        150,
        targets::ProjectTarget::default,
        targets::ProjectTarget::template,
    );
}

/// A filter nested `depth` levels: groups, `not`s and `where`s in turn.
fn nested(depth: usize, leaf: &str) -> String {
    let mut text = leaf.to_string();
    for level in 0..depth {
        text = match level % 3 {
            0 => format!("({text} or city is set)"),
            1 => format!("not {text}"),
            _ => format!("did purchase where {text}"),
        };
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_nesting_gives_a_result_or_filter_too_deep(depth in 0usize..200, leaf in 0usize..3) {
        let leaf = ["amount > 1", "category = \"обувь\"", "amount is set"][leaf];
        let text = nested(depth, leaf);
        let catalog = targets::FilterTarget::catalog();
        let (expr, issues) = herald::segment::check::check_text(&text, Some(&catalog), None);
        let too_deep = issues.iter().any(|issue| issue.code.as_str() == "F011");
        prop_assert_eq!(too_deep, depth > herald::segment::MAX_NESTING, "{:?}", issues);
        prop_assert!(too_deep || expr.is_some());
    }

    #[test]
    fn any_text_runs_through_the_filter_stage(text in "\\PC{0,200}") {
        TARGET.with(|target| target.run(text.as_bytes()));
    }

    #[test]
    fn long_chains_agree_between_sql_and_memory(
        terms in proptest::collection::vec(0usize..6, 1..1_500),
        joiners in proptest::collection::vec(any::<bool>(), 1_500),
    ) {
        const ATOMS: [&str; 6] = [
            "city = \"москва\"", "orders_count > 0", "not (subscribed = true)",
            "tags has \"vip\"", "loyalty is not set", "total_spent between 0 and 100",
        ];
        let mut text = String::new();
        for (index, term) in terms.iter().enumerate() {
            if index > 0 {
                text.push_str(if joiners[index] { " and " } else { " or " });
            }
            text.push_str(ATOMS[*term]);
        }
        TARGET.with(|target| target.run(text.as_bytes()));
    }
}

thread_local! {
    static TARGET: targets::FilterTarget = targets::FilterTarget::default();
}
