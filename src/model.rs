//! The typed definitions of a herald project: the manifest, segments,
//! campaigns and journeys. The JSON schemas in `schemas/` are generated from
//! these types (`herald schema`), so the schema an editor shows and the
//! structure herald reads cannot drift apart.
//!
//! Values whose position a later stage reports (filters, references,
//! durations) are [`Located`], carrying their byte range in the file.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::channel::ChannelKind;
use crate::source::{FileId, Span};

/// A value with the byte range it was read from.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub value: T,
    pub start: u32,
    pub end: u32,
}

impl<T> Located<T> {
    pub fn span(&self, file: FileId) -> Span {
        Span::new(file, self.start as usize, self.end as usize)
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: PartialOrd> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.referenced.span();
        let start = span.byte_offset().unwrap_or(0);
        let len = span.byte_len().unwrap_or(0);
        Ok(Located {
            value: spanned.value,
            start: start as u32,
            end: (start + len) as u32,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

pub type Text = Located<String>;

/// `herald.yaml`: the data model, channels, providers, policies and lint settings of a project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "herald manifest (herald.yaml)")]
pub struct Manifest {
    /// IANA time zone of the project, used for contacts without their own (e.g. `Europe/Moscow`).
    pub timezone: Text,
    /// Locale for plural rules and number and date formats (e.g. `ru`, `en-GB`).
    #[serde(default)]
    pub locale: Option<Text>,
    /// ISO 4217 currency of costs, budgets and `money` (e.g. `RUB`).
    #[serde(default)]
    pub currency: Option<Text>,
    /// ISO 3166 country whose phone numbering is assumed for numbers without a country code (e.g. `RU`).
    #[serde(default)]
    pub country: Option<Text>,
    /// The SQLite contact store, relative to the project (default `herald.db`).
    #[serde(default)]
    pub store: Option<String>,
    /// The contact data model.
    #[serde(default)]
    pub contact: ContactModel,
    /// Event types and their properties.
    #[serde(default)]
    pub events: BTreeMap<Text, EventType>,
    /// The channels messages go out through.
    #[serde(default)]
    pub channels: Channels,
    /// Delivery providers by name.
    #[serde(default)]
    pub providers: BTreeMap<Text, Provider>,
    #[serde(default)]
    pub policies: Policies,
    /// Project-level template variables, available as `vars.*`.
    #[serde(default)]
    pub vars: BTreeMap<Text, serde_json::Value>,
    /// The words the `greeting_name` filter uses when a contact's first name is missing.
    #[serde(default)]
    pub greeting: Greeting,
    /// Rule levels by code or name: `allow`, `warn` or `deny`.
    #[serde(default)]
    pub lint: BTreeMap<Text, LintLevel>,
    /// Where the base comes from: files `herald sync` imports when their content changes.
    #[serde(default)]
    pub sources: Sources,
    /// `herald serve`: the HTTP service for one-click unsubscribes, provider
    /// delivery webhooks and click redirects, and the links messages carry to it.
    #[serde(default)]
    pub serve: Option<Serve>,
}

/// `herald serve` and the addresses messages carry to it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// The address the service listens on (default `127.0.0.1:8025`); `herald serve --listen` overrides it.
    #[serde(default)]
    pub listen: Option<Text>,
    /// The public base URL (https) the service is reached at; unsubscribe links and `List-Unsubscribe` point below it.
    pub public_url: Text,
    /// The secret that signs unsubscribe and click links: `${env:NAME}`. Changing it invalidates every link sent.
    pub secret: Text,
    /// How long a link stays valid after its message was planned (default `1 year`).
    #[serde(default)]
    pub link_lifetime: Option<Text>,
    /// The largest request body accepted, in bytes (default 1048576); a larger one is answered 413.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_body_bytes: Option<u64>,
    /// Point the links of sent email at the click redirect, which records `email_clicked` (default false).
    #[serde(default)]
    pub track_clicks: Option<bool>,
    /// Delivery webhooks by provider name (as declared under `providers:`), answered at `/webhooks/<name>`.
    #[serde(default)]
    pub webhooks: BTreeMap<Text, ServeWebhook>,
}

/// How a provider's webhook requests are verified.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeWebhook {
    /// `${env:NAME}`: the WhatsApp app secret, the Viber auth token, the Unisender API key, or the SMSC secret word.
    pub secret: Text,
    /// `whatsapp`: the verify token of the subscription handshake, `${env:NAME}`.
    #[serde(default)]
    pub verify_token: Option<Text>,
}

/// The files a shop's backend exports, relative to the project; each entry
/// is a path or a glob (`exports/events/*.jsonl`, `**` for any depth).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Contact files (CSV or JSONL, told by the extension), imported as `herald contacts import` does.
    #[serde(default)]
    pub contacts: Vec<Text>,
    /// Event files (JSONL), ingested as `herald events ingest` does, after the contacts.
    #[serde(default)]
    pub events: Vec<Text>,
}

/// Fallback words for `greeting_name`, by lifecycle and gender («Гость»/«Гостья», «Клиент»/«Клиентка»).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Greeting {
    /// Words for contacts who have not bought yet.
    #[serde(default = "GreetingWords::prospect")]
    pub prospect: GreetingWords,
    /// Words for customers.
    #[serde(default = "GreetingWords::customer")]
    pub customer: GreetingWords,
    /// The contact attribute holding the gender (`male`/`female`, `m`/`f`, `м`/`ж`).
    #[serde(default = "Greeting::default_gender_attribute")]
    pub gender_attribute: String,
    /// The contact attribute that makes a contact a customer when it is a positive number or true.
    #[serde(default = "Greeting::default_customer_attribute")]
    pub customer_attribute: String,
}

