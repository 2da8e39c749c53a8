//! Rendering throughput: a typical email (subject, HTML with a layout,
//! text part) and an SMS for N streamed contacts on every core, from the
//! `tests/render/project` fixture. Target: 200,000 messages per second on
//! 2 cores.
//!
//! `cargo bench --bench render` (1,000,000 contacts); `-- N` for another count.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use minijinja::Value;

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(1_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/project");
    let compilation = herald::compile(&root).expect("fixture compiles");
    let templates = herald::template::Templates::new(&compilation.project).expect("templates");
    let manifest = &compilation.project.manifest.as_ref().expect("manifest").value;
    let vars = herald::template::vars_value(manifest);
    let target = templates
        .targets
        .iter()
        .find(|target| target.name == "promo")
        .expect("promo campaign");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let bytes: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                let (templates, vars) = (&templates, &vars);
                scope.spawn(move || {
                    let mut bytes = 0;
                    for index in (worker..count).step_by(threads) {
                        // Contacts are made one at a time, as a store cursor streams them.
                        let mut contact = BTreeMap::new();
                        contact.insert("id".to_string(), Value::from(format!("c-{index}")));
                        contact.insert("orders_count".to_string(), Value::from(index % 7));
                        contact.insert(
                            "gender".to_string(),
                            Value::from(if index % 2 == 0 { "female" } else { "male" }),
                        );
                        if index % 5 != 0 {
                            contact.insert("first_name".to_string(), Value::from("Мария"));
                        }
                        let context = herald::template::context(
                            target,
                            herald::template::ContextInput {
                                contact: Value::from(contact),
                                event: None,
                                vars,
                                now: "2026-03-02T09:00:00Z",
                            },
                        );
                        for message in &target.messages {
                            let rendered = templates
                                .render(target, message, &context)
                                .expect("renders");
                            bytes += rendered.parts.values().map(String::len).sum::<usize>();
                        }
                    }
                    bytes
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("worker"))
            .sum()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let messages = count * target.messages.len();
    println!(
        "rendered {messages} messages ({count} contacts × email + SMS, {} MB) on {threads} threads in {elapsed:.2} s: {:.0} messages/s",
        bytes / 1_000_000,
        messages as f64 / elapsed
    );
}
