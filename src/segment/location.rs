//! Mapping byte ranges in a filter's text to spans in the file it was read
//! from. A filter is a YAML string: plain, single- or double-quoted (with
//! escapes and folded lines) or a block scalar (`|`, `>`); its value differs
//! from its source text, so the scalar is decoded again here with the source
//! offset of every character. When the decoding does not reproduce the
//! value exactly (a construct not handled here), diagnostics fall back to the
//! whole scalar rather than to a wrong column.

use super::ast::Range;
use crate::model::Text;
use crate::source::{FileId, SourceMap, Span};

/// Where a filter's text lives.
#[derive(Clone, Debug)]
pub struct FilterLocation {
    file: FileId,
    /// Source offset of every byte of the value, plus one past the end.
    offsets: Option<Vec<usize>>,
    whole: Span,
}

impl FilterLocation {
    /// A filter read from a YAML scalar.
    pub fn scalar(sources: &SourceMap, file: FileId, text: &Text) -> FilterLocation {
        let source = &sources.file(file).text;
        let start = (text.start as usize).min(source.len());
        let end = (text.end as usize).clamp(start, source.len());
        // The reader's span of a block scalar starts at its content; the
        // decoding needs the header (`|`, `>-`, `|2`) before it.
        let raw_start = block_header(source, start).unwrap_or(start);
        let raw = source.get(raw_start..end).unwrap_or_default();
        FilterLocation {
            file,
            offsets: decode(raw, &text.value).map(|offsets| {
                offsets
                    .into_iter()
                    .map(|offset| offset + raw_start)
                    .collect()
            }),
            whole: Span::new(file, start, end),
        }
    }

    /// A filter that is the whole text of a file (the command line's `--filter`).
    pub fn whole_file(file: FileId, text: &str) -> FilterLocation {
        FilterLocation {
            file,
            offsets: Some((0..=text.len()).collect()),
            whole: Span::new(file, 0, text.len()),
        }
    }

    pub fn span(&self, range: Range) -> Span {
        match &self.offsets {
            Some(offsets) => {
                let last = offsets.len().saturating_sub(1);
                let start = offsets[range.start.min(last)];
                let end = offsets[range.end.min(last)];
                if range.end > range.start && end > start {
                    // Ends map from the last byte inside, so a range that
                    // ends at a line break does not swallow the indentation.
                    let inside = offsets[(range.end - 1).min(last)] + 1;
                    Span::new(self.file, start, inside.max(start).min(end.max(start)))
                } else {
                    Span::new(self.file, start, end.max(start))
                }
            }
            None => self.whole,
        }
    }
}

/// The offset of the block scalar header (`|` or `>` with indicators) that
/// introduces content starting at `start`, if there is one.
fn block_header(source: &str, start: usize) -> Option<usize> {
    let line_start = source[..start].rfind('\n').map_or(0, |index| index + 1);
    if !source[line_start..start].chars().all(|c| c == ' ') {
        return None;
    }
    let before = source[..line_start].trim_end();
    let header_line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let line = &before[header_line_start..];
    let code = match line.find(" #") {
        Some(comment) => &line[..comment],
        None => line,
    }
    .trim_end();
    let token_start = code.rfind([' ', '\t']).map_or(0, |index| index + 1);
    let token = &code[token_start..];
    let mut chars = token.chars();
    let indicator = chars.next()?;
    if !matches!(indicator, '|' | '>') || !chars.all(|c| matches!(c, '-' | '+' | '1'..='9')) {
        return None;
    }
    Some(header_line_start + token_start)
}

/// Source offsets (relative to `raw`) of every byte of `value`, if decoding
/// `raw` reproduces `value`.
fn decode(raw: &str, value: &str) -> Option<Vec<usize>> {
    let chars = match raw.chars().next()? {
        '"' => flow(raw, 1, true),
        '\'' => flow(raw, 1, false),
        '|' | '>' => block(raw),
        _ => flow(raw, 0, false),
    }?;
    let decoded: String = chars.iter().map(|(c, _)| *c).collect();
    if decoded.trim_end_matches('\n') != value.trim_end_matches('\n') {
        return None;
    }
    let mut offsets = Vec::with_capacity(value.len() + 1);
    for (c, offset) in chars.iter().take(value.chars().count()) {
        for byte in 0..c.len_utf8() {
            offsets.push(offset + byte);
        }
    }
    let end = chars.get(value.chars().count()).map_or_else(
        || chars.last().map_or(0, |(c, offset)| offset + c.len_utf8()),
        |(_, offset)| *offset,
    );
    offsets.resize(value.len(), end);
    offsets.push(end);
    Some(offsets)
}

