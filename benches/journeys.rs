//! The journey runtime at scale, issue 15's benchmark:
//!
//! 1. 100,000 contacts enter a five-step journey (send, wait a day, send,
//!    wait a day, send) over a day of sign-ups and are advanced through all
//!    its steps in virtual time, a tick every hour (target: under 60 s on 2
//!    cores, memory flat in the number of contacts waiting: the resident
//!    size is printed after each day);
//! 2. one tick over 1,000,000 waiting enrolments of which 1% are due (the
//!    due ones are found through the index on `wake_at`).
//!
//! `cargo bench --bench journeys` (`-- N` for another count of contacts).
//! The stores are created afresh in `target/bench-journeys/`.

mod support;

use std::path::Path;
use std::time::Instant;

use herald::compiler::compile;
use herald::run::journeys::advance;
use herald::store::Store;
use jiff::{SignedDuration, Timestamp};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MANIFEST: &str = "timezone: Europe/Moscow
country: RU
channels:
  email: {provider: out, cost: 0.4}
providers:
  out: {kind: file, path: out.jsonl}
events:
  signed_up: {}
";

const JOURNEY: &str = "type: transactional
trigger:
  event: signed_up
entry:
  reentry: never
steps:
  - id: hello
    send:
      channels: [email]
      messages:
        email: {subject: \"Здравствуйте, {{ contact.id }}\", text: \"Добро пожаловать.\"}
  - id: first_wait
    wait: 1 day
  - id: tips
    send:
      channels: [email]
      messages:
        email: {subject: \"Советы\", text: \"Как у нас всё устроено.\"}
  - id: second_wait
    wait: 1 day
  - id: offer
    send:
      channels: [email]
      messages:
        email: {subject: \"Подарок\", text: \"Скидка на первый заказ.\"}
";

fn project(directory: &Path) -> (herald::compiler::Compilation, Store) {
    let _ = std::fs::remove_dir_all(directory);
    std::fs::create_dir_all(directory.join("journeys")).expect("bench folder");
    std::fs::write(directory.join("herald.yaml"), MANIFEST).expect("manifest");
    std::fs::write(directory.join("journeys/welcome.yaml"), JOURNEY).expect("journey");
    let compilation = compile(directory).expect("compile");
    assert!(
        !compilation.diagnostics.has_errors(),
        "{:?}",
        compilation.diagnostics
    );
    let manifest = &compilation
        .project
        .manifest
        .as_ref()
        .expect("manifest")
        .value;
    let store = Store::open(&directory.join("herald.db"), manifest).expect("store");
    (compilation, store)
}

fn contacts(store: &Store, count: usize) {
    let connection = store.connection();
    connection.execute_batch("BEGIN").expect("begin");
    {
        let mut insert = connection
            .prepare("INSERT INTO contacts (id, email, created_at) VALUES (?1, ?2, 0)")
            .expect("insert");
        for index in 0..count {
            let id = format!("c{index:07}");
            insert
                .execute(rusqlite::params![id, format!("{id}@example.com")])
                .expect("contact");
        }
    }
    connection.execute_batch("COMMIT").expect("commit");
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-journeys");
    let start: Timestamp = "2027-01-10T00:00:00Z".parse().expect("time");

    // 1. Through all five steps.
    let (compilation, store) = project(&root.join("through"));
    contacts(&store, count);
    let connection = store.connection();
    connection.execute_batch("BEGIN").expect("begin");
    {
        let mut insert = connection
            .prepare("INSERT INTO events (id, contact_id, event, at, properties) VALUES (?1, ?2, 'signed_up', ?3, '{}')")
            .expect("insert");
        for index in 0..count {
            // Sign-ups spread over the first day.
            let at = start.as_second() + 3_600 + (index as i64 * 86_400 / count as i64);
            insert
                .execute(rusqlite::params![
                    format!("s{index}"),
                    format!("c{index:07}"),
                    at
                ])
                .expect("event");
        }
    }
    connection.execute_batch("COMMIT").expect("commit");
    let began = Instant::now();
    let cpu = support::cpu_seconds();
    let mut now = start;
    let mut sent = 0;
    for hour in 0..=4 * 24 {
        let advanced = advance(&compilation, &store, now).expect("advance");
        sent += advanced.sent;
        if hour % 24 == 0 {
            let (rss, peak) = (
                support::resident_kb() / 1024,
                support::peak_memory_kb() / 1024,
            );
            println!(
                "  day {}: {:>7} messages so far, {:>6.1} s, RSS {rss} MB (peak {peak} MB)",
                hour / 24,
                sent,
                began.elapsed().as_secs_f64()
            );
        }
        now = now
            .checked_add(SignedDuration::from_hours(1))
            .expect("time");
    }
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = support::cpu_seconds() - cpu;
    assert_eq!(sent, 3 * count as u64, "every contact got three messages");
    println!(
        "{count} contacts through a five-step journey in virtual time: {elapsed:.1} s \
         ({:.0} contacts/s), CPU {cpu:.1} s, {sent} messages",
        count as f64 / elapsed
    );

    // 2. One tick over a million waiting enrolments, 1% due.
    let waiting = count * 10;
    let due = waiting / 100;
    let (compilation, store) = project(&root.join("tick"));
    contacts(&store, due);
    let connection = store.connection();
    let now = start.as_second();
    connection.execute_batch("BEGIN").expect("begin");
    {
        let mut insert = connection
            .prepare(
                "INSERT INTO enrolments (id, journey, contact_id, step, step_index, step_at, status,
                 entered_at, wake_at, trigger) VALUES (?1, 'welcome', ?2, 'first_wait', 1, ?3, 'active', ?3, ?4, '{}')",
            )
            .expect("insert");
        for index in 0..waiting {
            let wake = if index < due { now - 60 } else { now + 86_400 };
            insert
                .execute(rusqlite::params![
                    format!("e{index:07}"),
                    format!("c{index:07}"),
                    now - 86_400,
                    wake
                ])
                .expect("enrolment");
        }
    }
    connection.execute_batch("COMMIT").expect("commit");
    store
        .set_journey_progress(&herald::store::enrolments::Progress {
            until: now - 3_600,
            rowid_seen: 0,
            tick: None,
            cursor: None,
        })
        .expect("progress");
    let began = Instant::now();
    let cpu = support::cpu_seconds();
    let advanced = advance(&compilation, &store, start).expect("advance");
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = support::cpu_seconds() - cpu;
    assert_eq!(advanced.woken, due as u64);
    let (rss, peak) = (
        support::resident_kb() / 1024,
        support::peak_memory_kb() / 1024,
    );
    println!(
        "one tick over {waiting} waiting enrolments, {due} due: {elapsed:.2} s, CPU {cpu:.2} s \
         ({} messages), RSS {rss} MB (peak {peak} MB)",
        advanced.sent
    );
}
