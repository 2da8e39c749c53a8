//! Rendering diagnostics: `human` (rustc-style snippets), `json` (the shape
//! other programs rely on, SPEC section 11), `sarif` (2.1.0, for code
//! scanning) and `github` (workflow-command annotations).

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::{Value as Json, json};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, Label, Severity};
use crate::source::{Position, SourceMap, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

/// How paths are shown: `prefix` is the project directory as given on the
/// command line, so human, SARIF and GitHub output name files the way the
/// user's shell and repository do; JSON names them relative to the project.
pub struct Reporter<'a> {
    pub sources: &'a SourceMap,
    pub prefix: String,
    pub color: bool,
}

/// A diagnostic's location, computed once for rendering.
struct Place<'a> {
    file: &'a str,
    start: Position,
    end: Position,
}

impl<'a> Reporter<'a> {
    pub fn render(&self, format: Format, diagnostics: &Diagnostics) -> String {
        match format {
            Format::Human => self.human(diagnostics),
            Format::Json => {
                let mut text =
                    serde_json::to_string_pretty(&self.json(diagnostics)).unwrap_or_default();
                text.push('\n');
                text
            }
            Format::Sarif => {
                let mut text =
                    serde_json::to_string_pretty(&self.sarif(diagnostics)).unwrap_or_default();
                text.push('\n');
                text
            }
            Format::Github => self.github(diagnostics),
        }
    }

