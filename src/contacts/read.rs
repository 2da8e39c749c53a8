//! The two input readers of `contacts import` and `events ingest`: CSV
//! (delimiter guessed, header mapped to fields) and JSONL. Each yields
//! records with the line they start on, and a problem when a record cannot
//! even be read.

use std::io::{BufRead, Read};
use std::path::Path;

use super::batch::{Line, Raw, Reader};
use super::import::Field;

/// Whether a contacts file is CSV (`true`) or JSONL (`false`) by its
/// extension; `None` when the extension does not say.
pub fn csv_by_extension(path: &Path) -> Option<bool> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .as_deref()
    {
        Some("csv" | "tsv" | "txt") => Some(true),
        Some("jsonl" | "ndjson" | "json") => Some(false),
        _ => None,
    }
}

/// Guesses the delimiter from the header: `;` (spreadsheets in many
/// locales) when it has more of them than commas, else `,`.
fn delimiter(path: &Path) -> std::io::Result<u8> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| first.iter().filter(|b| **b == c).count();
    Ok(if count(b';') > count(b',') {
        b';'
    } else {
        b','
    })
}

/// An opened CSV file: its header, the header mapped to fields, and a record reader.
pub type CsvInput<'a> = (Vec<String>, Vec<Field>, Box<Reader<'a>>);

/// Opens a CSV file. An unknown column is an error for the whole file.
pub fn csv_reader<'a>(
    path: &Path,
    map_field: &dyn Fn(&str) -> Result<Field, String>,
) -> Result<CsvInput<'a>, Vec<String>> {
    let io = |error: std::io::Error| vec![format!("cannot read {}: {error}", path.display())];
    let delimiter = delimiter(path).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    // Only `\n` ends a record: with CSV's default (`\r`, `\n` or `\r\n`)
    // the reader reports a CRLF file's records one line early.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .has_headers(false)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(vec![format!("{} is empty", path.display())]),
        Err(error) => return Err(vec![format!("{}: {error}", path.display())]),
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(index, cell)| {
            let text = String::from_utf8_lossy(cell).into_owned();
            let text = if index == 0 {
                text.trim_start_matches('\u{feff}').to_string()
            } else {
                text
            };
            text.trim().to_string()
        })
        .collect();
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match map_field(name) {
            Ok(field) if fields.contains(&field) => {
                problems.push(format!("column {} `{name}` is given twice", index + 1))
            }
            Ok(field) => fields.push(field),
            Err(problem) => problems.push(format!("column {}: {problem}", index + 1)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let width = names.len();
    let length = std::fs::metadata(path).map_err(io)?.len();
    let path = path.to_path_buf();
    let mut record = csv::ByteRecord::new();
    let read = move || -> Result<Option<(Line, u64)>, String> {
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    let (number, start) = record
                        .position()
                        .map_or((0, 0), |position| (position.line(), position.byte()));
                    let at = reader.position().byte();
                    let last = record.len().saturating_sub(1);
                    let mut problem = None;
                    let cells: Vec<String> = record
                        .iter()
                        .enumerate()
                        .map(|(index, cell)| {
                            // `\n` is the only terminator (see `terminator`):
                            // a CRLF file's last cells end in `\r`.
                            let cell = match cell {
                                [rest @ .., b'\r'] if index == last => rest,
                                cell => cell,
                            };
                            match std::str::from_utf8(cell) {
                                Ok(text) => text.to_string(),
                                Err(_) => {
                                    problem =
                                        Some("not valid UTF-8 (save the file as UTF-8)".into());
                                    String::from_utf8_lossy(cell).into_owned()
                                }
                            }
                        })
                        .collect();
                    // A blank line between records is no record.
                    if cells.len() == 1 && cells[0].is_empty() {
                        continue;
                    }
                    let unclosed = if at >= length {
                        unclosed_quote(&path, start, number, delimiter)
                    } else {
                        None
                    };
                    if let Some(opened) = unclosed {
                        problem = Some(format!(
                            "a quote opened on line {opened} is never closed, so the rest of the file \
                             was read as one field"
                        ));
                    } else if cells.len() != width {
                        let mut text =
                            format!("{} fields where the header has {width}", cells.len());
                        let lines: u64 = cells
                            .iter()
                            .map(|cell| cell.matches('\n').count() as u64)
                            .sum();
                        if lines > 0 {
                            text.push_str(&format!(
                                " (a quoted field runs over lines {number}–{}: is a quote unbalanced?)",
                                number + lines
                            ));
                        }
                        problem = Some(text);
                    }
                    return Ok(Some((
                        Line {
                            number,
                            raw: Raw::Csv(cells),
                            problem,
                        },
                        at,
                    )));
                }
                Err(error) => {
                    // A malformed record ends the file's readable part; the
                    // error says where.
                    return Err(format!("cannot read CSV: {error}"));
                }
            }
        }
    };
    Ok((names, fields, Box::new(read)))
}

/// For a CSV record that runs to the end of the file, starting at byte
/// `from` on line `line`: the line of a quote that no later quote closes.
/// The CSV reader takes everything after such a quote as one field; this
/// rereads that tail once, at the end of the file.
fn unclosed_quote(path: &Path, from: u64, line: u64, delimiter: u8) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    enum State {
        FieldStart,
        Unquoted,
        Quoted(u64),
        QuoteInQuoted(u64),
    }
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut line = line;
    let mut state = State::FieldStart;
    for byte in std::io::BufReader::new(file).bytes() {
        let byte = byte.ok()?;
        state = match (state, byte) {
            (State::FieldStart, b'"') => State::Quoted(line),
            (State::Quoted(opened), b'"') => State::QuoteInQuoted(opened),
            (State::QuoteInQuoted(opened), b'"') => State::Quoted(opened),
            (State::Quoted(opened), _) => State::Quoted(opened),
            (_, b'\n') => State::FieldStart,
            (_, byte) if byte == delimiter => State::FieldStart,
            _ => State::Unquoted,
        };
        if byte == b'\n' {
            line += 1;
        }
    }
    match state {
        State::Quoted(opened) => Some(opened),
        _ => None,
    }
}

/// A JSONL reader: one line per record; blank lines are skipped.
pub fn jsonl_reader<'a>(path: &Path) -> Result<Box<Reader<'a>>, String> {
    let file = std::fs::File::open(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buffer = Vec::new();
    let mut number = 0u64;
    let mut at = 0u64;
    let display = path.display().to_string();
    Ok(Box::new(move || -> Result<Option<(Line, u64)>, String> {
        loop {
            buffer.clear();
            let read = reader
                .read_until(b'\n', &mut buffer)
                .map_err(|error| format!("cannot read {display}: {error}"))?;
            if read == 0 {
                return Ok(None);
            }
            number += 1;
            at += read as u64;
            let bytes = if number == 1 {
                buffer.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buffer)
            } else {
                &buffer
            };
            let (raw, problem) = match std::str::from_utf8(bytes) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => (Raw::Json(text.trim().to_string()), None),
                // The rejects file gets the line's own bytes back.
                Err(error) => (
                    Raw::Bytes(bytes.trim_ascii().to_vec()),
                    Some(format!(
                        "not valid UTF-8 (byte {} of the line); save the file as UTF-8",
                        error.valid_up_to() + 1
                    )),
                ),
            };
            return Ok(Some((
                Line {
                    number,
                    raw,
                    problem,
                },
                at,
            )));
        }
    }))
}
