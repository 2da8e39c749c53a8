//! `herald report` over a large store, the acceptance benchmark of issue 17:
//! 10,000,000 deliveries (5,000,000 contacts each sent an email and an SMS
//! of one campaign, each message with a `message_delivered` feedback event)
//! and 1,000,000 conversions (every fifth contact buys within the goal
//! window). Target: under 5 s on 2 cores. The store's contacts are the
//! 5,000,000 (and the fixture's one).
//!
//! `cargo bench --bench report` (`-- N` for another number of deliveries,
//! `-- --threads N` to read in N ranges of contacts instead of one per core).
//! The store is generated once into `target/bench-report/N/` and reused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use herald::analytics::{ReportRequest, report};
use herald::store::{EventRecord, Store};
use rusqlite::params;

const SEND_AT: i64 = 1_773_133_200; // 2026-03-10T09:00:00Z, the fixture's spring_sale
const OCCURRENCE: &str = "2026-03-10T09:00:00Z";
const WINBACK_AT: i64 = 1_773_565_200; // 2026-03-15T09:00:00Z

fn main() {
    let (mut deliveries, mut threads) = (10_000_000u64, None);
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--threads" {
            let count = arguments.next().and_then(|count| count.parse().ok());
            threads = Some(count.expect("--threads N"));
        } else if let Ok(count) = argument.replace('_', "").parse() {
            deliveries = count;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = root.join("tests/report/project");
    let compilation = herald::compile(&project).expect("fixture compiles");
    let directory = root.join(format!("target/bench-report/{deliveries}"));
    let path = directory.join("herald.db");
    if !path.is_file() {
        generate(&directory, &project, &compilation, deliveries);
    }
    let store =
        Store::open_with_catalog(&path, compilation.filters.catalog.clone()).expect("store");
    let request = ReportRequest {
        names: vec!["spring_sale".into()],
        from: None,
        to: None,
        now: "2026-04-30T00:00:00Z".parse().expect("now"),
        threads,
    };
    let started = Instant::now();
    let result = report(&compilation, &store, &request).expect("report");
    let elapsed = started.elapsed().as_secs_f64();
    let totals = &result.campaigns[0].totals;
    assert_eq!(totals.sent, deliveries);
    assert_eq!(totals.delivered, deliveries);
    assert_eq!(totals.conversions, deliveries / 10);
    println!(
        "report over {} deliveries and {} conversions ({} recipients): {elapsed:.2} s, \
         {:.0} deliveries/s (target: 10M in under 5 s)",
        totals.delivered,
        totals.conversions,
        totals.recipients,
        totals.delivered as f64 / elapsed
    );

    // A small campaign in the same store: its thousand contacts' goal
    // events are sought in the index, not read past among the million.
    let request = ReportRequest {
        names: vec!["winback".into()],
        ..request
    };
    let started = Instant::now();
    let result = report(&compilation, &store, &request).expect("report");
    let elapsed = started.elapsed().as_secs_f64();
    let totals = &result.campaigns[0].totals;
    assert_eq!(totals.sent, (deliveries / 2).div_ceil(5_000));
    println!(
        "report of a campaign of {} messages in the same store: {:.1} ms",
        totals.sent,
        elapsed * 1000.0
    );
}

/// A store with `deliveries` sent and delivered messages of `spring_sale`
/// and a purchase for every fifth contact, a day after the send; and an
/// email of `winback` five days later to every 5,000th contact. The
/// outbox rows are written as the runner leaves them; the events go
/// through the store as `herald serve` and the event ingestion store them
/// (which sums the feedback up on each message's row).
fn generate(
    directory: &PathBuf,
    project: &Path,
    compilation: &herald::compiler::Compilation,
    deliveries: u64,
) {
    std::fs::create_dir_all(directory).expect("bench directory");
    for entry in std::fs::read_dir(project).expect("fixture") {
        let entry = entry.expect("entry");
        let target = directory.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
    // The file is read from the working directory, not the project's.
    let contacts = directory.join("contacts.csv");
    let status = herald::run([
        "herald",
        "--project",
        directory.to_str().expect("utf-8 path"),
        "contacts",
        "import",
        contacts.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(status, 0, "the store is created");
    let started = Instant::now();
    let store = Store::open_with_catalog(
        &directory.join("herald.db"),
        compilation.filters.catalog.clone(),
    )
    .expect("store");
    let connection = store.connection();
    connection
        .execute_batch(
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; PRAGMA foreign_keys = OFF;
             BEGIN",
        )
        .expect("pragmas");
    {
        let mut message = connection
            .prepare(
                "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
                 variant, payload, cost, state, send_at, not_before, created_at, updated_at)
                 VALUES (?1, 'campaign', 'spring_sale', ?2, ?3, ?4, 'out', ?5, '{}', ?6, 'sent',
                 ?7, ?7, ?7, ?7)",
            )
            .expect("insert message");
        // The contacts themselves, as an import leaves them: the report
        // splits its reading at the middle contact id.
        let mut contact_row = connection
            .prepare("INSERT INTO contacts (id, email, created_at) VALUES (?1, ?2, ?3)")
            .expect("insert contact");
        let event = |id: u64, contact: &str, name: &str, at: i64, properties: &str| {
            let added = store
                .add_event(&EventRecord {
                    id: &format!("e{id:010}"),
                    contact,
                    event: name,
                    at,
                    properties,
                })
                .expect("event");
            assert!(added);
        };
        let contacts = deliveries / 2;
        let mut events = 0u64;
        for index in 0..contacts {
            let contact = format!("c{index:08}");
            contact_row
                .execute(params![contact, format!("{contact}@example.com"), SEND_AT])
                .expect("contact");
            let variant = if index % 2 == 0 { "a" } else { "b" };
            for (channel, cost) in [("email", 0.5), ("sms", 4.4)] {
                let key = format!("campaign/spring_sale/{OCCURRENCE}/{contact}/{channel}");
                message
                    .execute(params![
                        key, OCCURRENCE, contact, channel, variant, cost, SEND_AT
                    ])
                    .expect("message");
                events += 1;
                let properties = format!("{{\"message_key\":\"{key}\"}}");
                event(
                    events,
                    &contact,
                    "message_delivered",
                    SEND_AT + 60,
                    &properties,
                );
            }
            if index % 5 == 0 {
                events += 1;
                event(
                    events,
                    &contact,
                    "purchase",
                    SEND_AT + 86_400,
                    "{\"amount\":1000}",
                );
            }
        }
    }
    connection
        .execute(
            "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
             payload, cost, state, send_at, not_before, created_at, updated_at)
             SELECT 'campaign/winback/2026-03-15T09:00:00Z/' || id || '/email', 'campaign',
               'winback', '2026-03-15T09:00:00Z', id, 'email', 'out', '{}', 0.5, 'sent',
               ?1, ?1, ?1, ?1
             FROM contacts WHERE id GLOB 'c[0-9]*' AND CAST(substr(id, 2) AS INTEGER) % 5000 = 0",
            [WINBACK_AT],
        )
        .expect("winback");
    connection.execute_batch("COMMIT; ANALYZE").expect("commit");
    println!(
        "generated {deliveries} deliveries in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}
