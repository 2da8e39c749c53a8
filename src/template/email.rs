//! Email assembly: the rendered subject, preheader, HTML and text parts
//! become one message; a text part is produced from the HTML when none is
//! given, the preheader is placed hidden at the top of the HTML, and
//! promotional mail gets the one-click unsubscribe headers of RFC 8058.

use std::collections::BTreeMap;

use crate::model::MessageType;
use crate::template::PartKind;

/// An assembled email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub parts: BTreeMap<PartKind, String>,
    /// Headers beyond From, To and Subject.
    pub headers: Vec<(String, String)>,
}

/// Width of the text part produced from HTML.
const TEXT_WIDTH: usize = 78;

/// Assembles an email from its rendered parts.
pub fn assemble(
    parts: &BTreeMap<PartKind, String>,
    kind: MessageType,
    unsubscribe: Option<&str>,
) -> Email {
    let mut parts = parts.clone();
    if let Some(html) = parts.get(&PartKind::Html).cloned() {
        parts
            .entry(PartKind::Text)
            .or_insert_with(|| html_to_text(&html));
        if let Some(preheader) = parts.get(&PartKind::Preheader) {
            parts.insert(PartKind::Html, with_preheader(&html, preheader));
        }
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

/// The plain text of an HTML part, links kept as footnotes.
pub fn html_to_text(html: &str) -> String {
    let config = html2text::config::plain_no_decorate().link_footnotes(true);
    match config.string_from_read(html.as_bytes(), TEXT_WIDTH) {
        Ok(text) => text.trim_end().to_string(),
        // html2text accepts any input; keep the HTML rather than lose the part.
        Err(_) => html.to_string(),
    }
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
    let lower = html.to_ascii_lowercase();
    match lower
        .find("<body")
        .and_then(|start| lower[start..].find('>').map(|end| start + end + 1))
    {
        Some(index) => format!("{}{block}{}", &html[..index], &html[index..]),
        None => format!("{block}{html}"),
    }
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
            &parts,
            MessageType::Promotional,
            Some("https://unsubscribe.invalid/c1"),
        );
        insta::assert_debug_snapshot!(email);
        let transactional = assemble(&parts, MessageType::Transactional, Some("x"));
        assert!(transactional.headers.is_empty());
    }
}
