//! The template stage of `herald check`: syntax, unknown filters and
//! includes, every variable a template reads resolved against the context
//! of each message that uses it, and the content rules on messages rendered
//! for generated sample contacts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::codes::Code;
use crate::contact::BUILTIN_FIELDS;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::loader::Project;
use crate::model::Manifest;
use crate::segment::ast::Function;
use crate::source::{SourceMap, Span};
use crate::suggestion::did_you_mean;
use crate::template::context::{Analysis, CallableKind, Reference};
use crate::template::rules::{self, Finding};
use crate::template::samples::{self, SAMPLE_NOW};
use crate::template::{
    ChannelMessage, ContextInput, Missing, Origin, PartKind, Target, Templates, base_name,
    vars_value,
};

/// The variables every message's context has.
pub const ROOTS: [&str; 7] = [
    "contact", "event", "campaign", "variant", "vars", "links", "now",
];
const CAMPAIGN_FIELDS: [&str; 3] = ["name", "type", "offer"];
const LINK_FIELDS: [&str; 1] = ["unsubscribe"];
/// Names offered as "did you mean" for filters and functions.
const KNOWN_CALLABLES: [&str; 30] = [
    "plural",
    "gendered",
    "greeting_name",
    "money",
    "date",
    "truncate",
    "default",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "replace",
    "length",
    "join",
    "round",
    "int",
    "float",
    "first",
    "last",
    "safe",
    "escape",
    "list",
    "string",
    "sort",
    "unique",
    "indent",
    "urlencode",
    "range",
    "dict",
];
/// How many sample contacts `check` renders every message for.
pub const SAMPLE_COUNT: usize = 6;

/// Runs the template stage on the templates compiled from `project`
/// (`Templates::new`, built once by the compiler and kept).
pub fn check(project: &Project, templates: Option<&Templates>) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let (Some(templates), Some(manifest)) = (templates, project.manifest.as_ref()) else {
        return diagnostics;
    };
    let manifest = &manifest.value;
    let sources = &project.sources;
    let mut checker = Checker {
        templates,
        sources,
        manifest,
        analyses: HashMap::new(),
        broken: BTreeSet::new(),
        known_callables: HashMap::new(),
        diagnostics: &mut diagnostics,
    };
    checker.parse_all();
    checker.callables();
    checker.includes();
    for target in &templates.targets {
        for message in &target.messages {
            checker.missing_parts(target, message);
            let (renderable, unguarded) = checker.variables(target, message);
            if renderable {
                checker.render_samples(target, message, unguarded);
            }
        }
    }
    diagnostics
}

