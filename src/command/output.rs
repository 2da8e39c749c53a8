//! What commands print: the `--format` choice every command but `check`
//! offers (a command-line value, defined with the arguments in `cli.rs`),
//! and the one way to write to standard output.

use std::io::Write;

pub use crate::cli::OutputFormat;
use crate::error::Error;

/// Writes `text` to standard output and flushes it.
pub fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`herald check | head`) is not the user's problem.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
    }
}
