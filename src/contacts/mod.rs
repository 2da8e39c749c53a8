//! Filling and tending the contact store: whole files go in through
//! [`files`] and are streamed through [`batch`], their rows normalised ([`normalise`]) and merged ([`import`],
//! [`ingest`]) in transactions of whole chunks, with rejects going to a file
//! with their line numbers; [`clean`] marks invalid and lapsed contacts and
//! [`show`] describes one. The commands that drive them live in
//! `crate::command` (`contacts`, `events`).

pub mod batch;
pub mod clean;
pub mod files;
pub mod import;
pub mod ingest;
pub mod keys;
pub mod normalise;
pub mod read;
pub mod show;
