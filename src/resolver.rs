//! Name resolution: every reference to a segment, template, channel,
//! provider, event, attribute or step resolves, or is a diagnostic with a
//! "did you mean"; segment reference cycles, unused segments, literal
//! secrets and unreadable settings are found here too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::{Duration, Reentry, TimeOfDay, Wait};
use crate::loader::{Definition, Project};
use crate::model::{
    CHANNEL_KINDS, Campaign, Journey, Manifest, Message, Messages, Provider, ProviderKind, Text,
    ValueType,
};
use crate::schema::Kind;
use crate::segment::check::{Filter, Filters};
use crate::source::{FileId, Span};
use crate::suggestion::did_you_mean;

/// A manifest setting, how to recognise a valid value, and what is expected.
type SettingCheck<'a> = (&'a Option<Text>, fn(&str) -> bool, &'static str);

/// Rate KPIs a campaign may target, in percent.
const KPI_RATES: [&str; 7] = [
    "delivery_rate",
    "open_rate",
    "click_rate",
    "conversion_rate",
    "unsubscribe_rate",
    "bounce_rate",
    "complaint_rate",
];

/// Built-in contact fields, available without declaration.
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

/// What resolution learned, for later stages.
#[derive(Debug, Default)]
pub struct Resolution {
    /// For every segment, the segments its filter refers to.
    pub segment_references: BTreeMap<String, Vec<String>>,
}

/// Resolves the references of a project; `filters` are its parsed filters
/// (the filter stage's), read for `in segment` references.
pub fn resolve(project: &Project, filters: &Filters) -> (Resolution, Diagnostics) {
    let mut resolver = Resolver {
        project,
        filters: filters
            .filters
            .iter()
            .map(|filter| ((filter.file, filter.start), filter))
            .collect(),
        diagnostics: Diagnostics::default(),
        used_segments: BTreeSet::new(),
        segment_names: project.segments.iter().map(|s| s.name.as_str()).collect(),
        templates: project.templates.iter().map(|t| t.name.as_str()).collect(),
    };
    if let Some(manifest) = &project.manifest {
        resolver.check_manifest(manifest);
    }
    let resolution = resolver.segments();
    for campaign in &project.campaigns {
        resolver.campaign(campaign);
    }
    for journey in &project.journeys {
        resolver.journey(journey);
    }
    resolver.unused_segments();
    (resolution, resolver.diagnostics)
}

struct Resolver<'a> {
    project: &'a Project,
    /// Parsed filters by file and start of their YAML value.
    filters: HashMap<(FileId, u32), &'a Filter>,
    diagnostics: Diagnostics,
    used_segments: BTreeSet<String>,
    segment_names: BTreeSet<&'a str>,
    templates: BTreeSet<&'a str>,
}

impl<'a> Resolver<'a> {
    fn manifest(&self) -> Option<&'a Manifest> {
        self.project.manifest.as_ref().map(|m| &m.value)
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn is_broken(&self, kind: Kind, name: &str) -> bool {
        self.project
            .broken
            .iter()
            .any(|(k, n)| *k == kind && n == name)
    }

    // ---- manifest -------------------------------------------------------

