//! Turning the values of a contacts or events file into what the store
//! holds: phones in E.164, lower-cased valid emails, and attribute values of
//! their declared types. Every function here returns the reason a value is
//! refused, as the rejects file shows it.

use crate::store::Scalar as Sql;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value as Json;

use crate::segment::catalog::FieldType;
use crate::segment::functions;
use crate::suggestion::did_you_mean;

/// What normalisation needs from the manifest.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The default region for numbers without a country code.
    pub region: Option<phonenumber::country::Id>,
    /// The project's time zone, for local times without an offset.
    pub timezone: TimeZone,
}

impl Rules {
    pub fn new(country: Option<&str>, timezone: &str) -> Result<Rules, String> {
        let region = match country {
            Some(code) => Some(
                code.trim()
                    .to_uppercase()
                    .parse::<phonenumber::country::Id>()
                    .map_err(|_| {
                        format!("`country: {code}` in herald.yaml is not an ISO 3166 country code")
                    })?,
            ),
            None => None,
        };
        Ok(Rules {
            region,
            timezone: TimeZone::get(timezone).unwrap_or(TimeZone::UTC),
        })
    }
}

/// A phone number in E.164 (`8 912 345-67-89` → `+79123456789` in Russia).
pub fn phone(text: &str, rules: &Rules) -> Result<String, String> {
    match russian_mobile(text, rules.region) {
        Some(e164) => Ok(e164),
        None => phone_by_metadata(text, rules),
    }
}

/// The fast path of [`phone`] for the commonest shape in Russian files: a
/// Russian mobile number (`+7 9XX…`, or with the default region RU
/// `8 9XX…` or `9XX…`) written with digits, spaces, hyphens and
/// parentheses only. Every `9` followed by nine digits is a valid Russian
/// mobile number in libphonenumber's metadata, so no parsing is needed;
/// `None` sends anything else through [`phone_by_metadata`]. The contacts
/// tests check that both agree on every input the fast path accepts.
pub fn russian_mobile(text: &str, region: Option<phonenumber::country::Id>) -> Option<String> {
    let (plus, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut digits = [0u8; 11];
    let mut count = 0;
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' => {
                *digits.get_mut(count)? = byte;
                count += 1;
            }
            b' ' | b'-' | b'(' | b')' => {}
            _ => return None,
        }
    }
    // libphonenumber refuses a country code or trunk prefix glued to a
    // group that separators then split (`+7902-455-1919`): the prefix must
    // stand apart, or the number be written without separators.
    let separated = rest.len() != count;
    if separated && count == 11 && !rest[1..].starts_with([' ', '(', '-']) {
        return None;
    }
    let russian = region == Some(phonenumber::country::Id::RU);
    let national = match (plus, count, digits[0]) {
        (true, 11, b'7') => &digits[1..11],
        (false, 11, b'8') if russian => &digits[1..11],
        (false, 10, _) if russian => &digits[..10],
        _ => return None,
    };
    if national[0] != b'9' {
        return None;
    }
    let mut e164 = String::with_capacity(12);
    e164.push_str("+7");
    e164.extend(national.iter().map(|&digit| char::from(digit)));
    Some(e164)
}

/// [`phone`] through libphonenumber's metadata, for every number.
pub fn phone_by_metadata(text: &str, rules: &Rules) -> Result<String, String> {
    let number = phonenumber::parse(rules.region, text)
        .map_err(|_| format!("phone `{text}` is not a phone number"))?;
    if !number.is_valid() {
        return Err(match rules.region {
            Some(region) => format!(
                "phone `{text}` is not a valid number (read with default region {})",
                region.as_ref()
            ),
            None => format!("phone `{text}` is not a valid number"),
        });
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A valid email address with a top-level domain, lower-cased.
pub fn email(text: &str) -> Result<String, String> {
    let options = email_address::Options::default().with_required_tld();
    match email_address::EmailAddress::parse_with_options(text, options) {
        Ok(address) if !address.as_str().contains(['<', '>', ' ']) => {
            Ok(address.as_str().to_lowercase())
        }
        Ok(_) => Err(format!("email `{text}` is not a plain address")),
        Err(error) => Err(format!("email `{text}` is not valid: {error}")),
    }
}

/// An instant: RFC 3339, or local `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DD`
/// in the project's time zone, or unix seconds in JSON.
pub fn instant(value: &Json, rules: &Rules) -> Result<i64, String> {
    match value {
        Json::Number(number) => number
            .as_i64()
            .ok_or_else(|| format!("`{number}` is not a time in unix seconds")),
        Json::String(text) => instant_text(text.trim(), rules),
        other => Err(format!("`{other}` is not a time")),
    }
}

fn instant_text(text: &str, rules: &Rules) -> Result<i64, String> {
    let exact = rfc3339(text);
    if exact.is_ok() || offset(text).is_some() {
        return exact;
    }
    let civil = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, text).ok())
        .or_else(|| date_text(text).map(|date| date.to_datetime(jiff::civil::Time::midnight())))
        .ok_or_else(|| {
            format!("`{text}` is not a time; write RFC 3339 (`2026-03-01T09:00:00+03:00`) or `YYYY-MM-DD HH:MM`")
        })?;
    civil
        .to_zoned_datetime(rules.timezone.clone())
        .map(|zoned| zoned.timestamp().as_second())
        .map_err(|error| format!("`{text}` is not a time in the project's time zone: {error}"))
}

