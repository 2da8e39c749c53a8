//! JSON schemas generated from the typed model, and validation of YAML trees
//! against them with every error mapped back to the key or value it is about.
//!
//! jsonschema reports an instance path; the path is walked through the
//! position-keeping [`Node`] tree to find the line and column. Errors under
//! `anyOf`/`oneOf` are narrowed to the branch the author evidently meant, so a
//! user never reads "not valid under any of the schemas".

use std::cell::RefCell;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model;
use crate::source::{FileId, Span};
use crate::suggestion::did_you_mean;
use crate::yaml::{Node, PathStep, Value};

/// The four kinds of definition file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Manifest,
    Segment,
    Campaign,
    Journey,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Manifest, Kind::Segment, Kind::Campaign, Kind::Journey];

    /// The schema's file name in `schemas/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            Kind::Manifest => "herald.schema.json",
            Kind::Segment => "segment.schema.json",
            Kind::Campaign => "campaign.schema.json",
            Kind::Journey => "journey.schema.json",
        }
    }

    /// What a file of this kind is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Manifest => "manifest",
            Kind::Segment => "segment",
            Kind::Campaign => "campaign",
            Kind::Journey => "journey",
        }
    }

    /// The generated JSON schema, as written to `schemas/`.
    pub fn schema(self) -> Json {
        let schema = match self {
            Kind::Manifest => schemars::schema_for!(model::Manifest),
            Kind::Segment => schemars::schema_for!(model::Segment),
            Kind::Campaign => schemars::schema_for!(model::Campaign),
            Kind::Journey => schemars::schema_for!(model::Journey),
        };
        schema.to_value()
    }

    /// The schema file's text: pretty JSON with a final newline.
    pub fn schema_text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Compiled validators for every kind, built once per compilation.
pub struct Schemas {
    validators: Vec<(Kind, Json, Validator)>,
}

impl Schemas {
    pub fn new() -> Schemas {
        let validators = Kind::ALL
            .iter()
            .map(|&kind| {
                let schema = kind.schema();
                let validator = jsonschema::validator_for(&schema).unwrap_or_else(|error| {
                    panic!("generated {} schema is invalid: {error}", kind.noun())
                });
                (kind, schema, validator)
            })
            .collect();
        Schemas { validators }
    }

    /// Validates a tree; returns every problem found, each at its own position.
    pub fn validate(&self, kind: Kind, file: FileId, node: &Node) -> Vec<Diagnostic> {
        let Some((_, schema, validator)) = self.validators.iter().find(|(k, _, _)| *k == kind)
        else {
            return Vec::new();
        };
        let instance = node.to_json();
        let mut diagnostics = Vec::new();
        let context = Context {
            kind,
            file,
            root: node,
            schema,
            misspelt: RefCell::default(),
            missing: RefCell::default(),
        };
        for error in validator.iter_errors(&instance) {
            context.report(&error, &mut diagnostics);
        }
        // A required key that an unknown key in the same mapping misspells is
        // said once, by the unknown key's "did you mean".
        let misspelt = context.misspelt.into_inner();
        for (path, name, diagnostic) in context.missing.into_inner() {
            if !misspelt.contains(&(path, name)) {
                diagnostics.push(diagnostic);
            }
        }
        diagnostics
    }
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas::new()
    }
}

struct Context<'a> {
    kind: Kind,
    file: FileId,
    root: &'a Node,
    schema: &'a Json,
    /// (mapping, the known key an unknown key there is suggested as).
    misspelt: RefCell<Vec<(Path, String)>>,
    /// Missing keys, held back until every unknown key has been seen.
    missing: RefCell<Vec<(Path, String, Diagnostic)>>,
}

type Path = Vec<PathStep<String>>;

fn instance_path(error: &ValidationError<'_>) -> Path {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => PathStep::Property(name.to_string()),
            LocationSegment::Index(index) => PathStep::Index(index),
        })
        .collect()
}

fn schema_path(error: &ValidationError<'_>) -> Vec<String> {
    error
        .schema_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => name.to_string(),
            LocationSegment::Index(index) => index.to_string(),
        })
        .collect()
}

/// Describes a YAML value's type for messages.
fn describe(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "an empty value",
        Value::Bool(_) => "a boolean",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
    }
}

