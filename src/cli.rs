//! Command-line arguments, as clap parses them. [`crate::run`] turns them
//! into validated settings before any command runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report::Format;

/// herald: CRM-marketing communication as code.
///
/// Checks a project of segments, campaigns, journeys and templates on every
/// pull request, and explains every rule it applies.
///
/// Exit status: 0 success (for `check`: no errors), 1 the project's files
/// have errors (diagnostics were printed), 2 the command could not run
/// (bad arguments, unreadable project).
#[derive(Debug, Parser)]
#[command(name = "herald", version, max_term_width = 100)]
pub struct Arguments {
    /// The project directory (the one holding herald.yaml).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,

    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the project: YAML syntax, schemas, references, cycles, secrets.
    ///
    /// Prints every problem with its file, line, column, a snippet and help.
    /// Exits 0 when there are no errors, 1 when there are (or warnings with
    /// --deny-warnings), 2 when the project cannot be read.
    Check {
        /// Output format: human (snippets), json, sarif (2.1.0) or github (workflow annotations).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors for the exit status.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the documentation of a rule, with an example and the fix.
    Explain {
        /// A code (`R001`) or rule name (`unknown-segment`).
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every rule with its default level.
        #[arg(long, conflicts_with = "code")]
        list: bool,
    },
    /// Write the JSON schemas of herald's files, for editors and other tools.
    Schema {
        /// The folder to write `*.schema.json` into.
        #[arg(long, value_name = "DIR", default_value = "schemas")]
        out: PathBuf,
        /// Do not write; exit 1 if the files in DIR differ from the generated schemas.
        #[arg(long)]
        check: bool,
    },
}
