//! A contact as herald's stages see it: its id, typed attribute values,
//! consents, suppressions and events, and the built-in fields every contact
//! has without declaration. The store reads contacts into this form, the
//! filter evaluator tests them, and templates read them as `contact`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;

use crate::model::ValueType;

/// Built-in contact fields, available without declaration: the id, an
/// address per channel (see [`crate::channel::ChannelKind::address_field`]),
/// and what herald needs to time and word messages.
pub const BUILTIN_FIELDS: [(&str, ValueType); 11] = [
    ("id", ValueType::String),
    ("email", ValueType::String),
    ("phone", ValueType::String),
    ("telegram_chat_id", ValueType::String),
    ("whatsapp", ValueType::String),
    ("viber_id", ValueType::String),
    ("vk_id", ValueType::String),
    ("push_token", ValueType::String),
    ("timezone", ValueType::String),
    ("locale", ValueType::String),
    ("created_at", ValueType::Datetime),
];

/// Whether `name` is one of the built-in contact fields.
pub fn is_builtin(name: &str) -> bool {
    builtin_type(name).is_some()
}

/// The type of the built-in contact field `name`.
pub fn builtin_type(name: &str) -> Option<ValueType> {
    BUILTIN_FIELDS
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, kind)| *kind)
}

/// The value of a contact attribute or event property, typed by its
/// declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    Date(Date),
    /// Unix seconds.
    Datetime(i64),
    List(Vec<String>),
}

impl Value {
    /// The value as JSON: dates as ISO text, datetimes as RFC 3339
    /// timestamps (null when out of range), as templates show them too.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::String(text) => Json::from(text.as_str()),
            Value::Integer(number) => Json::from(*number),
            Value::Number(number) => Json::from(*number),
            Value::Boolean(flag) => Json::from(*flag),
            Value::Date(date) => Json::from(date.to_string()),
            Value::Datetime(seconds) => timestamp_text(*seconds).map_or(Json::Null, Json::from),
            Value::List(items) => Json::from(items.clone()),
        }
    }
}

/// Unix seconds as an RFC 3339 timestamp, `None` when out of range.
pub fn timestamp_text(seconds: i64) -> Option<String> {
    jiff::Timestamp::from_second(seconds)
        .ok()
        .map(|timestamp| timestamp.to_string())
}

/// One event of a contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: String,
    pub event: String,
    /// Unix seconds.
    pub at: i64,
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// A contact with what herald knows about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact {
    pub id: String,
    /// Built-in fields (other than `id`) and declared attributes that are set.
    pub attributes: BTreeMap<String, Value>,
    /// Current consent by channel: `true` granted, `false` revoked.
    pub consents: BTreeMap<String, bool>,
    /// Channels the contact is suppressed on (`*` for all).
    pub suppressions: BTreeSet<String>,
    pub events: Vec<Event>,
}

impl Contact {
    /// The contact's own time zone, when it has one.
    pub fn timezone(&self) -> Option<&str> {
        match self.attributes.get("timezone") {
            Some(Value::String(zone)) => Some(zone),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelKind;

    #[test]
    fn every_channel_address_is_a_builtin_text_field() {
        for kind in ChannelKind::ALL {
            if let Some(field) = kind.address_field() {
                assert_eq!(builtin_type(field), Some(ValueType::String), "{kind}");
            }
        }
    }
}
