//! Command-line arguments, as clap parses them. [`crate::command::Settings`] turns them
//! into validated settings before any command runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report::Format;

/// herald: CRM-marketing communication as code.
///
/// Checks a project of segments, campaigns, journeys and templates on every
/// pull request (`check`, `explain`), previews messages (`render`, `watch`),
/// queries and fills the contact store (`segment`, `contacts`, `events`,
/// `sync`), plans and sends campaigns through the outbox (`plan`, `run`,
/// `status`), and runs the whole project in virtual time before a change
/// is merged (`simulate`).
///
/// Start a project with `herald init DIR`, check one with `herald check
/// --project DIR`, see what it would send with `herald plan --project DIR`;
/// `herald COMMAND --help` describes each command.
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

/// `--format` of the commands that print results rather than diagnostics
/// (`check` has its own [`crate::report::Format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
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
    /// (`--count`, the default), their ids (`--list`), their ids with
    /// attributes (`--list --fields a,b`: CSV with a header, or JSON lines
    /// with `--format json`), the parameterised SQL with its parameters and
    /// SQLite's query plan (`--explain`), or why one contact is in or out
    /// (`--why ID`: every condition with ✓ or ✗ and the contact's values,
    /// `in segment` expanded). Exits 1 when the filter has errors, 2 when
    /// the store cannot be read or names no such contact or field.
    ///
    /// Examples:
    ///
    /// - `herald segment lifecycle/active --count`
    ///
    /// - `herald segment --filter 'city = "Москва" and orders_count > 0' --list`
    ///
    /// - `herald segment vip --list --fields email,city > vip.csv`
    ///
    /// - `herald segment vip --why c42`
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
        /// With --list: these attributes after each id, as CSV with a
        /// header (`id,a,b`), or one JSON object per line with `--format json`.
        #[arg(long, value_name = "A,B", value_delimiter = ',', requires = "list")]
        fields: Vec<String>,
        /// Explain why this contact (an id or an alias) is in the segment or
        /// not: the condition tree with ✓/✗ and the contact's values.
        #[arg(long, value_name = "CONTACT", conflicts_with_all = ["count", "list", "explain"])]
        why: Option<String>,
        /// Evaluate at this time instead of the current one: RFC 3339
        /// (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]`
        /// in the project's time zone (herald.yaml's `timezone`).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json (`{"count": N}`, `{"ids": [...]}`,
        /// JSON lines with --fields, the --why tree as one object).
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Create a new project that `herald check` passes with no diagnostic.
    ///
    /// Writes into DIR (default: `--project`, else the current directory;
    /// created if missing): herald.yaml (time zone, locale, currency,
    /// country, the store, email and SMS channels whose `file` provider
    /// appends every message to outbox.jsonl so nothing is sent, policies),
    /// one segment, one campaign, one journey and their templates; a
    /// .gitignore for the store, the outbox and the rejects files of imports;
    /// and editor support: the JSON schemas in schemas/, a
    /// `# yaml-language-server: $schema=` modeline on every YAML file and a
    /// .vscode/settings.json mapping.
    ///
    /// Never overwrites: exits 2, writing nothing, when DIR already holds a
    /// herald.yaml or any file init would write.
    ///
    /// Example: `herald init my-shop && herald check --project my-shop`
    Init {
        /// The folder for the new project.
        #[arg(value_name = "DIR")]
        directory: Option<PathBuf>,
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
    /// Import contacts, clean the base, show one contact (the contact store).
    Contacts {
        #[command(subcommand)]
        command: ContactsCommand,
    },
    /// Import the manifest's `sources:` that changed since the last sync.
    ///
    /// Every file under `sources:` in herald.yaml whose content differs from
    /// the last sync's (by SHA-256) is imported as `contacts import` and
    /// `events ingest` would, contacts first; rejected rows go to
    /// `FILE.rejects.csv` or `.jsonl` next to the file. Unchanged files are
    /// not read again. `plan` syncs first unless `--no-sync`. Exits 1 when a
    /// row was rejected or a file could not be imported.
    Sync {
        /// Import every source file, changed or not (after changing the data
        /// model in herald.yaml, rows rejected before may now be accepted).
        #[arg(long)]
        force: bool,
        /// Output format: human, or json (`{"files": [...]}`).
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Ingest events into the contact store.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
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
        /// The time templates see as `now` (default: a fixed sample time,
        /// 2026-03-02T09:00:00Z): RFC 3339
        /// (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]`
        /// in the project's time zone (herald.yaml's `timezone`).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json (`{"renders": [...]}`).
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Show what is due at `--now`: every campaign occurrence's audience,
    /// who is excluded and why, messages per channel and variant, SMS parts,
    /// the estimated cost against the budget, rendered samples and render
    /// failures; then the next occurrences. First imports the manifest's
    /// `sources:` that changed (as `herald sync`), then opens the store
    /// read-only and sends nothing. Exits 1 when a message fails to render
    /// or a campaign is over its budget.
    Plan {
        /// Plan at this time instead of the current one: RFC 3339
        /// (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]`
        /// in the project's time zone (herald.yaml's `timezone`).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Only this campaign (repeat for several).
        #[arg(long, value_name = "NAME")]
        campaign: Vec<String>,
        /// Rendered samples shown per campaign and channel.
        #[arg(long, value_name = "N", default_value_t = 1)]
        samples: usize,
        /// Exit 0 when nothing is to be sent, 2 when something is, 1 on errors.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan on the store as it is, without importing changed `sources:` first.
        #[arg(long)]
        no_sync: bool,
        /// Output format: human, or json (every message with its idempotency key, and the summary).
        #[arg(long, value_enum, default_value_t = crate::command::OutputFormat::Human)]
        format: crate::command::OutputFormat,
    },
    /// Send what is due: plan at `--now`, write every message to the
    /// outbox, deliver through the providers.
    ///
    /// Each tick compiles the project (errors: exit 1), takes back messages
    /// whose runner died mid-request (resent where the provider honours the
    /// idempotency key, e.g. webhook and file; otherwise left `unknown` and
    /// reported by `herald status`), plans exactly as `herald plan` does and
    /// refuses to send anything when a message fails to render or a campaign
    /// is over its budget (exit 1). Otherwise the whole plan goes into the
    /// outbox in one transaction before any provider is called; then
    /// messages are claimed with a lease and delivered concurrently within
    /// each provider's `rate_limit`. Temporary errors are retried with
    /// exponential backoff and full jitter (honouring `Retry-After` and
    /// Telegram's `retry_after`), permanent ones are not; an address a
    /// provider refuses for good (Telegram 403, SMSC error 7, SMTP 550) is
    /// suppressed. Consent and suppression are checked again when a message
    /// is claimed (revoked since planning: `skipped`). A message counts as
    /// sent only once the provider confirmed it; an occurrence is never
    /// enqueued twice, so running the same `--now` again sends nothing.
    ///
    /// `--once` runs one tick (for cron) and waits for retries due within a
    /// minute; without it herald runs a tick every `--interval` until
    /// SIGINT or SIGTERM, on which it stops claiming, finishes and records
    /// the requests in flight, and exits 0. A progress bar shows on a
    /// terminal; a summary is printed at the end.
    ///
    /// Examples:
    ///   herald run --once
    ///   herald run --once --now "2026-12-01 10:00"
    ///   herald run --interval 30
    Run {
        /// One tick, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds between ticks when running continuously.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        interval: u64,
        /// Run on a virtual clock starting at this time: RFC 3339
        /// (`2026-12-20T08:00:00Z`) or a local `YYYY-MM-DD HH:MM[:SS]` in the
        /// project's time zone. It advances with the wall clock.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Do not import the manifest's `sources:` first.
        #[arg(long)]
        no_sync: bool,
        /// Also resend messages whose outcome is unknown through providers
        /// that do not honour the idempotency key (they may arrive twice).
        #[arg(long)]
        at_least_once: bool,
        /// Seconds a claimed message stays with this runner before another
        /// may take it back (keep it above the slowest request).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        lease: u64,
        /// Summary format: human, or json.
        #[arg(long, value_enum, default_value_t = crate::command::OutputFormat::Human)]
        format: crate::command::OutputFormat,
    },
    /// Show the outbox: messages by state per campaign and journey, the
    /// oldest pending message, and dead and unknown messages with their
    /// last error.
    Status {
        /// Output format: human, or json.
        #[arg(long, value_enum, default_value_t = crate::command::OutputFormat::Human)]
        format: crate::command::OutputFormat,
    },
    /// Run the project in virtual time on a copy of the store and print the timeline.
    ///
    /// Copies the store (the real one is never written), syncs the
    /// manifest's `sources:` into the copy, then ticks from --from to --to
    /// every --step exactly as `herald run` does, except that nothing is
    /// sent: every message due is recorded as sent at the virtual time.
    /// Events of --events (JSONL, as `herald events ingest` takes) are
    /// ingested as virtual time reaches them. Prints, by day, which
    /// messages went out (campaign, occurrence, channel, variant), who was
    /// skipped and why, and what quiet hours deferred; --contact follows one
    /// contact; --format json prints the timeline as a JSON array.
    ///
    /// Examples:
    ///   herald simulate --from 2026-12-01 --to 2026-12-31
    ///   herald simulate --from "2026-12-01 00:00" --to "2026-12-08 00:00" --events what-if.jsonl --contact c42
    Simulate {
        /// Start of the simulation: RFC 3339, a local `YYYY-MM-DD HH:MM`, or a date (midnight).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the simulation, in the same forms.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Virtual time between ticks: `1h`, `30m`, `1d`, `15 minutes`.
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        step: String,
        /// Events to ingest during the simulation (JSONL), each at its own `at`.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
        /// Show only this contact's timeline.
        #[arg(long, value_name = "ID")]
        contact: Option<String>,
        /// Do not import the manifest's `sources:` into the copy first.
        #[arg(long)]
        no_sync: bool,
        /// Keep the simulated store in FILE (a new file), for `herald report --store FILE`.
        #[arg(long, value_name = "FILE")]
        keep_store: Option<PathBuf>,
        /// Output format: human, or json.
        #[arg(long, value_enum, default_value_t = crate::command::OutputFormat::Human)]
        format: crate::command::OutputFormat,
    },
    /// Run the HTTP service for unsubscribes, delivery webhooks and clicks.
    ///
    /// Answers the one-click unsubscribe links messages carry (`/u/...`:
    /// POST unsubscribes at once, GET shows a confirmation page), the
    /// providers' delivery webhooks (`/webhooks/<provider>`, verified as
    /// each provider documents), click redirects (`/c/...`) and `/healthz`,
    /// writing events and suppressions to the store. Configured by the
    /// manifest's `serve:` section; stops cleanly on SIGINT or SIGTERM.
    ///
    /// Examples:
    ///   herald serve
    ///   herald serve --listen 0.0.0.0:8025
    Serve {
        /// The address to listen on, overriding `serve.listen` (port 0: any free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// What campaigns and journeys achieved: deliveries, conversions,
    /// revenue, cost, A/B significance, holdout lift, KPIs.
    ///
    /// Per campaign, channel, variant and journey step: messages planned,
    /// sent, delivered, opened, clicked, failed, unsubscribed; contacts who
    /// received one, conversions (the goal event within its window after a
    /// message was received, once per contact), the conversion rate with
    /// its 95% Wilson interval, revenue (the goal event's `amount`), cost,
    /// cost per conversion and return on spend. Variants get Pearson's
    /// chi-squared test ("not enough data yet" below 100 recipients per
    /// variant), a holdout its lift with Newcombe's interval, and every
    /// `kpi` target its measured value. The README's "Reports" section
    /// states the attribution rules.
    ///
    /// Examples:
    ///   herald report
    ///   herald report spring_sale --from 2026-03-01 --to 2026-04-01
    ///   herald report --format json
    ///   herald report --html report.html
    ///   herald report --check-kpi      # exit 1 when a finished campaign missed a KPI
    Report {
        /// Campaigns and journeys to report on (all when none is named).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Only messages planned (and contacts held out) from this time on:
        /// RFC 3339 or a local `YYYY-MM-DD HH:MM[:SS]`.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only messages planned before this time (conversions within their
        /// window after it still count).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Count goal events up to this time (default: the current time).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human (tables), or json (documented in the README).
        #[arg(long, value_enum, default_value_t = crate::command::OutputFormat::Human)]
        format: crate::command::OutputFormat,
        /// Also write a self-contained HTML page with charts to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// Exit 1 when a finished campaign missed a KPI target.
        #[arg(long)]
        check_kpi: bool,
        /// Read each campaign's and journey's messages in N ranges of
        /// contacts at once, on a connection and thread each (default: one
        /// per core, at most 4, for those with 100,000 messages or more in
        /// the period; smaller ones in one pass).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: Option<u16>,
    },
    /// Re-check the project and re-render previews on every save.
    ///
    /// Watches the project's files; after each save (debounced) it runs the
    /// static checks again, prints the diagnostics and re-renders the
    /// previews of the messages the changed files affect (a changed partial
    /// re-renders every message whose templates include it; a changed
    /// segment re-checks the campaigns and journeys that use it). On a
    /// terminal the screen is redrawn; otherwise each change prints a block
    /// that starts with a `── herald watch` line and ends with `rechecked in
    /// N ms`. Errors in the files never stop it; it exits 2 only when the
    /// project cannot be watched. Ctrl-C stops it.
    Watch {
        /// How many generated sample contacts to render previews for.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 2,
            conflicts_with = "contact"
        )]
        samples: usize,
        /// Render previews for this contact from the store instead of samples.
        #[arg(long, value_name = "ID")]
        contact: Option<String>,
        /// Also serve a live preview page of every message on
        /// http://127.0.0.1:PORT/ that refreshes when files change (0 picks a free port).
        #[arg(long, value_name = "PORT")]
        serve: Option<u16>,
    },
}

