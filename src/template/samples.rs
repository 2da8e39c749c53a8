//! Sample contacts and events generated from the data model, so content
//! rules can be checked before any contact is loaded: every optional
//! attribute set and every one missing, both genders, and long names and
//! values that push texts to their limits.

use std::collections::BTreeMap;

use minijinja::value::Value;
use serde::Serialize;

use crate::contact::BUILTIN_FIELDS;
use crate::model::{Attribute, Manifest, ValueType};

/// One generated contact.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub id: String,
    /// What the sample covers, for messages ("female, long values").
    pub description: String,
    #[serde(skip)]
    pub contact: Value,
    /// The attributes as JSON, for `herald render --format json`.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// How a sample fills attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// Every attribute, with ordinary values.
    Full,
    /// Only required attributes.
    Sparse,
    /// Every attribute, with long values.
    Long,
}

/// The fixed clock of checks and previews without `--now`.
pub const SAMPLE_NOW: &str = "2026-03-02T09:00:00Z";

/// `count` samples (at least the first `count` of: full male, full female,
/// sparse, long female, sparse female, long male, ...).
pub fn contacts(manifest: &Manifest, count: usize) -> Vec<Sample> {
    let plan = [
        (Fill::Full, Some(true)),
        (Fill::Full, Some(false)),
        (Fill::Sparse, None),
        (Fill::Long, Some(false)),
        (Fill::Sparse, Some(false)),
        (Fill::Long, Some(true)),
    ];
    (0..count)
        .map(|index| {
            let (fill, male) = plan[index % plan.len()];
            contact(manifest, index + 1, fill, male)
        })
        .collect()
}

/// The first `count` samples, then one more for every value of an enum
/// attribute (other than the gender) those do not already hold: a template
/// that maps the enum (`{{ names[contact.favourite] }}`) meets every value
/// in `check`, not first in production when a value is added.
pub fn covering(manifest: &Manifest, count: usize) -> Vec<Sample> {
    let mut samples = contacts(manifest, count);
    let gender = manifest.greeting.gender_attribute.as_str();
    let mut extra = Vec::new();
    for (name, attribute) in &manifest.contact.attributes {
        if attribute.value_type() != ValueType::Enum || name.value == gender {
            continue;
        }
        for value in attribute.enum_values() {
            let held = samples
                .iter()
                .any(|sample| sample.attributes.get(&name.value) == Some(&value.as_str().into()));
            if held {
                continue;
            }
            let mut sample = contact(manifest, count + extra.len() + 1, Fill::Full, Some(true));
            sample
                .attributes
                .insert(name.value.clone(), value.as_str().into());
            sample.description = format!("{} = \"{value}\"", name.value);
            sample.contact = contact_value(&sample.attributes);
            extra.push(sample);
        }
    }
    samples.extend(extra);
    samples
}

fn contact_value(attributes: &BTreeMap<String, serde_json::Value>) -> Value {
    Value::from(
        attributes
            .iter()
            .map(|(k, v)| (k.clone(), super::json_value(v)))
            .collect::<BTreeMap<String, Value>>(),
    )
}

fn contact(manifest: &Manifest, number: usize, fill: Fill, male: Option<bool>) -> Sample {
    let russian = manifest
        .locale
        .as_ref()
        .is_none_or(|locale| !locale.value.starts_with("en"));
    let id = format!("sample-{number}");
    let mut attributes: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (name, _) in BUILTIN_FIELDS {
        let value = match name {
            "id" => id.clone().into(),
            "email" => format!("{id}@example.com").into(),
            "phone" => "+79161234567".into(),
            "timezone" => manifest.timezone.value.clone().into(),
            "locale" => manifest
                .locale
                .as_ref()
                .map_or("ru".to_string(), |l| l.value.clone())
                .into(),
            "created_at" => "2025-06-01T12:00:00Z".into(),
            _ if fill == Fill::Sparse => continue,
            other => format!("{other}-{number}").into(),
        };
        attributes.insert(name.to_string(), value);
    }
    let gender_attribute = manifest.greeting.gender_attribute.as_str();
    for (name, attribute) in &manifest.contact.attributes {
        let name = name.value.as_str();
        if fill == Fill::Sparse && !attribute.required() && name != gender_attribute {
            continue;
        }
        let value = if name == gender_attribute {
            match gender_value(attribute, male) {
                Some(value) => value,
                None => continue,
            }
        } else {
            sample_value(name, attribute, fill, male, russian)
        };
        attributes.insert(name.to_string(), value);
    }
    let description = [
        match male {
            Some(true) => "male",
            Some(false) => "female",
            None => "gender unknown",
        },
        match fill {
            Fill::Full => "all attributes",
            Fill::Sparse => "optional attributes missing",
            Fill::Long => "long values",
        },
    ]
    .join(", ");
    let contact = contact_value(&attributes);
    Sample {
        id,
        description,
        contact,
        attributes,
    }
}

