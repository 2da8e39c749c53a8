//! The manifest's own settings: time zone, locale, currency and country,
//! attribute and event property definitions, and the rule names of every
//! `lint:` section.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use super::{Resolution, Resolver};
use crate::codes::Code;
use crate::contact;
use crate::diagnostic::Diagnostic;
use crate::loader::Definition;
use crate::model::{self, Manifest, Text, ValueType};
use crate::policy::{FrequencyCap, Policies, QuietHours, Window};
use crate::source::FileId;
use crate::suggestion::did_you_mean;

/// A manifest setting, how to recognise a valid value, and what is expected.
type SettingCheck<'a> = (&'a Option<Text>, fn(&str) -> bool, &'static str);

impl<'a> Resolver<'a> {
    /// Checks the manifest and types its time zone, policies and providers.
    pub(super) fn check_manifest(
        &mut self,
        definition: &'a Definition<Manifest>,
        resolution: &mut Resolution,
    ) {
        let file = definition.file;
        let manifest = &definition.value;
        resolution.timezone = self.settings(file, manifest);
        let providers: Vec<&str> = manifest
            .providers
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        for (name, channel) in manifest.channels.declared() {
            if !providers.contains(&channel.provider.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::UnknownProvider,
                        channel.provider.span(file),
                        format!("channel `{name}` uses provider `{}`, which `providers:` does not declare", channel.provider.value),
                    )
                    .label("unknown provider")
                    .suggest(did_you_mean(&channel.provider, providers.iter().copied())),
                );
            }
        }
        for (name, provider) in &manifest.providers {
            if let Some(provider) = self.provider(file, name, provider) {
                resolution.providers.insert(name.value.clone(), provider);
            }
        }
        self.whatsapp_routes(file, manifest);
        self.channel_profiles(file, manifest);
        self.serve(file, manifest);
        for (key, attribute) in &manifest.contact.attributes {
            if contact::is_builtin(key.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        key.span(file),
                        format!(
                            "`{}` is a built-in contact field and cannot be declared",
                            key.value
                        ),
                    )
                    .help("remove the declaration; built-in fields are always available"),
                );
            }
            self.attribute_definition(file, key, attribute);
        }
        for event in manifest.events.values() {
            for (key, property) in &event.properties {
                self.attribute_definition(file, key, property);
            }
        }
        resolution.policies = self.policies(file, &manifest.policies);
        resolution.sources = self.sources(file, &manifest.sources);
        self.lint_keys(file, &manifest.lint);
    }

    /// Types `policies:`; an invalid value (reported) leaves its default.
    fn policies(&mut self, file: FileId, policies: &model::Policies) -> Policies {
        let defaults = Policies::default();
        let frequency_caps = policies
            .frequency_caps
            .iter()
            .filter_map(|cap| {
                let period = self.duration(file, &cap.per);
                if let Some(channel) = &cap.channel {
                    self.channel_reference(file, channel);
                }
                Some(FrequencyCap {
                    channel: cap.channel.as_ref().map(|channel| channel.value.clone()),
                    window: Window {
                        count: cap.max,
                        period: period?,
                    },
                    span: cap.per.span(file),
                })
            })
            .collect();
        let quiet_hours = policies.quiet_hours.as_ref().and_then(|quiet| {
            let start = self.time_of_day(file, &quiet.start);
            let end = self.time_of_day(file, &quiet.end);
            Some(QuietHours {
                start: start?,
                end: end?,
            })
        });
        let lapse_after = policies
            .lapse_after
            .as_ref()
            .and_then(|text| self.duration(file, text));
        let conflict_window = policies
            .conflict_window
            .as_ref()
            .and_then(|text| self.duration(file, text))
            .unwrap_or(defaults.conflict_window);
        let reentry = policies
            .reentry
            .as_ref()
            .and_then(|text| self.reentry(file, text))
            .unwrap_or(defaults.reentry);
        Policies {
            quiet_hours,
            frequency_caps,
            consent_required: policies.consent_required.clone(),
            reentry,
            lapse_after,
            conflict_window,
        }
    }

    /// Every key of a `lint:` section names a configurable rule.
    pub(super) fn lint_keys(
        &mut self,
        file: FileId,
        lint: &BTreeMap<Text, crate::model::LintLevel>,
    ) {
        for key in lint.keys() {
            match crate::codes::Code::lookup(&key.value) {
                Some(code) if code.configurable() => {}
                Some(code) => self.push(
                    Diagnostic::new(
                        Code::UnknownRule,
                        key.span(file),
                        format!("rule {code} (`{}`) cannot be configured", code.name()),
                    )
                    .help("errors about the files' syntax, schema and references always apply"),
                ),
                None => {
                    let names = Code::ALL
                        .iter()
                        .filter(|c| c.configurable())
                        .map(|c| c.name());
                    self.push(
                        Diagnostic::new(
                            Code::UnknownRule,
                            key.span(file),
                            format!("unknown rule `{}`", key.value),
                        )
                        .label("no such rule")
                        .suggest(did_you_mean(&key.value, names))
                        .help_if_none("`herald explain --list` lists every rule"),
                    )
                }
            }
        }
    }

    /// Checks the manifest's locale settings; the time zone when it is one.
    pub(super) fn settings(&mut self, file: FileId, manifest: &Manifest) -> Option<TimeZone> {
        let timezone = TimeZone::get(&manifest.timezone.value).ok();
        if timezone.is_none() {
            self.push(
                Diagnostic::new(Code::InvalidSetting, manifest.timezone.span(file), format!("`{}` is not an IANA time zone", manifest.timezone.value))
                    .label("unknown time zone")
                    .help("use a name from the IANA database, e.g. `Europe/Moscow` or `Asia/Yekaterinburg`"),
            );
        }
        let checks: [SettingCheck; 3] = [
            (
                &manifest.locale,
                is_locale,
                "a locale such as `ru` or `en-GB`",
            ),
            (
                &manifest.currency,
                |c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()),
                "an ISO 4217 currency code such as `RUB`",
            ),
            (
                &manifest.country,
                |c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()),
                "an ISO 3166 country code such as `RU`",
            ),
        ];
        for (value, valid, expected) in checks {
            if let Some(value) = value
                && !valid(&value.value)
            {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        value.span(file),
                        format!("`{}` is not {expected}", value.value),
                    )
                    .label("not recognised"),
                );
            }
        }
        timezone
    }

    pub(super) fn attribute_definition(
        &mut self,
        file: FileId,
        key: &Text,
        attribute: &crate::model::Attribute,
    ) {
        let kind = attribute.value_type();
        let values = attribute.enum_values();
        if kind == ValueType::Enum && values.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::InvalidSetting,
                    key.span(file),
                    format!("enum `{}` declares no values", key.value),
                )
                .help("list the allowed values: `{type: enum, values: [a, b]}`"),
            );
        } else if kind != ValueType::Enum && !values.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::InvalidSetting,
                    key.span(file),
                    format!("`{}` lists `values` but is not an enum", key.value),
                )
                .help("set `type: enum`, or remove `values`"),
            );
        }
    }
}

fn is_locale(text: &str) -> bool {
    let mut parts = text.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|part| {
            (2..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        })
}
