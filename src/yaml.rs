//! Reading YAML into a tree that keeps the byte span of every key and value.
//!
//! serde-saphyr parses (duplicate keys rejected, strict booleans so `no` and
//! `on` stay strings, resource budgets against alias bombs); its `Spanned`
//! wrapper gives each node's position. The tree is what schema validation
//! walks to turn a JSON-schema instance path back into a line and column.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, Span};

/// One YAML node with its byte range in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

/// Options shared by every YAML read in herald.
pub fn options() -> serde_saphyr::options::Options {
    let mut options = serde_saphyr::options::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    options
}

/// Byte range of a serde-saphyr location, falling back to line and column
/// when the parser could not report bytes.
pub fn location_range(file: &SourceFile, location: &serde_saphyr::Location) -> (usize, usize) {
    let span = location.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(offset), Some(len)) if (offset as usize) <= file.text.len() => {
            let start = offset as usize;
            (start, (start + len as usize).min(file.text.len()))
        }
        _ => {
            let start = file.offset(location.line() as usize, location.column() as usize);
            let end = file.text[start..]
                .char_indices()
                .nth(span.len().max(1) as usize)
                .map_or(file.text.len(), |(index, _)| start + index);
            (start, end)
        }
    }
}

/// Turns a serde-saphyr error into a diagnostic at its position.
pub fn error_diagnostic(
    file_id: FileId,
    file: &SourceFile,
    error: &serde_saphyr::Error,
) -> Diagnostic {
    use serde_saphyr::Error as E;
    let (start, end) = error
        .location()
        .filter(|location| location.line() > 0)
        .map_or((file.text.len(), file.text.len()), |location| {
            location_range(file, &location)
        });
    let span = Span::new(file_id, start, end);
    let message = message_of(error);
    let over_budget = message.starts_with("budget breached");
    match error {
        _ if over_budget => Diagnostic::new(
            Code::YamlLimit,
            span,
            format!(
                "the document exceeds herald's YAML limits ({})",
                budget_detail(&message)
            ),
        )
        .label("expanding this exceeds the limit")
        .help("write the data out without deep nesting or repeated aliases"),
        E::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("this key");
            Diagnostic::new(Code::DuplicateKey, span, format!("duplicate key `{key}`"))
                .label("defined again here")
                .help("a key may appear once per mapping; keep one of the two")
        }
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => Diagnostic::new(
            Code::YamlLimit,
            span,
            format!(
                "the document exceeds herald's YAML limits: {}",
                message_of(error)
            ),
        )
        .help("write the data out without deep nesting or repeated aliases"),
        _ => Diagnostic::new(
            Code::YamlSyntax,
            span,
            format!("invalid YAML: {}", message_of(error)),
        )
        .label("here"),
    }
}

/// `budget breached: Nodes { nodes: 250001 }` → `nodes: 250001`.
fn budget_detail(message: &str) -> &str {
    let detail = message.trim_start_matches("budget breached: ");
    match (detail.find('{'), detail.rfind('}')) {
        (Some(open), Some(close)) if open < close => detail[open + 1..close].trim(),
        _ => detail,
    }
}

/// The error's message without the trailing " at line L, column C".
fn message_of(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let text = text.lines().next().unwrap_or_default();
    match text.find(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text.to_string(),
    }
}

/// Parses one YAML document into a [`Node`] tree. An empty document is `Null`.
pub fn parse(file_id: FileId, file: &SourceFile) -> Result<Node, Diagnostic> {
    if file.text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            start: 0,
            end: 0,
        });
    }
    let spanned: Spanned<RawValue> = serde_saphyr::from_str_with_options(&file.text, options())
        .map_err(|error| error_diagnostic(file_id, file, &error))?;
    Ok(Node::from_spanned(spanned, file))
}

