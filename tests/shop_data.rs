//! The example shop's sample base (`campaigns/shop/data/`) is what its
//! committed generator makes, and every row of it goes into a store: the
//! README's first command plans on it, so a drifted or half-rejected base
//! would show a new user a wrong plan.

use std::path::Path;

use assert_cmd::Command;

#[path = "../examples/shop_data.rs"]
mod shop_data;

#[test]
fn committed_sample_base_is_what_the_generator_makes() {
    let (contacts, events) = shop_data::generate();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop/data");
    let committed = |name: &str| std::fs::read_to_string(data.join(name)).unwrap();
    // Compared as a whole, but reported by line so a drift is readable.
    for (name, generated) in [("contacts.csv", contacts), ("events.jsonl", events)] {
        let on_disk = committed(name);
        if let Some((number, (left, right))) = on_disk
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (left, right))| left != right)
        {
            panic!(
                "{name} line {} differs from the generator; run `cargo run --example shop_data`:\n  committed: {left}\n  generated: {right}",
                number + 1
            );
        }
        assert_eq!(
            on_disk.lines().count(),
            generated.lines().count(),
            "{name}: line count differs from the generator; run `cargo run --example shop_data`"
        );
    }
}

fn herald(root: &Path, arguments: &[&str]) -> (String, i32) {
    let output = Command::cargo_bin("herald")
        .unwrap()
        .current_dir(root)
        .args(arguments)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.code().unwrap_or(-1))
}

#[test]
fn sample_base_imports_without_rejects_and_fills_every_lifecycle_stage() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shop.db");
    let store = store.to_str().unwrap();
    let project = shop.to_str().unwrap();
    let contacts = shop.join("data/contacts.csv");
    let events = shop.join("data/events.jsonl");
    let rejects = dir.path().join("rejects.csv");
    let (out, status) = herald(
        dir.path(),
        &[
            "contacts",
            "import",
            contacts.to_str().unwrap(),
            "--project",
            project,
            "--store",
            store,
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!(
            "{} contacts: {} inserted, 0 updated, 0 unchanged, 0 rejected",
            shop_data::CONTACTS,
            shop_data::CONTACTS
        )),
        "{out}"
    );
    let (out, status) = herald(
        dir.path(),
        &[
            "events",
            "ingest",
            events.to_str().unwrap(),
            "--project",
            project,
            "--store",
            store,
        ],
    );
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("0 rejected"), "{out}");
    // Every stage of the shop's lifecycle, and the journeys' triggers, have
    // someone in them at the README's planning time.
    for segment in [
        "lifecycle/cold",
        "lifecycle/warm",
        "lifecycle/hot",
        "lifecycle/active",
        "lifecycle/passive",
        "lifecycle/lapsed",
        "vip",
        "birthday_soon",
        "cart_abandoners",
        "new_subscribers",
        "city/spb",
        "test_contacts",
    ] {
        let (out, status) = herald(
            dir.path(),
            &[
                "segment",
                segment,
                "--project",
                project,
                "--store",
                store,
                "--now",
                "2026-12-01T10:00:00+03:00",
            ],
        );
        assert_eq!(status, 0, "{segment}: {out}");
        let count: u64 = out
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{segment}: {out}"));
        assert!(count > 0, "{segment} is empty in the sample base");
    }
}
