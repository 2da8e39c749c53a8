//! The SMS calculator: which encoding a text needs, how many characters it
//! takes and into how many billed parts it is split.
//!
//! GSM 03.38 7-bit holds 160 characters in one part and 153 per part when
//! concatenated (the user data header takes the rest); its extension table
//! (`{ } [ ] ~ \ | ^ €` and form feed) costs two septets each. One character
//! outside GSM-7, a Cyrillic letter or a typographic quote, switches the whole
//! message to UCS-2: 70 UTF-16 units, 67 per part. A character is never split
//! between parts (an escape pair, a surrogate pair), which is why the count
//! is done part by part rather than by division.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }

    /// Units in a single-part message.
    pub fn single(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// Units in each part of a concatenated message.
    pub fn per_part(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
}

/// What an SMS text costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub encoding: Encoding,
    /// Characters as a person counts them (Unicode scalar values).
    pub characters: usize,
    /// Encoded units: septets for GSM-7 (extension characters count two),
    /// UTF-16 code units for UCS-2 (an emoji counts two).
    pub units: usize,
    pub parts: usize,
    /// Units still free in the last part.
    pub remaining: usize,
    /// The first character that forced UCS-2, if any.
    pub ucs2_because: Option<char>,
}

/// The GSM 03.38 basic character set.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table, two septets each.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` when it is not in GSM-7.
pub fn gsm7_units(character: char) -> Option<usize> {
    if character.is_ascii() {
        // Of printable ASCII only ` is missing from GSM-7; of the extension
        // table ^ { } \ [ ] ~ | are ASCII.
        return match character {
            '`' => None,
            '^' | '{' | '}' | '\\' | '[' | ']' | '~' | '|' | '\u{c}' => Some(2),
            c if BASIC.contains(c) => Some(1),
            _ => None,
        };
    }
    if BASIC.contains(character) {
        Some(1)
    } else if EXTENSION.contains(character) {
        Some(2)
    } else {
        None
    }
}

/// Analyses an SMS text.
pub fn analyse(text: &str) -> Analysis {
    let ucs2_because = text.chars().find(|c| gsm7_units(*c).is_none());
    let encoding = if ucs2_because.is_some() {
        Encoding::Ucs2
    } else {
        Encoding::Gsm7
    };
    let width = |c: char| match encoding {
        Encoding::Gsm7 => gsm7_units(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };
    let units: usize = text.chars().map(width).sum();
    let (parts, remaining) = if units == 0 {
        (0, encoding.single())
    } else if units <= encoding.single() {
        (1, encoding.single() - units)
    } else {
        let per_part = encoding.per_part();
        let mut parts = 1;
        let mut used = 0;
        for width in text.chars().map(width) {
            if used + width > per_part {
                parts += 1;
                used = 0;
            }
            used += width;
        }
        (parts, per_part - used)
    };
    Analysis {
        encoding,
        characters: text.chars().count(),
        units,
        parts,
        remaining,
        ucs2_because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(text: &str) -> (Encoding, usize, usize) {
        let analysis = analyse(text);
        (analysis.encoding, analysis.units, analysis.parts)
    }

    /// The reference cases: name, text, and (encoding, units, parts)
    /// worked out by hand from GSM 03.38 and the concatenation headers.
    fn reference_cases() -> Vec<(&'static str, String, (Encoding, usize, usize))> {
        use Encoding::*;
        let a = |n: usize| "a".repeat(n);
        let ya = |n: usize| "я".repeat(n);
        vec![
            ("empty", String::new(), (Gsm7, 0, 0)),
            ("gsm 160", a(160), (Gsm7, 160, 1)),
            ("gsm 161", a(161), (Gsm7, 161, 2)),
            ("gsm 306", a(306), (Gsm7, 306, 2)),
            ("gsm 307", a(307), (Gsm7, 307, 3)),
            ("extension at 160", a(158) + "€", (Gsm7, 160, 1)),
            ("extension past 160", a(159) + "€", (Gsm7, 161, 2)),
            (
                "extension pair not split",
                a(152) + "{" + &a(100),
                (Gsm7, 254, 2),
            ),
            (
                "escape pair pushed to next part",
                a(152) + "{" + &a(153),
                (Gsm7, 307, 3),
            ),
            (
                "line breaks count one",
                "a\nb\r\nc".to_string(),
                (Gsm7, 6, 1),
            ),
            ("cyrillic 70", ya(70), (Ucs2, 70, 1)),
            ("cyrillic 71", ya(71), (Ucs2, 71, 2)),
            ("cyrillic 134", ya(134), (Ucs2, 134, 2)),
            ("cyrillic 135", ya(135), (Ucs2, 135, 3)),
            ("euro counts one in ucs-2", ya(69) + "€", (Ucs2, 70, 1)),
            (
                "russian promo",
                "Мария: -25% до воскресенья".to_string(),
                (Ucs2, 26, 1),
            ),
            ("emoji counts two", a(68) + "😀", (Ucs2, 70, 1)),
            ("emoji past 70", a(69) + "😀", (Ucs2, 71, 2)),
            (
                "surrogate pair not split",
                a(66) + "😀" + &a(10),
                (Ucs2, 78, 2),
            ),
            ("one typographic quote", a(100) + "’", (Ucs2, 101, 2)),
            ("backtick is not gsm", "`".to_string(), (Ucs2, 1, 1)),
            (
                "gsm accents",
                "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¿¡§".to_string(),
                (Gsm7, 26, 1),
            ),
        ]
    }

    #[test]
    fn reference_table() {
        let mut failures = Vec::new();
        for (name, text, expected) in reference_cases() {
            let got = case(&text);
            if got != expected {
                failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every field of the analysis of every reference case, as one table.
    #[test]
    fn reference_table_snapshot() {
        let mut table = format!(
            "{:<32} {:<8} {:>5} {:>5} {:>5} {:>5}  {}\n",
            "case", "encoding", "chars", "units", "parts", "left", "ucs-2 because of"
        );
        for (name, text, _) in reference_cases() {
            let analysis = analyse(&text);
            table.push_str(&format!(
                "{:<32} {:<8} {:>5} {:>5} {:>5} {:>5}  {}\n",
                name,
                analysis.encoding.as_str(),
                analysis.characters,
                analysis.units,
                analysis.parts,
                analysis.remaining,
                analysis
                    .ucs2_because
                    .map_or("-".to_string(), |c| format!("{c:?}")),
            ));
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn the_character_forcing_ucs2_is_named() {
        assert_eq!(analyse("Sale “today”").ucs2_because, Some('“'));
        assert_eq!(analyse("Sale today").ucs2_because, None);
    }
}
