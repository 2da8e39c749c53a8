//! Benchmark: the time from a save to `herald watch`'s redrawn output on
//! the example project `campaigns/shop` (SPEC section 9: "well under a
//! second"; target: under 100 ms for a template change).
//!
//! Run with `cargo bench --bench watch`. It starts the release binary on a
//! copy of the project, saves files the way an editor does, and times each
//! save to the `rechecked in` line that ends the redraw, which includes the
//! debounce wait. It prints the median, 90th percentile and maximum of:
//! a message template (one journey step), a partial that every email
//! includes, and a segment.

#[path = "../tests/watch/support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::Watch;

const SAVES: usize = 25;

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().ends_with(".db") {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn measure(watch: &mut Watch, root: &Path, file: &str, edit: impl Fn(&str, usize) -> String) {
    let path = root.join(file);
    let original = std::fs::read_to_string(&path).expect("read");
    let mut times = Vec::new();
    let mut reported = Vec::new();
    for save in 0..SAVES {
        let text = edit(&original, save);
        let started = Instant::now();
        std::fs::write(&path, text).expect("write");
        let block = watch.block();
        times.push(started.elapsed());
        // "rechecked in N ms (M ms after the save) ..."
        if let Some(ms) = block
            .last()
            .strip_prefix("rechecked in ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            reported.push(Duration::from_millis(ms));
        }
        assert!(block.has("no problems"), "{block}");
        // Let the next save be a separate change.
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(&path, original).expect("restore");
    watch.block();
    times.sort();
    reported.sort();
    let at = |list: &[Duration], q: f64| {
        list.get(((list.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0, Duration::as_millis)
    };
    println!(
        "{file:<45} save → redraw: median {:>3} ms, p90 {:>3} ms, max {:>3} ms \
         (of which checking and rendering: median {} ms)",
        at(&times, 0.5),
        at(&times, 0.9),
        at(&times, 1.0),
        at(&reported, 0.5),
    );
}

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop");
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&source, dir.path());
    let mut watch = Watch::start(dir.path(), &["--samples", "2"]);
    watch.block();
    println!("herald watch on campaigns/shop, {SAVES} saves each:");
    measure(
        &mut watch,
        dir.path(),
        "templates/emails/cart/reminder.html",
        |text, n| format!("{text}\n<!-- save {n} -->\n"),
    );
    measure(
        &mut watch,
        dir.path(),
        "templates/partials/contacts.html",
        |text, n| format!("{text}\n<!-- save {n} -->\n"),
    );
    measure(&mut watch, dir.path(), "segments/vip.yaml", |text, n| {
        format!("{text}\n# save {n}\n")
    });
}
