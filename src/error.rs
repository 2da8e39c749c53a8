//! Failures of the command itself, as opposed to diagnostics about the
//! user's files: the project cannot be read, an argument is wrong, the store
//! is unavailable. They end the command with exit status 2.

use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// The project directory or its manifest cannot be read.
    Project { path: PathBuf, reason: String },
    /// A command-line argument that parsed but makes no sense.
    Usage(String),
    /// The contact store cannot be opened, read or written. Boxed so this
    /// module depends on no store backend: a store's error converts into it
    /// (`impl From<StoreError> for Error` in [`crate::store`]).
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// Writing output or a generated file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Project { path, reason } => {
                write!(
                    f,
                    "cannot read the herald project at {}: {reason}",
                    path.display()
                )
            }
            Error::Usage(message) => f.write_str(message),
            Error::Store(error) => write!(f, "{error}"),
            Error::Io { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}
