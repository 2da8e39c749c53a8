//! Planning throughput, the acceptance benchmark of `herald plan`: one
//! campaign of the `tests/plan/project` fixture planned over a generated
//! store of 1,000,000 contacts (target: under 10 s and under 500 MB peak
//! memory on 2 cores, release build). The whole planner runs: the audience
//! query streamed from SQLite with consents and suppressions, the policies
//! per contact, rendering on the render threads, SMS parts, keys and cost;
//! the messages go to a sink that counts them, as the JSON output or the
//! outbox would take them.
//!
//! `cargo bench --bench plan` plans `news` (informational, first reachable
//! of telegram, email and SMS: one message per contact); `-- --campaign
//! sale` plans the promotion on every reachable channel (email, SMS and
//! telegram, two per contact under the daily cap); `-- N` another count.
//! The store is generated once into `target/bench-plan/` and reused.
//! Reported: contacts and messages per second, and peak memory (VmHWM,
//! reset after set-up).

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use herald::contact::{Contact, Value};
use herald::plan::{PlanRequest, plan};
use herald::store::Store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        let index = arguments.iter().position(|argument| argument == name)?;
        arguments.get(index + 1).map(String::as_str)
    };
    let count = (0..arguments.len())
        .filter(|&index| index == 0 || !arguments[index - 1].starts_with("--"))
        .find_map(|index| arguments[index].parse().ok())
        .unwrap_or(1_000_000);
    let campaign = option("--campaign").unwrap_or("news");
    let (now, occurrence) = match campaign {
        "sale" => ("2026-03-10T09:00:00Z", "sale"),
        _ => ("2026-03-11T09:00:00Z", "news"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compilation = herald::compile(&root.join("tests/plan/project")).expect("fixture compiles");
    let manifest = &compilation
        .project
        .manifest
        .as_ref()
        .expect("manifest")
        .value;
    let path = store_path(root, count);
    if !path.is_file() {
        generate(&path, manifest, count);
    }
    let store = Store::open_read_only(&path, compilation.filters.catalog.clone()).expect("store");
    let set_up_peak = support::peak_memory_kb();
    support::reset_peak_memory();
    let mut request = PlanRequest::new(now.parse().expect("now"));
    request.only = vec![occurrence.to_string()];
    let started = Instant::now();
    let mut messages = 0u64;
    let mut bytes = 0usize;
    let plan = plan(
        &compilation,
        &store,
        &request,
        &mut |message: herald::plan::PlannedMessage| {
            messages += 1;
            bytes += message.key.len()
                + message
                    .rendered
                    .parts
                    .values()
                    .map(String::len)
                    .sum::<usize>();
        },
    )
    .expect("plans");
    let elapsed = started.elapsed().as_secs_f64();
    let summary = &plan.campaigns[0];
    println!(
        "planned `{campaign}` over {} contacts ({}): {messages} messages ({} MB of keys and parts), \
         excluded {:?}, skipped {:?}, in {elapsed:.2} s: {:.0} contacts/s, {:.0} messages/s; \
         peak memory (VmHWM) {} MB while planning ({} MB during set-up)",
        summary.audience,
        path.display(),
        bytes / 1_000_000,
        summary.excluded,
        summary.skipped,
        summary.audience as f64 / elapsed,
        messages as f64 / elapsed,
        support::peak_memory_kb() / 1024,
        set_up_peak / 1024,
    );
}

fn store_path(root: &Path, count: usize) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target
        .join("bench-plan")
        .join(format!("contacts-{count}-v1.db"))
}

/// `count` contacts over the fixture's data model: three in four with an
/// email, two in three a phone, half a telegram chat; consents mostly
/// granted; zones across Russia and Europe, so quiet hours defer some.
fn generate(path: &Path, manifest: &herald::model::Manifest, count: usize) {
    const NAMES: [&str; 8] = [
        "Анна",
        "Борис",
        "Вера",
        "Глеб",
        "Дина",
        "Егор",
        "Жанна",
        "Зоя",
    ];
    const ZONES: [&str; 5] = [
        "Europe/Moscow",
        "Asia/Yekaterinburg",
        "Asia/Vladivostok",
        "Europe/Berlin",
        "Europe/Kaliningrad",
    ];
    const STAGES: [&str; 6] = ["cold", "warm", "hot", "active", "passive", "lapsed"];
    let started = Instant::now();
    std::fs::create_dir_all(path.parent().expect("directory")).expect("target directory");
    let partial = path.with_extension("partial");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let store = Store::open(&partial, manifest).expect("store opens");
    store.begin().expect("begin");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for index in 0..count {
        let mut contact = Contact {
            id: format!("c-{index:07}"),
            ..Contact::default()
        };
        let text = |s: String| Value::String(s);
        let a = &mut contact.attributes;
        if random() % 4 != 0 {
            a.insert("email".into(), text(format!("c{index}@example.com")));
            contact.consents.insert("email".into(), random() % 10 != 0);
        }
        if random() % 3 != 0 {
            a.insert(
                "phone".into(),
                text(format!("+7916{:07}", index % 10_000_000)),
            );
            contact.consents.insert("sms".into(), random() % 10 != 0);
        }
        if random() % 2 == 0 {
            a.insert(
                "telegram_chat_id".into(),
                text(format!("{}", 100_000 + index)),
            );
            contact.consents.insert("telegram".into(), true);
        }
        a.insert(
            "timezone".into(),
            text(ZONES[random() as usize % ZONES.len()].into()),
        );
        a.insert(
            "first_name".into(),
            text(NAMES[random() as usize % NAMES.len()].into()),
        );
        let stage = STAGES[random() as usize % STAGES.len()];
        let orders = if matches!(stage, "cold" | "warm" | "hot") {
            0
        } else {
            1 + random() % 9
        };
        a.insert("orders_count".into(), Value::Integer(orders as i64));
        a.insert("lifecycle".into(), text(stage.into()));
        if random() % 5 == 0 {
            a.insert("preferred_channel".into(), text("sms".into()));
        }
        if random() % 50 == 0 {
            contact.suppressions.insert("email".into());
        }
        store.put_contact(&contact).expect("contact stored");
    }
    store.commit().expect("commit");
    drop(store);
    std::fs::rename(&partial, path).expect("store renamed");
    eprintln!(
        "generated {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}
