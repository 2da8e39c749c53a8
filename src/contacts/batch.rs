//! The streaming pipeline shared by `contacts import` and `events ingest`:
//! a reader thread reads lines in chunks and normalises each chunk on every
//! core; the calling thread writes each chunk in one transaction. At most a
//! few chunks are in flight, so memory does not grow with the file, and a
//! process killed at any moment leaves whole chunks only: the next run finds
//! them unchanged and completes the rest.
//!
//! Durability: every chunk but the last commits with `synchronous =
//! NORMAL`. In WAL mode a commit is atomic either way, and a killed process
//! loses nothing once `COMMIT` returns (the WAL frames are in the operating
//! system's hands); only a power loss or kernel crash could take back the
//! last few chunks, which the next run then imports again. The final chunk
//! commits with `synchronous = FULL`, which syncs the WAL and with it every
//! chunk before it, so a finished import survives a power loss as before.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::store::{Durability, Store, StoreError};

/// Contacts per transaction and per normalisation chunk.
pub const CHUNK: usize = 10_000;
/// Events per transaction and per normalisation chunk. Events go into two
/// indexes in random order (by id, and by contact), so a transaction dirties
/// a leaf page per event and writes it to the WAL; fewer, larger ones write
/// each page fewer times. 500,000 events into a store of 3,000,000: 24.7 s
/// and 113 MB at 10,000 a transaction, 14.1 s and 167 MB at 40,000, 11.6 s
/// and 281 MB at 100,000.
pub const EVENT_CHUNK: usize = 40_000;

/// One record of the input file, as read.
#[derive(Debug)]
pub struct Line {
    /// 1-based line number where the record starts.
    pub number: u64,
    pub raw: Raw,
    /// Why the record could not even be read (bad UTF-8, bad JSON).
    pub problem: Option<String>,
}

#[derive(Debug)]
pub enum Raw {
    Csv(Vec<String>),
    Json(String),
    /// A line that is not UTF-8, as its bytes, for the rejects file.
    Bytes(Vec<u8>),
}

/// What writing one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Updated,
    Unchanged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub change: Change,
    /// The record named a contact an earlier record of the same file wrote
    /// (a duplicate id, email or phone within the file).
    pub repeated: bool,
    /// A new contact whose record gave no `created_at`: it joined at the
    /// time of the import.
    pub joined_now: bool,
}

