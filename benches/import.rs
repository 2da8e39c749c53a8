//! Import benchmark: 1,000,000 contacts (CSV) and 10,000,000 events (JSONL)
//! into a fresh store with the release binary, reporting rows per second
//! and the peak resident memory of each run (VmHWM, polled from /proc).
//! Targets: at least 100,000 contacts per second, under 200 MB.
//!
//! `HERALD_BENCH_CONTACTS` and `HERALD_BENCH_EVENTS` change the sizes.
//! Run with `cargo bench --bench import`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MANIFEST: &str = "timezone: Europe/Moscow
country: RU
contact:
  attributes:
    first_name: string
    city: string
    orders_count: integer
    total_spent: number
    birthday: date
    last_purchase_at: datetime
    tags: list
    loyalty: {type: enum, values: [basic, silver, gold]}
events:
  purchase:
    properties:
      order_id: {type: string, required: true}
      amount: number
      category: {type: enum, values: [clothes, shoes, kids]}
  product_viewed:
    properties:
      product_id: {type: string, required: true}
channels:
  email: {provider: file}
  sms: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
";

fn size(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generate_contacts(path: &Path, count: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create contacts"));
    writeln!(
        out,
        "id,email,phone,first_name,city,orders_count,total_spent,birthday,last_purchase_at,tags,loyalty,consent.email,consent.email.at"
    )
    .expect("write");
    let cities = ["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Тула"];
    let names = ["Анна", "Борис", "Вера", "Глеб", "Дарья"];
    let loyalty = ["basic", "silver", "gold"];
    for i in 0..count {
        writeln!(
            out,
            "c{i},User{i}@Example.ru,8 9{:02} {:03}-{:02}-{:02},{},\"{}\",{},{}.50,19{:02}-{:02}-{:02},2026-0{}-1{} 12:00,\"vip;tag{}\",{},granted,2026-01-01T00:00:00Z",
            10 + i % 90,
            (i / 10_000) % 1000,
            (i / 100) % 100,
            i % 100,
            names[(i % 5) as usize],
            cities[(i % 5) as usize],
            i % 20,
            (i % 1000) * 10,
            50 + i % 50,
            1 + i % 12,
            1 + i % 28,
            1 + i % 9,
            i % 9,
            i % 7,
            loyalty[(i % 3) as usize],
        )
        .expect("write");
    }
}

fn generate_events(path: &Path, count: u64, contacts: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create events"));
    let categories = ["clothes", "shoes", "kids"];
    for i in 0..count {
        let contact = (i * 7919) % contacts;
        let day = 1 + i % 28;
        if i % 4 == 0 {
            writeln!(
                out,
                r#"{{"id":"e{i}","contact_id":"c{contact}","event":"purchase","at":"2026-02-{day:02}T10:00:00Z","properties":{{"order_id":"o{i}","amount":{}.5,"category":"{}"}}}}"#,
                i % 10_000,
                categories[(i % 3) as usize]
            )
            .expect("write");
        } else {
            writeln!(
                out,
                r#"{{"id":"e{i}","contact_id":"c{contact}","event":"product_viewed","at":"2026-02-{day:02}T10:00:00Z","properties":{{"product_id":"p{}"}}}}"#,
                i % 5000
            )
            .expect("write");
        }
    }
}

/// Runs herald, polling its peak resident set size; returns (seconds, peak MB, stdout).
fn measure(root: &Path, arguments: &[&str]) -> (f64, f64, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(root)
        .args(arguments)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("herald starts");
    let status_path = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kb = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            for line in status.lines() {
                if let Some(value) = line.strip_prefix("VmHWM:") {
                    let kb = value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse()
                        .unwrap_or(0);
                    peak_kb = peak_kb.max(kb);
                }
            }
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let output = child.wait_with_output().expect("output");
    (
        elapsed,
        peak_kb as f64 / 1024.0,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn main() {
    let contacts = size("HERALD_BENCH_CONTACTS", 1_000_000);
    let events = size("HERALD_BENCH_EVENTS", 10_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-import");
    std::fs::create_dir_all(&root).expect("bench dir");
    std::fs::write(root.join("herald.yaml"), MANIFEST).expect("manifest");
    for stale in ["herald.db", "herald.db-wal", "herald.db-shm"] {
        let _ = std::fs::remove_file(root.join(stale));
    }
    let contacts_file = root.join(format!("contacts-{contacts}.csv"));
    if !contacts_file.is_file() {
        generate_contacts(&contacts_file, contacts);
    }
    let events_file = root.join(format!("events-{events}-{contacts}.jsonl"));
    if !events_file.is_file() {
        generate_events(&events_file, events, contacts);
    }
    let name = |path: &Path| {
        path.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };

    let (seconds, peak, output) = measure(&root, &["contacts", "import", &name(&contacts_file)]);
    print!("{output}");
    println!(
        "contacts import: {contacts} rows in {seconds:.1} s = {:.0} contacts/s, peak RSS {peak:.0} MB",
        contacts as f64 / seconds
    );
    let (seconds, peak, output) = measure(&root, &["contacts", "import", &name(&contacts_file)]);
    print!("{output}");
    println!(
        "contacts re-import (all unchanged): {seconds:.1} s = {:.0} contacts/s, peak RSS {peak:.0} MB",
        contacts as f64 / seconds
    );
    let (seconds, peak, output) = measure(&root, &["events", "ingest", &name(&events_file)]);
    print!("{output}");
    println!(
        "events ingest: {events} rows in {seconds:.1} s = {:.0} events/s, peak RSS {peak:.0} MB",
        events as f64 / seconds
    );
}
