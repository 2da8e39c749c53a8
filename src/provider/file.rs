//! The `file` provider, the local default: one JSON line per message
//! ([`Message`]'s JSON form, SPEC section 11) appended to a file and synced
//! to disk before the message counts as sent.
//!
//! It honours the idempotency key by deduplicating on its own file: the
//! keys already written are read when the provider opens, and a message
//! whose key is among them is reported sent without being written again.
//! A line cut short by a crash (the write never returned, so it was never
//! reported sent) is removed when the file is opened again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use super::{Message, Outcome, SetupError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSettings {
    /// The JSONL file, created when missing.
    pub path: PathBuf,
}

#[derive(Debug)]
pub struct FileProvider {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    keys: HashSet<String>,
}

#[derive(Deserialize)]
struct KeyOnly {
    key: String,
}

impl FileProvider {
    /// Opens (or creates) the file and reads the keys it already holds.
    pub fn open(settings: FileSettings) -> Result<FileProvider, SetupError> {
        let path = settings.path;
        let cannot = |what: &str, error: std::io::Error| {
            SetupError(format!("cannot {what} {}: {error}", path.display()))
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|error| cannot("create the folder of", error))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|error| cannot("open", error))?;
        let (keys, complete) = read_keys(&file, &path)?;
        if complete
            < file
                .metadata()
                .map_err(|error| cannot("read", error))?
                .len()
        {
            file.set_len(complete)
                .and_then(|()| file.sync_all())
                .map_err(|error| cannot("repair", error))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|error| cannot("open", error))?;
        Ok(FileProvider {
            path,
            state: Mutex::new(State { file, keys }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the message's line unless its key is already in the file.
    /// Blocking, but short: one write and one sync, serialised by the lock.
    pub fn send(&self, message: &Message) -> Outcome {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.keys.contains(&message.key) {
            return sent();
        }
        let mut line = match serde_json::to_vec(message) {
            Ok(line) => line,
            Err(error) => {
                return Outcome::Failed {
                    reason: format!("cannot encode the message: {error}"),
                    suppress: None,
                };
            }
        };
        line.push(b'\n');
        let written = state
            .file
            .write_all(&line)
            .and_then(|()| state.file.sync_data());
        match written {
            Ok(()) => {
                state.keys.insert(message.key.clone());
                sent()
            }
            // A full disk or a failing write is the operator's to fix, not
            // the contact's; the partial line is repaired on the next open.
            Err(error) => Outcome::StopProvider {
                reason: format!("cannot write {}: {error}", self.path.display()),
                resume_after: None,
            },
        }
    }

    /// The file is its own status API: a key in it was written and synced;
    /// any other was not, and may be sent.
    pub fn reconcile(&self, message: &Message) -> Outcome {
        let state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.keys.contains(&message.key) {
            sent()
        } else {
            Outcome::Retry {
                after: None,
                reason: format!("not in {}", self.path.display()),
            }
        }
    }
}

fn sent() -> Outcome {
    Outcome::Sent {
        provider_message_id: None,
    }
}

/// The keys of the complete lines, and the length of the file up to the
/// end of the last complete line.
fn read_keys(file: &File, path: &Path) -> Result<(HashSet<String>, u64), SetupError> {
    let mut keys = HashSet::new();
    let mut complete = 0u64;
    let mut number = 0usize;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|error| SetupError(format!("cannot read {}: {error}", path.display())))?;
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }
        complete += read as u64;
        number += 1;
        match serde_json::from_slice::<KeyOnly>(&line) {
            Ok(entry) => {
                keys.insert(entry.key);
            }
            Err(error) => {
                return Err(SetupError(format!(
                    "{} is not a herald message file: line {} is not a message ({error})",
                    path.display(),
                    number
                )));
            }
        }
    }
    Ok((keys, complete))
}