impl Node {
    fn from_spanned(spanned: Spanned<RawValue>, file: &SourceFile) -> Node {
        let (start, end) = location_range(file, &spanned.referenced);
        let value = match spanned.value {
            RawValue::Null => Value::Null,
            RawValue::Bool(value) => Value::Bool(value),
            RawValue::Integer(value) => Value::Integer(value),
            RawValue::Float(value) => Value::Float(value),
            RawValue::String(value) => Value::String(value),
            RawValue::Sequence(items) => Value::Sequence(
                items
                    .into_iter()
                    .map(|item| Node::from_spanned(item, file))
                    .collect(),
            ),
            RawValue::Mapping(entries) => Value::Mapping(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        (
                            Node::from_spanned(key, file),
                            Node::from_spanned(value, file),
                        )
                    })
                    .collect(),
            ),
        };
        // The parser gives a collection the span of its first token; extend
        // it over its children (and a flow collection's closing bracket) so
        // a diagnostic about the whole value underlines all of it.
        let end = match &value {
            Value::Sequence(items) => items.iter().map(|item| item.end as usize).max(),
            Value::Mapping(entries) => entries
                .iter()
                .map(|(_, value)| value.end.max(value.start) as usize)
                .max(),
            _ => None,
        }
        .map_or(end, |last| {
            closing_bracket(&file.text, start, last).max(end)
        });
        Node {
            value,
            start: start as u32,
            end: end as u32,
        }
    }

    pub fn span(&self, file: FileId) -> Span {
        Span::new(file, self.start as usize, self.end as usize)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The key text of a mapping key, whatever its scalar type.
    pub fn key_text(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(value) => value.to_string(),
            Value::Integer(value) => value.to_string(),
            Value::Float(value) => value.to_string(),
            Value::String(value) => value.clone(),
            Value::Sequence(_) | Value::Mapping(_) => "<collection>".into(),
        }
    }

    /// The value of `key` in a mapping, with the key node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Mapping(entries) => entries
                .iter()
                .find(|(k, _)| k.key_text() == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follows a JSON-pointer-like path of property names and indices.
    /// Returns the node and, when the last step was a property, its key node.
    pub fn walk<'a, S: AsRef<str>>(
        &'a self,
        path: &[PathStep<S>],
    ) -> Option<(&'a Node, Option<&'a Node>)> {
        let mut node = self;
        let mut key = None;
        for step in path {
            match (step, &node.value) {
                (PathStep::Property(name), Value::Mapping(_)) => {
                    let (k, v) = node.entry(name.as_ref())?;
                    key = Some(k);
                    node = v;
                }
                (PathStep::Index(index), Value::Sequence(items)) => {
                    node = items.get(*index)?;
                    key = None;
                }
                _ => return None,
            }
        }
        Some((node, key))
    }

    /// The node as JSON, for schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(value) => J::Bool(*value),
            Value::Integer(value) => J::from(*value),
            Value::Float(value) => serde_json::Number::from_f64(*value).map_or(J::Null, J::Number),
            Value::String(value) => J::String(value.clone()),
            Value::Sequence(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Mapping(entries) => J::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.key_text(), value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// For a flow collection opened at `start`, the offset just past its closing
/// bracket after `last`; otherwise `last`.
fn closing_bracket(text: &str, start: usize, last: usize) -> usize {
    let close = match text.as_bytes().get(start) {
        Some(b'[') => b']',
        Some(b'{') => b'}',
        _ => return last,
    };
    let mut index = last;
    let bytes = text.as_bytes();
    while index < bytes.len() && (bytes[index].is_ascii_whitespace() || bytes[index] == b',') {
        index += 1;
    }
    if bytes.get(index) == Some(&close) {
        index + 1
    } else {
        last
    }
}

/// One step of a path into a [`Node`] tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep<S> {
    Property(S),
    Index(usize),
}

/// The tree as serde-saphyr hands it over, before byte ranges are resolved.
enum RawValue {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Spanned<RawValue>>),
    Mapping(Vec<(Spanned<RawValue>, Spanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(deserializer)
    }

    fn visit_bool<E>(self, value: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<RawValue, E> {
        Ok(RawValue::Integer(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<RawValue, E> {
        Ok(i64::try_from(value).map_or(RawValue::Float(value as f64), RawValue::Integer))
    }

    fn visit_i128<E>(self, value: i128) -> Result<RawValue, E> {
        Ok(i64::try_from(value).map_or(RawValue::Float(value as f64), RawValue::Integer))
    }

    fn visit_u128<E>(self, value: u128) -> Result<RawValue, E> {
        Ok(i64::try_from(value).map_or(RawValue::Float(value as f64), RawValue::Integer))
    }

    fn visit_f64<E>(self, value: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<RawValue, E> {
        Ok(RawValue::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<RawValue, E> {
        Ok(RawValue::String(value))
    }

    fn visit_bytes<E>(self, value: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::String(
            String::from_utf8_lossy(value).into_owned(),
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = access.next_key()? {
            let value = access.next_value()?;
            entries.push((key, value));
        }
        Ok(RawValue::Mapping(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Node, Diagnostic> {
        let file = SourceFile::new("t.yaml".into(), "t.yaml".into(), text.into());
        parse(FileId(0), &file)
    }

    #[test]
    fn norway_words_stay_strings() {
        let node = parse_text("a: no\nb: on\nc: NO\nd: true\n").unwrap();
        let json = node.to_json();
        assert_eq!(json["a"], "no");
        assert_eq!(json["b"], "on");
        assert_eq!(json["c"], "NO");
        assert_eq!(json["d"], true);
    }

    #[test]
    fn keys_and_values_keep_byte_spans() {
        let text = "имя: \"Ира\"\nlist:\n  - 5\n";
        let node = parse_text(text).unwrap();
        let (value, key) = node.walk(&[PathStep::Property("имя")]).unwrap();
        let key = key.unwrap();
        assert_eq!(&text[key.start as usize..key.end as usize], "имя");
        assert_eq!(&text[value.start as usize..value.end as usize], "\"Ира\"");
        let (item, _) = node
            .walk(&[PathStep::Property("list"), PathStep::Index(0)])
            .unwrap();
        assert_eq!(&text[item.start as usize..item.end as usize], "5");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let error = parse_text("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.code, Code::DuplicateKey);
        assert_eq!(error.span().unwrap().start, 10);
    }
}