/// The UTC offset an RFC 3339 time ends with (`Z`, `+03:00`): its sign,
/// hours and minutes.
fn offset(text: &str) -> Option<(char, u32, u32)> {
    if text.ends_with(['Z', 'z']) && text.len() > 10 {
        return Some(('+', 0, 0));
    }
    let tail = text.get(text.len().checked_sub(6)?..)?.as_bytes();
    let digit = |byte: u8| byte.is_ascii_digit().then(|| u32::from(byte - b'0'));
    let sign = match tail[0] {
        b'+' => '+',
        b'-' => '-',
        _ => return None,
    };
    if tail[3] != b':' {
        return None;
    }
    Some((
        sign,
        digit(tail[1])? * 10 + digit(tail[2])?,
        digit(tail[4])? * 10 + digit(tail[5])?,
    ))
}

/// An RFC 3339 time in unix seconds, or exactly what is wrong with it.
pub fn rfc3339(text: &str) -> Result<i64, String> {
    // jiff accepts offsets up to ±25:59:59; no place on Earth is more than
    // 14 hours from UTC, and RFC 3339 allows at most 23:59.
    if let Some((sign, hours, minutes)) = offset(text)
        && (hours > 23 || minutes > 59)
    {
        return Err(format!(
            "`{text}` has the UTC offset `{sign}{hours:02}:{minutes:02}`, which does not exist; \
             offsets run from -23:59 to +23:59"
        ));
    }
    match text.parse::<Timestamp>() {
        Ok(timestamp) => Ok(timestamp.as_second()),
        Err(error) => {
            let civil = text.get(..19).and_then(|head| {
                head.replacen(' ', "T", 1)
                    .parse::<jiff::civil::DateTime>()
                    .ok()
            });
            Err(match civil {
                Some(civil) if offset(text).is_some() && civil.year().abs() >= 9999 => format!(
                    "`{text}` is outside the times herald can store ({} to {})",
                    Timestamp::MIN.strftime("%Y-%m-%d"),
                    Timestamp::MAX.strftime("%Y-%m-%d")
                ),
                // A time that starts like one: say which part is wrong.
                _ if starts_like_a_date(text) => {
                    format!("`{text}` is not an RFC 3339 time: {error}")
                }
                _ => format!("`{text}` is not an RFC 3339 time"),
            })
        }
    }
}

/// Whether a text begins `dddd-dd-dd`.
fn starts_like_a_date(text: &str) -> bool {
    text.as_bytes().get(..10).is_some_and(|head| {
        head.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
    })
}

/// Refuses an id or merge key (`what`) that holds a control character: it
/// could not be typed back (`contacts show`) and would print raw bytes.
pub fn key(what: &str, text: &str) -> Result<(), String> {
    match text.chars().find(|c| c.is_control()) {
        Some(control) => Err(format!(
            "{what} {text:?} contains the control character U+{:04X}; ids and keys must be printable",
            u32::from(control)
        )),
        None => Ok(()),
    }
}

fn date_text(text: &str) -> Option<jiff::civil::Date> {
    functions::parse_date(text).or_else(|| jiff::civil::Date::strptime("%d.%m.%Y", text).ok())
}

