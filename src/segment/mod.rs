//! The segment language (SPEC section 2): a filter is parsed into an
//! [`ast::Expr`], type-checked against the manifest's data model
//! ([`catalog`]), analysed for contradictions, and then either compiled to
//! parameterised SQL for the contact store ([`sql`]) or evaluated in memory
//! for one contact ([`eval`]). Both back ends share [`functions`], so they
//! cannot disagree on what a filter means.
//!
//! The modules work on filter text and report [`Issue`]s with byte ranges in
//! that text; [`location`] maps them into the YAML file (or the command line)
//! and [`check`] is the pipeline stage that does this for a whole project.

pub mod analysis;
pub mod ast;
pub mod catalog;
pub mod check;
pub mod eval;
pub mod functions;
pub mod location;
pub mod parser;
pub mod sql;
pub mod typecheck;
pub mod why;

pub use parser::{MAX_NESTING, SyntaxError, parse};

/// How many segments `in segment` may expand inside one another (F011). The
/// SQL compiler and the evaluator inline a referenced segment's filter, so
/// the chain multiplies the depth of every walk over it (and of the SQL);
/// real projects build two or three levels on each other.
pub const MAX_SEGMENT_NESTING: usize = 16;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use ast::Range;

/// A problem found in a filter, positioned in the filter text.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    pub code: Code,
    pub message: String,
    pub range: Range,
    pub label: String,
    pub secondary: Vec<(Range, String)>,
    pub help: Option<String>,
}

impl Issue {
    pub fn new(code: Code, range: Range, message: impl Into<String>) -> Issue {
        Issue {
            code,
            message: message.into(),
            range,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Issue {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Issue {
        self.help = Some(help.into());
        self
    }

    pub fn suggest(self, suggestion: Option<&str>) -> Issue {
        match suggestion {
            Some(name) => self.help(format!("did you mean `{name}`?")),
            None => self,
        }
    }

    pub fn with_secondary(mut self, range: Range, label: impl Into<String>) -> Issue {
        self.secondary.push((range, label.into()));
        self
    }

    /// The diagnostic, with ranges mapped into a file by `map`.
    pub fn into_diagnostic(self, map: &dyn Fn(Range) -> Span) -> Diagnostic {
        let mut diagnostic = Diagnostic::new(self.code, map(self.range), self.message);
        if !self.label.is_empty() {
            diagnostic = diagnostic.label(self.label);
        }
        for (range, label) in self.secondary {
            diagnostic = diagnostic.with_secondary(map(range), label);
        }
        if let Some(help) = self.help {
            diagnostic = diagnostic.help(help);
        }
        diagnostic
    }
}

impl From<SyntaxError> for Issue {
    fn from(error: SyntaxError) -> Issue {
        let code = if error.too_deep {
            Code::FilterTooDeep
        } else {
            Code::FilterSyntax
        };
        let issue = Issue::new(code, error.range, error.message).label(error.label);
        match error.help {
            Some(help) => issue.help(help),
            None => issue,
        }
    }
}
