//! Property tests for the contact and event readers: whatever bytes a file
//! holds, reading it never panics and numbers its records in order; and
//! every row of a contacts file ends up imported (inserted, updated or
//! unchanged, some of them merged into an earlier row) or rejected, with
//! one line in the rejects file per rejected row.

use proptest::prelude::*;

use herald::contacts::import::Field;
use herald::contacts::read::{csv_reader, jsonl_reader};

mod common;
use common::herald;

const MANIFEST: &str = "timezone: Europe/Moscow
country: RU
contact:
  attributes:
    city: string
channels:
  email: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
";

/// Bytes that are mostly CSV's and JSON's own syntax, so the readers meet
/// quotes, separators and line ends in every order, with some noise.
fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b"id".to_vec()),
        Just(b"{\"id\": 1}".to_vec()),
        Just(b"{".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff".to_vec()),
        Just("Тула".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Drains a reader, checking that record line numbers never go back and
/// stay within the file.
fn drain(read: &mut herald::contacts::batch::Reader<'_>, lines: u64) -> Result<(), TestCaseError> {
    let mut last = 0;
    while let Ok(Some((line, _))) = read() {
        prop_assert!(line.number >= last, "line {} after {last}", line.number);
        prop_assert!(line.number <= lines, "line {} of {lines}", line.number);
        last = line.number;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn readers_never_panic_and_number_records_in_order(bytes in file_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, &bytes).unwrap();
        let lines = bytes.iter().filter(|byte| **byte == b'\n').count() as u64 + 1;
        let field = |name: &str| Ok(Field::ConsentSource(name.to_string()));
        if let Ok((_, _, mut read)) = csv_reader(&path, &field) {
            drain(&mut *read, lines)?;
        }
        let mut read = jsonl_reader(&path).unwrap();
        drain(&mut *read, lines)?;
    }
}

#[derive(Clone, Debug)]
struct Row {
    id: &'static str,
    email: &'static str,
    city: &'static str,
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::sample::select(vec!["", "c1", "c2", "c3", "c\u{0}4", " c1 "]),
        prop::sample::select(vec![
            "",
            "a@example.ru",
            "A@Example.ru",
            "b@example.ru",
            "bad@",
            "x\u{1}@example.ru",
        ]),
        prop::sample::select(vec![
            "",
            "Тула",
            "Москва, \"центр\"",
            "две\r\nстроки",
            "одна\nстрока",
            "\"",
            "=1+2",
        ]),
    )
        .prop_map(|(id, email, city)| Row { id, email, city })
}

proptest! {
    // Each case spawns the binary (about a quarter of a second in a debug
    // build): few cases, each with up to 13 rows of clashing keys.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn every_row_is_imported_merged_or_rejected(
        rows in prop::collection::vec(row(), 1..14),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        jsonl in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("herald.yaml"), MANIFEST).unwrap();
        let name = if jsonl { "c.jsonl" } else { "c.csv" };
        let mut file = Vec::new();
        if bom {
            file.extend_from_slice(b"\xef\xbb\xbf");
        }
        if jsonl {
            for row in &rows {
                let line = serde_json::json!({"id": row.id, "email": row.email, "city": row.city});
                file.extend_from_slice(format!("{line}{}", if crlf { "\r\n" } else { "\n" }).as_bytes());
            }
        } else {
            let mut writer = csv::WriterBuilder::new()
                .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                .from_writer(Vec::new());
            writer.write_record(["id", "email", "city"]).unwrap();
            for row in &rows {
                writer.write_record([row.id, row.email, row.city]).unwrap();
            }
            file.extend(writer.into_inner().unwrap());
        }
        std::fs::write(root.join(name), &file).unwrap();
        let (stdout, stderr, status) = herald(root, &["contacts", "import", name, "--format", "json"]);
        prop_assert!(status == 0 || status == 1, "exit {status}: {stderr}");
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let count = |key: &str| summary[key].as_u64().unwrap_or(0);
        prop_assert_eq!(
            count("inserted") + count("updated") + count("unchanged") + count("rejected"),
            rows.len() as u64,
            "{}", stdout
        );
        prop_assert!(count("merged") <= count("updated") + count("unchanged"));
        let rejects = root.join(format!("{name}.rejects.{}", if jsonl { "jsonl" } else { "csv" }));
        let recorded = match std::fs::read(&rejects) {
            Err(_) => 0,
            Ok(bytes) if jsonl => bytes.split(|byte| *byte == b'\n').filter(|line| !line.is_empty()).count() as u64,
            Ok(bytes) => csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice()).records().count() as u64,
        };
        prop_assert_eq!(recorded, count("rejected"));
        let stored: i64 = rusqlite::Connection::open(root.join("herald.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM contacts", [], |row| row.get(0))
            .unwrap();
        prop_assert_eq!(stored as u64, count("inserted"));
    }
}