    fn display_path(&self, name: &str) -> String {
        if self.prefix.is_empty() || self.prefix == "." {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix.trim_end_matches('/'))
        }
    }

    fn place(&self, span: Span) -> Place<'a> {
        let file = self.sources.file(span.file);
        let start = file.position(span.start as usize);
        let mut end = file.position(span.end as usize);
        if end < start {
            end = start;
        }
        Place {
            file: &file.name,
            start,
            end,
        }
    }

    // ---- human -----------------------------------------------------------

    pub fn human(&self, diagnostics: &Diagnostics) -> String {
        let renderer = if self.color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = String::new();
        for diagnostic in diagnostics.iter() {
            let report = self.human_report(diagnostic);
            out.push_str(&renderer.render(&report));
            out.push_str("\n\n");
        }
        let errors = diagnostics.count(Severity::Error);
        let warnings = diagnostics.count(Severity::Warning);
        if errors + warnings == 0 {
            return out;
        }
        let _ = writeln!(out, "{}", summary(errors, warnings));
        out
    }

    fn human_report(&self, diagnostic: &'a Diagnostic) -> Vec<Group<'a>> {
        let level = match diagnostic.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level
            .primary_title(diagnostic.message.as_str())
            .id(diagnostic.code.as_str());
        let mut labels: Vec<(&Label, bool)> = Vec::new();
        if let Some(primary) = &diagnostic.primary {
            labels.push((primary, true));
        }
        labels.extend(diagnostic.secondary.iter().map(|label| (label, false)));
        // One snippet per file, the primary label's file first.
        let mut files: Vec<crate::source::FileId> = Vec::new();
        for (label, _) in &labels {
            if !files.contains(&label.span.file) {
                files.push(label.span.file);
            }
        }
        let mut group = Group::with_title(title);
        for file_id in files {
            let file = self.sources.file(file_id);
            let mut snippet =
                Snippet::source(file.text.as_str()).path(self.display_path(&file.name));
            for (label, primary) in labels
                .iter()
                .filter(|(label, _)| label.span.file == file_id)
            {
                let kind = if *primary {
                    AnnotationKind::Primary
                } else {
                    AnnotationKind::Context
                };
                let annotation = kind.span(clamp(&file.text, label.span.range()));
                snippet = snippet.annotation(if label.message.is_empty() {
                    annotation
                } else {
                    annotation.label(label.message.as_str())
                });
            }
            group = group.element(snippet);
        }
        if let Some(help) = &diagnostic.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        vec![group]
    }

    // ---- json ------------------------------------------------------------

    pub fn json(&self, diagnostics: &Diagnostics) -> Json {
        let items: Vec<Json> = diagnostics
            .iter()
            .map(|diagnostic| {
                let place = diagnostic.span().map(|span| self.place(span));
                json!({
                    "code": diagnostic.code.as_str(),
                    "name": diagnostic.code.name(),
                    "severity": diagnostic.severity.as_str(),
                    "message": diagnostic.message,
                    "file": place.as_ref().map(|p| p.file),
                    "line": place.as_ref().map(|p| p.start.line),
                    "column": place.as_ref().map(|p| p.start.column),
                    "end_line": place.as_ref().map(|p| p.end.line),
                    "end_column": place.as_ref().map(|p| p.end.column),
                    "help": diagnostic.help,
                })
            })
            .collect();
        json!({
            "diagnostics": items,
            "errors": diagnostics.count(Severity::Error),
            "warnings": diagnostics.count(Severity::Warning),
        })
    }

    // ---- sarif -----------------------------------------------------------

    pub fn sarif(&self, diagnostics: &Diagnostics) -> Json {
        let rules: Vec<Json> = Code::ALL
            .iter()
            .map(|code| {
                json!({
                    "id": code.as_str(),
                    "name": code.name(),
                    "shortDescription": {"text": code.summary()},
                    "fullDescription": {"text": code.summary()},
                    "help": {"text": code.documentation(), "markdown": code.documentation()},
                    "defaultConfiguration": {"level": sarif_level(code.default_severity())},
                })
            })
            .collect();
        let results: Vec<Json> = diagnostics
            .iter()
            .map(|diagnostic| {
                let rule_index = Code::ALL
                    .iter()
                    .position(|code| *code == diagnostic.code)
                    .unwrap_or(0);
                let mut message = diagnostic.message.clone();
                if let Some(help) = &diagnostic.help {
                    message.push_str("\nhelp: ");
                    message.push_str(help);
                }
                let mut result = json!({
                    "ruleId": diagnostic.code.as_str(),
                    "ruleIndex": rule_index,
                    "level": sarif_level(diagnostic.severity),
                    "message": {"text": message},
                });
                if let Some(primary) = &diagnostic.primary {
                    result["locations"] = json!([self.sarif_location(primary, None)]);
                }
                if !diagnostic.secondary.is_empty() {
                    let related: Vec<Json> = diagnostic
                        .secondary
                        .iter()
                        .enumerate()
                        .map(|(index, label)| self.sarif_location(label, Some(index)))
                        .collect();
                    result["relatedLocations"] = Json::Array(related);
                }
                result
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "herald",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/herald-crm/herald",
                    "rules": rules,
                }},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }],
        })
    }

    fn sarif_location(&self, label: &Label, id: Option<usize>) -> Json {
        let place = self.place(label.span);
        let snippet = self.sources.text(label.span);
        let mut region = json!({
            "startLine": place.start.line,
            "startColumn": place.start.column,
            "endLine": place.end.line,
            "endColumn": place.end.column,
        });
        if !snippet.is_empty() {
            region["snippet"] = json!({"text": snippet});
        }
        let mut location = json!({
            "physicalLocation": {
                "artifactLocation": {"uri": self.display_path(place.file)},
                "region": region,
            }
        });
        if let Some(id) = id {
            location["id"] = json!(id);
        }
        if !label.message.is_empty() {
            location["message"] = json!({"text": label.message});
        }
        location
    }

    // ---- github ----------------------------------------------------------

    pub fn github(&self, diagnostics: &Diagnostics) -> String {
        let mut out = String::new();
        for diagnostic in diagnostics.iter() {
            let command = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut properties = Vec::new();
            if let Some(span) = diagnostic.span() {
                let place = self.place(span);
                properties.push(format!(
                    "file={}",
                    escape_property(&self.display_path(place.file))
                ));
                properties.push(format!("line={}", place.start.line));
                properties.push(format!("col={}", place.start.column));
                properties.push(format!("endLine={}", place.end.line));
                properties.push(format!("endColumn={}", place.end.column));
            }
            properties.push(format!(
                "title={}",
                escape_property(&format!(
                    "{} {}",
                    diagnostic.code.as_str(),
                    diagnostic.code.name()
                ))
            ));
            let mut message = diagnostic.message.clone();
            if let Some(help) = &diagnostic.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let _ = writeln!(
                out,
                "::{command} {}::{}",
                properties.join(","),
                escape_data(&message)
            );
        }
        out
    }
}

/// "2 errors, 1 warning".
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn clamp(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let fix = |mut index: usize| {
        index = index.min(text.len());
        while !text.is_char_boundary(index) {
            index -= 1;
        }
        index
    };
    let start = fix(range.start);
    let end = fix(range.end).max(start);
    start..end
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