fn number_text(text: &str) -> String {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    if compact.contains(',') && !compact.contains('.') {
        compact.replace(',', ".")
    } else {
        compact
    }
}

/// A value of the declared type, in its SQL form; `Ok(None)` when the value
/// is empty (an empty cell, `null` or `""`), which means "not given".
pub fn value(value: &Json, kind: &FieldType, rules: &Rules) -> Result<Option<Sql>, String> {
    let text = match value {
        Json::Null => return Ok(None),
        Json::String(text) if text.trim().is_empty() => return Ok(None),
        Json::String(text) => Some(text.trim()),
        _ => None,
    };
    let refuse = || match json_kind(value) {
        Some(given) => format!("`{}` is {given}, not {}", display(value), article(kind)),
        None => format!("`{}` is not {}", display(value), article(kind)),
    };
    let converted = match kind {
        FieldType::String => match value {
            Json::String(text) => Sql::Text(text.trim().to_string()),
            Json::Number(number) => Sql::Text(number.to_string()),
            Json::Bool(flag) => Sql::Text(flag.to_string()),
            _ => return Err(refuse()),
        },
        FieldType::Enum(values) => {
            let given = match value {
                Json::String(text) => text.trim().to_string(),
                Json::Number(number) => number.to_string(),
                _ => return Err(refuse()),
            };
            if !values.contains(&given) {
                let hint = values
                    .iter()
                    .find(|candidate| functions::fold(candidate) == functions::fold(&given))
                    .map(String::as_str)
                    .or_else(|| did_you_mean(&given, values.iter().map(String::as_str)));
                return Err(match hint {
                    Some(close) => format!(
                        "`{given}` is not one of {}; did you mean `{close}`?",
                        values.join(", ")
                    ),
                    None => format!("`{given}` is not one of {}", values.join(", ")),
                });
            }
            Sql::Text(given)
        }
        FieldType::Integer => match (value, text) {
            (Json::Number(number), _) => Sql::Integer(number.as_i64().ok_or_else(refuse)?),
            (_, Some(text)) => Sql::Integer(number_text(text).parse().map_err(|_| refuse())?),
            _ => return Err(refuse()),
        },
        FieldType::Number => {
            let number = match (value, text) {
                (Json::Number(number), _) => number.as_f64().ok_or_else(refuse)?,
                (_, Some(text)) => number_text(text).parse::<f64>().map_err(|_| refuse())?,
                _ => return Err(refuse()),
            };
            if !number.is_finite() {
                return Err(refuse());
            }
            Sql::Real(number)
        }
        FieldType::Boolean => {
            let flag = match (value, text) {
                (Json::Bool(flag), _) => *flag,
                (_, Some(text)) => match text.to_lowercase().as_str() {
                    "true" | "1" | "yes" | "y" | "да" => true,
                    "false" | "0" | "no" | "n" | "нет" => false,
                    _ => return Err(refuse()),
                },
                (Json::Number(number), _) => match number.as_i64() {
                    Some(1) => true,
                    Some(0) => false,
                    _ => return Err(refuse()),
                },
                _ => return Err(refuse()),
            };
            Sql::Integer(i64::from(flag))
        }
        FieldType::Date => {
            let date = text
                .and_then(date_text)
                .ok_or_else(|| format!("`{}` is not a date; write `YYYY-MM-DD`", display(value)))?;
            Sql::Text(date.to_string())
        }
        FieldType::Datetime => Sql::Integer(instant(value, rules)?),
        FieldType::List => {
            let items: Vec<String> = match value {
                Json::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        Json::String(text) => Ok(text.trim().to_string()),
                        Json::Number(number) => Ok(number.to_string()),
                        _ => Err(refuse()),
                    })
                    .collect::<Result<_, _>>()?,
                Json::String(text) if text.trim_start().starts_with('[') => {
                    match serde_json::from_str::<Vec<String>>(text) {
                        Ok(items) => items,
                        Err(_) => return Err(refuse()),
                    }
                }
                Json::String(text) => text
                    .split([',', ';', '|'])
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect(),
                _ => return Err(refuse()),
            };
            Sql::Text(serde_json::to_string(&items).map_err(|error| error.to_string())?)
        }
    };
    Ok(Some(converted))
}

