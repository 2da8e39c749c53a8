//! The preview page of `herald watch --serve`: every message of the project
//! rendered for one contact, drawn as the channel shows it (an email in a
//! frame under its subject and preheader, an SMS with its encoding and
//! parts, messenger bubbles). The page is complete HTML rendered on the
//! server; its script only fetches it again when the project changes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::Environment;
use minijinja::value::Value;

use crate::compilation::Compilation;
use crate::diagnostic::Severity;
use crate::template::PartKind;
use crate::template::preview::{self, Recipient};
use crate::template::samples::SAMPLE_NOW;

/// What one check of the project left for the page.
pub struct Snapshot {
    pub compilation: Compilation,
    /// `None` when the manifest has errors.
    pub recipients: Vec<Recipient>,
    /// The diagnostics as `herald check` prints them, without colour.
    pub diagnostics: String,
}

const PAGE: &str = include_str!("page.html");

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        // The name ends in `.html`, so every value is HTML-escaped, the
        // email bodies that go into `srcdoc` attributes included.
        if let Err(error) = environment.add_template("page.html", PAGE) {
            panic!("the preview page template is broken: {error}");
        }
        environment
    })
}

/// The page for `contact` (default: the first recipient) at `version`.
pub fn render(snapshot: Option<&Snapshot>, version: u64, contact: Option<&str>) -> String {
    let mut root: BTreeMap<&str, Value> = BTreeMap::new();
    root.insert("version", Value::from(version));
    if let Some(snapshot) = snapshot {
        let project = &snapshot.compilation.project;
        let diagnostics = &snapshot.compilation.diagnostics;
        root.insert("project", Value::from(project.root.display().to_string()));
        root.insert("counts", Value::from(project.counts()));
        root.insert("errors", Value::from(diagnostics.count(Severity::Error)));
        root.insert(
            "warnings",
            Value::from(diagnostics.count(Severity::Warning)),
        );
        root.insert("diagnostics", Value::from(snapshot.diagnostics.clone()));
        let chosen = snapshot
            .recipients
            .iter()
            .find(|recipient| Some(recipient.id.as_str()) == contact)
            .or(snapshot.recipients.first());
        let contacts: Vec<Value> = snapshot
            .recipients
            .iter()
            .map(|recipient| {
                map(BTreeMap::from([
                    ("id", Value::from(recipient.id.clone())),
                    ("description", Value::from(recipient.description.clone())),
                    (
                        "selected",
                        Value::from(chosen.is_some_and(|c| c.id == recipient.id)),
                    ),
                ]))
            })
            .collect();
        root.insert("contacts", Value::from(contacts));
        if let (Some(templates), Some(manifest), Some(recipient)) =
            (&snapshot.compilation.templates, &project.manifest, chosen)
        {
            let outputs = preview::render_all(
                templates,
                &manifest.value,
                &templates.targets,
                std::slice::from_ref(recipient),
                SAMPLE_NOW,
            );
            root.insert(
                "messages",
                Value::from(outputs.iter().map(message).collect::<Vec<_>>()),
            );
        }
    }
    environment()
        .get_template("page.html")
        .and_then(|template| template.render(map(root)))
        .unwrap_or_else(|error| format!("<!doctype html><p>herald: the page failed: {error}"))
}

/// One rendered message as the page's template reads it.
fn message(output: &preview::Output) -> Value {
    let mut map: BTreeMap<&str, Value> = BTreeMap::new();
    map.insert("target", Value::from(output.target.clone()));
    map.insert("channel", Value::from(output.channel));
    let look = match output.channel {
        "email" => "email",
        "sms" => "sms",
        _ => "messenger",
    };
    map.insert("look", Value::from(look));
    if let Some(error) = &output.error {
        map.insert("error", Value::from(error.clone()));
    }
    if let Some(cost) = output.cost {
        map.insert("cost", Value::from(format!("{cost:.2}")));
    }
    if let Some(rendered) = &output.rendered {
        for kind in [
            PartKind::Subject,
            PartKind::Preheader,
            PartKind::Text,
            PartKind::Html,
        ] {
            if let Some(text) = rendered.parts.get(&kind) {
                map.insert(kind.as_str(), Value::from(text.clone()));
            }
        }
        if let Some(analysis) = &rendered.sms {
            map.insert(
                "sms",
                Value::from(format!(
                    "{} · {} characters · {} part{} · {} left in the last part",
                    analysis.encoding.as_str(),
                    analysis.characters,
                    analysis.parts,
                    if analysis.parts == 1 { "" } else { "s" },
                    analysis.remaining
                )),
            );
        }
    }
    self::map(map)
}

/// A map with string keys as a template value.
fn map(entries: BTreeMap<&str, Value>) -> Value {
    Value::from(
        entries
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect::<BTreeMap<String, Value>>(),
    )
}