/// Plain and quoted scalars: escapes (double-quoted), `''` (single-quoted)
/// and line folding (a line break and indentation read as one space, an
/// empty line as a line break).
fn flow(raw: &str, skip: usize, double: bool) -> Option<Vec<(char, usize)>> {
    let quoted = skip == 1;
    let quote = if double { '"' } else { '\'' };
    let mut out: Vec<(char, usize)> = Vec::new();
    let mut iter = raw.char_indices().skip(skip).peekable();
    while let Some((index, c)) = iter.next() {
        match c {
            '"' | '\'' if quoted && c == quote => {
                if !double && iter.peek().map(|(_, c)| *c) == Some('\'') {
                    iter.next();
                    out.push(('\'', index));
                    continue;
                }
                return Some(out);
            }
            '\\' if double => {
                let (_, escape) = iter.next()?;
                let decoded = match escape {
                    'n' => '\n',
                    't' | '\t' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'e' => '\u{1b}',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'x' | 'u' | 'U' => {
                        let digits = match escape {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..digits {
                            code = code * 16 + iter.next()?.1.to_digit(16)?;
                        }
                        char::from_u32(code)?
                    }
                    '\n' => {
                        // An escaped line break joins the lines without a space.
                        while iter.peek().is_some_and(|(_, c)| *c == ' ' || *c == '\t') {
                            iter.next();
                        }
                        continue;
                    }
                    _ => return None,
                };
                out.push((decoded, index));
            }
            '\n' | '\r' => {
                if c == '\r' && iter.peek().map(|(_, c)| *c) == Some('\n') {
                    iter.next();
                }
                while out.last().is_some_and(|(c, _)| *c == ' ' || *c == '\t') {
                    out.pop();
                }
                let mut empty_lines = 0;
                loop {
                    while iter.peek().is_some_and(|(_, c)| *c == ' ' || *c == '\t') {
                        iter.next();
                    }
                    if iter.peek().is_some_and(|(_, c)| *c == '\n') {
                        iter.next();
                        empty_lines += 1;
                    } else {
                        break;
                    }
                }
                if empty_lines == 0 {
                    out.push((' ', index));
                } else {
                    out.extend(std::iter::repeat_n(('\n', index), empty_lines));
                }
            }
            _ => out.push((c, index)),
        }
    }
    if quoted {
        None
    } else {
        while out.last().is_some_and(|(c, _)| c.is_whitespace()) {
            out.pop();
        }
        Some(out)
    }
}

/// Block scalars: `|` keeps line breaks, `>` folds lines into spaces.
fn block(raw: &str) -> Option<Vec<(char, usize)>> {
    let literal = raw.starts_with('|');
    let header_end = raw.find('\n')? + 1;
    let header = &raw[1..header_end].trim();
    let explicit: Option<usize> = header
        .chars()
        .find(|c| c.is_ascii_digit())
        .and_then(|c| c.to_digit(10))
        .map(|d| d as usize);
    let mut lines = Vec::new();
    let mut offset = header_end;
    for line in raw[header_end..].split_inclusive('\n') {
        lines.push((offset, line.trim_end_matches(['\n', '\r'])));
        offset += line.len();
    }
    let indent = match explicit {
        Some(indent) => indent,
        None => lines
            .iter()
            .find(|(_, line)| !line.trim().is_empty())
            .map(|(_, line)| line.len() - line.trim_start_matches(' ').len())?,
    };
    let mut out: Vec<(char, usize)> = Vec::new();
    let mut previous_text = false;
    for (start, line) in lines {
        let content = line.get(indent.min(line.len())..).unwrap_or_default();
        let content_start = start + indent.min(line.len());
        if line.trim().is_empty() {
            out.push(('\n', start));
            previous_text = false;
            continue;
        }
        if !out.is_empty() {
            if literal {
                out.push(('\n', start));
            } else if previous_text {
                out.push((' ', start));
            }
        }
        out.extend(
            content
                .char_indices()
                .map(|(index, c)| (c, content_start + index)),
        );
        previous_text = true;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    #[derive(serde::Deserialize)]
    struct Holder {
        filter: Text,
    }

    /// Maps the range of `needle` inside the value and returns the source text it points at.
    fn mapped(yaml: &str, needle: &str) -> String {
        let holder: Holder = serde_saphyr::from_str(yaml).unwrap();
        let mut sources = SourceMap::default();
        let file = sources.add("x.yaml".into(), "x.yaml".into(), yaml.to_string());
        let location = FilterLocation::scalar(&sources, file, &holder.filter);
        assert!(location.offsets.is_some(), "not decoded: {yaml:?}");
        let start = holder.filter.value.find(needle).unwrap();
        let span = location.span(Range::new(start, start + needle.len()));
        sources.text(span).to_string()
    }

    #[test]
    fn plain_and_quoted_scalars_map_exactly() {
        assert_eq!(
            mapped("filter: city = \"Москва\"\n", "\"Москва\""),
            "\"Москва\""
        );
        assert_eq!(
            mapped("filter: 'city = \"a''b\" and x > 1'\n", "x > 1"),
            "x > 1"
        );
        assert_eq!(
            mapped(
                "filter: \"city = \\\"Мо\\u0441ква\\\" and x > 1\"\n",
                "x > 1"
            ),
            "x > 1"
        );
        assert_eq!(mapped("filter: \"a = 1 and\n  x > 1\"\n", "x > 1"), "x > 1");
        assert_eq!(mapped("filter: a = 1 and\n  x > 1\n", "x > 1"), "x > 1");
    }

    #[test]
    fn block_scalars_map_exactly() {
        assert_eq!(
            mapped("filter: |\n  a = 1\n  and x > 1\n", "x > 1"),
            "x > 1"
        );
        assert_eq!(
            mapped("filter: >-\n    a = 1\n    and x > 1\n", "x > 1"),
            "x > 1"
        );
        assert_eq!(
            mapped(
                "filter: |\n  a = 1 # note\n\n  and x > 1\nother: 1\n",
                "x > 1"
            )
            .as_str(),
            "x > 1"
        );
    }
}
