//! Filters and functions for Russian-language marketing, usable in any
//! locale: `plural` (CLDR plural rules), `gendered`, `greeting_name`,
//! `money`, `date` and `truncate`.
//!
//! They read the project's settings (locale, currency, time zone, greeting
//! words) from [`Settings`], shared by every filter of one environment.

use std::str::FromStr;
use std::sync::Arc;

use icu_locale_core::Locale;
use icu_plurals::{PluralCategory, PluralOperands, PluralRules};
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::model::{Greeting, Manifest};

/// The project settings filters depend on.
#[derive(Debug)]
pub struct Settings {
    /// The BCP 47 locale, e.g. `ru` or `en-GB`.
    pub locale: String,
    /// ISO 4217 currency for `money`.
    pub currency: String,
    /// IANA time zone for contacts without their own.
    pub timezone: String,
    pub greeting: Greeting,
    plurals: Option<PluralRules>,
    format: NumberFormat,
}

impl Settings {
    pub fn new(locale: &str, currency: &str, timezone: &str, greeting: Greeting) -> Settings {
        let plurals = Locale::try_from_str(locale)
            .ok()
            .and_then(|locale| PluralRules::try_new_cardinal((&locale).into()).ok());
        Settings {
            locale: locale.to_string(),
            currency: currency.to_string(),
            timezone: timezone.to_string(),
            greeting,
            plurals,
            format: NumberFormat::for_locale(locale),
        }
    }

    pub fn from_manifest(manifest: &Manifest) -> Settings {
        let locale = manifest.locale.as_ref().map_or("ru", |l| l.value.as_str());
        let currency = manifest
            .currency
            .as_ref()
            .map_or("RUB", |c| c.value.as_str());
        let greeting = Greeting {
            prospect: manifest.greeting.prospect.clone(),
            customer: manifest.greeting.customer.clone(),
            gender_attribute: manifest.greeting.gender_attribute.clone(),
            customer_attribute: manifest.greeting.customer_attribute.clone(),
        };
        Settings::new(locale, currency, &manifest.timezone.value, greeting)
    }

    fn language(&self) -> &str {
        self.locale.split(['-', '_']).next().unwrap_or("ru")
    }
}

/// Registers every herald filter and function on `environment`.
pub fn register(environment: &mut Environment<'static>, settings: Arc<Settings>) {
    let s = settings.clone();
    environment.add_filter("plural", move |n: Value, forms: Rest<String>| {
        plural(&s, &n, &forms)
    });
    let s = settings.clone();
    environment.add_function("plural", move |n: Value, forms: Rest<String>| {
        plural(&s, &n, &forms)
    });
    let s = settings.clone();
    environment.add_function("gendered", move |state: &State, forms: Rest<String>| {
        gendered(&s, state, &forms)
    });
    let s = settings.clone();
    environment.add_filter("greeting_name", move |state: &State, name: Value| {
        Ok::<_, Error>(greeting_name(&s, state, &name))
    });
    let s = settings.clone();
    environment.add_filter("money", move |amount: Value, currency: Option<String>| {
        money(&s, &amount, currency.as_deref())
    });
    let s = settings;
    environment.add_filter(
        "date",
        move |state: &State, value: Value, format: Option<String>| {
            date(&s, state, &value, format.as_deref())
        },
    );
    environment.add_filter("truncate", truncate);
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A number as the decimal text plural rules and formatting read: integers
/// without a fraction, floats in their shortest form.
fn number_text(value: &Value) -> Result<String, Error> {
    match value.kind() {
        ValueKind::Number => {
            if let Some(integer) = value.as_i64() {
                return Ok(integer.to_string());
            }
            let float = f64::try_from(value.clone())
                .map_err(|_| invalid(format!("`{value}` is not a number")))?;
            if !float.is_finite() {
                return Err(invalid(format!("`{value}` is not a finite number")));
            }
            Ok(float.to_string())
        }
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim();
            match text.parse::<f64>() {
                Ok(float) if float.is_finite() => Ok(text.to_string()),
                _ => Err(invalid(format!("`{text}` is not a number"))),
            }
        }
        ValueKind::Undefined | ValueKind::None => Err(invalid("expected a number, got nothing")),
        _ => Err(invalid(format!("`{value}` is not a number"))),
    }
}

/// `n | plural("товар", "товара", "товаров")` → `3 товара`.
///
/// The forms follow the locale's CLDR categories in their order (zero, one,
/// two, few, many, other), so Russian takes one/few/many and English
/// one/other. When the fractional category `other` has no form of its own
/// (Russian with three forms), it takes the `few` form: «1,5 товара».
pub fn plural(settings: &Settings, n: &Value, forms: &[String]) -> Result<String, Error> {
    let text = number_text(n)?;
    let word = plural_word(settings, &text, forms)?;
    let number = settings.format.number(&text);
    Ok(format!("{number} {word}"))
}