/// The format of a contacts file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Import contacts from a CSV or JSONL file into the store.
    ///
    /// A CSV column or JSONL key is a built-in field (`id`, `email`,
    /// `phone`, `telegram_chat_id`, `whatsapp`, `viber_id`, `vk_id`,
    /// `push_token`, `timezone`, `locale`, `created_at`), a declared
    /// attribute, or `consent.<channel>` (`granted` or `revoked`) with
    /// optional `consent.<channel>.at` (RFC 3339) and
    /// `consent.<channel>.source`. An unknown column stops the import before
    /// anything is written. CSV may be comma- or semicolon-separated, with
    /// or without a UTF-8 BOM.
    ///
    /// Phones are normalised to E.164 with the manifest's `country` as the
    /// default region, emails validated and lower-cased, values converted to
    /// their declared types. An empty cell (or JSON null) keeps the stored
    /// value. A row is merged into the contact with the same id, else email,
    /// else phone; a consent that differs from the current one is appended
    /// to the history. Importing the same file again changes nothing.
    ///
    /// Every rejected row goes to the rejects file with its line number and
    /// reason. Rows are written in transactions of 10,000: an interrupted
    /// import keeps whole batches, and running it again completes it.
    ///
    /// Exits 0 when every row was imported, 1 when some were rejected (or a
    /// column is unknown), 2 when the import could not run.
    ///
    /// Examples:
    ///   herald contacts import customers.csv
    ///   herald contacts import export.jsonl --rejects /tmp/rejects.jsonl --format json
    Import {
        /// The contacts file, `.csv` or `.jsonl`.
        file: PathBuf,
        /// The file's format when its extension does not tell.
        #[arg(long, value_enum, value_name = "FORMAT")]
        input_format: Option<InputFormat>,
        /// Where rejected rows go (default: FILE.rejects.csv or FILE.rejects.jsonl next to FILE).
        #[arg(long, value_name = "PATH")]
        rejects: Option<PathBuf>,
        /// Summary format: human, or json (`{"inserted", "updated", "unchanged", "rejected"}`,
        /// and `"merged"` when rows repeat an earlier row's contact).
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Mark invalid and lapsed contacts, without deleting anything.
    ///
    /// An invalid email or phone suppresses that channel (reason `invalid`);
    /// a contact with no address at all is suppressed on every channel. A
    /// contact whose last conversion (a goal event of any campaign or
    /// journey, else `purchase`) is older than `policies.lapse_after` — or
    /// who never converted and joined before then — is marked lapsed; a
    /// lapsed contact who converts again is cleared. Existing suppressions
    /// are kept as they are.
    ///
    /// Examples:
    ///   herald contacts clean --dry-run
    ///   herald contacts clean --now 2026-03-01T09:00:00Z --format json
    Clean {
        /// Print what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Clean as of this time instead of the current one: RFC 3339
        /// (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]`
        /// in the project's time zone (herald.yaml's `timezone`).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Print a contact: attributes, consent and its history, suppressions,
    /// lapse, recent events and the segments it is in.
    ///
    /// ID may also be an id a file used for a contact merged by email or phone.
    /// Exits 1 when there is no such contact.
    Show {
        /// The contact's id.
        id: String,
        /// How many of the latest events to print.
        #[arg(long, value_name = "N", default_value_t = 10)]
        events: usize,
        /// Evaluate segment membership at this time instead of the current one: RFC 3339
        /// (`2026-12-20T08:00:00Z`, `2026-12-20T11:00:00+03:00`) or a local `YYYY-MM-DD HH:MM[:SS]`
        /// in the project's time zone (herald.yaml's `timezone`).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Output format: human, or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Ingest events from a JSONL file into the store.
    ///
    /// One JSON object per line: `{"id": "...", "contact_id": "...",
    /// "event": "purchase", "at": "RFC 3339", "properties": {...}}`. Each is
    /// checked against the event types declared in herald.yaml (unknown
    /// events and properties, missing required properties, wrong types).
    /// An event for a contact the store does not know is rejected, never
    /// invented. Idempotent by event id: the same event again is unchanged;
    /// a different event under a known id is rejected.
    ///
    /// Exits 0 when every line was ingested, 1 when some were rejected
    /// (written with line number and reason to the rejects file), 2 when
    /// the command could not run (no store yet: import contacts first).
    Ingest {
        /// The events file (JSONL).
        file: PathBuf,
        /// Where rejected lines go (default: FILE.rejects.jsonl next to FILE).
        #[arg(long, value_name = "PATH")]
        rejects: Option<PathBuf>,
        /// Summary format: human, or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
}
