//! Email assembly: the rendered subject, preheader, HTML and text parts
//! become one message; a text part is produced from the HTML when none is
//! given, the preheader is placed hidden at the top of the HTML, and
//! promotional mail gets the one-click unsubscribe headers of RFC 8058.
//!
//! A send produces text parts through [`TextParts`], which converts each
//! template path once rather than each contact's HTML.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::model::MessageType;
use crate::template::PartKind;
use crate::template::text_part::{TextParts, html_to_text};

/// An assembled email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub parts: BTreeMap<PartKind, String>,
    /// Headers beyond From, To and Subject.
    pub headers: Vec<(String, String)>,
}

/// Assembles an email from its rendered parts. `texts`, when given,
/// remembers text parts produced from HTML across messages, with the byte
/// ranges of the HTML that the template's expressions printed.
pub fn assemble(
    mut parts: BTreeMap<PartKind, String>,
    kind: MessageType,
    unsubscribe: Option<&str>,
    texts: Option<(&TextParts, &[Range<usize>])>,
) -> Email {
    let html = parts.get(&PartKind::Html);
    let text = match (html, parts.get(&PartKind::Text)) {
        (Some(html), None) => Some(match texts {
            Some((texts, printed)) => texts.text(html, printed),
            None => html_to_text(html),
        }),
        _ => None,
    };
    let html = html
        .zip(parts.get(&PartKind::Preheader))
        .map(|(html, preheader)| with_preheader(html, preheader));
    if let Some(text) = text {
        parts.insert(PartKind::Text, text);
    }
    if let Some(html) = html {
        parts.insert(PartKind::Html, html);
    }
    let mut headers = Vec::new();
    if kind == MessageType::Promotional
        && let Some(link) = unsubscribe
    {
        headers.push(("List-Unsubscribe".to_string(), format!("<{link}>")));
        headers.push((
            "List-Unsubscribe-Post".to_string(),
            "List-Unsubscribe=One-Click".to_string(),
        ));
    }
    Email { parts, headers }
}

/// Puts the preheader, hidden, first in the body: clients show the first
/// text of a message next to its subject.
fn with_preheader(html: &str, preheader: &str) -> String {
    let escaped = preheader
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let block = format!(
        "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">{escaped}</div>"
    );
    match body_tag(html).and_then(|start| html[start..].find('>').map(|end| start + end + 1)) {
        Some(index) => format!("{}{block}{}", &html[..index], &html[index..]),
        None => format!("{block}{html}"),
    }
}

/// Where the `<body` tag starts, in any case.
fn body_tag(html: &str) -> Option<usize> {
    // Scanning for one character is much faster than a substring search.
    html.match_indices('<')
        .map(|(index, _)| index)
        .find(|&index| {
            html.as_bytes()
                .get(index + 1..index + 5)
                .is_some_and(|name| name.eq_ignore_ascii_case(b"body"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_part_headers_and_preheader() {
        let parts = BTreeMap::from([
            (PartKind::Subject, "Скидка 25%".to_string()),
            (PartKind::Preheader, "Только до воскресенья".to_string()),
            (
                PartKind::Html,
                "<html><body><h1>Весна</h1><p>Скидка <b>25%</b> на обувь.</p><a href=\"https://unsubscribe.invalid/c1\">Отписаться</a></body></html>".to_string(),
            ),
        ]);
        let email = assemble(
            parts.clone(),
            MessageType::Promotional,
            Some("https://unsubscribe.invalid/c1"),
            None,
        );
        insta::assert_debug_snapshot!(email);
        let transactional = assemble(parts, MessageType::Transactional, Some("x"), None);
        assert!(transactional.headers.is_empty());
    }

    #[test]
    fn the_preheader_goes_after_the_body_tag_in_any_case() {
        let html = with_preheader("<html><BoDy class=\"a\">Hi</BoDy>", "<Скоро>");
        assert!(
            html.starts_with(
                "<html><BoDy class=\"a\">\
                 <div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">&lt;Скоро&gt;</div>"
            ),
            "{html}"
        );
        assert!(with_preheader("<p>Hi</p><bod", "x").starts_with("<div"));
    }
}
