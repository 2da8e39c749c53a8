//! What commands print: the `--format` choice every command but `check`
//! offers (a command-line value, defined with the arguments in `cli.rs`),
//! and the ways to write to standard output: [`print`] for a whole answer,
//! [`Lines`] for an export streamed one row at a time.

use std::io::{BufWriter, StdoutLock, Write};

pub use crate::cli::OutputFormat;
use crate::error::Error;

/// Writes `text` to standard output and flushes it.
pub fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    outcome(
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush()),
    )
    .map(|_| ())
}

/// Standard output for an export of many rows: buffered, so a million rows
/// are not a million flushes, and never holding more than the buffer.
pub struct Lines {
    out: BufWriter<StdoutLock<'static>>,
}

impl Default for Lines {
    fn default() -> Lines {
        Lines {
            out: BufWriter::new(std::io::stdout().lock()),
        }
    }
}

impl Lines {
    /// Writes `text`; `Ok(false)` when the reader has gone (`| head`), so
    /// the caller stops producing rows.
    pub fn write(&mut self, text: &str) -> Result<bool, Error> {
        outcome(self.out.write_all(text.as_bytes()))
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) -> Result<(), Error> {
        outcome(self.out.flush()).map(|_| ())
    }
}

/// Whether standard output is still open after a write.
fn outcome(result: std::io::Result<()>) -> Result<bool, Error> {
    match result {
        Ok(()) => Ok(true),
        // A closed pipe (`herald check | head`) is not the user's problem.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
    }
}
