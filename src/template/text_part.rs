//! Text parts produced from HTML once per template path, not per contact.
//!
//! Producing a text part from HTML ([`html_to_text`]: an HTML5 parse and a
//! layout, about 150 µs for a 5 KB newsletter) costs twenty times
//! rendering the HTML. But the HTML of one message differs from contact to
//! contact only where the template printed a value: a name, a count, a
//! link. [`TextParts`] therefore converts the HTML with the printed values
//! replaced by markers (the *skeleton*) once, and gives each contact that
//! text with the markers replaced by the contact's own values. Contacts
//! whose templates took the same branches share one skeleton, so a send
//! converts a handful of skeletons instead of an audience of messages.
//!
//! [`recording`] renders the HTML and notes where each value printed by
//! the environment's formatter ([`print`]) landed. A value becomes a marker
//! only where that is exact, that is where converting the skeleton and
//! then putting the value in gives what converting the contact's own HTML
//! gives:
//! - the value is plain escaped text: no markup, no character reference
//!   beyond those auto-escaping writes, no whitespace but single spaces
//!   between words, no control, formatting or private-use character (so
//!   it holds no byte that changes how the HTML around it is read);
//! - it is not inside an unfinished character reference, nor inside an
//!   unfinished tag unless within a quoted attribute value (so the
//!   tokenizer never looks ahead into it: a tag's name, `</`, `<!--`);
//! - once per skeleton, [`markers_in_place`] reads the skeleton and finds
//!   every marker in running text, a quoted attribute value or a raw text
//!   element, not in a tag or a comment;
//! - once per skeleton, the skeleton is converted twice, with short
//!   markers and with long ones holding escaped characters, and the two
//!   texts must agree but for the markers: otherwise a value's length
//!   moves the layout (a table sized to its content) or the converter
//!   shows it undecoded (`<xmp>`).
//!
//! Other values stay in the skeleton as they are, and a skeleton that fails
//! a check is converted for each message, as without this module. Values
//! that are equal share a marker, so the skeleton keeps which were equal.
//! The text part is not wrapped (see [`html_to_text`]), so a value's length
//! does not move running text. `tests/text_parts.rs` checks against
//! converting each contact's own HTML, for random templates, hostile values
//! and random ranges.
//!
//! A skeleton is remembered the second time it is seen: most HTML seen once
//! is never seen again (a value printed inside a tag), and is converted as
//! it is, at the cost it would have anyway.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Width past which the text part wraps a paragraph: none in practice.
/// The text part keeps a paragraph on one line, which every client reflows
/// to its screen; text wrapped at 78 columns breaks into ragged halves on a
/// phone, and transfer encoding keeps long lines within SMTP's limits.
const TEXT_WIDTH: usize = 10_000;

/// The plain text of an HTML part, links kept as footnotes, a paragraph to
/// a line. Tables are read as a column of cells: an email's tables lay it
/// out, and drawn as a grid they would fill the text with borders and
/// padding.
pub fn html_to_text(html: &str) -> String {
    let config = html2text::config::plain_no_decorate()
        .link_footnotes(true)
        .no_link_wrapping()
        .raw_mode(true);
    match config.string_from_read(html.as_bytes(), TEXT_WIDTH) {
        Ok(text) => text.trim_end().to_string(),
        // html2text accepts any input; keep the HTML rather than lose the part.
        Err(_) => html.to_string(),
    }
}

/// Opens and closes a marker; between them, the value's number in decimal.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// For the proof in [`TextParts::convert`]: what follows each marker, as
/// HTML and as the text it must become, and how many times it is repeated.
const PROOF: (&str, &str) = ("aA&amp;&lt;&#x27;", "aA&<'");
const PROOF_REPEAT: usize = 16;
/// Bytes of skeletons and texts kept before the memory is emptied.
const CAPACITY_BYTES: usize = 32 << 20;
/// Skeletons seen once that are kept, to remember one when it comes again.
const SEEN_LIMIT: usize = 1 << 18;