impl From<Change> for Outcome {
    fn from(change: Change) -> Outcome {
        Outcome {
            change,
            repeated: false,
            joined_now: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Of the updated and unchanged: records merged into a contact an
    /// earlier record of the same file wrote.
    #[serde(skip_serializing_if = "is_zero")]
    pub merged: u64,
    /// Of the inserted: contacts whose record gave no `created_at`.
    #[serde(skip)]
    pub joined_now: u64,
    /// The store held no contact before this import.
    #[serde(skip)]
    pub into_empty_store: bool,
}

impl Summary {
    /// The warning of a first import that dated a whole base to today: a
    /// migrated historical base without its sign-up dates would sit in every
    /// `created_at within …` segment and enter every welcome journey.
    pub fn created_at_warning(&self, file: &std::path::Path) -> Option<String> {
        (self.into_empty_store && self.joined_now > 0).then(|| {
            format!(
                "warning: {}: {} of the {} new contacts have no `created_at`, so they joined \
                 now, at this import; if this is an existing base, give its sign-up dates in a \
                 `created_at` column and import again (it updates them), or segments like \
                 `created_at within 14 days` and welcome journeys treat all of them as new",
                file.display(),
                self.joined_now,
                self.inserted
            )
        })
    }
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// A reader of records: `Ok(None)` at the end, `Err` when the file cannot be read at all.
pub type Reader<'a> = dyn FnMut() -> Result<Option<(Line, u64)>, String> + Send + 'a;

/// Where rejected records go. The file is created when the run starts,
/// before anything is read or written, so a path that cannot be written
/// stops the run before any record is committed; it is removed again when
/// no record was rejected (with any file an earlier run left there).
pub struct Rejects {
    pub path: PathBuf,
    /// The CSV header of the input, for a CSV rejects file.
    csv_header: Option<Vec<String>>,
    writer: std::io::BufWriter<std::fs::File>,
    written: u64,
}

impl Rejects {
    /// Creates the rejects file for `input`; refuses a path that is the
    /// input itself (directly, through `..` or a symbolic link), which the
    /// rejects would overwrite.
    pub fn create(path: PathBuf, input: &Path) -> Result<Rejects, String> {
        if same_file(&path, input) {
            return Err(format!(
                "the rejects file {} is the input file {}: give --rejects another path",
                path.display(),
                input.display()
            ));
        }
        let file = std::fs::File::create(&path).map_err(|error| {
            format!("cannot create the rejects file {}: {error}", path.display())
        })?;
        Ok(Rejects {
            path,
            csv_header: None,
            writer: std::io::BufWriter::new(file),
            written: 0,
        })
    }

    /// Makes this a CSV rejects file with the input's header.
    pub fn with_csv_header(mut self, header: Vec<String>) -> Rejects {
        self.csv_header = Some(header);
        self
    }

    fn failed(&self, error: std::io::Error) -> String {
        format!("cannot write {}: {error}", self.path.display())
    }

    pub fn write(&mut self, line: &Line, reason: &str) -> Result<(), String> {
        let mut bytes = Vec::new();
        if self.written == 0
            && let Some(header) = &self.csv_header
        {
            let mut fields = vec!["line".to_string(), "reason".to_string()];
            fields.extend(header.iter().cloned());
            bytes.extend_from_slice(csv_line(&fields).as_bytes());
        }
        match &line.raw {
            Raw::Csv(cells) => {
                let mut fields = vec![line.number.to_string(), reason.to_string()];
                fields.extend(cells.iter().cloned());
                bytes.extend_from_slice(csv_line(&fields).as_bytes());
            }
            Raw::Json(text) => {
                let record = serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
                bytes.extend_from_slice(
                    format!(
                        "{}\n",
                        serde_json::json!({"line": line.number, "reason": reason, "record": record})
                    )
                    .as_bytes(),
                );
            }
            Raw::Bytes(original) => {
                // `record` holds the line's own bytes: verbatim when they
                // are JSON but for the encoding, else as a JSON string whose
                // escapes leave every other byte as it was.
                let head = serde_json::json!({"line": line.number, "reason": reason}).to_string();
                bytes.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                bytes.extend_from_slice(b",\"record\":");
                if serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(original))
                    .is_ok()
                {
                    bytes.extend_from_slice(original);
                } else {
                    bytes.push(b'"');
                    for byte in original {
                        match byte {
                            b'"' | b'\\' => bytes.extend_from_slice(&[b'\\', *byte]),
                            0..0x20 => bytes.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
                            _ => bytes.push(*byte),
                        }
                    }
                    bytes.push(b'"');
                }
                bytes.extend_from_slice(b"}\n");
            }
        }
        self.writer
            .write_all(&bytes)
            .map_err(|error| self.failed(error))?;
        self.written += 1;
        Ok(())
    }

    /// Pushes what was written to the file: called before the records'
    /// batch commits, so no record is committed whose rejected neighbours
    /// could not be recorded.
    pub fn flush(&mut self) -> Result<(), String> {
        self.writer.flush().map_err(|error| self.failed(error))
    }
}

impl Drop for Rejects {
    fn drop(&mut self) {
        // Only a regular file: `--rejects /dev/stderr` stays.
        if self.written == 0 && self.path.is_file() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether two paths name the same file, following links and `..`. A
/// path that does not exist yet is no existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// One CSV record, quoted where needed, with its line end.
pub fn csv_line(fields: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = writer.write_record(fields);
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Default rejects path: next to the input, `FILE.rejects.csv` or `.jsonl`.
pub fn default_rejects(input: &Path, csv: bool) -> PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(if csv {
        ".rejects.csv"
    } else {
        ".rejects.jsonl"
    });
    input.with_file_name(name)
}

/// A progress bar over the bytes of the input, on a terminal only.
pub fn progress(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    Some(bar)
}

/// A store failure while writing, as the command reports it.
fn failed(error: StoreError) -> String {
    format!("writing to the store failed: {}", error.reason)
}

type Chunk<T> = Vec<(Line, Result<T, String>)>;

/// A written chunk: its rejected records with the reasons, and the rest.
type Written<T> = (Vec<(Line, String)>, Chunk<T>);

/// Writes one normalised record: `Ok(Err(reason))` rejects it, `Err` is a store failure.
pub type Writer<'a, T> = dyn FnMut(&T) -> Result<Result<Outcome, String>, StoreError> + 'a;

/// Reads, normalises (in parallel) and writes every record, `chunk`
/// records a transaction.
/// `write` returns `Ok(Err(reason))` to reject a record, `Err` when the store fails.
pub fn run<T: Send>(
    store: &Store,
    read: &mut Reader<'_>,
    normalise: &(dyn Fn(&Line) -> Result<T, String> + Sync),
    write: &mut Writer<'_, T>,
    rejects: &mut Rejects,
    bar: Option<&indicatif::ProgressBar>,
    chunk: usize,
) -> Result<Summary, String> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let mut summary = Summary::default();
    std::thread::scope(|scope| -> Result<(), String> {
        // The writer holds the chunk it writes and the next one; the reader
        // normalises a third. The writer is the slower side: a queue would
        // only hold memory.
        let (sender, receiver) = mpsc::sync_channel::<Result<(Chunk<T>, u64), String>>(0);
        let (spent_sender, spent) = mpsc::channel::<Chunk<T>>();
        scope.spawn(move || {
            loop {
                while let Ok(written) = spent.try_recv() {
                    drop(written);
                }
                let mut lines = Vec::with_capacity(chunk);
                let mut position = 0;
                while lines.len() < chunk {
                    match read() {
                        Ok(Some((line, at))) => {
                            lines.push(line);
                            position = at;
                        }
                        Ok(None) => break,
                        Err(error) => {
                            let _ = sender.send(Err(error));
                            return;
                        }
                    }
                }
                if lines.is_empty() {
                    return;
                }
                let chunk = normalise_chunk(lines, normalise, workers);
                if sender.send(Ok((chunk, position))).is_err() {
                    return;
                }
            }
        });
        let mut current = receiver.recv().ok();
        while let Some(message) = current {
            let (chunk, position) = message?;
            // The next chunk was normalised while the previous one was
            // written, so taking it now costs no time; whether this chunk
            // is the last decides how its commit is synced.
            current = receiver.recv().ok();
            let durability = if current.is_some() {
                Durability::Deferred
            } else {
                Durability::Full
            };
            store.set_durability(durability).map_err(failed)?;
            let (rejected, spent) = write_chunk(store, chunk, write, &mut summary)?;
            // Freeing a chunk's cells and records costs the writer a third
            // of its time: the reader, which allocated the cells, frees
            // them before it reads the next chunk.
            let _ = spent_sender.send(spent);
            // The chunk's rejects reach the file before its records commit:
            // a record is committed only when its rejected neighbours are
            // recorded, and a failed commit leaves rejects the next run
            // writes again.
            let recorded = rejected
                .iter()
                .try_for_each(|(line, reason)| rejects.write(line, reason))
                .and_then(|()| rejects.flush());
            if let Err(error) = recorded {
                store.rollback();
                return Err(error);
            }
            if let Err(error) = store.commit() {
                store.rollback();
                return Err(failed(error));
            }
            if let Some(bar) = bar {
                bar.set_position(position);
            }
        }
        store.set_durability(Durability::Full).map_err(failed)?;
        Ok(())
    })?;
    Ok(summary)
}

fn normalise_chunk<T: Send>(
    lines: Vec<Line>,
    normalise: &(dyn Fn(&Line) -> Result<T, String> + Sync),
    workers: usize,
) -> Chunk<T> {
    let check = |line: &Line| match &line.problem {
        Some(problem) => Err(problem.clone()),
        None => normalise(line),
    };
    if workers == 1 || lines.len() < 256 {
        let results: Vec<_> = lines.iter().map(check).collect();
        return lines.into_iter().zip(results).collect();
    }
    let size = lines.len().div_ceil(workers);
    let results: Vec<Result<T, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(size)
            .map(|part| scope.spawn(move || part.iter().map(check).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    if results.len() != lines.len() {
        // A worker panicked: reject its records rather than lose them silently.
        return lines
            .into_iter()
            .map(|line| (line, Err("internal error while reading this record".into())))
            .collect();
    }
    lines.into_iter().zip(results).collect()
}

/// Writes one chunk in a transaction it leaves open for the caller to
/// commit; returns its rejected records and the lines written, for the
/// caller to free. On a store failure the transaction is rolled back.
fn write_chunk<T: Send>(
    store: &Store,
    chunk: Chunk<T>,
    write: &mut Writer<'_, T>,
    summary: &mut Summary,
) -> Result<Written<T>, String> {
    store.begin().map_err(failed)?;
    let mut spent = Vec::with_capacity(chunk.len());
    let mut local = Summary::default();
    let mut rejected = Vec::new();
    for (line, result) in chunk {
        let outcome = match &result {
            Ok(record) => match write(record) {
                Ok(outcome) => outcome,
                Err(error) => {
                    store.rollback();
                    return Err(failed(error));
                }
            },
            Err(reason) => Err(reason.clone()),
        };
        match outcome {
            Ok(outcome) => {
                match outcome.change {
                    Change::Inserted => local.inserted += 1,
                    Change::Updated => local.updated += 1,
                    Change::Unchanged => local.unchanged += 1,
                }
                local.merged += u64::from(outcome.repeated);
                local.joined_now += u64::from(outcome.joined_now);
                spent.push((line, result));
            }
            Err(reason) => {
                local.rejected += 1;
                rejected.push((line, reason));
            }
        }
    }
    summary.inserted += local.inserted;
    summary.updated += local.updated;
    summary.unchanged += local.unchanged;
    summary.rejected += local.rejected;
    summary.merged += local.merged;
    summary.joined_now += local.joined_now;
    Ok((rejected, spent))
}