fn type_name(kind: &jsonschema::JsonType) -> &'static str {
    use jsonschema::JsonType as T;
    match kind {
        T::Array => "a list",
        T::Boolean => "a boolean (`true` or `false`)",
        T::Integer => "an integer",
        T::Null => "nothing",
        T::Number => "a number",
        T::Object => "a mapping",
        T::String => "a string",
    }
}

fn expected_types(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(single) => type_name(single).to_string(),
        TypeKind::Multiple(set) => {
            let names: Vec<&str> = set
                .iter()
                .filter(|t| *t != jsonschema::JsonType::Null)
                .map(|t| type_name(&t))
                .collect();
            names.join(" or ")
        }
    }
}

fn path_text(path: &Path) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            PathStep::Property(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            PathStep::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

impl Context<'_> {
    fn node_span(&self, path: &Path) -> Span {
        match self.root.walk(path) {
            Some((node, _)) => self.value_span(node),
            None => Span::new(self.file, 0, 0),
        }
    }

    /// A node's span; an empty value points at the place it would be.
    fn value_span(&self, node: &Node) -> Span {
        node.span(self.file)
    }

    /// The span of the key that holds `path`, or of the node itself for list items and the root.
    fn key_span(&self, path: &Path) -> Span {
        match self.root.walk(path) {
            Some((_, Some(key))) => key.span(self.file),
            Some((node, None)) if !path.is_empty() => node.span(self.file),
            _ => match &self.root.value {
                Value::Mapping(entries) if !entries.is_empty() => entries[0].0.span(self.file),
                _ => Span::new(self.file, 0, 0),
            },
        }
    }

    /// Resolves a schema path (through `$ref`s) to the subschema it names.
    fn subschema(&self, path: &[String]) -> Option<&Json> {
        let mut current = self.schema;
        for segment in path {
            if segment == "$ref" {
                let reference = current.get("$ref")?.as_str()?;
                current = self.schema.pointer(reference.strip_prefix('#')?)?;
            } else {
                current = match current {
                    Json::Object(map) => map.get(segment)?,
                    Json::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
        }
        // A subschema that is only a reference stands for its target.
        while let Some(reference) = current.get("$ref").and_then(Json::as_str) {
            current = self.schema.pointer(reference.strip_prefix('#')?)?;
        }
        Some(current)
    }

    fn location_text(&self, path: &Path) -> String {
        if path.is_empty() {
            format!("the {}", self.kind.noun())
        } else {
            format!("`{}`", path_text(path))
        }
    }

    fn report(&self, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
        let path = instance_path(error);
        let node = self.root.walk(&path).map(|(node, _)| node);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let mut keyword_path = schema_path(error);
                keyword_path.pop();
                let known: Vec<String> = self
                    .subschema(&keyword_path)
                    .and_then(|schema| schema.get("properties"))
                    .and_then(Json::as_object)
                    .map(|properties| properties.keys().cloned().collect())
                    .unwrap_or_default();
                for name in unexpected {
                    let mut key_path = path.clone();
                    key_path.push(PathStep::Property(name.clone()));
                    let span = self.key_span(&key_path);
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownKey,
                        span,
                        format!("unknown key `{name}` in {}", self.location_text(&path)),
                    )
                    .label("not a known key");
                    diagnostic = match did_you_mean(name, known.iter().map(String::as_str)) {
                        Some(suggestion) => {
                            self.misspelt
                                .borrow_mut()
                                .push((path.clone(), suggestion.to_string()));
                            diagnostic.help(format!("did you mean `{suggestion}`?"))
                        }
                        None if !known.is_empty() => {
                            diagnostic.help(format!("known keys here: {}", known.join(", ")))
                        }
                        None => diagnostic,
                    };
                    out.push(diagnostic);
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                self.missing.borrow_mut().push((
                    path.clone(),
                    name.to_string(),
                    Diagnostic::new(
                        Code::MissingKey,
                        self.key_span(&path),
                        format!("missing key `{name}` in {}", self.location_text(&path)),
                    )
                    .label(format!("`{name}` is required here"))
                    .help(self.key_help(error, name)),
                ));
            }
            ValidationErrorKind::Type { kind } => {
                let found = node.map_or("nothing", describe);
                out.push(
                    Diagnostic::new(
                        Code::WrongType,
                        self.node_span(&path),
                        format!(
                            "{} must be {}, found {found}",
                            self.location_text(&path),
                            expected_types(kind)
                        ),
                    )
                    .label(format!("expected {}", expected_types(kind))),
                );
            }
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<String> = options
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|item| {
                                item.as_str()
                                    .map_or_else(|| item.to_string(), str::to_string)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let given = error
                    .instance()
                    .as_str()
                    .map_or_else(|| error.instance().to_string(), str::to_string);
                let diagnostic = Diagnostic::new(
                    Code::InvalidValue,
                    self.node_span(&path),
                    format!(
                        "`{given}` is not a valid value for {}",
                        self.location_text(&path)
                    ),
                )
                .label(format!("expected one of: {}", allowed.join(", ")));
                let diagnostic = match did_you_mean(&given, allowed.iter().map(String::as_str)) {
                    Some(suggestion) => diagnostic.help(format!("did you mean `{suggestion}`?")),
                    None => diagnostic.help(format!("allowed values: {}", allowed.join(", "))),
                };
                out.push(diagnostic);
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        self.node_span(&path),
                        format!("{} must be {expected_value}", self.location_text(&path)),
                    )
                    .label("not allowed here"),
                );
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.report_alternatives(error, &path, node, context, out);
            }
            _ => {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        self.node_span(&path),
                        format!("{}: {}", self.location_text(&path), plain_message(error)),
                    )
                    .label("not allowed"),
                );
            }
        }
    }

    /// Help for a missing key: the key's own description from the schema when it has one.
    fn key_help(&self, error: &ValidationError<'_>, name: &str) -> String {
        let mut keyword_path = schema_path(error);
        keyword_path.pop();
        let description = self
            .subschema(&keyword_path)
            .and_then(|schema| schema.get("properties"))
            .and_then(|properties| properties.get(name))
            .and_then(|property| {
                property.get("description").or_else(|| {
                    let reference = property.get("$ref")?.as_str()?;
                    self.schema
                        .pointer(reference.strip_prefix('#')?)?
                        .get("description")
                })
            })
            .and_then(Json::as_str);
        match description {
            Some(text) => format!("add `{name}:` ({})", text.trim_end_matches('.')),
            None => format!("add `{name}:`"),
        }
    }

    /// Narrows an `anyOf`/`oneOf` failure to the branch the author meant: the
    /// branches whose errors are only a type mismatch at this very value are
    /// other shapes altogether; of the rest, the one with the fewest errors wins.
    fn report_alternatives(
        &self,
        error: &ValidationError<'_>,
        path: &Path,
        node: Option<&Node>,
        context: &[Vec<ValidationError<'static>>],
        out: &mut Vec<Diagnostic>,
    ) {
        // A branch that wants another type for this very value is another
        // shape altogether, whatever else it says about the value.
        let is_shape_mismatch = |branch: &Vec<ValidationError<'static>>| {
            branch.iter().any(|e| {
                matches!(e.kind(), ValidationErrorKind::Type { .. }) && instance_path(e) == *path
            })
        };
        let candidates: Vec<&Vec<ValidationError<'static>>> = context
            .iter()
            .filter(|branch| !branch.is_empty() && !is_shape_mismatch(branch))
            .collect();
        if let Some(best) = candidates.iter().min_by_key(|branch| branch.len()) {
            for inner in best.iter() {
                self.report(inner, out);
            }
            return;
        }
        // Every branch wants another type: say which types would do.
        let mut expected: Vec<String> = Vec::new();
        for branch in context {
            for inner in branch {
                if let ValidationErrorKind::Type { kind } = inner.kind() {
                    let name = expected_types(kind);
                    if !name.is_empty() && !expected.contains(&name) {
                        expected.push(name);
                    }
                }
            }
        }
        let found = node.map_or("nothing", describe);
        let expected = if expected.is_empty() {
            plain_message(error)
        } else {
            expected.join(" or ")
        };
        out.push(
            Diagnostic::new(
                Code::WrongType,
                self.node_span(path),
                format!(
                    "{} must be {expected}, found {found}",
                    self.location_text(path)
                ),
            )
            .label(format!("expected {expected}")),
        );
    }
}

/// jsonschema's message without the instance echoed at the front.
fn plain_message(error: &ValidationError<'_>) -> String {
    let text = error.to_string();
    let instance = error.instance().to_string();
    text.strip_prefix(&instance)
        .map(|rest| rest.trim_start().to_string())
        .unwrap_or(text)
}
