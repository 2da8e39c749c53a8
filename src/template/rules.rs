//! Channel content rules, applied to every rendered sample: SMS parts
//! against `max_parts`, the offer within the first 40 characters, the
//! unsubscribe link in promotional email, subject length, messenger length
//! limits, line breaks in header values, parts that render empty, and the
//! documented limits of the provider the channel is routed to
//! ([`ContentProfile`]).

use crate::channel::ChannelKind;
use crate::codes::Code;
use crate::model::{Manifest, MessageType};
use crate::provider::ContentProfile;
use crate::segment::functions::fold;
use crate::template::{ChannelMessage, PartKind, Rendered, Target};

/// SMS parts allowed when neither the message nor the channel says: the
/// rule of thumb for customers (prospects get one).
pub const DEFAULT_MAX_PARTS: u32 = 2;
/// The offer must be seen in the notification.
pub const OFFER_WITHIN: usize = 40;
/// Desktop clients show about this many characters of a subject.
pub const SUBJECT_LIMIT: usize = 70;

/// A rule broken by one rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    /// The part whose declaration the diagnostic points at.
    pub part: PartKind,
    pub message: String,
    pub help: Option<String>,
    /// How badly (characters, parts): the worst sample is reported.
    pub weight: usize,
}

/// The longest message the channel takes: the manifest's `max_length`,
/// else what the provider it is routed to documents, else what the
/// channel's platform usually accepts (for a `file` or `webhook` provider,
/// whose destination herald cannot know).
pub fn length_limit(manifest: &Manifest, channel: &str) -> Option<usize> {
    let kind = ChannelKind::from_name(channel)?;
    let declared = manifest
        .channels
        .get(kind)
        .and_then(|declared| declared.max_length.as_ref());
    let provider = ContentProfile::for_channel(manifest, kind)
        .and_then(|(_, profile)| profile.text)
        .map(|limit| limit.max);
    declared
        .map(|limit| limit.value as usize)
        .or(provider)
        .or_else(|| kind.text_limit())
}

/// Checks one rendered message.
pub fn check(
    manifest: &Manifest,
    target: &Target,
    message: &ChannelMessage,
    rendered: &Rendered,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // A preheader may be empty by design; every other declared part is sent.
    for part in message
        .parts
        .iter()
        .filter(|part| part.kind != PartKind::Preheader)
    {
        if rendered
            .parts
            .get(&part.kind)
            .is_none_or(|value| value.trim().is_empty())
        {
            findings.push(Finding {
                code: Code::EmptyMessage,
                part: part.kind,
                message: format!("the {} {} renders empty", message.channel, part.kind.as_str()),
                help: Some("give the part content that does not depend on optional values alone (`default(\"…\")`)".into()),
                weight: 1,
            });
        }
    }
    for (kind, value) in &rendered.parts {
        if kind.is_header() && value.contains(['\r', '\n']) {
            findings.push(Finding {
                code: Code::HeaderLineBreak,
                part: *kind,
                message: format!(
                    "the rendered {} contains a line break: {:?}",
                    kind.as_str(),
                    value
                ),
                help: Some("write it on one line; a YAML block scalar (`|`) keeps line breaks, use a quoted string".into()),
                weight: 1,
            });
        }
    }
    let provider = ChannelKind::from_name(message.channel)
        .and_then(|kind| ContentProfile::for_channel(manifest, kind));
    let over_provider_limit = match &provider {
        Some((name, profile)) => provider_limits(name, profile, message, rendered, &mut findings),
        None => false,
    };
    match message.channel {
        "sms" => sms(target, message, rendered, &mut findings),
        "email" => email(target, rendered, &mut findings),
        channel if !over_provider_limit => {
            let limit = length_limit(manifest, channel);
            if let (Some(limit), Some(text)) = (limit, rendered.parts.get(&PartKind::Text)) {
                let length = text.chars().count();
                if length > limit {
                    findings.push(Finding {
                        code: Code::MessageTooLong,
                        part: PartKind::Text,
                        message: format!(
                            "the {channel} message is {length} characters; the channel accepts {limit}"
                        ),
                        help: Some(format!(
                            "shorten it, or set `channels.{channel}.max_length` if the provider accepts more"
                        )),
                        weight: length,
                    });
                }
            }
        }
        _ => {}
    }
    findings
}