    fn check_manifest(&mut self, definition: &'a Definition<Manifest>) {
        let file = definition.file;
        let manifest = &definition.value;
        self.settings(file, manifest);
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
            self.provider(file, name, provider);
        }
        for (key, attribute) in &manifest.contact.attributes {
            if BUILTIN_FIELDS
                .iter()
                .any(|(builtin, _)| *builtin == key.as_str())
            {
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
        for cap in &manifest.policies.frequency_caps {
            self.duration(file, &cap.per);
            if let Some(channel) = &cap.channel {
                self.channel_reference(file, channel);
            }
        }
        if let Some(quiet) = &manifest.policies.quiet_hours {
            self.time_of_day(file, &quiet.start);
            self.time_of_day(file, &quiet.end);
        }
        for text in [
            &manifest.policies.lapse_after,
            &manifest.policies.conflict_window,
        ]
        .into_iter()
        .flatten()
        {
            self.duration(file, text);
        }
        if let Some(reentry) = &manifest.policies.reentry {
            self.reentry(file, reentry);
        }
        self.lint_keys(file, &manifest.lint);
    }

    /// Every key of a `lint:` section names a configurable rule.
    fn lint_keys(&mut self, file: FileId, lint: &BTreeMap<Text, crate::model::LintLevel>) {
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

    fn settings(&mut self, file: FileId, manifest: &Manifest) {
        if jiff::tz::TimeZone::get(&manifest.timezone.value).is_err() {
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
    }

    fn attribute_definition(
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

    fn provider(&mut self, file: FileId, name: &Text, provider: &Provider) {
        use ProviderKind as K;
        let fields: [(&str, &Option<Text>); 10] = [
            ("base_url", &provider.base_url),
            ("url", &provider.url),
            ("host", &provider.host),
            ("username", &provider.username),
            ("login", &provider.login),
            ("password", &provider.password),
            ("token", &provider.token),
            ("api_key", &provider.api_key),
            ("secret", &provider.secret),
            ("path", &provider.path),
        ];
        let (required, allowed): (&[&str], &[&str]) = match provider.kind.value {
            K::File => (&["path"], &["path"]),
            K::Webhook => (&["url"], &["url", "secret", "token"]),
            K::Smtp => (&["host"], &["host", "username", "password"]),
            K::Telegram => (&["token"], &["token", "base_url"]),
            K::Smsc => (&["login", "password"], &["login", "password", "base_url"]),
            K::Unisender => (&["api_key"], &["api_key", "base_url"]),
            K::Whatsapp => (&["token"], &["token", "base_url", "username"]),
            K::Viber => (&["token"], &["token", "base_url"]),
            K::Vk => (&["token"], &["token", "base_url"]),
        };
        let kind_name = format!("{:?}", provider.kind.value).to_lowercase();
        for setting in required {
            let present = fields
                .iter()
                .any(|(key, value)| key == setting && value.is_some());
            if !present {
                self.push(
                    Diagnostic::new(
                        Code::ProviderSetting,
                        name.span(file),
                        format!(
                            "provider `{}` (kind `{kind_name}`) needs `{setting}`",
                            name.value
                        ),
                    )
                    .label(format!("`{setting}` missing"))
                    .help(match *setting {
                        "password" | "token" | "api_key" | "secret" => format!(
                            "add `{setting}: ${{env:{}_{}}}`",
                            name.value.to_uppercase().replace('-', "_"),
                            setting.to_uppercase()
                        ),
                        _ => format!("add `{setting}:`"),
                    }),
                );
            }
        }
        if provider.port.is_some() && provider.kind.value != K::Smtp {
            self.push(
                Diagnostic::new(
                    Code::ProviderSetting,
                    name.span(file),
                    format!(
                        "provider `{}` (kind `{kind_name}`) does not use `port`",
                        name.value
                    ),
                )
                .help("remove `port`"),
            );
        }
        for (key, value) in fields {
            let Some(value) = value else { continue };
            if !allowed.contains(&key) && key != "base_url" {
                self.push(
                    Diagnostic::new(
                        Code::ProviderSetting,
                        value.span(file),
                        format!("provider kind `{kind_name}` does not use `{key}`"),
                    )
                    .label("not used")
                    .help(format!("settings of `{kind_name}`: {}", allowed.join(", "))),
                );
            }
            let secret_field = matches!(key, "password" | "token" | "api_key" | "secret");
            self.secret(file, &name.value, key, value, secret_field);
        }
    }

    /// A secret field must be exactly `${env:NAME}`; any field that holds
    /// something shaped like a credential is reported too.
    fn secret(
        &mut self,
        file: FileId,
        provider: &str,
        key: &str,
        value: &Text,
        secret_field: bool,
    ) {
        let text = value.value.trim();
        if secret_field {
            if is_env_reference(text) {
                return;
            }
            let variable = format!("{provider}_{key}")
                .to_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            self.push(
                Diagnostic::new(Code::LiteralSecret, value.span(file), format!("`{key}` holds a literal secret"))
                    .label("secret written into the file")
                    .help(format!("read it from the environment: `{key}: ${{env:{variable}}}`, and revoke the value committed here")),
            );
        } else if let Some(reason) = looks_like_secret(text) {
            self.push(
                Diagnostic::new(
                    Code::LiteralSecret,
                    value.span(file),
                    format!("`{key}` looks like it holds a secret ({reason})"),
                )
                .label("secret-looking value")
                .help(
                    "move the secret into an environment variable and refer to it as `${env:NAME}`",
                ),
            );
        }
    }

    // ---- shared references ---------------------------------------------

    fn declared_channels(&self) -> Vec<&'static str> {
        self.manifest()
            .map(|m| {
                m.channels
                    .declared()
                    .into_iter()
                    .map(|(name, _)| name)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn channel_reference(&mut self, file: FileId, channel: &Text) {
        let declared = self.declared_channels();
        if self.manifest().is_none() || declared.contains(&channel.as_str()) {
            return;
        }
        let known_kind = CHANNEL_KINDS.contains(&channel.as_str());
        let diagnostic = Diagnostic::new(
            Code::UnknownChannel,
            channel.span(file),
            if known_kind {
                format!("channel `{}` is not declared in herald.yaml", channel.value)
            } else {
                format!("unknown channel `{}`", channel.value)
            },
        )
        .label("not declared");
        let suggestion = did_you_mean(&channel.value, declared.iter().copied());
        let diagnostic = match suggestion {
            Some(_) => diagnostic.suggest(suggestion),
            None if declared.is_empty() => {
                diagnostic.help("declare it under `channels:` in herald.yaml")
            }
            None => diagnostic.help(format!("declared channels: {}", declared.join(", "))),
        };
        self.push(diagnostic);
    }

    fn segment_reference(&mut self, file: FileId, name: &str, span: Span) {
        self.used_segments.insert(name.to_string());
        if self.segment_names.contains(name) || self.is_broken(Kind::Segment, name) {
            return;
        }
        let suggestion = did_you_mean(name, self.segment_names.iter().copied());
        let _ = file;
        self.push(
            Diagnostic::new(
                Code::UnknownSegment,
                span,
                format!("unknown segment `{name}`"),
            )
            .label("no such segment")
            .suggest(suggestion)
            .help_if_none(format!(
                "a segment `{name}` would be the file `segments/{name}.yaml`"
            )),
        );
    }

    fn event_reference(&mut self, file: FileId, event: &Text) {
        let Some(manifest) = self.manifest() else {
            return;
        };
        if manifest.events.keys().any(|k| k.value == event.value) {
            return;
        }
        let names: Vec<&str> = manifest.events.keys().map(|k| k.value.as_str()).collect();
        self.push(
            Diagnostic::new(
                Code::UnknownEvent,
                event.span(file),
                format!("unknown event `{}`", event.value),
            )
            .label("not declared under `events:`")
            .suggest(did_you_mean(&event.value, names.iter().copied()))
            .help_if_none("declare it under `events:` in herald.yaml"),
        );
    }

    fn attribute_reference(
        &mut self,
        file: FileId,
        attribute: &Text,
        wanted: Option<&[ValueType]>,
    ) {
        let Some(manifest) = self.manifest() else {
            return;
        };
        let declared = manifest
            .contact
            .attributes
            .iter()
            .find(|(k, _)| k.value == attribute.value)
            .map(|(_, a)| a.value_type());
        let builtin = BUILTIN_FIELDS
            .iter()
            .find(|(name, _)| *name == attribute.as_str())
            .map(|(_, t)| *t);
        match declared.or(builtin) {
            None => {
                let names = manifest
                    .contact
                    .attributes
                    .keys()
                    .map(|k| k.value.as_str())
                    .chain(BUILTIN_FIELDS.iter().map(|(n, _)| *n));
                self.push(
                    Diagnostic::new(
                        Code::UnknownAttribute,
                        attribute.span(file),
                        format!("unknown contact attribute `{}`", attribute.value),
                    )
                    .label("not declared under `contact.attributes`")
                    .suggest(did_you_mean(&attribute.value, names))
                    .help_if_none("declare it under `contact.attributes` in herald.yaml"),
                );
            }
            Some(kind) => {
                if let Some(wanted) = wanted
                    && !wanted.contains(&kind)
                {
                    self.push(
                        Diagnostic::new(Code::UnknownAttribute, attribute.span(file), format!("`{}` is {kind:?}, not a date", attribute.value).to_lowercase().replacen(&attribute.value.to_lowercase(), &attribute.value, 1))
                            .label("needs a date attribute")
                            .help("an anniversary trigger needs a `date` or `datetime` attribute such as `birthday`"),
                    );
                }
            }
        }
    }

    fn template_reference(&mut self, file: FileId, key: &str, path: &Text) {
        let name = path.value.trim_start_matches("templates/");
        if self.templates.contains(name) {
            return;
        }
        let suggestion = did_you_mean(name, self.templates.iter().copied());
        self.push(
            Diagnostic::new(
                Code::UnknownTemplate,
                path.span(file),
                format!("`{key}` names `templates/{name}`, which does not exist"),
            )
            .label("no such template")
            .suggest(suggestion)
            .help_if_none("template paths are relative to the project's `templates/` folder"),
        );
    }

    fn messages(&mut self, file: FileId, messages: &Messages) {
        for (_, message) in messages.by_channel() {
            self.message(file, message);
        }
    }

    fn message(&mut self, file: FileId, message: &Message) {
        for (key, path) in message.files() {
            self.template_reference(file, key, path);
        }
    }

    fn duration(&mut self, file: FileId, text: &Text) -> Option<Duration> {
        match Duration::parse(&text.value) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.push(
                    Diagnostic::new(Code::InvalidDuration, text.span(file), message)
                        .label("not a duration"),
                );
                None
            }
        }
    }

    fn time_of_day(&mut self, file: FileId, text: &Text) {
        if let Err(message) = TimeOfDay::parse(&text.value) {
            self.push(
                Diagnostic::new(Code::InvalidDuration, text.span(file), message)
                    .label("not a time of day"),
            );
        }
    }

    fn reentry(&mut self, file: FileId, text: &Text) {
        if let Err(message) = Reentry::parse(&text.value) {
            self.push(
                Diagnostic::new(Code::InvalidDuration, text.span(file), message)
                    .label("not a re-entry rule"),
            );
        }
    }

    fn filter_segments(&mut self, file: FileId, filter: &Text) -> Vec<String> {
        let mut names = Vec::new();
        for (name, span) in self.segment_references(file, filter) {
            self.segment_reference(file, &name, span);
            names.push(name);
        }
        names
    }

    /// The `in segment "NAME"` references of a filter, each with the span
    /// of its string literal, from the filter as the filter stage parsed
    /// it. A filter that does not parse has none here; the filter stage
    /// reports its syntax error.
    fn segment_references(&self, file: FileId, filter: &Text) -> Vec<(String, Span)> {
        let Some(parsed) = self.filters.get(&(file, filter.start)) else {
            return Vec::new();
        };
        let Some(expr) = &parsed.expr else {
            return Vec::new();
        };
        expr.segment_references()
            .into_iter()
            .map(|name| (name.text.clone(), parsed.location.span(name.range)))
            .collect()
    }

    // ---- definitions ----------------------------------------------------

    fn segments(&mut self) -> Resolution {
        let mut resolution = Resolution::default();
        let mut spans: HashMap<(String, String), Span> = HashMap::new();
        for segment in &self.project.segments {
            self.lint_keys(segment.file, &segment.value.lint);
            let filter = &segment.value.filter;
            let mut references = Vec::new();
            for (name, span) in self.segment_references(segment.file, filter) {
                spans.insert((segment.name.clone(), name.clone()), span);
                if name != segment.name {
                    self.segment_reference(segment.file, &name, span);
                }
                references.push(name);
            }
            resolution
                .segment_references
                .insert(segment.name.clone(), references);
        }
        for cycle in find_cycles(&resolution.segment_references) {
            let first = &cycle[0];
            let next = &cycle[1 % cycle.len()];
            let span = spans[&(first.clone(), next.clone())];
            let mut path = cycle.clone();
            path.push(first.clone());
            let mut diagnostic = Diagnostic::new(
                Code::SegmentCycle,
                span,
                format!("segment `{first}` refers to itself: {}", path.join(" → ")),
            )
            .label("this reference closes the cycle")
            .help("write one of the segments' conditions out instead of referring back");
            for pair in cycle.windows(2).chain(std::iter::once(
                [cycle[cycle.len() - 1].clone(), first.clone()].as_slice(),
            )) {
                if pair[0] != *first
                    && let Some(span) = spans.get(&(pair[0].clone(), pair[1].clone()))
                {
                    diagnostic = diagnostic
                        .with_secondary(*span, format!("`{}` refers to `{}`", pair[0], pair[1]));
                }
            }
            self.push(diagnostic);
        }
        resolution
    }

    fn campaign(&mut self, definition: &'a Definition<Campaign>) {
        let file = definition.file;
        let campaign = &definition.value;
        self.lint_keys(file, &campaign.lint);
        if let Some(segment) = &campaign.audience.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        for segment in &campaign.audience.exclude {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        if let Some(filter) = &campaign.audience.filter {
            self.filter_segments(file, filter);
        }
        for channel in &campaign.channels {
            self.channel_reference(file, channel);
        }
        self.messages(file, &campaign.messages);
        for variant in &campaign.variants {
            self.messages(file, &variant.messages);
        }
        if let Some(goal) = &campaign.goal {
            self.event_reference(file, &goal.event);
            self.duration(file, &goal.within);
        }
        self.schedule(definition);
        self.kpi(definition);
    }

    fn schedule(&mut self, definition: &Definition<Campaign>) {
        let file = definition.file;
        let schedule = &definition.value.schedule;
        let schedule_key = definition
            .node
            .entry("schedule")
            .map(|(key, _)| key.span(file))
            .unwrap_or(Span::new(file, 0, 0));
        match (&schedule.at, &schedule.every) {
            (Some(at), None) => {
                if jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", at.value.trim()).is_err() {
                    self.push(
                        Diagnostic::new(Code::InvalidDuration, at.span(file), format!("`{}` is not a local date and time", at.value))
                            .label("expected `YYYY-MM-DD HH:MM`")
                            .help("write the time in the project's time zone, e.g. `2026-12-20 11:00`"),
                    );
                }
                for (key, present) in [("days", !schedule.days.is_empty()), ("weekdays", !schedule.weekdays.is_empty()), ("time", schedule.time.is_some())] {
                    if present {
                        self.push(
                            Diagnostic::new(Code::InvalidDuration, schedule_key, format!("a one-off schedule (`at`) cannot also have `{key}`"))
                                .help("remove `at` for a recurring schedule, or `{key}` for a one-off one".replace("{key}", key)),
                        );
                    }
                }
            }
            (None, Some(every)) => {
                use crate::model::Period;
                match schedule.time.as_ref() {
                    Some(time) => self.time_of_day(file, time),
                    None => self.push(
                        Diagnostic::new(Code::InvalidDuration, every.span(file), "a recurring schedule needs a `time`")
                            .help("add `time: \"11:00\"` (local time in the project's time zone)"),
                    ),
                }
                if every.value == Period::Month && schedule.days.is_empty() {
                    self.push(
                        Diagnostic::new(Code::InvalidDuration, every.span(file), "a monthly schedule needs `days`")
                            .help("add the days of the month, e.g. `days: [5, 20]`"),
                    );
                }
                if every.value == Period::Week && schedule.weekdays.is_empty() {
                    self.push(
                        Diagnostic::new(Code::InvalidDuration, every.span(file), "a weekly schedule needs `weekdays`")
                            .help("add the days of the week, e.g. `weekdays: [tuesday]`"),
                    );
                }
                for day in &schedule.days {
                    if !(1..=31).contains(&day.value) {
                        self.push(Diagnostic::new(Code::InvalidDuration, day.span(file), format!("{} is not a day of the month", day.value)).label("expected 1 to 31"));
                    }
                }
                for bound in [&schedule.from, &schedule.until].into_iter().flatten() {
                    if jiff::civil::Date::strptime("%Y-%m-%d", bound.value.trim()).is_err() {
                        self.push(Diagnostic::new(Code::InvalidDuration, bound.span(file), format!("`{}` is not a date", bound.value)).label("expected `YYYY-MM-DD`"));
                    }
                }
            }
            (Some(at), Some(_)) => self.push(
                Diagnostic::new(Code::InvalidDuration, at.span(file), "a schedule is either once `at` a time or recurring `every` period, not both")
                    .help("remove `at` or `every`"),
            ),
            (None, None) => self.push(
                Diagnostic::new(Code::InvalidDuration, schedule_key, "the schedule says neither `at` nor `every`")
                    .help("add `at: \"2026-12-20 11:00\"` for a one-off send or `every: month` with `days` and `time`"),
            ),
        }
    }

    /// KPI targets name a metric herald measures, and rates are percentages.
    fn kpi(&mut self, definition: &Definition<Campaign>) {
        let file = definition.file;
        for (name, target) in &definition.value.kpi {
            if name.value == "revenue" {
                if *target < 0.0 {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSetting,
                            name.span(file),
                            "a revenue target cannot be negative",
                        )
                        .help("give the target in the project currency"),
                    );
                }
                continue;
            }
            if !KPI_RATES.contains(&name.value.as_str()) {
                let known = KPI_RATES.iter().copied().chain(std::iter::once("revenue"));
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        name.span(file),
                        format!("unknown KPI `{}`", name.value),
                    )
                    .label("not a metric herald measures")
                    .suggest(did_you_mean(&name.value, known))
                    .help_if_none(format!("KPIs: {}, revenue", KPI_RATES.join(", "))),
                );
            } else if !(0.0..=100.0).contains(target) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        name.span(file),
                        format!(
                            "`{}` is a rate in percent; {target} is not between 0 and 100",
                            name.value
                        ),
                    )
                    .label("not a percentage"),
                );
            }
        }
    }

    fn journey(&mut self, definition: &'a Definition<Journey>) {
        let file = definition.file;
        let journey = &definition.value;
        self.lint_keys(file, &journey.lint);
        let trigger = &journey.trigger;
        let kinds = [
            trigger.event.is_some(),
            trigger.segment.is_some(),
            trigger.anniversary.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            let span = definition
                .node
                .entry("trigger")
                .map(|(key, _)| key.span(file))
                .unwrap_or(Span::new(file, 0, 0));
            self.push(
                Diagnostic::new(
                    Code::TriggerKind,
                    span,
                    if kinds == 0 {
                        "the trigger names no `event`, `segment` or `anniversary`".to_string()
                    } else {
                        "the trigger names more than one of `event`, `segment` and `anniversary`"
                            .to_string()
                    },
                )
                .label("one kind of trigger expected")
                .help("a journey starts on one event, one segment entry or one date anniversary"),
            );
        }
        if let Some(event) = &trigger.event {
            self.event_reference(file, event);
        }
        if let Some(segment) = &trigger.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        if let Some(attribute) = &trigger.anniversary {
            self.attribute_reference(
                file,
                attribute,
                Some(&[ValueType::Date, ValueType::Datetime]),
            );
        }
        if let Some(at) = &trigger.at {
            self.time_of_day(file, at);
        }
        if let Some(filter) = &trigger.filter {
            self.filter_segments(file, filter);
        }
        if let Some(segment) = &journey.entry.segment {
            self.segment_reference(file, &segment.value, segment.span(file));
        }
        if let Some(reentry) = &journey.entry.reentry {
            self.reentry(file, reentry);
        }
        for event in &journey.exit {
            self.event_reference(file, event);
        }
        if let Some(goal) = &journey.goal {
            self.event_reference(file, &goal.event);
            self.duration(file, &goal.within);
        }
        self.steps(definition);
    }

    fn steps(&mut self, definition: &'a Definition<Journey>) {
        let file = definition.file;
        let steps = &definition.value.steps;
        let mut ids: BTreeMap<&str, &Text> = BTreeMap::new();
        for step in steps {
            if let Some(id) = &step.id {
                if let Some(first) = ids.get(id.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::DuplicateStep,
                            id.span(file),
                            format!("step id `{}` is used twice", id.value),
                        )
                        .label("second use")
                        .with_secondary(first.span(file), "first use")
                        .help("give each step its own id"),
                    );
                } else {
                    ids.insert(id.as_str(), id);
                }
            }
        }
        let id_names: Vec<&str> = ids.keys().copied().collect();
        let step_spans = crate::journey::step_spans(definition);
        for (index, step) in steps.iter().enumerate() {
            let actions = [
                ("send", step.send.is_some()),
                ("wait", step.wait.is_some()),
                ("wait_for", step.wait_for.is_some()),
                ("branch", step.branch.is_some()),
                ("split", step.split.is_some()),
                ("update", step.update.is_some()),
                ("exit", step.exit.is_some()),
            ];
            let present: Vec<&str> = actions
                .iter()
                .filter(|(_, p)| *p)
                .map(|(n, _)| *n)
                .collect();
            if present.len() != 1 {
                let span = step_spans[index];
                let message = if present.is_empty() {
                    format!("step {} has no action", index + 1)
                } else {
                    format!(
                        "step {} has {} actions: {}",
                        index + 1,
                        present.len(),
                        present.join(", ")
                    )
                };
                self.push(
                    Diagnostic::new(Code::StepAction, span, message)
                        .label("one action per step")
                        .help("each step is exactly one of send, wait, wait_for, branch, split, update or exit"),
                );
            }
            let mut targets: Vec<&Text> = Vec::new();
            targets.extend(step.next.iter());
            if let Some(send) = &step.send {
                for channel in &send.channels {
                    self.channel_reference(file, channel);
                }
                self.messages(file, &send.messages);
            }
            if let Some(wait) = &step.wait
                && let Err(message) = Wait::parse(&wait.value)
            {
                self.push(
                    Diagnostic::new(Code::InvalidDuration, wait.span(file), message)
                        .label("not a wait"),
                );
            }
            if let Some(wait_for) = &step.wait_for {
                self.event_reference(file, &wait_for.event);
                if let Some(timeout) = &wait_for.timeout {
                    self.duration(file, timeout);
                }
                if let Some(filter) = &wait_for.filter {
                    self.filter_segments(file, filter);
                }
                targets.extend(wait_for.goto.iter());
                targets.extend(wait_for.on_timeout.iter());
            }
            if let Some(branch) = &step.branch {
                for case in &branch.cases {
                    self.filter_segments(file, &case.when);
                    targets.push(&case.goto);
                }
                targets.extend(branch.otherwise.iter());
            }
            if let Some(split) = &step.split {
                targets.extend(split.iter().map(|arm| &arm.goto));
            }
            if let Some(update) = &step.update {
                for attribute in update.keys() {
                    self.attribute_reference(file, attribute, None);
                }
            }
            for target in targets {
                if !ids.contains_key(target.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::UnknownStep,
                            target.span(file),
                            format!("no step has the id `{}`", target.value),
                        )
                        .label("unknown step")
                        .suggest(did_you_mean(&target.value, id_names.iter().copied()))
                        .help_if_none("give the target step an `id:`"),
                    );
                }
            }
        }
    }

    fn unused_segments(&mut self) {
        // A definition that failed to load may hold the only reference to a
        // segment; reporting it unused would send the author the wrong way.
        if !self.project.broken.is_empty() || self.project.manifest.is_none() {
            return;
        }
        for segment in &self.project.segments {
            if !self.used_segments.contains(&segment.name) {
                let span = segment
                    .node
                    .entry("filter")
                    .map(|(key, _)| key.span(segment.file))
                    .unwrap_or(Span::new(segment.file, 0, 0));
                self.push(
                    Diagnostic::new(Code::UnusedSegment, span, format!("segment `{}` is not used by any campaign, journey or segment", segment.name))
                        .label("defined here")
                        .help("delete it, or set `unused-segment: allow` under `lint:` if it is kept for queries"),
                );
            }
        }
    }
}