/// Text parts produced from HTML, remembered across the messages of a send.
#[derive(Debug, Default)]
pub struct TextParts {
    /// Skeleton → its text with the markers in it, or `None` when markers
    /// cannot stand for the values in that skeleton.
    memory: Mutex<Memory>,
    lookups: AtomicU64,
    hits: AtomicU64,
}

#[derive(Debug, Default)]
struct Memory {
    texts: HashMap<String, Option<Arc<str>>, BuildHasherDefault<SkeletonHasher>>,
    bytes: usize,
    /// Hashes of the skeletons seen once.
    seen: HashSet<u64, BuildHasherDefault<SkeletonHasher>>,
}

impl TextParts {
    pub fn new() -> TextParts {
        TextParts::default()
    }

    /// The text part of `html`, exactly as [`html_to_text`] produces it.
    /// `printed` are the byte ranges of `html` that the template's
    /// expressions printed, in order and not overlapping (as [`recording`]
    /// finds them); any other ranges give the same text, only converted
    /// more often.
    pub fn text(&self, html: &str, printed: &[Range<usize>]) -> String {
        let Some(skeleton) = Skeleton::new(html, printed) else {
            return html_to_text(html);
        };
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let remembered = self.lock().texts.get(&skeleton.key).cloned();
        let text = match remembered {
            Some(text) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                text
            }
            None => {
                let mut hasher = SkeletonHasher::default();
                hasher.write(skeleton.key.as_bytes());
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
                let text = TextParts::convert(&skeleton.key);
                let mut memory = self.lock();
                let size = skeleton.key.len() + text.as_deref().map_or(0, str::len);
                if memory.bytes + size > CAPACITY_BYTES {
                    memory.texts.clear();
                    memory.bytes = 0;
                }
                memory.bytes += size;
                memory.texts.insert(skeleton.key.clone(), text.clone());
                text
            }
        };
        text.and_then(|text| skeleton.fill(&text))
            .unwrap_or_else(|| html_to_text(html))
    }

    /// Counts another's lookups and hits as this one's.
    pub fn absorb(&self, other: &TextParts) {
        let (lookups, hits) = other.statistics();
        self.lookups.fetch_add(lookups, Ordering::Relaxed);
        self.hits.fetch_add(hits, Ordering::Relaxed);
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

    /// The text of a skeleton with its markers in it, or `None` when
    /// markers cannot stand for values there: where a value's length or
    /// its characters change the text beyond the value itself.
    fn convert(key: &str) -> Option<Arc<str>> {
        if !markers_in_place(key) {
            return None;
        }
        let text = html_to_text(key);
        if holds_marker_character(key) {
            let (html, decoded) = PROOF;
            let long_key = replace_markers(key, |number, out| {
                for _ in 0..PROOF_REPEAT {
                    push_marker(out, number);
                    out.push_str(html);
                }
            })?;
            let expected = replace_markers(&text, |number, out| {
                for _ in 0..PROOF_REPEAT {
                    push_marker(out, number);
                    out.push_str(decoded);
                }
            })?;
            if html_to_text(&long_key) != expected {
                return None;
            }
        }
        Some(text.into())
    }
}

/// The HTML being rendered while [`recording`] on this thread, and where
/// the values printed through [`print`] are in it.
#[derive(Debug, Default)]
struct Recorder {
    active: bool,
    html: Vec<u8>,
    printed: Vec<Range<usize>>,
    /// The length of the last HTML, reserved for the next: the HTML is
    /// handed over each time, and growing it anew took a dozen copies.
    last_length: usize,
}

thread_local! {
    static RECORDER: RefCell<Recorder> = RefCell::default();
}

/// Where a render writes while [`recording`]: the recorder's HTML, so that
/// [`print`] knows where each value lands.
struct RecordingWriter;