/// Holds the rendered message to the documented limits of the provider
/// `name` delivers it through; true when the text is longer than the
/// provider takes, which makes the channel's own limit moot.
fn provider_limits(
    name: &str,
    profile: &ContentProfile,
    message: &ChannelMessage,
    rendered: &Rendered,
    findings: &mut Vec<Finding>,
) -> bool {
    let channel = message.channel;
    let text = rendered.parts.get(&PartKind::Text);
    let length = text.map_or(0, |text| text.chars().count());
    let mut over = false;
    if let Some(limit) = profile.text
        && length > limit.max
    {
        over = true;
        findings.push(Finding {
            code: Code::ProviderTextTooLong,
            part: PartKind::Text,
            message: format!(
                "the {channel} text is {length} characters; {} (provider `{name}`) takes a `{}` of at most {}",
                profile.provider, limit.field, limit.max
            ),
            help: Some(format!(
                "shorten it: the limit is {}'s, and no herald setting raises it",
                profile.provider
            )),
            weight: length,
        });
    }
    if let (Some(limit), Some(text), false) = (profile.template_parameter, text, over) {
        if length > limit.max {
            findings.push(Finding {
                code: Code::TemplateParameterTooLong,
                part: PartKind::Text,
                message: format!(
                    "the {channel} text is {length} characters; outside the 24-hour window {} (provider `{name}`) sends it as a {}, which takes at most {}",
                    profile.provider, limit.field, limit.max
                ),
                help: Some(format!(
                    "shorten it to {} characters, or it reaches only contacts who wrote within the last 24 hours",
                    limit.max
                )),
                weight: length,
            });
        }
        if let Some(found) = template_parameter_whitespace(text) {
            findings.push(Finding {
                code: Code::TemplateParameterWhitespace,
                part: PartKind::Text,
                message: format!(
                    "the {channel} text contains {found}; outside the 24-hour window {} (provider `{name}`) sends it as a {}, which may not",
                    profile.provider, limit.field
                ),
                help: Some(
                    "write the text on one line without tabs or runs of spaces (a YAML block scalar `|` keeps line breaks; `>-` folds them), or put the layout into the approved template".into(),
                ),
                weight: 1,
            });
        }
    }
    over
}

/// What a WhatsApp template parameter may not contain (error 132018): a
/// line break, a tab, or more than four spaces in a row.
fn template_parameter_whitespace(text: &str) -> Option<&'static str> {
    if text.contains(['\n', '\r']) {
        Some("a line break")
    } else if text.contains('\t') {
        Some("a tab")
    } else if text.contains("     ") {
        Some("more than four spaces in a row")
    } else {
        None
    }
}

fn sms(
    target: &Target,
    message: &ChannelMessage,
    rendered: &Rendered,
    findings: &mut Vec<Finding>,
) {
    let (Some(text), Some(analysis)) = (rendered.parts.get(&PartKind::Text), &rendered.sms) else {
        return;
    };
    let max_parts = message.max_parts.unwrap_or(DEFAULT_MAX_PARTS) as usize;
    if analysis.parts > max_parts {
        let because = match analysis.ucs2_because {
            Some(character) => format!(" because of {character:?}"),
            None => String::new(),
        };
        findings.push(Finding {
            code: Code::SmsTooLong,
            part: PartKind::Text,
            message: format!(
                "the SMS takes {} parts ({} {}{because}, {} characters); `max_parts` is {max_parts}",
                analysis.parts,
                analysis.units,
                match analysis.encoding {
                    super::sms::Encoding::Gsm7 => "GSM-7 septets",
                    super::sms::Encoding::Ucs2 => "UCS-2 units",
                },
                analysis.characters,
            ),
            help: Some(format!(
                "{} holds {} characters in one part and {} per part when split; `herald render {}` shows the count",
                analysis.encoding.as_str(),
                analysis.encoding.single(),
                analysis.encoding.per_part(),
                target.name
            )),
            weight: analysis.parts * 1000 + analysis.units,
        });
    }
    if let Some(offer) = &target.offer {
        let offer = offer.value.trim();
        let found = find_caseless(text, offer);
        let position = found.map(|(start, _)| start);
        let late = match found {
            Some((_, end)) => end > OFFER_WITHIN,
            None => true,
        };
        if late && !offer.is_empty() {
            let message = match position {
                Some(start) => format!(
                    "the offer `{offer}` starts at character {} of the SMS; it must be within the first {OFFER_WITHIN}",
                    start + 1
                ),
                None => format!("the SMS does not mention the offer `{offer}`"),
            };
            findings.push(Finding {
                code: Code::OfferTooLate,
                part: PartKind::Text,
                message,
                help: Some("put the offer at the start: phones show only the first line".into()),
                weight: position.unwrap_or(usize::MAX / 2),
            });
        }
    }
}