fn plural_word<'a>(settings: &Settings, text: &str, forms: &'a [String]) -> Result<&'a str, Error> {
    if forms.is_empty() {
        return Err(invalid(
            "plural needs the word forms, e.g. plural(\"товар\", \"товара\", \"товаров\")",
        ));
    }
    let decimal = fixed_decimal::Decimal::from_str(text.trim_start_matches('-'))
        .map_err(|_| invalid(format!("`{text}` is not a number")))?;
    let operands = PluralOperands::from(&decimal);
    let (category, categories): (PluralCategory, Vec<PluralCategory>) = match &settings.plurals {
        Some(rules) => (rules.category_for(operands), rules.categories().collect()),
        None => (PluralCategory::Other, vec![PluralCategory::Other]),
    };
    let index = categories.iter().position(|c| *c == category).unwrap_or(0);
    if let Some(form) = forms.get(index)
        && (forms.len() >= categories.len() || category != PluralCategory::Other)
    {
        return Ok(form);
    }
    // Fewer forms than categories: `other` (fractions) borrows `few`, else the last form.
    let fallback = categories
        .iter()
        .position(|c| *c == PluralCategory::Few)
        .and_then(|index| forms.get(index))
        .or_else(|| forms.last());
    Ok(fallback.map_or("", String::as_str))
}

/// The contact's gender from the context, as `male`, `female` or `None`.
fn contact_gender(settings: &Settings, state: &State) -> Option<bool> {
    let contact = state.lookup("contact")?;
    let gender = contact.get_attr(&settings.greeting.gender_attribute).ok()?;
    let gender = gender.as_str()?.trim();
    // Compared in lower case without a lower-cased copy: this runs for
    // every message of a send.
    let is = |word: &str| gender.chars().flat_map(char::to_lowercase).eq(word.chars());
    if ["male", "m", "man", "м", "муж", "мужской"]
        .into_iter()
        .any(is)
    {
        Some(true)
    } else if ["female", "f", "woman", "ж", "жен", "женский"]
        .into_iter()
        .any(is)
    {
        Some(false)
    } else {
        None
    }
}

/// `gendered("Уважаемый", "Уважаемая", "Уважаемый клиент")`: by the
/// contact's gender, the third form when it is unknown (the first when only
/// two are given).
pub fn gendered(settings: &Settings, state: &State, forms: &[String]) -> Result<String, Error> {
    if !(2..=3).contains(&forms.len()) {
        return Err(invalid(
            "gendered takes the male, female and neutral forms, e.g. gendered(\"Уважаемый\", \"Уважаемая\", \"Уважаемый клиент\")",
        ));
    }
    let form = match contact_gender(settings, state) {
        Some(true) => &forms[0],
        Some(false) => &forms[1],
        None => forms.get(2).unwrap_or(&forms[0]),
    };
    Ok(form.clone())
}

/// `contact.first_name | greeting_name`: the first name with a capital
/// letter, or the fallback word for the contact's lifecycle and gender.
pub fn greeting_name(settings: &Settings, state: &State, name: &Value) -> String {
    let given = if name.is_undefined() || name.is_none() {
        String::new()
    } else {
        name.to_string().trim().to_string()
    };
    if !given.is_empty() {
        let mut characters = given.chars();
        return match characters.next() {
            Some(first) => first.to_uppercase().chain(characters).collect(),
            None => given,
        };
    }
    let customer = state
        .lookup("contact")
        .and_then(|contact| contact.get_attr(&settings.greeting.customer_attribute).ok())
        .is_some_and(|value| match value.kind() {
            ValueKind::Number => f64::try_from(value).is_ok_and(|n| n > 0.0),
            ValueKind::Bool => value.is_true(),
            _ => false,
        });
    let words = if customer {
        &settings.greeting.customer
    } else {
        &settings.greeting.prospect
    };
    match contact_gender(settings, state) {
        Some(true) => words.male.clone(),
        Some(false) => words.female.clone(),
        None => words.neutral.clone(),
    }
}