impl io::Write for RecordingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        RECORDER.with(|recorder| match recorder.try_borrow_mut() {
            Ok(mut recorder) => {
                recorder.html.extend_from_slice(bytes);
                Ok(bytes.len())
            }
            Err(_) => Err(io::Error::other("the HTML recorder is in use")),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders an HTML part on this thread (`render` writes it to the writer
/// it is given, as `Template::render_captured_to` does) and returns it with
/// the byte ranges of the values its expressions printed, as
/// [`TextParts::text`] takes them.
///
/// Only values printed through [`print`] straight into the output count:
/// one printed inside a macro or a `set` block lands in a capture first and
/// is left out. Any ranges give the right text; these make it fast.
pub fn recording<E>(
    render: impl FnOnce(&mut dyn io::Write) -> Result<(), E>,
) -> Result<(String, Vec<Range<usize>>), E> {
    /// Stops the recording and takes what it holds, even if `render`
    /// fails or panics.
    struct Active;
    impl Active {
        fn finish(self) -> (Vec<u8>, Vec<Range<usize>>) {
            RECORDER.with(|recorder| {
                let mut recorder = recorder.borrow_mut();
                recorder.active = false;
                recorder.last_length = recorder.html.len();
                (
                    std::mem::take(&mut recorder.html),
                    std::mem::take(&mut recorder.printed),
                )
            })
        }
    }
    impl Drop for Active {
        fn drop(&mut self) {
            RECORDER.with(|recorder| {
                if let Ok(mut recorder) = recorder.try_borrow_mut() {
                    recorder.active = false;
                }
            });
        }
    }
    let started = RECORDER.with(|recorder| {
        let Ok(mut recorder) = recorder.try_borrow_mut() else {
            return false;
        };
        if recorder.active {
            return false;
        }
        recorder.active = true;
        recorder.html.clear();
        let length = recorder.last_length;
        recorder.html.reserve(length + length / 8);
        recorder.printed.clear();
        true
    });
    if !started {
        // A render inside a render: nothing to record into.
        let mut html = Vec::new();
        render(&mut html)?;
        return Ok((String::from_utf8_lossy(&html).into_owned(), Vec::new()));
    }
    let active = Active;
    render(&mut RecordingWriter)?;
    let (html, printed) = active.finish();
    // The renderer writes whole `str`s, so this never fails. Checked with
    // SIMD: `String::from_utf8` took a twentieth of the time of a send.
    if simdutf8::basic::from_utf8(&html).is_err() {
        return Ok((String::from_utf8_lossy(&html).into_owned(), Vec::new()));
    }
    // SAFETY: `html` was checked to be UTF-8 just above.
    let html = unsafe { String::from_utf8_unchecked(html) };
    Ok((html, printed))
}

/// Writes a value's escaped text (what `write` writes) to the output and,
/// when [`recording`] and the output is the HTML itself (not a capture),
/// notes where it landed.
pub fn print(
    out: &mut dyn fmt::Write,
    write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
) -> fmt::Result {
    let length = || {
        RECORDER.with(|recorder| {
            recorder
                .try_borrow()
                .ok()
                .filter(|recorder| recorder.active)
                .map(|recorder| recorder.html.len())
        })
    };
    let Some(start) = length() else {
        return write(out);
    };
    write(out)?;
    if let Some(end) = length().filter(|&end| end > start) {
        RECORDER.with(|recorder| {
            if let Ok(mut recorder) = recorder.try_borrow_mut() {
                recorder.printed.push(start..end);
            }
        });
    }
    Ok(())
}

/// HTML with the printed values that markers can stand for replaced by
/// markers, and those values as the HTML printed them.
#[derive(Debug, PartialEq, Eq)]
struct Skeleton<'h> {
    key: String,
    /// The escaped text of marker `n`, each distinct.
    values: Vec<&'h str>,
}

impl<'h> Skeleton<'h> {
    /// `None` when the HTML holds a marker character of its own.
    fn new(html: &'h str, printed: &[Range<usize>]) -> Option<Skeleton<'h>> {
        if holds_marker_character(html) {
            return None;
        }
        let mut key = String::with_capacity(html.len());
        let mut values: Vec<&str> = Vec::new();
        let mut copied = 0;
        for range in printed {
            if range.start < copied || range.is_empty() {
                continue;
            }
            let (Some(before), Some(value)) = (html.get(..range.start), html.get(range.clone()))
            else {
                continue;
            };
            if !may_hold_marker(before) || !is_plain(value) {
                continue;
            }
            let number = match values.iter().position(|known| *known == value) {
                Some(number) => number,
                None => {
                    values.push(value);
                    values.len() - 1
                }
            };
            key.push_str(&html[copied..range.start]);
            push_marker(&mut key, number);
            copied = range.end;
        }
        key.push_str(&html[copied..]);
        Some(Skeleton { key, values })
    }

    /// The skeleton's text with every marker replaced by its value; `None`
    /// if the text holds a marker of no value.
    fn fill(&self, text: &str) -> Option<String> {
        let mut complete = true;
        let filled = replace_markers(text, |number, out| match self.values.get(number) {
            Some(value) => decode_into(out, value),
            None => complete = false,
        })?;
        complete.then_some(filled)
    }
}

/// Whether `html` holds [`OPEN`] or [`CLOSE`], U+E000 and U+E001: EE 80
/// 80 and EE 80 81 in UTF-8, where EE leads only rare characters. One
/// `memchr` pass, where `str::contains` decodes every character.
fn holds_marker_character(html: &str) -> bool {
    let bytes = html.as_bytes();
    memchr::memchr_iter(0xEE, bytes)
        .any(|index| matches!(bytes.get(index + 1..index + 3), Some([0x80, 0x80 | 0x81])))
}

fn push_marker(out: &mut String, number: usize) {
    out.push(OPEN);
    // Digits by hand: `write!` costs more than the rest of a marker.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = number;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
    out.push(CLOSE);
}

/// `text` with each marker (`OPEN digits CLOSE`) replaced by what `with`
/// writes for the marker's number; `None` when an `OPEN` starts no
/// well-formed marker.
fn replace_markers(text: &str, mut with: impl FnMut(usize, &mut String)) -> Option<String> {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let bytes = text.as_bytes();
    let mut copied = 0;
    // OPEN is EE 80 80 (see `holds_marker_character`).
    for start in memchr::memchr_iter(0xEE, bytes) {
        if start < copied || bytes.get(start + 1..start + 3) != Some(&[0x80, 0x80]) {
            continue;
        }
        out.push_str(&text[copied..start]);
        let digits_start = start + OPEN.len_utf8();
        let digits = bytes[digits_start..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let digits_end = digits_start + digits;
        if digits == 0 || digits > 9 || !text[digits_end..].starts_with(CLOSE) {
            return None;
        }
        let number = bytes[digits_start..digits_end]
            .iter()
            .fold(0, |number, digit| number * 10 + usize::from(digit - b'0'));
        with(number, &mut out);
        copied = digits_end + CLOSE.len_utf8();
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The character references auto-escaping writes, and their characters.
const REFERENCES: [(&str, char); 9] = [
    ("&amp;", '&'),
    ("&lt;", '<'),
    ("&gt;", '>'),
    ("&quot;", '"'),
    ("&#34;", '"'),
    ("&#39;", '\''),
    ("&#x27;", '\''),
    ("&#x2f;", '/'),
    ("&#47;", '/'),
];

/// The reference `escaped` starts with, if it is one of [`REFERENCES`].
fn reference(escaped: &[u8]) -> Option<(usize, char)> {
    REFERENCES
        .iter()
        .find(|(reference, _)| escaped.starts_with(reference.as_bytes()))
        .map(|(reference, decoded)| (reference.len(), *decoded))
}

/// What a byte of a printed value is, for [`is_plain`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    /// Needs no further look: a printable ASCII character, a continuation
    /// byte, or the first byte of characters that are all plain (Latin,
    /// Greek, Cyrillic, most scripts and CJK).
    Plain,
    Space,
    /// `&`: a character reference must follow.
    Ampersand,
    /// Markup, a control character, or a byte that starts no character.
    Refused,
    /// The first byte of a range that holds characters which are not
    /// plain (see [`plain_char`]): the character is decoded and looked at.
    Check,
}

const BYTES: [Byte; 256] = {
    let mut table = [Byte::Refused; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = match byte as u8 {
            b' ' => Byte::Space,
            b'&' => Byte::Ampersand,
            b'<' | b'>' | b'"' | b'\'' => Byte::Refused,
            b'!'..=b'~' | 0x80..=0xBF => Byte::Plain,
            // U+0080 to U+00BF (C1 controls, no-break space, soft hyphen),
            // U+0340 to U+037F (combining grapheme joiner), U+0600 to
            // U+063F (Arabic letter mark), U+1000 to U+1FFF, U+2000 to
            // U+2FFF (spaces, joiners, bidirectional marks), U+3000 to
            // U+3FFF (ideographic space, Hangul filler), and everything
            // from U+E000 (private use, variation selectors, specials,
            // tags, planes 15 and 16).
            0xC2 | 0xCD | 0xD8 | 0xE1 | 0xE2 | 0xE3 | 0xEE | 0xEF | 0xF3 | 0xF4 => Byte::Check,
            0xC3..=0xF2 => Byte::Plain,
            _ => Byte::Refused,
        };
        byte += 1;
    }
    table
};

/// Whether a printed value is plain escaped text, as defined in the
/// module's documentation. A table lookup a byte, with a tight loop over
/// the bytes that need no look: values are most of what a message's HTML
/// differs by.
fn is_plain(printed: &str) -> bool {
    let bytes = printed.as_bytes();
    if bytes.first().is_none_or(|&first| first == b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let mut index = 0;
    let mut previous_space = false;
    loop {
        let skipped = bytes[index..]
            .iter()
            .position(|&byte| BYTES[usize::from(byte)] != Byte::Plain);
        let Some(skipped) = skipped else {
            return true;
        };
        if skipped > 0 {
            previous_space = false;
        }
        index += skipped;
        let class = BYTES[usize::from(bytes[index])];
        index += match class {
            Byte::Plain => 1,
            Byte::Space if previous_space => return false,
            Byte::Space => 1,
            Byte::Ampersand => match reference(&bytes[index..]) {
                Some((length, _)) => length,
                None => return false,
            },
            Byte::Refused => return false,
            Byte::Check => match printed.get(index..).and_then(|rest| rest.chars().next()) {
                Some(c) if plain_char(c) => c.len_utf8(),
                _ => return false,
            },
        };
        previous_space = class == Byte::Space;
    }
}

/// Appends the text of an escaped value.
fn decode_into(out: &mut String, escaped: &str) {
    let mut rest = escaped;
    while let Some(index) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..index]);
        match reference(&rest.as_bytes()[index..]) {
            Some((length, decoded)) => {
                out.push(decoded);
                rest = &rest[index + length..];
            }
            None => {
                out.push('&');
                rest = &rest[index + 1..];
            }
        }
    }
    out.push_str(rest);
}

/// A non-ASCII character that every HTML context the converter reads
/// keeps as it is: not whitespace, not a control, formatting,
/// bidirectional or private-use character.
fn plain_char(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{AD}'
            | '\u{34F}'
            | '\u{61C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFF}'
            | '\u{E0000}'..='\u{E0FFF}'
            | '\u{F0000}'..))
}

/// Where a position of HTML stands, as much as deciding on markers needs:
/// a small tokenizer that follows tags, quoted attribute values, comments
/// and raw text elements.
#[derive(Debug, Default)]
struct Scanner {
    at: usize,
    context: Context,
    /// The raw text element whose start tag is being read.
    raw: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Context {
    #[default]
    Text,
    Tag,
    Quoted(u8),
    Comment,
    /// Inside the raw text element of that name, up to its end tag.
    RawText(&'static str),
}

/// Elements whose content is not parsed as markup.
const RAW_TEXT: [&str; 10] = [
    "script",
    "style",
    "title",
    "textarea",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

impl Scanner {
    /// Reads `html` up to `to`, jumping from one byte that can change the
    /// context to the next (`memchr`): an email is kilobytes of markup and
    /// style sheet with a few values in it.
    fn advance(&mut self, html: &[u8], to: usize) {
        while self.at < to {
            let window = &html[self.at..to];
            let found = match self.context {
                Context::Text | Context::RawText(_) => memchr::memchr(b'<', window),
                Context::Tag => memchr::memchr3(b'"', b'\'', b'>', window),
                Context::Quoted(quote) => memchr::memchr(quote, window),
                Context::Comment => memchr::memmem::find(window, b"-->"),
            };
            let Some(offset) = found else {
                self.at = to;
                return;
            };
            self.at += offset;
            self.step(html);
        }
    }

    /// Reads the byte at `self.at`, one that can change the context.
    fn step(&mut self, html: &[u8]) {
        let byte = html[self.at];
        let rest = &html[self.at + 1..];
        match self.context {
            Context::Text => {
                if rest.starts_with(b"!--") {
                    self.context = Context::Comment;
                    self.at += 4;
                    return;
                }
                let closing = rest.first() == Some(&b'/');
                let name_start = usize::from(closing);
                if rest
                    .get(name_start)
                    .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'!' | b'?'))
                {
                    let name: &[u8] = &rest[name_start..];
                    let length = name
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .count();
                    let name = &name[..length];
                    self.raw = RAW_TEXT
                        .into_iter()
                        .find(|raw| !closing && raw.as_bytes().eq_ignore_ascii_case(name));
                    self.context = Context::Tag;
                    self.at += 1 + name_start + length;
                    return;
                }
            }
            Context::Tag => {
                if byte == b'>' {
                    self.context = self.raw.take().map_or(Context::Text, Context::RawText);
                } else if html[..self.at]
                    .iter()
                    .rev()
                    .find(|c| !c.is_ascii_whitespace())
                    == Some(&b'=')
                {
                    // A quote opens a value only after `=`.
                    self.context = Context::Quoted(byte);
                }
            }
            Context::Quoted(_) => self.context = Context::Tag,
            Context::Comment => {
                self.context = Context::Text;
                self.at += 3;
                return;
            }
            Context::RawText(name) => {
                if rest.first() == Some(&b'/')
                    && rest[1..]
                        .get(..name.len())
                        .is_some_and(|tag| tag.eq_ignore_ascii_case(name.as_bytes()))
                {
                    self.context = Context::Tag;
                    self.raw = None;
                    self.at += 2 + name.len();
                    return;
                }
            }
        }
        self.at += 1;
    }

    /// Whether a marker may stand here: in running text, a quoted
    /// attribute value or a raw text element. In a raw text element the
    /// converter shows the text undecoded or not at all; the proof in
    /// [`TextParts::convert`] tells which.
    fn holds_marker(&self) -> bool {
        matches!(
            self.context,
            Context::Text | Context::Quoted(_) | Context::RawText(_)
        )
    }
}

/// Whether every marker of a skeleton stands where a marker may, read off
/// the skeleton itself. That is where the values stand in the HTML of every
/// contact with this skeleton: values hold no byte that changes the
/// context, and [`may_hold_marker`] kept markers out of the places where
/// the tokenizer looks ahead (a tag's name, `</`, `<!--`).
fn markers_in_place(key: &str) -> bool {
    let bytes = key.as_bytes();
    let mut scanner = Scanner::default();
    memchr::memchr_iter(0xEE, bytes)
        .filter(|&index| bytes.get(index + 1..index + 3) == Some(&[0x80, 0x80]))
        .all(|index| {
            scanner.advance(bytes, index);
            scanner.holds_marker()
        })
}

/// Whether a value printed after `before` may become a marker, judged
/// from the few bytes before it: not inside an unfinished character
/// reference (it would take the value in), and, inside an unfinished tag,
/// only within a quoted attribute value. The rest is for
/// [`markers_in_place`], once per skeleton.
fn may_hold_marker(before: &str) -> bool {
    if open_reference(before) {
        return false;
    }
    let bytes = before.as_bytes();
    let Some(open) = memchr::memrchr(b'<', bytes) else {
        return true;
    };
    let tag = &bytes[open + 1..];
    if memchr::memchr(b'>', tag).is_some() {
        return true;
    }
    // An unfinished tag: its name, then attributes; the value must be
    // inside quotes opened after `=`. From quote to quote by `memchr`.
    let name = tag.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    let mut rest = &tag[name..];
    let mut from = open + 1 + name;
    loop {
        let Some(quote) = memchr::memchr2(b'"', b'\'', rest) else {
            return false;
        };
        let at = from + quote;
        // A quote opens a value only right after `=` and spaces.
        let opens = bytes[..at]
            .iter()
            .rev()
            .find(|byte| !byte.is_ascii_whitespace())
            == Some(&b'=');
        rest = &rest[quote + 1..];
        from = at + 1;
        if opens {
            let Some(close) = memchr::memchr(bytes[at], rest) else {
                return true;
            };
            rest = &rest[close + 1..];
            from += close + 1;
        }
    }
}

/// Whether `html` ends inside a character reference (`&`, then letters,
/// digits or `#`, without the `;`).
fn open_reference(html: &str) -> bool {
    let tail = html
        .bytes()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'#')
        .count();
    html.len()
        .checked_sub(tail + 1)
        .is_some_and(|index| html.as_bytes()[index] == b'&')
}

/// XXH3 over a skeleton: a key is a whole email (5 to 100 KB), and a
/// multiply a word (FxHash) took half the time of looking a skeleton up on
/// a 50 KB email; XXH3 reads 32 bytes a step with SIMD. A collision costs
/// a comparison of keys, never a wrong text.
#[derive(Default)]
struct SkeletonHasher(u64);

impl Hasher for SkeletonHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn markers_are_the_bytes_the_fast_search_looks_for() {
        assert_eq!(OPEN.to_string().as_bytes(), [0xEE, 0x80, 0x80]);
        assert_eq!(CLOSE.to_string().as_bytes(), [0xEE, 0x80, 0x81]);
        assert!(holds_marker_character("a\u{E000}"));
        assert!(holds_marker_character("\u{E001}b"));
        assert!(!holds_marker_character("\u{E002}\u{E0FF}\u{EE80} Анна"));
    }

    /// The byte table agrees with the definition over characters.
    fn is_plain_by_characters(printed: &str) -> bool {
        let mut text = String::new();
        let mut rest = printed;
        while let Some(c) = rest.chars().next() {
            if c == '&' {
                let Some((length, decoded)) = reference(rest.as_bytes()) else {
                    return false;
                };
                text.push(decoded);
                rest = &rest[length..];
                continue;
            }
            if matches!(c, '<' | '>' | '"' | '\'')
                || !(c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && plain_char(c)))
            {
                return false;
            }
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
        !text.is_empty() && !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ")
    }

    proptest! {
        #[test]
        fn the_byte_table_agrees_with_the_definition(
            pieces in proptest::collection::vec(prop_oneof![
                any::<char>().prop_map(String::from),
                "[a-zа-яё ]{1,4}",
                proptest::sample::select(vec![
                    "&amp;", "&lt;", "&#39;", "&x", "<", "\"", "\t", "  ", "\u{a0}", "\u{ad}",
                    "\u{200b}", "\u{2028}", "\u{3000}", "\u{e000}", "\u{fe0f}", "\u{feff}",
                    "\u{e0041}", "\u{10fffd}", "\u{85}", "\u{34f}", "\u{61c}",
                ]).prop_map(String::from),
            ], 0..12)
        ) {
            let printed = pieces.concat();
            prop_assert_eq!(is_plain(&printed), is_plain_by_characters(&printed), "{:?}", printed);
        }
    }
}
