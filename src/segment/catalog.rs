//! The names a filter can use, with their types: contact attributes (built-in
//! and declared), event types and their properties, and channels. Built from
//! the manifest once; the type checker, the SQL compiler and the evaluator
//! all look names up here, so they agree on what a name means.

use std::collections::BTreeMap;

use crate::channel::ChannelKind;
use crate::contact::BUILTIN_FIELDS;
use crate::model::{Attribute, Manifest, ValueType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Datetime,
    /// An enum with its declared values.
    Enum(Vec<String>),
    /// A list of strings.
    List,
}

impl FieldType {
    pub fn from_attribute(attribute: &Attribute) -> FieldType {
        match attribute.value_type() {
            ValueType::String => FieldType::String,
            ValueType::Integer => FieldType::Integer,
            ValueType::Number => FieldType::Number,
            ValueType::Boolean => FieldType::Boolean,
            ValueType::Date => FieldType::Date,
            ValueType::Datetime => FieldType::Datetime,
            ValueType::Enum => FieldType::Enum(attribute.enum_values().to_vec()),
            ValueType::List => FieldType::List,
        }
    }

    /// The type's name as written in the manifest.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Enum(_) => "enum",
            FieldType::List => "list",
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Number)
    }

    pub fn is_temporal(&self) -> bool {
        matches!(self, FieldType::Date | FieldType::Datetime)
    }

    pub fn is_ordered(&self) -> bool {
        self.is_numeric() || self.is_temporal()
    }
}

/// The contact field that addresses a channel, which `reachable by` needs set.
pub fn channel_address(channel: &str) -> Option<&'static str> {
    ChannelKind::from_name(channel)?.address_field()
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Built-in and declared contact attributes.
    pub attributes: BTreeMap<String, FieldType>,
    /// Event types and their properties.
    pub events: BTreeMap<String, BTreeMap<String, FieldType>>,
    /// Declared channels.
    pub channels: Vec<String>,
    /// The project's time zone, for dates without a zone.
    pub timezone: String,
}

impl Catalog {
    pub fn from_manifest(manifest: &Manifest) -> Catalog {
        let mut attributes: BTreeMap<String, FieldType> = BUILTIN_FIELDS
            .iter()
            .map(|(name, kind)| {
                let kind = match kind {
                    ValueType::Datetime => FieldType::Datetime,
                    _ => FieldType::String,
                };
                (name.to_string(), kind)
            })
            .collect();
        for (name, attribute) in &manifest.contact.attributes {
            attributes
                .entry(name.value.clone())
                .or_insert_with(|| FieldType::from_attribute(attribute));
        }
        let events = manifest
            .events
            .iter()
            .map(|(name, event)| {
                let properties = event
                    .properties
                    .iter()
                    .map(|(key, property)| (key.value.clone(), FieldType::from_attribute(property)))
                    .collect();
                (name.value.clone(), properties)
            })
            .collect();
        Catalog {
            attributes,
            events,
            channels: manifest
                .channels
                .declared()
                .into_iter()
                .map(|(name, _)| name.to_string())
                .collect(),
            timezone: manifest.timezone.value.clone(),
        }
    }

    /// Whether the attribute is one of the built-in contact fields.
    pub fn is_builtin(name: &str) -> bool {
        crate::contact::is_builtin(name)
    }

    /// Declared (not built-in) attributes, in name order.
    pub fn declared_attributes(&self) -> impl Iterator<Item = (&str, &FieldType)> {
        self.attributes
            .iter()
            .filter(|(name, _)| !Catalog::is_builtin(name))
            .map(|(name, kind)| (name.as_str(), kind))
    }

    pub fn property(&self, event: &str, property: &str) -> Option<&FieldType> {
        self.events.get(event)?.get(property)
    }
}