/// `amount | money` → «1 990 ₽»; `money("USD")` for another currency.
pub fn money(settings: &Settings, amount: &Value, currency: Option<&str>) -> Result<String, Error> {
    // Whole amounts, the usual prices, skip the float round trip: below
    // 2^46 an integer times 100 is exact, so rounding would not change it.
    let whole = amount
        .as_i64()
        .filter(|amount| amount.unsigned_abs() < 1 << 46);
    let (negative, digits) = match whole {
        Some(amount) => (amount < 0, amount.unsigned_abs().to_string()),
        None => {
            let text = number_text(amount)?;
            let value: f64 = text
                .parse()
                .map_err(|_| invalid(format!("`{text}` is not a number")))?;
            let rounded = (value * 100.0).round() / 100.0;
            let digits = if rounded.fract() == 0.0 {
                format!("{}", rounded.abs() as u64)
            } else {
                format!("{:.2}", rounded.abs())
            };
            (rounded < 0.0, digits)
        }
    };
    let symbol = currency_symbol(currency.unwrap_or(&settings.currency));
    let mut money = String::with_capacity(digits.len() + 2 * symbol.len() + 4);
    if negative {
        money.push('-');
    }
    if settings.format.symbol_first {
        money.push_str(symbol);
        settings.format.write_number(&digits, &mut money);
    } else {
        settings.format.write_number(&digits, &mut money);
        money.push('\u{a0}');
        money.push_str(symbol);
    }
    Ok(money)
}

fn currency_symbol(code: &str) -> &str {
    const SYMBOLS: [(&str, &str); 11] = [
        ("RUB", "₽"),
        ("USD", "$"),
        ("EUR", "€"),
        ("GBP", "£"),
        ("KZT", "₸"),
        ("UAH", "₴"),
        ("BYN", "Br"),
        ("JPY", "¥"),
        ("CNY", "¥"),
        ("TRY", "₺"),
        ("INR", "₹"),
    ];
    SYMBOLS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(code))
        .map_or(code, |(_, symbol)| symbol)
}

/// Digit grouping and decimal separator of a locale.
#[derive(Debug, Clone, Copy)]
struct NumberFormat {
    group: &'static str,
    decimal: &'static str,
    symbol_first: bool,
}

impl NumberFormat {
    fn for_locale(locale: &str) -> NumberFormat {
        let language = locale.split(['-', '_']).next().unwrap_or_default();
        match language {
            "en" | "ja" | "zh" | "ko" | "he" | "th" => NumberFormat {
                group: ",",
                decimal: ".",
                symbol_first: true,
            },
            "de" | "es" | "it" | "nl" | "pt" | "tr" | "id" | "da" => NumberFormat {
                group: ".",
                decimal: ",",
                symbol_first: false,
            },
            // ru, uk, be, kk, fr, pl, cs, sv, fi, ...: a no-break space groups digits.
            _ => NumberFormat {
                group: "\u{a0}",
                decimal: ",",
                symbol_first: false,
            },
        }
    }

    /// Formats a plain decimal text (`-1234.5`) with grouping and separator.
    fn number(&self, text: &str) -> String {
        let mut number = String::with_capacity(text.len() + 8);
        self.write_number(text, &mut number);
        number
    }

    fn write_number(&self, text: &str, out: &mut String) {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", text),
        };
        let (integer, fraction) = match digits.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (digits, None),
        };
        out.push_str(sign);
        // Four-digit numbers stay ungrouped in most locales' typography («1990 ₽» reads
        // as a year); CLDR ru groups from four, so follow CLDR.
        for (index, character) in integer.chars().enumerate() {
            if index > 0 && (integer.len() - index).is_multiple_of(3) {
                out.push_str(self.group);
            }
            out.push(character);
        }
        if let Some(fraction) = fraction {
            out.push_str(self.decimal);
            out.push_str(fraction);
        }
    }
}