fn display(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What a JSON value other than a string is, to say why it does not fit.
fn json_kind(value: &Json) -> Option<&'static str> {
    match value {
        Json::Bool(_) => Some("a boolean"),
        Json::Number(_) => Some("a number"),
        Json::Array(_) => Some("a list"),
        Json::Object(_) => Some("an object"),
        Json::String(_) | Json::Null => None,
    }
}

fn article(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::String => "a string",
        FieldType::Integer => "an integer",
        FieldType::Number => "a number",
        FieldType::Boolean => "a boolean (true/false)",
        FieldType::Date => "a date",
        FieldType::Datetime => "a time",
        FieldType::Enum(_) => "an enum value",
        FieldType::List => "a list of strings",
    }
}

/// An event property value as the events table keeps it in JSON: numbers
/// as numbers, dates as `YYYY-MM-DD`, datetimes as RFC 3339 UTC.
pub fn property(value: &Json, kind: &FieldType, rules: &Rules) -> Result<Option<Json>, String> {
    let Some(sql) = self::value(value, kind, rules)? else {
        return Ok(None);
    };
    Ok(Some(match (kind, sql) {
        (FieldType::Boolean, Sql::Integer(flag)) => Json::Bool(flag != 0),
        (FieldType::Datetime, Sql::Integer(seconds)) => Json::String(
            Timestamp::from_second(seconds)
                .map_err(|error| error.to_string())?
                .to_string(),
        ),
        (FieldType::List, Sql::Text(text)) => {
            serde_json::from_str(&text).map_err(|error| error.to_string())?
        }
        (_, Sql::Integer(number)) => Json::from(number),
        (_, Sql::Real(number)) => Json::from(number),
        (_, Sql::Text(text)) => Json::String(text),
        (_, _) => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::new(Some("RU"), "Europe/Moscow").unwrap()
    }

    #[test]
    fn russian_phones_become_e164() {
        for text in [
            "8 912 345-67-89",
            "+7 (912) 345-67-89",
            "89123456789",
            "9123456789",
        ] {
            assert_eq!(phone(text, &rules()).unwrap(), "+79123456789", "{text}");
        }
        assert!(phone("12345", &rules()).is_err());
        assert!(phone("телефон", &rules()).is_err());
        assert_eq!(
            phone("+44 20 7946 0958", &rules()).unwrap(),
            "+442079460958"
        );
    }

    #[test]
    fn emails_are_validated_and_lower_cased() {
        assert_eq!(
            email("Anna.Ivanova@Example.RU").unwrap(),
            "anna.ivanova@example.ru"
        );
        for bad in [
            "anna@",
            "anna@localhost",
            "@example.ru",
            "anna example.ru",
            "Anna <a@b.ru>",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_convert_to_declared_types() {
        let r = rules();
        let text = |s: &str| Json::String(s.to_string());
        assert_eq!(
            value(&text(" 42 "), &FieldType::Integer, &r).unwrap(),
            Some(Sql::Integer(42))
        );
        assert_eq!(
            value(&text("1 990,50"), &FieldType::Number, &r).unwrap(),
            Some(Sql::Real(1990.5))
        );
        assert_eq!(
            value(&text("да"), &FieldType::Boolean, &r).unwrap(),
            Some(Sql::Integer(1))
        );
        assert_eq!(
            value(&text("31.12.1990"), &FieldType::Date, &r).unwrap(),
            Some(Sql::Text("1990-12-31".into()))
        );
        assert_eq!(
            value(&text("2026-03-01 12:00"), &FieldType::Datetime, &r).unwrap(),
            Some(Sql::Integer(1_772_355_600))
        );
        assert_eq!(
            value(&text("vip; опт"), &FieldType::List, &r).unwrap(),
            Some(Sql::Text("[\"vip\",\"опт\"]".into()))
        );
        assert_eq!(value(&text(""), &FieldType::Integer, &r).unwrap(), None);
        assert_eq!(value(&Json::Null, &FieldType::Integer, &r).unwrap(), None);
        assert!(value(&text("много"), &FieldType::Integer, &r).is_err());
        assert!(value(&text("2026-02-30"), &FieldType::Date, &r).is_err());
        let gold = FieldType::Enum(vec!["gold".into(), "silver".into()]);
        let error = value(&text("Gold"), &gold, &r).unwrap_err();
        assert!(error.contains("did you mean `gold`"), "{error}");
    }
}