/// The gender attribute's value for a sample, `None` to leave it out.
fn gender_value(attribute: &Attribute, male: Option<bool>) -> Option<serde_json::Value> {
    let male = male?;
    let values = attribute.enum_values();
    if values.is_empty() {
        return Some(if male { "male" } else { "female" }.into());
    }
    let wanted: &[&str] = if male {
        &["male", "m", "м", "man", "мужской"]
    } else {
        &["female", "f", "ж", "woman", "женский"]
    };
    values
        .iter()
        .find(|value| wanted.contains(&value.to_lowercase().as_str()))
        .or_else(|| values.get(usize::from(!male)))
        .map(|value| value.clone().into())
}

fn sample_value(
    name: &str,
    attribute: &Attribute,
    fill: Fill,
    male: Option<bool>,
    russian: bool,
) -> serde_json::Value {
    let long = fill == Fill::Long;
    let female = male == Some(false);
    match attribute.value_type() {
        ValueType::String => {
            let text = match (name, russian, long, female) {
                ("first_name", true, false, false) => "Иван",
                ("first_name", true, false, true) => "Мария",
                ("first_name", true, true, false) => "Константин-Александр",
                ("first_name", true, true, true) => "Александра-Виктория",
                ("first_name", false, false, false) => "John",
                ("first_name", false, false, true) => "Mary",
                ("first_name", false, true, _) => "Maximilian-Alexander",
                ("last_name", true, false, false) => "Петров",
                ("last_name", true, false, true) => "Петрова",
                ("last_name", true, true, _) => "Римская-Корсакова-Голенищева",
                ("last_name", false, false, _) => "Smith",
                ("last_name", false, true, _) => "Featherstonehaugh-Montgomery",
                ("middle_name", true, false, false) => "Сергеевич",
                ("middle_name", true, false, true) => "Сергеевна",
                ("middle_name", true, true, _) => "Константиновна",
                ("city", true, false, _) => "Москва",
                ("city", true, true, _) => "Петропавловск-Камчатский",
                ("city", false, false, _) => "London",
                ("city", false, true, _) => "Llanfairpwllgwyngyll",
                (_, true, false, _) => "пример",
                (_, true, true, _) => "очень длинное значение атрибута для проверки",
                (_, false, false, _) => "example",
                (_, false, true, _) => "a rather long attribute value for checking",
            };
            text.into()
        }
        ValueType::Integer => if long { 12_345 } else { 3 }.into(),
        ValueType::Number => if long { 1_234_567.5 } else { 1990.0 }.into(),
        ValueType::Boolean => true.into(),
        ValueType::Date => "1990-05-17".into(),
        ValueType::Datetime => "2026-02-20T15:30:00Z".into(),
        ValueType::Enum => {
            let values = attribute.enum_values();
            let index = match male {
                Some(false) => 1,
                _ => 0,
            };
            values
                .get(index % values.len().max(1))
                .cloned()
                .unwrap_or_default()
                .into()
        }
        ValueType::List => serde_json::Value::Array(vec!["vip".into()]),
    }
}

/// A sample of the event `name` with every property set.
pub fn event(manifest: &Manifest, name: &str, long: bool) -> Option<Value> {
    let (_, event) = manifest.events.iter().find(|(key, _)| key.value == name)?;
    let russian = manifest
        .locale
        .as_ref()
        .is_none_or(|locale| !locale.value.starts_with("en"));
    let fill = if long { Fill::Long } else { Fill::Full };
    Some(Value::from(
        event
            .properties
            .iter()
            .map(|(key, attribute)| {
                let value = sample_value(&key.value, attribute, fill, None, russian);
                (key.value.clone(), super::json_value(&value))
            })
            .collect::<BTreeMap<String, Value>>(),
    ))
}