struct Checker<'a> {
    templates: &'a Templates,
    sources: &'a SourceMap,
    manifest: &'a Manifest,
    /// The templates that parse, with what they read (from `Templates::analyses`).
    analyses: HashMap<String, &'a Analysis>,
    /// Templates with errors of their own: messages using them are not rendered.
    broken: BTreeSet<String>,
    known_callables: HashMap<(CallableKind, String), bool>,
    diagnostics: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn origin(&self, name: &str) -> Option<&Origin> {
        self.templates.origins.get(base_name(name))
    }

    fn span(&self, name: &str, range: std::ops::Range<usize>) -> Option<Span> {
        self.origin(name)
            .map(|origin| origin.span(self.sources, range))
    }

    /// Where a minijinja error points: its template and range, else `fallback`.
    fn error_span(&self, error: &minijinja::Error, fallback: Span) -> Span {
        let Some(name) = error.name() else {
            return fallback;
        };
        let range = error.range().or_else(|| {
            let source = self.templates.sources.get(base_name(name))?;
            let line = error.line()?;
            let start: usize = source
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            let end = source[start..]
                .find('\n')
                .map_or(source.len(), |i| start + i);
            Some(start..end)
        });
        range
            .and_then(|range| self.span(name, range))
            .unwrap_or(fallback)
    }

    fn parse_all(&mut self) {
        for (name, analysis) in &self.templates.analyses {
            let Some(origin) = self.templates.origins.get(name) else {
                continue;
            };
            match analysis {
                Ok(analysis) => {
                    self.analyses.insert(name.clone(), analysis);
                }
                Err(error) => {
                    let fallback = origin.span(self.sources, 0..0);
                    let span = self.error_span(error, fallback);
                    let detail = error.detail().unwrap_or("syntax error").to_string();
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::TemplateSyntax,
                            span,
                            format!("template syntax error: {detail}"),
                        )
                        .label(detail),
                    );
                    self.broken.insert(name.clone());
                }
            }
        }
    }

    fn is_known(&mut self, kind: CallableKind, name: &str) -> bool {
        if let Some(known) = self.known_callables.get(&(kind, name.to_string())) {
            return *known;
        }
        let environment = &self.templates.environment;
        let known = match kind {
            CallableKind::Filter => !matches!(
                environment.render_str(&format!("{{{{ 1 | {name} }}}}"), minijinja::context! {}),
                Err(error) if error.kind() == minijinja::ErrorKind::UnknownFilter
            ),
            CallableKind::Test => !matches!(
                environment.render_str(&format!("{{{{ 1 is {name} }}}}"), minijinja::context! {}),
                Err(error) if error.kind() == minijinja::ErrorKind::UnknownTest
            ),
            CallableKind::Function => environment
                .render_str(
                    &format!("{{{{ {name} is defined }}}}"),
                    minijinja::context! {},
                )
                .is_ok_and(|output| output.eq_ignore_ascii_case("true")),
        };
        self.known_callables.insert((kind, name.to_string()), known);
        known
    }

    fn callables(&mut self) {
        let mut uses = Vec::new();
        for (name, analysis) in &self.analyses {
            for (kind, callable, range) in &analysis.callables {
                uses.push((name.clone(), *kind, callable.clone(), range.clone()));
            }
        }
        for (template, kind, callable, range) in uses {
            if self.is_known(kind, &callable) {
                continue;
            }
            let Some(span) = self.span(&template, range) else {
                continue;
            };
            let noun = kind.noun();
            let diagnostic = Diagnostic::new(
                Code::UnknownFilter,
                span,
                format!("unknown {noun} `{callable}`"),
            )
            .label(format!("no such {noun}"));
            let diagnostic = match self.unknown_callable_help(kind, &callable) {
                Some(help) => diagnostic.help(help),
                None => diagnostic,
            };
            self.diagnostics.push(diagnostic);
            self.broken.insert(template);
        }
    }

    /// Whether `range` of `template` lies inside a filter that does not exist.
    fn under_unknown_filter(&mut self, template: &str, range: &std::ops::Range<usize>) -> bool {
        let filters: Vec<(String, std::ops::Range<usize>)> = self
            .analyses
            .get(template)
            .map(|analysis| analysis.filtered.clone())
            .unwrap_or_default();
        filters.into_iter().any(|(name, filter)| {
            filter.start <= range.start
                && range.end <= filter.end
                && !self.is_known(CallableKind::Filter, &name)
        })
    }

    /// What to write instead of an unknown filter or function: the likely name, or
    /// the ones that exist. A segment function (`days_since`) is the usual mistake:
    /// it reads like it should work in a template and does not.
    fn unknown_callable_help(&mut self, kind: CallableKind, callable: &str) -> Option<String> {
        let noun = kind.noun();
        let available: Vec<&str> = KNOWN_CALLABLES
            .into_iter()
            .filter(|name| self.is_known(kind, name))
            .collect();
        if available.is_empty() {
            return None;
        }
        let list = available
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if Function::ALL
            .iter()
            .any(|function| function.name() == callable)
        {
            return Some(format!(
                "`{callable}` is a segment function (for `filter:` conditions); templates have the {noun}s {list}"
            ));
        }
        Some(match did_you_mean(callable, available.iter().copied()) {
            Some(name) => format!("did you mean `{name}`?"),
            None => format!("templates have the {noun}s {list}"),
        })
    }

    fn includes(&mut self) {
        let mut missing = Vec::new();
        for (name, analysis) in &self.analyses {
            for (included, range) in &analysis.includes {
                let included = included.strip_prefix("templates/").unwrap_or(included);
                if !self.templates.origins.contains_key(included) {
                    missing.push((name.clone(), included.to_string(), range.clone()));
                }
            }
        }
        for (template, included, range) in missing {
            let Some(span) = self.span(&template, range) else {
                continue;
            };
            let names = self.templates.origins.keys().map(String::as_str);
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnknownTemplate,
                    span,
                    format!("`templates/{included}` does not exist"),
                )
                .label("no such template")
                .suggest(did_you_mean(&included, names)),
            );
            self.broken.insert(template);
        }
    }

    /// Every template a part renders: its own and those it includes, transitively.
    fn reachable(&self, name: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut pending = vec![base_name(name).to_string()];
        while let Some(current) = pending.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            if let Some(analysis) = self.analyses.get(&current) {
                for (included, _) in &analysis.includes {
                    let included = included.strip_prefix("templates/").unwrap_or(included);
                    pending.push(included.to_string());
                }
            }
        }
        seen.into_iter().collect()
    }

    /// A part the channel needs and no message declares. A variant that
    /// inherits the gap points at the campaign's message, so the duplicates
    /// collapse into one diagnostic.
    fn missing_parts(&mut self, target: &Target, message: &ChannelMessage) {
        for missing in &message.missing {
            let owner = match target.step.as_deref() {
                Some(step) => format!("step `{step}` of journey `{}`", target.name),
                None => format!("{} `{}`", target.kind, target.name),
            };
            self.diagnostics.push(
                Diagnostic::new(
                    Code::EmptyMessage,
                    message.declared,
                    format!(
                        "the {} message of {owner} has {}",
                        message.channel,
                        missing.describe()
                    ),
                )
                .label("sends an empty part")
                .help(match missing {
                    Missing::Subject => "add `subject:`: mail without a subject is shown as \"(no subject)\" and filtered as spam",
                    Missing::Body => "add `html_file:` (or `text:`); a variant that gives only some parts takes the others from the campaign's own message",
                    Missing::Text => "add `text:` (or `text_file:`); an empty message still costs money",
                }),
            );
        }
    }

    /// Checks the variables of one message's templates: whether it can be
    /// rendered, and whether an optional attribute is used unguarded.
    fn variables(&mut self, target: &Target, message: &ChannelMessage) -> (bool, bool) {
        let mut renderable = true;
        let mut unguarded = false;
        for part in &message.parts {
            for template in self.reachable(&part.template) {
                if self.broken.contains(&template) {
                    renderable = false;
                }
                let Some(references) = self
                    .analyses
                    .get(&template)
                    .map(|analysis| analysis.references.clone())
                else {
                    continue;
                };
                let mut found = Vec::new();
                for reference in &references {
                    if let Some(problem) = self.resolve(target, reference) {
                        // Under a filter that does not exist, nobody can say
                        // whether the value is guarded: T004 is the one problem.
                        if problem.0 == Code::UnguardedOptional
                            && self.under_unknown_filter(&template, &reference.range)
                        {
                            continue;
                        }
                        found.push((reference.range.clone(), problem));
                    }
                }
                for (range, diagnostic) in found {
                    let Some(span) = self.span(&template, range) else {
                        continue;
                    };
                    match diagnostic.0 {
                        Code::UnknownVariable => renderable = false,
                        Code::UnguardedOptional => unguarded = true,
                        _ => {}
                    }
                    let mut built =
                        Diagnostic::new(diagnostic.0, span, diagnostic.1).label(diagnostic.2);
                    if let Some(help) = diagnostic.3 {
                        built = built.help(help);
                    }
                    self.diagnostics.push(built);
                }
            }
        }
        (renderable, unguarded)
    }

    /// A reference that does not resolve: (code, message, label, help).
    fn resolve(
        &mut self,
        target: &Target,
        reference: &Reference,
    ) -> Option<(Code, String, String, Option<String>)> {
        let root = reference.path[0].as_str();
        let field = reference.path.get(1).map(String::as_str);
        let dotted = reference.dotted();
        let unknown = |message: String, suggestion: Option<String>, otherwise: String| {
            let help = match suggestion {
                Some(name) => format!("did you mean `{name}`?"),
                None => otherwise,
            };
            Some((
                Code::UnknownVariable,
                message,
                "not in the context".to_string(),
                Some(help),
            ))
        };
        match (root, field) {
            ("contact", Some(field)) => {
                if BUILTIN_FIELDS.iter().any(|(name, _)| *name == field) {
                    return None;
                }
                let attributes = &self.manifest.contact.attributes;
                match attributes.iter().find(|(name, _)| name.value == field) {
                    Some((_, attribute)) => {
                        if attribute.required() || reference.guarded {
                            return None;
                        }
                        Some((
                            Code::UnguardedOptional,
                            format!("`{dotted}` is optional and used without a guard"),
                            "fails for contacts without it".into(),
                            Some(format!(
                                "write `{{{{ {dotted} | default(\"…\") }}}}` or `{{% if {dotted} %}}…{{% endif %}}`, or declare `{field}` with `required: true`"
                            )),
                        ))
                    }
                    None => {
                        let names = attributes
                            .keys()
                            .map(|k| k.value.as_str())
                            .chain(BUILTIN_FIELDS.iter().map(|(n, _)| *n));
                        unknown(
                            format!("unknown contact attribute `{dotted}`"),
                            did_you_mean(field, names).map(|n| format!("contact.{n}")),
                            "declare it under `contact.attributes` in herald.yaml".into(),
                        )
                    }
                }
            }
            ("event", field) => {
                let Some(event) = &target.event else {
                    return unknown(
                        format!(
                            "`{dotted}` is not available: `{}` is not triggered by an event",
                            target.name
                        ),
                        None,
                        "`event` is defined only in journeys with `trigger: {event: ...}`".into(),
                    );
                };
                let field = field?;
                let (_, declared) = self
                    .manifest
                    .events
                    .iter()
                    .find(|(name, _)| name.value == *event)?;
                if declared.properties.keys().any(|k| k.value == field) {
                    return None;
                }
                let names = declared.properties.keys().map(|k| k.value.as_str());
                unknown(
                    format!("event `{event}` has no property `{field}`"),
                    did_you_mean(field, names).map(|n| format!("event.{n}")),
                    format!("declare it under `events.{event}.properties` in herald.yaml"),
                )
            }
            ("vars", Some(field)) => {
                if self.manifest.vars.keys().any(|k| k.value == field) {
                    return None;
                }
                let names = self.manifest.vars.keys().map(|k| k.value.as_str());
                unknown(
                    format!("unknown project variable `{dotted}`"),
                    did_you_mean(field, names).map(|n| format!("vars.{n}")),
                    "declare it under `vars:` in herald.yaml".into(),
                )
            }
            ("campaign", Some(field)) if !CAMPAIGN_FIELDS.contains(&field) => unknown(
                format!("`campaign` has no field `{field}`"),
                did_you_mean(field, CAMPAIGN_FIELDS).map(|n| format!("campaign.{n}")),
                "`campaign` has `name`, `type` and `offer`".into(),
            ),
            ("links", Some(field)) if !LINK_FIELDS.contains(&field) => unknown(
                format!("`links` has no link `{field}`"),
                did_you_mean(field, LINK_FIELDS).map(|n| format!("links.{n}")),
                "`links` has `unsubscribe`".into(),
            ),
            (root, _) if ROOTS.contains(&root) => None,
            (root, _) => {
                if self.is_known(CallableKind::Function, root) {
                    return None;
                }
                unknown(
                    format!("unknown variable `{root}`"),
                    did_you_mean(root, ROOTS).map(str::to_string),
                    "the context has `contact`, `event`, `campaign`, `variant`, `vars`, `links` and `now`".into(),
                )
            }
        }
    }

    /// Renders one message for every sample and applies the content rules.
    /// A sample without an optional attribute that is used unguarded fails
    /// to render; that is already reported as `unguarded-optional`.
    fn render_samples(&mut self, target: &Target, message: &ChannelMessage, unguarded: bool) {
        let contacts = samples::covering(self.manifest, SAMPLE_COUNT);
        let vars = vars_value(self.manifest);
        let mut worst: BTreeMap<(crate::codes::Code, PartKind), (Finding, String)> =
            BTreeMap::new();
        for (index, sample) in contacts.iter().enumerate() {
            let event = target
                .event
                .as_deref()
                .and_then(|event| samples::event(self.manifest, event, index >= 3));
            let context = crate::template::context(
                target,
                ContextInput {
                    contact: sample.contact.clone(),
                    event,
                    vars: &vars,
                    now: SAMPLE_NOW,
                },
            );
            match self.templates.render(target, message, &context) {
                Ok(rendered) => {
                    for finding in rules::check(self.manifest, target, message, &rendered) {
                        let key = (finding.code, finding.part);
                        if worst
                            .get(&key)
                            .is_none_or(|(w, _)| finding.weight > w.weight)
                        {
                            worst.insert(key, (finding, sample.description.clone()));
                        }
                    }
                }
                Err(_) if unguarded => return,
                Err((part, error)) => {
                    let span = self.error_span(&error, part.declared);
                    let detail = match error.kind() {
                        minijinja::ErrorKind::UndefinedError => "undefined for this contact".into(),
                        _ => error
                            .detail()
                            .map_or_else(|| error.kind().to_string(), str::to_string),
                    };
                    let described = self.templates.describe_failure(&error);
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::RenderError,
                            span,
                            format!(
                                "the {} {} of `{}` fails to render for sample contact `{}` ({}): {described}",
                                message.channel,
                                part.kind.as_str(),
                                target.label(),
                                sample.id,
                                sample.description
                            ),
                        )
                        .label(detail)
                        .help("`herald render` shows the sample contacts; guard optional values with `default` or `if`"),
                    );
                    return;
                }
            }
        }
        for ((_, kind), (finding, sample)) in worst {
            let Some(part) = message
                .part(kind)
                .or_else(|| message.part(PartKind::Html))
                .or_else(|| message.parts.first())
            else {
                continue;
            };
            let mut diagnostic = Diagnostic::new(
                finding.code,
                part.declared,
                format!("{} (sample contact: {sample})", finding.message),
            )
            .label(format!("rendered {} {}", message.channel, kind.as_str()));
            if finding.code == Code::OfferTooLate
                && let Some(offer) = &target.offer
            {
                diagnostic = diagnostic.with_secondary(offer.span(target.file), "the offer");
            }
            if let Some(help) = finding.help {
                diagnostic = diagnostic.help(help);
            }
            self.diagnostics.push(diagnostic);
        }
    }
}
