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

    /// The SQLite contact store (default: `store` in herald.yaml, else herald.db in the project).
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,

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
    /// Count, list or explain the contacts a segment or a filter selects.
    ///
    /// Reads the contact store. Prints the number of matching contacts
    /// (`--count`, the default), their ids (`--list`), or the parameterised
    /// SQL with its parameters and SQLite's query plan (`--explain`).
    /// Exits 1 when the filter has errors, 2 when the store cannot be read.
    ///
    /// Examples:
    ///
    /// - `herald segment lifecycle/active --count`
    ///
    /// - `herald segment --filter 'city = "Москва" and orders_count > 0' --list`
    ///
    /// - `herald segment vip --now "2026-12-20 11:00" --format json`
    Segment {
        /// The segment: its path below segments/ without `.yaml`.
        #[arg(required_unless_present = "filter", conflicts_with = "filter")]
        name: Option<String>,
        /// A filter expression in the segment language instead of a segment.
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Print the number of matching contacts (the default).
        #[arg(long, conflicts_with_all = ["list", "explain"])]
        count: bool,
        /// Print the ids of the matching contacts, one per line.
        #[arg(long, conflicts_with = "explain")]
        list: bool,
        /// Print the SQL, its parameters and the query plan instead of running it.
        #[arg(long)]
        explain: bool,
        /// Evaluate at this time instead of the current one: RFC 3339
        /// (`2026-12-20T08:00:00Z`) or local `YYYY-MM-DD HH:MM` in the project's time zone.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json (`{"count": N}` or `{"ids": [...]}`).
        #[arg(long, value_enum, default_value_t = crate::segment::command::OutputFormat::Human)]
        format: crate::segment::command::OutputFormat,
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
    /// Preview a message: every part per channel and the SMS analysis.
    ///
    /// TARGET is a campaign (`promo/monthly_sale`), a journey step
    /// (`abandoned_cart#reminder`, by `id` or 1-based position), a whole
    /// journey, or a template below templates/ (`emails/cart/reminder.html`).
    /// Renders for generated sample contacts unless a contact is given.
    /// Exits 1 when a part fails to render.
    Render {
        /// What to render.
        target: String,
        /// The campaign's A/B variant (default: the campaign's own messages).
        #[arg(long)]
        variant: Option<String>,
        /// A contact from the store, by id.
        #[arg(long, value_name = "ID", conflicts_with_all = ["contact_file", "samples"])]
        contact: Option<String>,
        /// Contacts from a YAML or JSON file: one mapping of attributes, a
        /// list of them, or `{contact: {...}, event: {...}}` entries.
        #[arg(long, value_name = "FILE", conflicts_with = "samples")]
        contact_file: Option<PathBuf>,
        /// How many generated sample contacts (both genders, missing
        /// optional attributes, long values).
        #[arg(long, value_name = "N")]
        samples: Option<usize>,
        /// The time `now` stands for, RFC 3339 (default: a fixed sample time).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json (`{"renders": [...]}`).
        #[arg(long, value_enum, default_value_t = crate::segment::command::OutputFormat::Human)]
        format: crate::segment::command::OutputFormat,
    },
}