const MONTHS_RU: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `value | date` → «25 ноября 2026»; `date("short")` → «25.11.2026»;
/// `date("time")` adds the time; any other argument is a strftime format.
/// Timestamps are shown in the contact's time zone (else the project's).
pub fn date(
    settings: &Settings,
    state: &State,
    value: &Value,
    format: Option<&str>,
) -> Result<String, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(invalid("date needs a date or timestamp, got nothing"));
    }
    let text = value.to_string();
    let zone_name = state
        .lookup("contact")
        .and_then(|contact| contact.get_attr("timezone").ok())
        .and_then(|zone| zone.as_str().map(str::to_string))
        .unwrap_or_else(|| settings.timezone.clone());
    let zone = jiff::tz::TimeZone::get(&zone_name)
        .or_else(|_| jiff::tz::TimeZone::get(&settings.timezone))
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let (civil, has_time) = if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        (timestamp.to_zoned_datetime(zone).datetime(), true)
    } else if let Ok(zoned) = text.parse::<jiff::ZonedDateTime>() {
        (zoned.with_time_zone(zone).datetime(), true)
    } else if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        (datetime, text.contains(['T', ' ']))
    } else if let Ok(date) = text.parse::<jiff::civil::Date>() {
        (date.to_datetime(jiff::civil::Time::midnight()), false)
    } else {
        return Err(invalid(format!("`{text}` is not a date or timestamp")));
    };
    let day = civil.day();
    let month = civil.month() as usize - 1;
    let year = civil.year();
    let time = format!("{:02}:{:02}", civil.hour(), civil.minute());
    let russian = settings.language() != "en";
    Ok(match format.unwrap_or("long") {
        "long" if russian => format!("{day} {} {year}", MONTHS_RU[month]),
        "long" => format!("{day} {} {year}", MONTHS_EN[month]),
        "short" if russian => format!("{day:02}.{:02}.{year}", month + 1),
        "short" => format!("{:02}/{day:02}/{year}", month + 1),
        "day" if russian => format!("{day} {}", MONTHS_RU[month]),
        "day" => format!("{day} {}", MONTHS_EN[month]),
        "time" if has_time && russian => format!("{day} {} {year}, {time}", MONTHS_RU[month]),
        "time" if has_time => format!("{day} {} {year}, {time}", MONTHS_EN[month]),
        "time" => return Err(invalid(format!("`{text}` has no time of day"))),
        pattern => civil.strftime(pattern).to_string(),
    })
}