impl Diagnostic {
    /// Adds help only when no help was set (by a suggestion, say).
    fn help_if_none(self, help: impl Into<String>) -> Diagnostic {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
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

/// `${env:NAME}` with a conventional variable name.
pub fn is_env_reference(text: &str) -> bool {
    text.strip_prefix("${env:")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Why a value outside a secret field looks like a credential, if it does.
pub fn looks_like_secret(text: &str) -> Option<&'static str> {
    if text.contains("${env:") {
        return None;
    }
    if let Some((scheme, rest)) = text.split_once("://")
        && !scheme.is_empty()
        && let Some(authority) = rest.split('/').next()
        && let Some((userinfo, _)) = authority.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Some("a password inside a URL");
    }
    // Telegram bot tokens: digits, a colon and 35 URL-safe characters.
    if let Some((id, key)) = text.split_once(':')
        && id.len() >= 6
        && id.chars().all(|c| c.is_ascii_digit())
        && key.len() >= 30
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Some("a bot token");
    }
    let prefixes = [
        "sk_live_",
        "sk_test_",
        "xoxb-",
        "ghp_",
        "AKIA",
        "-----BEGIN",
    ];
    if prefixes.iter().any(|prefix| text.starts_with(prefix)) {
        return Some("a known key format");
    }
    let token_like = text.len() >= 32
        && !text.contains(char::is_whitespace)
        && !text.contains('/')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=.".contains(c))
        && text.chars().any(|c| c.is_ascii_digit())
        && text.chars().any(|c| c.is_ascii_alphabetic());
    token_like.then_some("a long random-looking token")
}