impl Greeting {
    fn default_gender_attribute() -> String {
        "gender".into()
    }

    fn default_customer_attribute() -> String {
        "orders_count".into()
    }
}

impl Default for Greeting {
    fn default() -> Greeting {
        Greeting {
            prospect: GreetingWords::prospect(),
            customer: GreetingWords::customer(),
            gender_attribute: Greeting::default_gender_attribute(),
            customer_attribute: Greeting::default_customer_attribute(),
        }
    }
}

/// One fallback word per gender.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GreetingWords {
    pub male: String,
    pub female: String,
    /// When the gender is unknown.
    pub neutral: String,
}

impl GreetingWords {
    fn prospect() -> GreetingWords {
        GreetingWords {
            male: "Гость".into(),
            female: "Гостья".into(),
            neutral: "Гость".into(),
        }
    }

    fn customer() -> GreetingWords {
        GreetingWords {
            male: "Клиент".into(),
            female: "Клиентка".into(),
            neutral: "Клиент".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactModel {
    /// Declared contact attributes, by name. Built-in fields (`id`, `email`, `phone`, ...) need no declaration.
    #[serde(default)]
    pub attributes: BTreeMap<Text, Attribute>,
}

/// A typed attribute or event property: a type name, or a mapping with `type` and options.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Attribute {
    Short(ValueType),
    Full(AttributeDefinition),
}

impl Attribute {
    pub fn value_type(&self) -> ValueType {
        match self {
            Attribute::Short(kind) => *kind,
            Attribute::Full(definition) => definition.kind,
        }
    }

    pub fn enum_values(&self) -> &[String] {
        match self {
            Attribute::Full(definition) => &definition.values,
            Attribute::Short(_) => &[],
        }
    }

    pub fn required(&self) -> bool {
        matches!(self, Attribute::Full(definition) if definition.required)
    }
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinition {
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// The allowed values of an `enum`.
    #[serde(default)]
    pub values: Vec<String>,
    /// Whether every contact has it; optional attributes must be guarded in templates.
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Datetime,
    Enum,
    List,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventType {
    #[serde(default)]
    pub description: Option<String>,
    /// Properties of the event, by name.
    #[serde(default)]
    pub properties: BTreeMap<Text, Attribute>,
}

/// The field for `kind` of a struct with one optional field per channel
/// kind, named after it ([`Channels`], [`Messages`]).
macro_rules! per_channel_field {
    ($self:ident, $kind:expr) => {
        match $kind {
            ChannelKind::Email => $self.email.as_ref(),
            ChannelKind::Sms => $self.sms.as_ref(),
            ChannelKind::Telegram => $self.telegram.as_ref(),
            ChannelKind::Whatsapp => $self.whatsapp.as_ref(),
            ChannelKind::Viber => $self.viber.as_ref(),
            ChannelKind::Vk => $self.vk.as_ref(),
            ChannelKind::Ok => $self.ok.as_ref(),
            ChannelKind::Push => $self.push.as_ref(),
        }
    };
}

/// Channels by kind; only declared channels can be used.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub email: Option<Channel>,
    pub sms: Option<Channel>,
    pub telegram: Option<Channel>,
    pub whatsapp: Option<Channel>,
    pub viber: Option<Channel>,
    pub vk: Option<Channel>,
    pub ok: Option<Channel>,
    pub push: Option<Channel>,
}

impl Channels {
    /// The channel of this kind, when declared.
    pub fn get(&self, kind: ChannelKind) -> Option<&Channel> {
        per_channel_field!(self, kind)
    }

    /// The declared channels with their kind names.
    pub fn declared(&self) -> Vec<(&'static str, &Channel)> {
        ChannelKind::ALL
            .into_iter()
            .filter_map(|kind| Some((kind.name(), self.get(kind)?)))
            .collect()
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// The provider (a name under `providers:`) that delivers this channel's messages.
    pub provider: Text,
    /// Sender identity: `Name <address>` for email, the sender name for SMS, the bot or account otherwise.
    #[serde(default)]
    pub from: Option<Text>,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Cost of one message (of one part, for SMS) in the project currency.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub cost: Option<f64>,
    /// SMS: the most parts a message may take.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_parts: Option<u32>,
    /// Messengers and push: the longest message the provider accepts, in characters.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_length: Option<Located<u32>>,
}

/// A delivery provider. Which settings are needed depends on `kind`; secrets
/// (`password`, `token`, `api_key`, `secret`) must be `${env:NAME}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub kind: Located<ProviderKind>,
    /// Overrides the provider's API address (used by tests and self-hosted gateways).
    #[serde(default)]
    pub base_url: Option<Text>,
    /// `webhook`: the address messages are posted to.
    #[serde(default)]
    pub url: Option<Text>,
    /// `smtp`: the server host.
    #[serde(default)]
    pub host: Option<Text>,
    /// `smtp`: the server port.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub username: Option<Text>,
    /// `smsc`: the account login.
    #[serde(default)]
    pub login: Option<Text>,
    #[serde(default)]
    pub password: Option<Text>,
    #[serde(default)]
    pub token: Option<Text>,
    #[serde(default)]
    pub api_key: Option<Text>,
    /// `webhook`: the HMAC signing secret.
    #[serde(default)]
    pub secret: Option<Text>,
    /// `file`: the JSONL file messages are appended to, relative to the project.
    #[serde(default)]
    pub path: Option<Text>,
    /// `whatsapp`: the sending number's id in the WhatsApp Business account.
    #[serde(default)]
    pub phone_number_id: Option<Text>,
    /// `whatsapp`: the approved template sent outside the 24-hour window; the rendered text is its body parameter.
    #[serde(default)]
    pub template: Option<Text>,
    /// `whatsapp`: the template's language code (default: the manifest's `locale`, else `ru`).
    #[serde(default)]
    pub language: Option<Text>,
    /// `whatsapp` (e.g. `v21.0`) and `vk` (e.g. `5.199`): the API version.
    #[serde(default)]
    pub api_version: Option<Text>,
    /// `whatsapp`: the event type of a contact's inbound message, which opens the 24-hour window (default `whatsapp_inbound`).
    #[serde(default)]
    pub inbound_event: Option<Text>,
    /// Messages per second the provider accepts.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub rate_limit: Option<Located<f64>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    File,
    Webhook,
    Smtp,
    Telegram,
    Smsc,
    Unisender,
    Whatsapp,
    Viber,
    Vk,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Contact-local hours in which nothing promotional is sent; sends are deferred to the end.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Caps on messages per contact per period, global or per channel.
    #[serde(default)]
    pub frequency_caps: Vec<FrequencyCap>,
    /// Message types that need the contact's consent on the channel.
    #[serde(default = "default_consent_required")]
    pub consent_required: Vec<MessageType>,
    /// Default journey re-entry: `never`, `always` or `after <duration>`.
    #[serde(default)]
    pub reentry: Option<Text>,
    /// A contact who has not converted for this long is marked lapsed by `herald contacts clean`.
    #[serde(default)]
    pub lapse_after: Option<Text>,
    /// Two sends on one channel closer than this count as a conflict.
    #[serde(default)]
    pub conflict_window: Option<Text>,
}

fn default_consent_required() -> Vec<MessageType> {
    vec![MessageType::Promotional, MessageType::Informational]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `HH:MM` contact-local time.
    pub start: Text,
    /// End, `HH:MM` contact-local time.
    pub end: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// The channel the cap applies to; all channels when absent.
    #[serde(default)]
    pub channel: Option<Text>,
    /// The most messages in one period.
    #[schemars(range(min = 1))]
    pub max: u32,
    /// The period, a duration such as `7 days`.
    pub per: Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Promotional,
    Informational,
    Transactional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LintLevel {
    Allow,
    Warn,
    Deny,
}

/// A segment: one file below `segments/`, named by its path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "herald segment")]
pub struct Segment {
    /// Rule levels for this file only, by code or name; they override the manifest's `lint`.
    #[serde(default)]
    pub lint: BTreeMap<Text, LintLevel>,
    #[serde(default)]
    pub description: Option<String>,
    /// An expression in the segment language (see grammar/README.md).
    pub filter: Text,
}

/// A campaign: a one-off or recurring broadcast to an audience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "herald campaign")]
pub struct Campaign {
    /// Rule levels for this file only, by code or name; they override the manifest's `lint`.
    #[serde(default)]
    pub lint: BTreeMap<Text, LintLevel>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub audience: Audience,
    pub schedule: Schedule,
    /// The channels to use, in order of preference.
    #[schemars(length(min = 1))]
    pub channels: Vec<Text>,
    /// `all`: every reachable channel; `first_reachable`: the contact's preferred channel, else the first reachable in order.
    #[serde(default)]
    pub mode: ChannelMode,
    /// The message per channel (the default variant).
    #[serde(default)]
    pub messages: Messages,
    /// A/B variants with weights summing to 100; each overrides messages.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Percentage of the audience kept as a control group that gets nothing.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 50.0))]
    pub holdout: Option<f64>,
    /// Send to each contact at most once within this period, e.g. `365 days`: a daily birthday campaign reaches each contact once a year.
    #[serde(default)]
    pub once_per: Option<Text>,
    #[serde(default)]
    pub goal: Option<Goal>,
    /// The offer, e.g. `-25%`; it must appear early in SMS and it makes the campaign a discount.
    #[serde(default)]
    pub offer: Option<Text>,
    /// Cap on the estimated cost in the project currency.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub budget: Option<f64>,
    /// KPI targets by name, rates in percent: `delivery_rate`, `open_rate`, `click_rate`,
    /// `conversion_rate`, `unsubscribe_rate`, `bounce_rate`, `complaint_rate`; `revenue` in the
    /// project currency.
    #[serde(default)]
    pub kpi: BTreeMap<Text, f64>,
    /// Higher wins when the same contact would get several sends on one day.
    #[serde(default)]
    pub priority: Option<i32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// The segment to send to.
    #[serde(default)]
    pub segment: Option<Text>,
    /// Segments whose members are left out.
    #[serde(default)]
    pub exclude: Vec<Text>,
    /// An extra condition in the segment language.
    #[serde(default)]
    pub filter: Option<Text>,
}

/// When a campaign goes out: once `at` a local time, or `every` day, week or month.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// One-off: local date and time, `YYYY-MM-DD HH:MM`.
    #[serde(default)]
    pub at: Option<Text>,
    /// Recurring: the period.
    #[serde(default)]
    pub every: Option<Located<Period>>,
    /// Monthly: days of the month.
    #[serde(default)]
    pub days: Vec<Located<u8>>,
    /// Weekly: days of the week.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// Recurring: local time of day, `HH:MM`.
    #[serde(default)]
    pub time: Option<Text>,
    /// Recurring: first date, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: Option<Text>,
    /// Recurring: last date, `YYYY-MM-DD`.
    #[serde(default)]
    pub until: Option<Text>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMode {
    #[default]
    All,
    FirstReachable,
}

/// Messages by channel.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub email: Option<Message>,
    pub sms: Option<Message>,
    pub telegram: Option<Message>,
    pub whatsapp: Option<Message>,
    pub viber: Option<Message>,
    pub vk: Option<Message>,
    pub ok: Option<Message>,
    pub push: Option<Message>,
}

impl Messages {
    /// The message for this channel kind, when given.
    pub fn get(&self, kind: ChannelKind) -> Option<&Message> {
        per_channel_field!(self, kind)
    }

    /// The given messages with their channel kind names.
    pub fn by_channel(&self) -> Vec<(&'static str, &Message)> {
        ChannelKind::ALL
            .into_iter()
            .filter_map(|kind| Some((kind.name(), self.get(kind)?)))
            .collect()
    }
}

/// One message's parts, inline or from files below `templates/`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    #[serde(default)]
    pub subject: Option<Text>,
    #[serde(default)]
    pub subject_file: Option<Text>,
    #[serde(default)]
    pub preheader: Option<Text>,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub text_file: Option<Text>,
    #[serde(default)]
    pub html: Option<Text>,
    #[serde(default)]
    pub html_file: Option<Text>,
    /// SMS: overrides the channel's `max_parts` for this audience (1 for prospects, 2 for customers).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_parts: Option<u32>,
}

impl Message {
    /// The template files this message reads, with their key names.
    pub fn files(&self) -> Vec<(&'static str, &Text)> {
        [
            ("subject_file", &self.subject_file),
            ("text_file", &self.text_file),
            ("html_file", &self.html_file),
        ]
        .into_iter()
        .filter_map(|(key, file)| file.as_ref().map(|file| (key, file)))
        .collect()
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: Text,
    /// Share of the audience in percent; the weights of all variants sum to 100.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub weight: f64,
    #[serde(default)]
    pub messages: Messages,
}

/// A conversion: the event that counts as success, within a window after the send.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub event: Text,
    /// The window, a duration such as `7 days`.
    pub within: Text,
}

/// A journey: an event-triggered multi-step flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "herald journey")]
pub struct Journey {
    /// Rule levels for this file only, by code or name; they override the manifest's `lint`.
    #[serde(default)]
    pub lint: BTreeMap<Text, LintLevel>,
    #[serde(default)]
    pub description: Option<String>,
    /// The kind of messages it sends, which decides whether consent is needed.
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub trigger: Trigger,
    #[serde(default)]
    pub entry: Entry,
    /// Events that end the journey at once for the contact.
    #[serde(default)]
    pub exit: Vec<Text>,
    #[serde(default)]
    pub goal: Option<Goal>,
    /// Between journeys on the same trigger, the higher priority wins.
    #[serde(default)]
    pub priority: Option<i32>,
    /// What happens to contacts waiting in a step that an edit removed: `exit` ends their
    /// enrolment, `next` moves them to the step now at the removed one's position.
    /// `herald run` refuses while such contacts wait and this is not set.
    #[serde(default)]
    pub on_removed_step: Option<RemovedStep>,
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

/// What `on_removed_step` does with contacts in a removed step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RemovedStep {
    Exit,
    Next,
}

/// What starts the journey: exactly one of `event`, `segment` or `anniversary`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// An event type.
    #[serde(default)]
    pub event: Option<Text>,
    /// Entry into a segment.
    #[serde(default)]
    pub segment: Option<Text>,
    /// A date attribute's anniversary, e.g. `birthday`.
    #[serde(default)]
    pub anniversary: Option<Text>,
    /// For anniversaries: local time of day, `HH:MM` (default `10:00`).
    #[serde(default)]
    pub at: Option<Text>,
    /// A condition over the contact (and `event.*` for event triggers).
    #[serde(default)]
    pub filter: Option<Text>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Only members of this segment enter.
    #[serde(default)]
    pub segment: Option<Text>,
    /// `never`, `always` or `after <duration>` (default from `policies.reentry`, else `never`).
    #[serde(default)]
    pub reentry: Option<Text>,
}

/// One step of a journey: exactly one action, optionally with an `id` to jump to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's name, for `goto` and reports.
    #[serde(default)]
    pub id: Option<Text>,
    #[serde(default)]
    pub send: Option<Send>,
    /// A duration (`2 days`) or `until HH:MM` / `until monday HH:MM`, contact-local.
    #[serde(default)]
    pub wait: Option<Text>,
    #[serde(default)]
    pub wait_for: Option<WaitFor>,
    #[serde(default)]
    pub branch: Option<Branch>,
    /// A/B split by weights summing to 100.
    #[serde(default)]
    pub split: Option<Vec<SplitArm>>,
    /// Attributes to set on the contact, e.g. `lifecycle: passive`.
    #[serde(default)]
    pub update: Option<BTreeMap<Text, serde_json::Value>>,
    /// Ends the journey here, with a reason.
    #[serde(default)]
    pub exit: Option<Text>,
    /// The step to continue with instead of the next one.
    #[serde(default)]
    pub next: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Send {
    #[schemars(length(min = 1))]
    pub channels: Vec<Text>,
    #[serde(default)]
    pub mode: ChannelMode,
    pub messages: Messages,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitFor {
    pub event: Text,
    /// A condition over `event.*` and the contact.
    #[serde(default)]
    pub filter: Option<Text>,
    /// How long to wait, a duration. Without one a contact whose event never comes waits for ever.
    #[serde(default)]
    pub timeout: Option<Text>,
    /// The step to go to when the event comes (default: the next step).
    #[serde(default)]
    pub goto: Option<Text>,
    /// The step to go to on timeout (default: the next step).
    #[serde(default)]
    pub on_timeout: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// Tried in order; the first whose condition holds is taken.
    #[schemars(length(min = 1))]
    pub cases: Vec<Case>,
    /// Where to go when no case holds (default: the next step).
    #[serde(default)]
    pub otherwise: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A condition in the segment language, evaluated for the contact at that moment.
    pub when: Text,
    pub goto: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitArm {
    #[schemars(range(min = 0.0, max = 100.0))]
    pub weight: f64,
    pub goto: Text,
}

/// The span of bytes `start..end` of a string's value, mapped into the file.
///
/// Exact for plain scalars and for quoted ones without escapes; for block
/// scalars and escaped text it falls back to the whole scalar.
pub fn value_span(file: FileId, text: &Text, start: usize, end: usize) -> Span {
    let source_len = (text.end - text.start) as usize;
    let value_len = text.value.len();
    let offset = if source_len == value_len {
        0
    } else if source_len == value_len + 2 {
        1
    } else {
        return text.span(file);
    };
    let base = text.start as usize + offset;
    Span::new(file, base + start, base + end)
}
