//! The command layer: one module per `herald` command. [`Settings::new`]
//! validates the parsed arguments into settings and a [`Command`] before
//! anything runs; [`run`] dispatches it. Commands read the project, drive
//! the library's stages and print; the library below this layer never sees
//! clap's types and never prints results of its own.

mod check;
mod contacts;
mod events;
mod explain;
mod init;
mod output;
mod plan;
mod render;
mod report;
mod run;
mod schema;
mod segment;
mod serve;
mod settings;
mod simulate;
mod status;
mod sync;
mod watch;

pub use self::output::{OutputFormat, print};
pub use self::settings::{NOW_FORMS, Now, Settings, StoreLocation};

use crate::error::Error;

/// A command with its validated arguments.
#[derive(Debug)]
pub enum Command {
    Check(check::Request),
    Explain(explain::Request),
    Init(init::Request),
    Schema(schema::Request),
    Segment(segment::Request),
    Contacts(contacts::Request),
    Events(events::Request),
    Render(render::Request),
    Report(report::Request),
    Plan(plan::Request),
    Sync(sync::Request),
    Run(run::Request),
    Status(status::Request),
    Simulate(simulate::Request),
    Serve(serve::Request),
    Watch(watch::Request),
}

/// Runs the command; returns the exit status.
pub fn run(settings: &Settings) -> Result<i32, Error> {
    match &settings.command {
        Command::Check(request) => check::run(settings, request),
        Command::Explain(request) => explain::run(request),
        Command::Init(request) => init::run(request),
        Command::Schema(request) => schema::run(request),
        Command::Segment(request) => segment::run(settings, request),
        Command::Contacts(request) => contacts::run(settings, request),
        Command::Events(request) => events::run(settings, request),
        Command::Render(request) => render::run(settings, request),
        Command::Report(request) => report::run(settings, request),
        Command::Plan(request) => plan::run(settings, request),
        Command::Sync(request) => sync::run(settings, request),
        Command::Run(request) => run::run(settings, request),
        Command::Status(request) => status::run(settings, request),
        Command::Simulate(request) => simulate::run(settings, request),
        Command::Serve(request) => serve::run(settings, request),
        Command::Watch(request) => watch::run(settings, request),
    }
}

/// The async runtime of the commands that talk HTTP: two worker threads,
/// timers and sockets.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "<tokio runtime>".into(),
            source,
        })
}