/// Where `needle` occurs in `text` under the segment language's Unicode case
/// folding («Пицца» finds «пицца»), as the character range `(start, end)` of
/// `text`. Folding can change lengths (`ß` folds to `ss`), so each folded
/// character remembers the character of `text` it came from.
fn find_caseless(text: &str, needle: &str) -> Option<(usize, usize)> {
    let mut folded = String::with_capacity(text.len());
    // (byte offset in `folded`, character index in `text`), one per character of `text`.
    let mut origins = Vec::with_capacity(text.len());
    let mut buffer = [0; 4];
    for (index, character) in text.chars().enumerate() {
        origins.push((folded.len(), index));
        folded.push_str(&fold(character.encode_utf8(&mut buffer)));
    }
    let needle = fold(needle);
    if needle.is_empty() {
        return Some((0, 0));
    }
    let start = folded.find(&needle)?;
    let end = start + needle.len();
    let origin = |byte: usize| match origins.binary_search_by_key(&byte, |&(offset, _)| offset) {
        Ok(found) => origins[found].1,
        Err(after) => origins[after.saturating_sub(1)].1,
    };
    Some((origin(start), origin(end.saturating_sub(1)) + 1))
}

fn email(target: &Target, rendered: &Rendered, findings: &mut Vec<Finding>) {
    if let Some(subject) = rendered.parts.get(&PartKind::Subject) {
        let length = subject.chars().count();
        if length > SUBJECT_LIMIT {
            findings.push(Finding {
                code: Code::SubjectTooLong,
                part: PartKind::Subject,
                message: format!(
                    "the subject is {length} characters; mail clients show about {SUBJECT_LIMIT}"
                ),
                help: Some("put the offer first and keep the subject short".into()),
                weight: length,
            });
        }
    }
    if target.message_type == MessageType::Promotional {
        let link = rendered
            .headers
            .iter()
            .find(|(name, _)| name == "List-Unsubscribe")
            .map(|(_, value)| value.trim_matches(['<', '>']).to_string());
        let body = [PartKind::Html, PartKind::Text]
            .into_iter()
            .find_map(|kind| rendered.parts.get(&kind).map(|text| (kind, text)));
        if let (Some(link), Some((kind, text))) = (link, body)
            && !text.contains(&link)
            && !text.contains(&minijinja::HtmlEscape(&link).to_string())
        {
            findings.push(Finding {
                code: Code::MissingUnsubscribeLink,
                part: kind,
                message: "the promotional email has no unsubscribe link".into(),
                help: Some("add `<a href=\"{{ links.unsubscribe }}\">Отписаться</a>` (or the link in the text part)".into()),
                weight: 1,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::find_caseless;

    #[test]
    fn the_offer_is_found_whatever_its_case() {
        let sms = "С днём рождения! Пицца в подарок…";
        assert_eq!(find_caseless(sms, "пицца в подарок"), Some((17, 32)));
        assert_eq!(find_caseless(sms, "ПИЦЦА"), Some((17, 22)));
        assert_eq!(find_caseless(sms, "суши"), None);
    }

    #[test]
    fn positions_count_the_characters_of_the_text_not_of_its_folding() {
        // `ß` folds to two characters; the offer after it still starts at character 7.
        assert_eq!(find_caseless("Straße SALE", "sale"), Some((7, 11)));
        assert_eq!(find_caseless("STRASSE", "straße"), Some((0, 7)));
        assert_eq!(find_caseless("", "x"), None);
    }
}
