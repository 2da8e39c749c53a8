//! References by name: channels, segments, events, contact attributes and
//! template files each resolve, or are a diagnostic with a "did you mean";
//! segments that nothing refers to are reported last.

use super::Resolver;
use crate::channel::ChannelKind;
use crate::codes::Code;
use crate::contact::{self, BUILTIN_FIELDS};
use crate::diagnostic::Diagnostic;
use crate::model::{Message, Messages, Text, ValueType};
use crate::schema::Kind;
use crate::segment::ast::Expr;
use crate::source::{FileId, Span};
use crate::suggestion::did_you_mean;

impl<'a> Resolver<'a> {
    pub(super) fn declared_channels(&self) -> Vec<&'static str> {
        self.manifest()
            .map(|m| {
                m.channels
                    .declared()
                    .into_iter()
                    .map(|(name, _)| name)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn channel_reference(&mut self, file: FileId, channel: &Text) {
        let declared = self.declared_channels();
        if self.manifest().is_none() || declared.contains(&channel.as_str()) {
            return;
        }
        let known_kind = ChannelKind::from_name(channel.as_str()).is_some();
        let diagnostic = Diagnostic::new(
            Code::UnknownChannel,
            channel.span(file),
            if known_kind {
                format!("channel `{}` is not declared in herald.yaml", channel.value)
            } else {
                format!("unknown channel `{}`", channel.value)
            },
        )
        .label("not declared");
        let suggestion = did_you_mean(&channel.value, declared.iter().copied());
        let diagnostic = match suggestion {
            Some(_) => diagnostic.suggest(suggestion),
            None if declared.is_empty() => {
                diagnostic.help("declare it under `channels:` in herald.yaml")
            }
            None => diagnostic.help(format!("declared channels: {}", declared.join(", "))),
        };
        self.push(diagnostic);
    }

    pub(super) fn segment_reference(&mut self, file: FileId, name: &str, span: Span) {
        self.used_segments.insert(name.to_string());
        if self.segment_names.contains(name) || self.is_broken(Kind::Segment, name) {
            return;
        }
        let suggestion = did_you_mean(name, self.segment_names.iter().copied());
        let _ = file;
        self.push(
            Diagnostic::new(
                Code::UnknownSegment,
                span,
                format!("unknown segment `{name}`"),
            )
            .label("no such segment")
            .suggest(suggestion)
            .help_if_none(format!(
                "a segment `{name}` would be the file `segments/{name}.yaml`"
            )),
        );
    }

    pub(super) fn event_reference(&mut self, file: FileId, event: &Text) {
        let Some(manifest) = self.manifest() else {
            return;
        };
        if manifest.events.keys().any(|k| k.value == event.value) {
            return;
        }
        let names: Vec<&str> = manifest.events.keys().map(|k| k.value.as_str()).collect();
        self.push(
            Diagnostic::new(
                Code::UnknownEvent,
                event.span(file),
                format!("unknown event `{}`", event.value),
            )
            .label("not declared under `events:`")
            .suggest(did_you_mean(&event.value, names.iter().copied()))
            .help_if_none("declare it under `events:` in herald.yaml"),
        );
    }

    pub(super) fn attribute_reference(
        &mut self,
        file: FileId,
        attribute: &Text,
        wanted: Option<&[ValueType]>,
    ) {
        let Some(manifest) = self.manifest() else {
            return;
        };
        let declared = manifest
            .contact
            .attributes
            .iter()
            .find(|(k, _)| k.value == attribute.value)
            .map(|(_, a)| a.value_type());
        let builtin = contact::builtin_type(attribute.as_str());
        match declared.or(builtin) {
            None => {
                let names = manifest
                    .contact
                    .attributes
                    .keys()
                    .map(|k| k.value.as_str())
                    .chain(BUILTIN_FIELDS.iter().map(|(n, _)| *n));
                self.push(
                    Diagnostic::new(
                        Code::UnknownAttribute,
                        attribute.span(file),
                        format!("unknown contact attribute `{}`", attribute.value),
                    )
                    .label("not declared under `contact.attributes`")
                    .suggest(did_you_mean(&attribute.value, names))
                    .help_if_none("declare it under `contact.attributes` in herald.yaml"),
                );
            }
            Some(kind) => {
                if let Some(wanted) = wanted
                    && !wanted.contains(&kind)
                {
                    self.push(
                        Diagnostic::new(Code::UnknownAttribute, attribute.span(file), format!("`{}` is {kind:?}, not a date", attribute.value).to_lowercase().replacen(&attribute.value.to_lowercase(), &attribute.value, 1))
                            .label("needs a date attribute")
                            .help("an anniversary trigger needs a `date` or `datetime` attribute such as `birthday`"),
                    );
                }
            }
        }
    }

    pub(super) fn template_reference(&mut self, file: FileId, key: &str, path: &Text) {
        let name = path.value.trim_start_matches("templates/");
        if self.templates.contains(name) {
            return;
        }
        let suggestion = did_you_mean(name, self.templates.iter().copied());
        self.push(
            Diagnostic::new(
                Code::UnknownTemplate,
                path.span(file),
                format!("`{key}` names `templates/{name}`, which does not exist"),
            )
            .label("no such template")
            .suggest(suggestion)
            .help_if_none("template paths are relative to the project's `templates/` folder"),
        );
    }

    pub(super) fn messages(&mut self, file: FileId, messages: &Messages) {
        for (_, message) in messages.by_channel() {
            self.message(file, message);
        }
    }

    pub(super) fn message(&mut self, file: FileId, message: &Message) {
        for (key, path) in message.files() {
            self.template_reference(file, key, path);
        }
    }

    pub(super) fn filter_segments(&mut self, file: FileId, filter: &Text) -> Vec<String> {
        let mut names = Vec::new();
        for (name, span) in self.segment_references(file, filter) {
            self.segment_reference(file, &name, span);
            names.push(name);
        }
        names
    }

    /// The `in segment "NAME"` references of a filter, each with the span
    /// of its string literal, from the filter as the filter stage parsed
    /// it. A filter that does not parse has none here; the filter stage
    /// reports its syntax error.
    /// A filter as the filter stage parsed it; `None` when it does not parse.
    pub(super) fn parsed(&self, file: FileId, filter: &Text) -> Option<&'a Expr> {
        self.filters.get(&(file, filter.start))?.expr.as_ref()
    }

    pub(super) fn segment_references(&self, file: FileId, filter: &Text) -> Vec<(String, Span)> {
        let Some(parsed) = self.filters.get(&(file, filter.start)) else {
            return Vec::new();
        };
        let Some(expr) = &parsed.expr else {
            return Vec::new();
        };
        expr.segment_references()
            .into_iter()
            .map(|name| (name.text.clone(), parsed.location.span(name.range)))
            .collect()
    }

    pub(super) fn unused_segments(&mut self) {
        // A definition that failed to load may hold the only reference to a
        // segment; reporting it unused would send the author the wrong way.
        if !self.project.broken.is_empty()
            || !self.project.unreadable.is_empty()
            || self.project.manifest.is_none()
        {
            return;
        }
        for segment in &self.project.segments {
            if !self.used_segments.contains(&segment.name) {
                let span = segment
                    .node
                    .entry("filter")
                    .map(|(key, _)| key.span(segment.file))
                    .unwrap_or(Span::new(segment.file, 0, 0));
                self.push(
                    Diagnostic::new(Code::UnusedSegment, span, format!("segment `{}` is not used by any campaign, journey or segment", segment.name))
                        .label("defined here")
                        .help("delete it, or set `unused-segment: allow` under `lint:` if it is kept for queries"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segment_references_skip_other_strings() {
        let expr = crate::segment::parse(
            r#"city = "in segment \"x\"" and in segment "vip" or not in  segment "a/b""#,
        )
        .expect("parses");
        let names: Vec<String> = expr
            .segment_references()
            .into_iter()
            .map(|name| name.text.clone())
            .collect();
        assert_eq!(names, ["vip", "a/b"]);
    }
}
