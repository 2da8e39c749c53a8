//! herald: a compiler and runner for CRM-marketing communication declared as code.
//!
//! The pipeline reads in the module names: [`loader`] (files, YAML with
//! positions) → [`schema`] (validation against the generated JSON schemas)
//! → [`segment`] (filters) → [`resolver`] (names, cycles, settings; typed
//! [`policy`], [`provider`] and [`campaign`] values) → [`journey`] (state
//! machines) → [`template`] → [`lint`], chained by [`compiler`] into one
//! typed [`Compilation`]. Every stage reports [`diagnostic::Diagnostic`]s whose codes
//! come from the one table in [`codes`]; [`report`] renders them. The
//! [`store`] holds the base, filled by [`contacts`] and kept up to date with
//! the manifest's `sources:` by [`sync`]; [`plan`] decides what is due. The
//! commands live in [`command`], the arguments they are built from in [`cli`].

pub mod analytics;
pub mod campaign;
pub mod channel;
pub mod cli;
pub mod codes;
pub mod command;
pub mod compilation;
pub mod compiler;
pub mod contact;
pub mod contacts;
pub mod diagnostic;
pub mod duration;
pub mod error;
pub mod journey;
pub mod lint;
pub mod loader;
pub mod model;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod report;
pub mod resolver;
pub mod run;
pub mod schema;
pub mod segment;
pub mod serve;
pub mod signed_link;
pub mod simulate;
pub mod source;
pub mod store;
pub mod suggestion;
pub mod sync;
pub mod template;
pub mod watch;
pub mod yaml;

use std::ffi::OsString;

use clap::Parser;

pub use crate::compilation::Compilation;
pub use crate::compiler::compile;

/// Runs herald with the given arguments and returns the exit status: 0
/// success, 1 problems in the project's files, 2 the command could not run.
pub fn run<I, T>(arguments: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let arguments = match cli::Arguments::try_parse_from(arguments) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 2 } else { 0 };
        }
    };
    match command::Settings::new(arguments).and_then(|settings| command::run(&settings)) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("herald: {error}");
            2
        }
    }
}
