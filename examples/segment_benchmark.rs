//! Benchmark of `herald segment --count` on a large store (not a test).
//!
//!     cargo run --release --example segment_benchmark -- [CONTACTS] [EVENTS_PER_CONTACT]
//!
//! Defaults: 1,000,000 contacts with 10 purchase events each (10,000,000
//! events). Builds the store in a temp directory (or reuses
//! `$HERALD_BENCH_DB`), then times an attribute-only filter against the same
//! hand-written SQL, an event-count filter and a `sum` filter, and prints
//! each query plan so index use can be seen (no full scan of `events`).

use std::time::Instant;

use herald::model::Manifest;
use herald::segment::functions::Clock;
use herald::segment::sql::{Selection, SqlCompiler, Sqlite};
use herald::store::Store;

const MANIFEST: &str = r#"
timezone: Europe/Moscow
contact:
  attributes:
    city: string
    orders_count: integer
    total_spent: number
events:
  purchase:
    properties:
      amount: number
      category: string
"#;

const NOW: i64 = 1_772_355_600;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let contacts: i64 = arguments.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let per_contact: i64 = arguments.next().map_or(Ok(10), |a| a.parse())?;
    let manifest: Manifest = serde_saphyr::from_str(MANIFEST)?;
    let directory = tempfile::tempdir()?;
    let path = std::env::var_os("HERALD_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| directory.path().join("bench.db"));
    let fresh = !path.exists();
    let store = Store::open(&path, &manifest)?;
    if fresh {
        let started = Instant::now();
        let connection = store.connection();
        connection.execute_batch("PRAGMA synchronous = OFF; BEGIN")?;
        {
            let cities = [
                "Москва",
                "МОСКВА",
                "Санкт-Петербург",
                "Казань",
                "Новосибирск",
            ];
            let mut contact = connection.prepare(
                "INSERT INTO contacts (id, city, orders_count, total_spent, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut event = connection.prepare(
                "INSERT INTO events (id, contact_id, event, at, properties) VALUES (?1, ?2, 'purchase', ?3, ?4)",
            )?;
            for index in 0..contacts {
                let id = format!("c{index:07}");
                contact.execute(rusqlite::params![
                    id,
                    cities[(index % 5) as usize],
                    index % 13,
                    (index % 1000) as f64 * 97.5,
                    NOW - (index % 1000) * 86_400
                ])?;
                for n in 0..per_contact {
                    let at = NOW - ((index * 7 + n * 37) % 730) * 86_400;
                    let amount = ((index + n) % 50) * 100;
                    event.execute(rusqlite::params![
                        format!("{id}-{n}"),
                        id,
                        at,
                        format!("{{\"amount\":{amount},\"category\":\"shoes\"}}")
                    ])?;
                }
            }
        }
        connection.execute_batch("COMMIT; ANALYZE")?;
        println!(
            "built {contacts} contacts and {} events in {:.1?}",
            contacts * per_contact,
            started.elapsed()
        );
    }

    let catalog = store.catalog().clone();
    let clock = Clock::new(jiff::Timestamp::from_second(NOW)?, "Europe/Moscow");
    let segments = Default::default();
    let compiler = SqlCompiler {
        catalog: &catalog,
        clock: &clock,
        segments: &segments,
        dialect: &Sqlite,
    };
    let time = |label: &str, run: &dyn Fn() -> Result<u64, Box<dyn std::error::Error>>| {
        let started = Instant::now();
        let result = run();
        let elapsed = started.elapsed();
        println!("{label:<58} {result:?} in {elapsed:.2?}");
        elapsed
    };
    for (filter, hand_written) in [
        (
            "orders_count >= 5 and total_spent > 20000",
            Some("SELECT count(*) FROM contacts WHERE orders_count >= 5 AND total_spent > 20000"),
        ),
        ("city = \"москва\"", None),
        ("count(purchase within 365 days) >= 6", None),
        ("sum(purchase.amount within 365 days) > 30000", None),
        ("did purchase within 30 days where amount >= 4000", None),
    ] {
        let expr = herald::segment::parse(filter)?;
        let query = compiler.query(&expr, Selection::Count)?;
        for step in store.plan(&query)? {
            println!("    plan: {step}");
        }
        let herald = time(&format!("herald: {filter}"), &|| Ok(store.count(&query)?));
        if let Some(sql) = hand_written {
            let manual = time("hand-written SQL", &|| {
                Ok(store
                    .connection()
                    .query_row(sql, [], |row| row.get::<_, i64>(0))? as u64)
            });
            println!(
                "    ratio herald / hand-written: {:.2}",
                herald.as_secs_f64() / manual.as_secs_f64()
            );
        }
    }
    Ok(())
}