/// `text | truncate(40)`: at most `length` characters including the ending
/// (`...` by default, which stays GSM-7 in SMS), cut at a word boundary
/// unless `killwords=true`.
pub fn truncate(value: Value, length: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let length = length.unwrap_or(255);
    let end: Option<String> = kwargs.get("end")?;
    let killwords: Option<bool> = kwargs.get("killwords")?;
    kwargs.assert_all_used()?;
    let end = end.unwrap_or_else(|| "...".to_string());
    let text = if value.is_undefined() || value.is_none() {
        return Err(invalid("truncate needs a text, got nothing"));
    } else {
        value.to_string()
    };
    if text.chars().count() <= length {
        return Ok(text);
    }
    let keep = length.saturating_sub(end.chars().count());
    let cut: String = text.chars().take(keep).collect();
    let cut = if killwords.unwrap_or(false) {
        cut.as_str()
    } else {
        match cut.rfind(char::is_whitespace) {
            Some(index) if index > 0 => &cut[..index],
            _ => cut.as_str(),
        }
    };
    Ok(format!("{}{end}", cut.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn environment(locale: &str) -> Environment<'static> {
        let mut environment = Environment::new();
        let settings = Settings::new(locale, "RUB", "Europe/Moscow", Greeting::default());
        register(&mut environment, Arc::new(settings));
        environment
    }

    fn render(environment: &Environment<'static>, source: &str, ctx: Value) -> String {
        environment
            .render_str(source, ctx)
            .unwrap_or_else(|error| format!("error: {error}"))
    }

    #[test]
    fn russian_plural_forms_0_to_125() {
        let environment = environment("ru");
        let lines: Vec<String> = (0..=125)
            .map(|n| {
                render(
                    &environment,
                    "{{ n | plural(\"товар\", \"товара\", \"товаров\") }}",
                    context! { n },
                )
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn plural_forms_of_fractions_and_other_locales() {
        let ru = environment("ru");
        let en = environment("en");
        let mut lines = Vec::new();
        for n in [0.5, 1.0, 1.5, 2.25, 5.0, 21.5] {
            lines.push(format!(
                "ru {n}: {}",
                render(
                    &ru,
                    "{{ n | plural(\"товар\", \"товара\", \"товаров\") }}",
                    context! { n }
                )
            ));
        }
        for n in ["1.50", "3", "11"] {
            lines.push(format!(
                "ru \"{n}\": {}",
                render(
                    &ru,
                    "{{ plural(n, \"товар\", \"товара\", \"товаров\") }}",
                    context! { n }
                )
            ));
        }
        for n in [0, 1, 2, 21] {
            lines.push(format!(
                "en {n}: {}",
                render(&en, "{{ n | plural(\"item\", \"items\") }}", context! { n })
            ));
        }
        lines.push(format!(
            "en 1.5: {}",
            render(&en, "{{ 1.5 | plural(\"item\", \"items\") }}", context! {})
        ));
        lines.push(format!(
            "ru 12345: {}",
            render(
                &ru,
                "{{ 12345 | plural(\"товар\", \"товара\", \"товаров\") }}",
                context! {}
            )
        ));
        lines.push(format!(
            "missing: {}",
            render(&ru, "{{ none | plural(\"товар\") }}", context! {})
        ));
        lines.push(format!(
            "not a number: {}",
            render(&ru, "{{ \"много\" | plural(\"товар\") }}", context! {})
        ));
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn gendered_and_greeting_name() {
        let environment = environment("ru");
        let template = "{{ gendered(\"Уважаемый\", \"Уважаемая\", \"Уважаемый клиент\") }}, {{ contact.first_name | greeting_name }}!";
        let cases = [
            (
                "male with name",
                context! { contact => context! { gender => "male", first_name => "иван" } },
            ),
            (
                "female with name",
                context! { contact => context! { gender => "female", first_name => "Мария" } },
            ),
            (
                "male prospect",
                context! { contact => context! { gender => "m" } },
            ),
            (
                "female prospect",
                context! { contact => context! { gender => "ж" } },
            ),
            (
                "female customer",
                context! { contact => context! { gender => "female", orders_count => 3 } },
            ),
            (
                "male customer, blank name",
                context! { contact => context! { gender => "male", orders_count => 1, first_name => "  " } },
            ),
            (
                "unknown gender",
                context! { contact => context! { gender => "other" } },
            ),
            (
                "no gender, customer",
                context! { contact => context! { orders_count => 2 } },
            ),
            (
                "none name",
                context! { contact => context! { first_name => () } },
            ),
        ];
        let lines: Vec<String> = cases
            .into_iter()
            .map(|(name, ctx)| format!("{name}: {}", render(&environment, template, ctx)))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    /// Whole amounts take a shortcut; it must print what the general path
    /// (the same amount written as text) prints, up to the largest amounts.
    #[test]
    fn money_of_whole_amounts_as_of_their_text() {
        for locale in ["ru", "en"] {
            let settings = Settings::new(locale, "RUB", "Europe/Moscow", Greeting::default());
            for amount in [
                0,
                -1,
                7,
                999,
                1000,
                -250,
                1_234_567,
                (1 << 46) - 1,
                1 << 46,
                -(1 << 46) - 1,
                (1 << 53) - 1,
                i64::MAX,
            ] {
                for currency in [None, Some("usd"), Some("XYZ")] {
                    assert_eq!(
                        money(&settings, &Value::from(amount), currency).expect("money"),
                        money(&settings, &Value::from(amount.to_string()), currency)
                            .expect("money"),
                        "{locale} {amount} {currency:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn money_date_and_truncate() {
        let ru = environment("ru");
        let en = environment("en");
        let cases = [
            (&ru, "{{ 1990 | money }}"),
            (&ru, "{{ 1990.5 | money }}"),
            (&ru, "{{ 0 | money }}"),
            (&ru, "{{ -250 | money }}"),
            (&ru, "{{ 1234567.891 | money }}"),
            (&ru, "{{ \"2490\" | money }}"),
            (&ru, "{{ 99 | money(\"EUR\") }}"),
            (&en, "{{ 1990 | money(\"USD\") }}"),
            (&en, "{{ 1990.5 | money }}"),
            (&ru, "{{ \"2026-03-08\" | date }}"),
            (&ru, "{{ \"2026-03-08\" | date(\"short\") }}"),
            (&ru, "{{ \"2026-12-31T22:30:00Z\" | date }}"),
            (&ru, "{{ \"2026-12-31T22:30:00Z\" | date(\"time\") }}"),
            (&en, "{{ \"2026-03-08\" | date }}"),
            (&en, "{{ \"2026-03-08\" | date(\"%Y/%m/%d\") }}"),
            (&ru, "{{ \"завтра\" | date }}"),
            (
                &ru,
                "{{ \"Весенняя распродажа обуви и аксессуаров\" | truncate(20) }}",
            ),
            (
                &ru,
                "{{ \"Весенняя распродажа обуви и аксессуаров\" | truncate(20, killwords=true) }}",
            ),
            (&ru, "{{ \"Весенняя распродажа\" | truncate(40) }}"),
            (
                &ru,
                "{{ \"Весенняя распродажа обуви\" | truncate(12, end=\"…\") }}",
            ),
        ];
        let lines: Vec<String> = cases
            .into_iter()
            .map(|(environment, source)| {
                format!("{source} → {}", render(environment, source, context! {}))
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn date_uses_the_contact_time_zone() {
        let environment = environment("ru");
        let ctx = context! { contact => context! { timezone => "Asia/Vladivostok" } };
        assert_eq!(
            render(
                &environment,
                "{{ \"2026-12-31T20:30:00Z\" | date(\"time\") }}",
                ctx
            ),
            "1 января 2027, 06:30"
        );
    }
}
