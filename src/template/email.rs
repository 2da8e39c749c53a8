//! Email assembly: the rendered subject, preheader, HTML and text parts
//! become one message; a text part is produced from the HTML when none is
//! given, the preheader is placed hidden at the top of the HTML, and
//! promotional mail gets the one-click unsubscribe headers of RFC 8058.
//!
//! Producing the text part (html2text: an HTML5 parse and a layout) costs
//! more than rendering every template of the message, and the HTML of a
//! campaign differs from contact to contact mostly by the unsubscribe link.
//! [`TextParts`] therefore remembers text parts by their HTML with the link
//! masked, and proves for each HTML that the mask is exact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// Assembles an email from its rendered parts; `texts`, when given,
/// remembers text parts produced from HTML across messages.
pub fn assemble(
    mut parts: BTreeMap<PartKind, String>,
    kind: MessageType,
    unsubscribe: Option<&str>,
    texts: Option<&TextParts>,
) -> Email {
    let html = parts.get(&PartKind::Html);
    let text = match (html, parts.get(&PartKind::Text)) {
        (Some(html), None) => Some(match texts {
            Some(texts) => texts.text(html, unsubscribe),
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

/// The plain text of an HTML part, links kept as footnotes. A footnote's
/// URL is never broken across lines: the rest of a broken link could not
/// be followed.
pub fn html_to_text(html: &str) -> String {
    let config = html2text::config::plain_no_decorate()
        .link_footnotes(true)
        .no_link_wrapping();
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

/// `html` with every `escaped` (link) replaced by [`MASK`], or `None` when
/// it holds none.
fn mask(html: &str, escaped: &str) -> Option<String> {
    let mut index = html.find(escaped)?;
    let mut masked = String::with_capacity(html.len());
    let mut rest = html;
    loop {
        masked.push_str(&rest[..index]);
        masked.push_str(MASK);
        rest = &rest[index + escaped.len()..];
        match rest.find(escaped) {
            Some(next) => index = next,
            None => break,
        }
    }
    masked.push_str(rest);
    Some(masked)
}

/// Stands for the unsubscribe link in remembered HTML. Letters and digits
/// only: HTML escaping and parsing leave them as they are.
const MASK: &str = "heraldunsubscribelinkmask";
/// For the proof in [`TextParts::convert`]: the mask repeated past any line
/// width, each time followed by an escaped `/`, and the text it must become.
const LONG_MASK_REPEAT: usize = 16;
const ESCAPED_SLASH: (&str, &str) = ("&#x2f;", "/");
/// Bytes of HTML and text kept before the memory is emptied.
const CAPACITY_BYTES: usize = 32 << 20;
/// Keys seen once that are kept, to remember a key when it comes again.
const SEEN_LIMIT: usize = 1 << 18;

/// Text parts produced from HTML, remembered across the messages of a send.
///
/// The key is the rendered HTML with the contact's unsubscribe link (as
/// auto-escaping writes it) replaced by [`MASK`]; the text is the conversion
/// of that HTML with the link put back. That equals converting the contact's
/// own HTML only where html2text copies the link verbatim (a link footnote),
/// not where the link's length moves the layout (running text wraps, table
/// columns size to their content). So each new key is converted twice, with
/// a short and a very long mask, and remembered only when the two agree but
/// for the mask; otherwise every message with that HTML is converted on its
/// own. The link must be printable ASCII, as URLs are, so that it takes one
/// column per character like the mask.
///
/// HTML is remembered the second time it is seen: most HTML seen once is
/// never seen again (a rare name in the greeting, a tracking id), and is
/// converted as it is, at the cost it would have anyway.
#[derive(Debug, Default)]
pub struct TextParts {
    /// Masked HTML → its text with the mask in place of the link, or `None`
    /// when the mask is not exact for that HTML.
    memory: Mutex<Memory>,
    lookups: AtomicU64,
    hits: AtomicU64,
}

#[derive(Debug, Default)]
struct Memory {
    texts: HashMap<String, Option<Arc<str>>, BuildHasherDefault<WordHasher>>,
    bytes: usize,
    /// Hashes of the keys seen once.
    seen: HashSet<u64, BuildHasherDefault<WordHasher>>,
}

/// Hashes eight bytes a step: a key is a whole email (kilobytes), and
/// SipHash over it cost as much as rendering a template. A collision costs
/// a comparison of keys, never a wrong text.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let mut last = [0; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(last) ^ bytes.len() as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl WordHasher {
    fn add(&mut self, word: u64) {
        // The multiplier of FxHash (rustc's hasher).
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl TextParts {
    pub fn new() -> TextParts {
        TextParts::default()
    }

    /// The text part of `html`, exactly as [`html_to_text`] produces it.
    pub fn text(&self, html: &str, unsubscribe: Option<&str>) -> String {
        if html.contains(MASK) {
            return html_to_text(html);
        }
        let link = unsubscribe
            .filter(|link| !link.is_empty() && link.bytes().all(|byte| byte.is_ascii_graphic()));
        let masked = link.and_then(|link| mask(html, &minijinja::HtmlEscape(link).to_string()));
        let key = masked.as_deref().unwrap_or(html);
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let remembered = self.lock().texts.get(key).cloned();
        let text = match remembered {
            Some(text) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                text
            }
            None => {
                let mut hasher = WordHasher::default();
                hasher.write(key.as_bytes());
                let first_sight = {
                    let mut memory = self.lock();
                    if memory.seen.len() >= SEEN_LIMIT {
                        memory.seen.clear();
                    }
                    memory.seen.insert(hasher.finish())
                };
                if first_sight {
                    return html_to_text(html);
                }
                let text = TextParts::convert(key);
                let mut memory = self.lock();
                let size = key.len() + text.as_deref().map_or(0, str::len);
                if memory.bytes + size > CAPACITY_BYTES {
                    memory.texts.clear();
                    memory.bytes = 0;
                }
                memory.bytes += size;
                memory.texts.insert(key.to_string(), text.clone());
                text
            }
        };
        match (text, link) {
            (Some(text), Some(link)) => text.replace(MASK, link),
            (Some(text), None) => text.to_string(),
            (None, _) => html_to_text(html),
        }
    }

    /// (lookups, hits) so far.
    pub fn statistics(&self) -> (u64, u64) {
        (
            self.lookups.load(Ordering::Relaxed),
            self.hits.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory holds no invariant a panicking thread could break.
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The text of masked HTML, or `None` when the link could not be put
    /// back by replacement: where the mask's length changes the layout, or
    /// where html2text prints text without decoding character references
    /// (raw text elements), as the escaped link would then stay escaped.
    fn convert(masked: &str) -> Option<Arc<str>> {
        let text = html_to_text(masked);
        if masked.contains(MASK) {
            let (escaped, decoded) = ESCAPED_SLASH;
            let long_html = format!("{MASK}{escaped}").repeat(LONG_MASK_REPEAT);
            let long_text = format!("{MASK}{decoded}").repeat(LONG_MASK_REPEAT);
            let text_of_long = html_to_text(&masked.replace(MASK, &long_html));
            if text_of_long != text.replace(MASK, &long_text) {
                return None;
            }
        }
        Some(text.into())
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

    #[test]
    fn every_occurrence_of_the_link_is_masked() {
        assert_eq!(
            mask("<a href=\"L\">L</a>", "L"),
            Some(format!("<a href=\"{MASK}\">{MASK}</a>"))
        );
        assert_eq!(mask("aaaa", "aa"), Some(format!("{MASK}{MASK}")));
        assert_eq!(mask("abab", "ba"), Some(format!("a{MASK}b")));
        assert_eq!(mask("<p>nothing</p>", "link"), None);
    }
}

#[cfg(test)]
mod text_parts {
    use super::*;

    /// Every text part from memory must equal converting the message's own
    /// HTML: the links differ in length so that a layout depending on the
    /// link would show.
    fn assert_exact(texts: &TextParts, template: &str) {
        let links = [
            "https://unsubscribe.invalid/c-1",
            "https://unsubscribe.invalid/c-1234567",
            "https://shop.example/unsubscribe?contact=c-42&token=0123456789abcdef0123456789abcdef0123456789abcdef",
            "https://shop.example/u/it's-\"quoted\"-<b>",
        ];
        for _ in 0..2 {
            for link in links {
                let escaped = minijinja::HtmlEscape(link).to_string();
                let html = template.replace("LINK", &escaped);
                assert_eq!(
                    texts.text(&html, Some(link)),
                    html_to_text(&html),
                    "template {template:?}, link {link}"
                );
            }
        }
    }

    #[test]
    fn a_link_footnote_is_remembered_and_put_back() {
        let texts = TextParts::new();
        let template = "<p>Уважаемая Мария, скидка 25% до воскресенья.</p>\
            <a href=\"https://shop.example/sale\">Купить</a> <a href=\"LINK\">Отписаться</a>";
        assert_exact(&texts, template);
        let (lookups, hits) = texts.statistics();
        assert_eq!(
            (lookups, hits),
            (8, 6),
            "converted when first seen, remembered when seen again"
        );
    }

    #[test]
    fn a_link_whose_length_moves_the_layout_is_converted_each_time() {
        for template in [
            // Running text wraps around the link.
            "<p>Чтобы отписаться, откройте LINK в браузере, или напишите нам в поддержку.</p>",
            // A table column is as wide as its content.
            "<table><tr><td>LINK</td><td>Отписаться от рассылки магазина</td></tr></table>",
            // A raw text element prints the link as escaped.
            "<xmp>LINK</xmp><a href=\"LINK\">Отписаться</a>",
        ] {
            let texts = TextParts::new();
            assert_exact(&texts, template);
            let memory = texts.lock();
            assert!(
                memory.texts.values().all(Option::is_none),
                "{template}: {memory:?}"
            );
        }
        // Preformatted text neither wraps nor leaves references escaped.
        assert_exact(&TextParts::new(), "<pre>LINK</pre>");
    }

    #[test]
    fn html_without_the_link_or_holding_the_mask_stays_exact() {
        let texts = TextParts::new();
        assert_exact(&texts, "<p>Новая коллекция</p>");
        assert_exact(&texts, &format!("<p>{MASK}</p><a href=\"LINK\">x</a>"));
        let html = "<a href=\"https://unsubscribe.invalid/c-1\">Отписаться</a>";
        assert_eq!(texts.text(html, None), html_to_text(html));
        assert_eq!(
            texts.text(html, Some("https://юникод.рф/c-1")),
            html_to_text(html)
        );
    }

    #[test]
    fn html_seen_once_is_not_remembered() {
        let texts = TextParts::new();
        for index in 0..100 {
            let html = format!("<p>Заказ {index}</p>");
            assert_eq!(texts.text(&html, None), html_to_text(&html));
        }
        assert_eq!(texts.statistics(), (100, 0));
        assert!(texts.lock().texts.is_empty());
    }

    #[test]
    fn a_long_link_is_not_broken_across_lines() {
        let link = format!(
            "https://shop.example/unsubscribe/{}",
            "0123456789".repeat(8)
        );
        let text = html_to_text(&format!("<a href=\"{link}\">Отписаться</a>"));
        assert!(
            text.lines().any(|line| line == format!("[1]: {link}")),
            "{text}"
        );
    }
}