/// Every elementary cycle found by depth-first search, each reported once,
/// starting at its smallest name.
fn find_cycles(graph: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut BTreeSet<Vec<String>>,
    ) {
        if let Some(position) = stack.iter().position(|n| n == node) {
            let mut cycle: Vec<String> = stack[position..].to_vec();
            let smallest = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| *n)
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(smallest);
            cycles.insert(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                visit(next, graph, stack, done, cycles);
            }
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_references_skip_other_strings() {
        let expr = crate::segment::parse(
            r#"city = "in segment \"x\"" and in segment "vip" or not in  segment "a/b""#,
        )
        .expect("parses");
        let names: Vec<String> = expr
            .segment_references()
            .into_iter()
            .map(|name| name.text.clone())
            .collect();
        assert_eq!(names, ["vip", "a/b"]);
    }

    #[test]
    fn secrets_are_recognised() {
        assert!(is_env_reference("${env:SMSC_PASSWORD}"));
        assert!(!is_env_reference("${env:}"));
        assert!(looks_like_secret("123456789:AAH9x8q0mYVbWt2Fz9Zq6nC0kL1pR3sT4uV").is_some());
        assert!(looks_like_secret("https://user:pa55@hooks.example.com/x").is_some());
        assert!(looks_like_secret("https://hooks.example.com/herald").is_none());
        assert!(looks_like_secret("smtp.example.com").is_none());
    }

    #[test]
    fn cycles_are_found_once() {
        let mut graph = BTreeMap::new();
        graph.insert("a".to_string(), vec!["b".to_string()]);
        graph.insert("b".to_string(), vec!["c".to_string()]);
        graph.insert("c".to_string(), vec!["a".to_string()]);
        graph.insert("d".to_string(), vec!["d".to_string()]);
        assert_eq!(
            find_cycles(&graph),
            vec![
                vec!["a".to_string(), "b".into(), "c".into()],
                vec!["d".to_string()]
            ]
        );
    }
}
