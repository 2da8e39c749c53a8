//! `herald check`: compiles the project and prints its diagnostics.

use super::{Settings, print};
use crate::compiler::compile;
use crate::diagnostic::Severity;
use crate::error::Error;
use crate::report::{Format, Reporter};

/// What `herald check` was asked.
#[derive(Debug)]
pub struct Request {
    pub format: Format,
    pub deny_warnings: bool,
}

/// Exits 1 when there are errors (or warnings with `--deny-warnings`).
pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let compilation = compile(&settings.project)?;
    let reporter = Reporter {
        sources: &compilation.project.sources,
        prefix: settings.prefix(),
        color: settings.color,
    };
    let diagnostics = &compilation.diagnostics;
    let mut output = reporter.render(request.format, diagnostics);
    if request.format == Format::Human && diagnostics.is_empty() {
        output = format!(
            "{}: no problems in {}\n",
            compilation.project.root.display(),
            compilation.project.counts()
        );
    }
    print(&output)?;
    let failed = diagnostics.has_errors()
        || (request.deny_warnings && diagnostics.count(Severity::Warning) > 0);
    Ok(i32::from(failed))
}
