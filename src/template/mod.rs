//! Templates and channel content: one minijinja environment per project,
//! the messages that use it, rendering, and the template stage of
//! `herald check`.
//!
//! Every template source (files below `templates/` and parts written inline
//! in campaign and journey YAML) is known to the environment by name; HTML
//! parts are loaded under an `html:` prefix that turns on auto-escaping for
//! them and everything they include, whatever the files are called, while
//! the same partial included from a text part is not escaped. `include` and
//! `extends` resolve only to names below `templates/`, so they cannot leave
//! it. Undefined values are semi-strict: printing or using one fails, testing
//! it in an `if` does not, which is how optional attributes are guarded.
//!
//! The stages below: [`context`] (what a template reads), [`filters`],
//! [`sms`] (encoding and parts), [`email`] (assembly), [`samples`] (contacts
//! generated from the data model), [`rules`] (content rules), [`check`] (the
//! `herald check` stage), [`renderer`] (one target for many contacts) and
//! [`preview`] (`herald render`).

pub mod check;
pub mod context;
pub mod email;
pub mod filters;
pub mod preview;
pub mod renderer;
pub mod rules;
pub mod samples;
pub mod sms;
pub mod text_part;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Template, UndefinedBehavior};
use serde::Serialize;

use crate::channel::ChannelKind;
use crate::loader::Project;
use crate::model::{Manifest, Message, MessageType, Messages, Text};
use crate::source::{FileId, SourceMap, Span};
use crate::yaml::{Node, PathStep};

pub use self::filters::Settings;

/// The prefix that marks a template loaded as (part of) an HTML part.
const HTML: &str = "html:";

/// Instructions one render may execute before it is stopped, so a runaway
/// loop in a template cannot hang a send.
pub const FUEL: u64 = 200_000;

/// The kinds of message parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Subject,
    Preheader,
    Text,
    Html,
}

impl PartKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Subject => "subject",
            PartKind::Preheader => "preheader",
            PartKind::Text => "text",
            PartKind::Html => "html",
        }
    }

    /// Parts that end up in a header, where a line break is never allowed.
    pub fn is_header(self) -> bool {
        matches!(self, PartKind::Subject | PartKind::Preheader)
    }
}

/// Where a template's source is.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A file below `templates/`.
    File(FileId),
    /// A part written inline in a YAML file.
    Inline { file: FileId, text: Text },
}

impl Origin {
    /// The span of `range` (bytes of the template source) in its file.
    pub fn span(&self, sources: &SourceMap, range: std::ops::Range<usize>) -> Span {
        match self {
            Origin::File(file) => Span::new(*file, range.start, range.end),
            Origin::Inline { file, text } => inline_span(sources, *file, text, range),
        }
    }

    pub fn file(&self) -> FileId {
        match self {
            Origin::File(file) | Origin::Inline { file, .. } => *file,
        }
    }
}

/// Maps bytes of an inline template to its YAML file: exact for plain and
/// simply quoted scalars and for literal blocks (`|`), the whole value
/// otherwise.
fn inline_span(
    sources: &SourceMap,
    file: FileId,
    text: &Text,
    range: std::ops::Range<usize>,
) -> Span {
    let whole = text.span(file);
    let raw = sources.text(whole);
    if !raw.starts_with('|') {
        return crate::model::value_span(file, text, range.start, range.end);
    }
    // A literal block: every line of the value is a line of the file,
    // indented by the block's indentation.
    let Some(body_start) = raw.find('\n').map(|index| index + 1) else {
        return whole;
    };
    let body = &raw[body_start..];
    let indent = body
        .lines()
        .find(|line| !line.trim().is_empty())
        .map_or(0, |line| line.len() - line.trim_start_matches(' ').len());
    let map = |offset: usize| -> Option<usize> {
        let value = &text.value;
        let offset = offset.min(value.len());
        let line = value[..offset].matches('\n').count();
        let column = offset - value[..offset].rfind('\n').map_or(0, |index| index + 1);
        let mut file_offset = whole.start as usize + body_start;
        for (index, file_line) in body.split_inclusive('\n').enumerate() {
            if index == line {
                let blank = file_line.trim().is_empty();
                return Some(file_offset + if blank { 0 } else { indent } + column);
            }
            file_offset += file_line.len();
        }
        None
    };
    match (map(range.start), map(range.end)) {
        (Some(start), Some(end)) if end <= whole.end as usize => Span::new(file, start, end),
        _ => whole,
    }
}

/// One part of a message: its kind, the template it renders and where it is declared.
#[derive(Clone, Debug)]
pub struct Part {
    pub kind: PartKind,
    /// The name the environment knows the template by.
    pub template: String,
    /// The YAML value declaring it (the inline text or the file name).
    pub declared: Span,
}

/// One channel's message of a campaign, variant or journey step.
#[derive(Clone, Debug)]
pub struct ChannelMessage {
    pub channel: &'static str,
    pub parts: Vec<Part>,
    /// `max_parts` of the message, else of the channel.
    pub max_parts: Option<u32>,
    /// The channel's key under `messages:` (the variant's when it declares
    /// the channel), where diagnostics about the message as a whole point.
    pub declared: Span,
    /// Parts the channel needs that the message (with what it inherits)
    /// does not declare at all.
    pub missing: Vec<Missing>,
}

/// A part a channel's message needs and does not declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Subject,
    /// Neither `text` nor `html` (nor their files).
    Body,
    Text,
}

impl Missing {
    /// What the channel needs, for diagnostics.
    pub fn describe(self) -> &'static str {
        match self {
            Missing::Subject => "no subject (`subject:` or `subject_file:`)",
            Missing::Body => "no body (`html:`, `html_file:`, `text:` or `text_file:`)",
            Missing::Text => "no text (`text:` or `text_file:`)",
        }
    }
}

impl ChannelMessage {
    pub fn part(&self, kind: PartKind) -> Option<&Part> {
        self.parts.iter().find(|part| part.kind == kind)
    }
}

/// What sends messages: a campaign (or one of its variants) or a journey step.
#[derive(Clone, Debug)]
pub struct Target {
    /// `campaign`, or `journey`.
    pub kind: &'static str,
    pub name: String,
    pub file: FileId,
    pub variant: Option<String>,
    /// The journey step: its id, else its 1-based position.
    pub step: Option<String>,
    pub message_type: MessageType,
    pub offer: Option<Text>,
    /// The trigger event of a journey, whose properties are `event.*`.
    pub event: Option<String>,
    pub messages: Vec<ChannelMessage>,
}

impl Target {
    /// `spring-sale`, `spring-sale --variant b`, `abandoned-cart#reminder`.
    pub fn label(&self) -> String {
        match (&self.variant, &self.step) {
            (Some(variant), _) => format!("{} (variant {variant})", self.name),
            (None, Some(step)) => format!("{}#{step}", self.name),
            (None, None) => self.name.clone(),
        }
    }
}

/// The project's templates in one environment.
pub struct Templates {
    pub environment: Environment<'static>,
    /// Template name (without the `html:` prefix) → where its source is.
    pub origins: BTreeMap<String, Origin>,
    /// Template name → source text.
    pub sources: Arc<HashMap<String, String>>,
    pub settings: Arc<Settings>,
    pub targets: Vec<Target>,
    /// Template name → what it reads, calls and includes, or why it does not
    /// parse: every template is parsed once here, and the template check and
    /// watch's dependency graph both read this.
    pub analyses: BTreeMap<String, Result<context::Analysis, minijinja::Error>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &self.origins.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The name a template is loaded under for a part of `kind`.
pub fn load_name(kind: PartKind, name: &str) -> String {
    if kind == PartKind::Html {
        format!("{HTML}{name}")
    } else {
        name.to_string()
    }
}

/// The template name behind a load name.
pub fn base_name(name: &str) -> &str {
    name.strip_prefix(HTML).unwrap_or(name)
}

/// A fresh environment for the given sources and settings.
pub fn environment(
    sources: Arc<HashMap<String, String>>,
    settings: Arc<Settings>,
) -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    environment.set_fuel(Some(FUEL));
    environment.set_auto_escape_callback(|name| {
        if name.starts_with(HTML) {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // Values printed into HTML go through `text_part::print`, which notes
    // them for producing text parts.
    environment.set_formatter(|out, state, value| {
        if *state.auto_escape() == AutoEscape::Html && !value.is_safe() {
            if let Some(text) = value.as_str() {
                return text_part::print(out, |out| write_html_escaped(out, text))
                    .map_err(minijinja::Error::from);
            }
            if value.is_integer() {
                return text_part::print(out, |out| write!(out, "{value}"))
                    .map_err(minijinja::Error::from);
            }
        }
        minijinja::escape_formatter(out, state, value)
    });
    // Names in `include` and `extends` are below `templates/`; an HTML
    // template's includes are HTML too.
    environment.set_path_join_callback(|name, parent| {
        let name = name.trim_start_matches("./");
        let name = name.strip_prefix("templates/").unwrap_or(name);
        if parent.starts_with(HTML) && !name.starts_with(HTML) {
            format!("{HTML}{name}").into()
        } else {
            name.into()
        }
    });
    environment.set_loader(move |name| Ok(sources.get(base_name(name)).cloned()));
    filters::register(&mut environment, settings);
    environment
}

/// Writes `text` escaped for HTML text and quoted attribute values: `&`,
/// `<`, `>`, `"` and `'`. Unlike minijinja's own escaping it leaves `/`
/// alone, which only matters inside unquoted attributes (templates quote
/// theirs) and turned every link into `https:&#x2f;&#x2f;…`.
fn write_html_escaped(out: &mut dyn std::fmt::Write, text: &str) -> std::fmt::Result {
    const ESCAPED: [bool; 256] = {
        let mut table = [false; 256];
        table[b'&' as usize] = true;
        table[b'<' as usize] = true;
        table[b'>' as usize] = true;
        table[b'"' as usize] = true;
        table[b'\'' as usize] = true;
        table
    };
    let bytes = text.as_bytes();
    let mut copied = 0;
    // A tight scan for the next byte to escape; `str::find` with a set of
    // characters decodes each one and cost a tenth of rendering an email.
    while let Some(offset) = bytes[copied..]
        .iter()
        .position(|&byte| ESCAPED[usize::from(byte)])
    {
        let index = copied + offset;
        out.write_str(&text[copied..index])?;
        out.write_str(match bytes[index] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        })?;
        copied = index + 1;
    }
    out.write_str(&text[copied..])
}

impl Templates {
    /// The expression a render error points at, as the template has it
    /// (`names[contact.favourite]`), so the error can name it.
    pub fn failed_expression(&self, error: &minijinja::Error) -> Option<&str> {
        let (range, name) = error.range().zip(error.name())?;
        Some(self.sources.get(base_name(name))?.get(range)?.trim())
    }

    /// A render error in words, naming the expression that failed. An
    /// undefined value is said plainly: the engine's own wording names the
    /// first variable of the expression (`contact[...]`) rather than the
    /// lookup that failed (`names[contact.favourite]`).
    pub fn describe_failure(&self, error: &minijinja::Error) -> String {
        let detail = error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_string);
        match self.failed_expression(error) {
            Some(expression) if error.kind() == minijinja::ErrorKind::UndefinedError => {
                format!("`{expression}` is undefined")
            }
            Some(expression) => format!("`{expression}`: {detail}"),
            None => detail,
        }
    }

    /// Collects every template of the project. Needs the manifest.
    pub fn new(project: &Project) -> Option<Templates> {
        let manifest = &project.manifest.as_ref()?.value;
        let settings = Arc::new(Settings::from_manifest(manifest));
        let mut origins = BTreeMap::new();
        let mut sources = HashMap::new();
        for template in &project.templates {
            origins.insert(template.name.clone(), Origin::File(template.file));
            sources.insert(
                template.name.clone(),
                project.sources.file(template.file).text.clone(),
            );
        }
        let mut collector = Collector {
            project,
            origins: &mut origins,
            sources: &mut sources,
        };
        let mut targets = Vec::new();
        for campaign in &project.campaigns {
            let value = &campaign.value;
            let defaults = (
                &value.messages,
                campaign.node.entry("messages").map(|(_, node)| node),
            );
            let base = Target {
                kind: "campaign",
                name: campaign.name.clone(),
                file: campaign.file,
                variant: None,
                step: None,
                message_type: value.kind,
                offer: value.offer.clone(),
                event: None,
                messages: collector.messages(manifest, campaign.file, defaults, None),
            };
            let variant_nodes = campaign.node.entry("variants").map(|(_, node)| node);
            for (index, variant) in value.variants.iter().enumerate() {
                let mut target = base.clone();
                target.variant = Some(variant.name.value.clone());
                let node = variant_nodes
                    .and_then(|variants| variants.walk(&[PathStep::<&str>::Index(index)]))
                    .and_then(|(variant, _)| variant.entry("messages"))
                    .map(|(_, node)| node);
                target.messages = collector.messages(
                    manifest,
                    campaign.file,
                    (&variant.messages, node),
                    Some(defaults),
                );
                targets.push(target);
            }
            if value.variants.is_empty() || !value.messages.by_channel().is_empty() {
                targets.push(base);
            }
        }
        for journey in &project.journeys {
            let value = &journey.value;
            for (index, step) in value.steps.iter().enumerate() {
                let Some(send) = &step.send else { continue };
                targets.push(Target {
                    kind: "journey",
                    name: journey.name.clone(),
                    file: journey.file,
                    variant: None,
                    step: Some(crate::journey::step_key(step, index)),
                    message_type: value.kind,
                    offer: None,
                    event: value
                        .trigger
                        .event
                        .as_ref()
                        .map(|event| event.value.clone()),
                    messages: collector.messages(
                        manifest,
                        journey.file,
                        (&send.messages, step_messages(&journey.node, index)),
                        None,
                    ),
                });
            }
        }
        let analyses = origins
            .keys()
            .filter_map(|name| {
                let source = sources.get(name)?;
                let analysis = minijinja::machinery::parse(source, name, Default::default())
                    .map(|ast| context::analyse(&ast));
                Some((name.clone(), analysis))
            })
            .collect();
        let sources = Arc::new(sources);
        Some(Templates {
            environment: environment(sources.clone(), settings.clone()),
            origins,
            sources,
            settings,
            targets,
            analyses,
        })
    }

    /// The compiled template of every part of a message.
    pub fn compile_message<'a>(
        &'a self,
        message: &'a ChannelMessage,
    ) -> Result<Vec<(&'a Part, Template<'a, 'a>)>, (Part, minijinja::Error)> {
        message
            .parts
            .iter()
            .map(|part| {
                self.environment
                    .get_template(&part.template)
                    .map(|template| (part, template))
                    .map_err(|error| (part.clone(), error))
            })
            .collect()
    }

    /// Renders every part of a message; an email gets its text part from
    /// the HTML when it has none.
    pub fn render(
        &self,
        target: &Target,
        message: &ChannelMessage,
        context: &Value,
    ) -> Result<Rendered, (Part, minijinja::Error)> {
        let parts = self.compile_message(message)?;
        render_message(target, message.channel, &parts, context, None)
    }
}

/// Renders the compiled parts of one message for a context, then assembles
/// the channel's message. `texts` remembers text parts produced from HTML
/// across messages; it reads where the HTML's expressions printed values.
fn render_message(
    target: &Target,
    channel: &'static str,
    parts: &[(&Part, Template<'_, '_>)],
    context: &Value,
    texts: Option<&text_part::TextParts>,
) -> Result<Rendered, (Part, minijinja::Error)> {
    let texts = texts.filter(|_| {
        channel == "email" && !parts.iter().any(|(part, _)| part.kind == PartKind::Text)
    });
    let mut rendered = BTreeMap::new();
    let mut printed = Vec::new();
    for (part, template) in parts {
        let text = if texts.is_some() && part.kind == PartKind::Html {
            text_part::recording(|out| template.render_captured_to(context, out).map(drop)).map(
                |(html, ranges)| {
                    printed = ranges;
                    html
                },
            )
        } else {
            template.render(context)
        };
        rendered.insert(part.kind, text.map_err(|error| ((*part).clone(), error))?);
    }
    Ok(Rendered::new(
        target,
        channel,
        rendered,
        context,
        texts.map(|texts| (texts, &printed[..])),
    ))
}

/// A rendered message.
#[derive(Clone, Debug, Serialize)]
pub struct Rendered {
    pub channel: &'static str,
    pub parts: BTreeMap<PartKind, String>,
    /// SMS: encoding, characters and parts of the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<sms::Analysis>,
    /// Email: headers beyond the subject.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

impl Rendered {
    fn new(
        target: &Target,
        channel: &'static str,
        mut parts: BTreeMap<PartKind, String>,
        context: &Value,
        texts: Option<(&text_part::TextParts, &[std::ops::Range<usize>])>,
    ) -> Rendered {
        let mut headers = Vec::new();
        let mut analysis = None;
        match channel {
            "email" => {
                let unsubscribe = context
                    .get_attr("links")
                    .and_then(|links| links.get_attr("unsubscribe"))
                    .ok();
                let email = email::assemble(
                    parts,
                    target.message_type,
                    unsubscribe.as_ref().and_then(Value::as_str),
                    texts,
                );
                parts = email.parts;
                headers = email.headers;
            }
            "sms" => analysis = parts.get(&PartKind::Text).map(|text| sms::analyse(text)),
            _ => {}
        }
        Rendered {
            channel,
            parts,
            sms: analysis,
            headers,
        }
    }
}

/// A message's part declarations by kind: the inline text and the file.
fn part_sources(message: &Message) -> [(PartKind, &Option<Text>, &Option<Text>); 4] {
    [
        (PartKind::Subject, &message.subject, &message.subject_file),
        (PartKind::Preheader, &message.preheader, &None),
        (PartKind::Text, &message.text, &message.text_file),
        (PartKind::Html, &message.html, &message.html_file),
    ]
}

/// Whether a message declares a part of `kind`, inline or as a file (a
/// missing file is the resolver's diagnostic, not a missing part).
fn declares(message: &Message, kind: PartKind) -> bool {
    part_sources(message)
        .iter()
        .any(|(part, inline, file)| *part == kind && (inline.is_some() || file.is_some()))
}

/// The `messages:` node of a journey's send step.
fn step_messages(journey: &Node, index: usize) -> Option<&Node> {
    let path = [
        PathStep::Property("steps"),
        PathStep::Index(index),
        PathStep::Property("send"),
        PathStep::Property("messages"),
    ];
    journey.walk(&path).map(|(node, _)| node)
}

struct Collector<'a, 'p> {
    project: &'p Project,
    origins: &'a mut BTreeMap<String, Origin>,
    sources: &'a mut HashMap<String, String>,
}

impl Collector<'_, '_> {
    /// The channel messages of `messages` (the YAML `node` declaring them).
    /// A variant's message inherits, part by part, every part it does not
    /// declare from the campaign's message on the same channel (`defaults`),
    /// so a subject-only A/B test sends the default body.
    fn messages(
        &mut self,
        manifest: &Manifest,
        file: FileId,
        (messages, node): (&Messages, Option<&Node>),
        defaults: Option<(&Messages, Option<&Node>)>,
    ) -> Vec<ChannelMessage> {
        let mut result = Vec::new();
        for kind in ChannelKind::ALL {
            let own = messages.get(kind);
            let inherited = defaults.and_then(|(defaults, _)| defaults.get(kind));
            let Some(message) = own.or(inherited) else {
                continue;
            };
            let channel = kind.name();
            let key = |node: Option<&Node>| {
                node.and_then(|node| node.entry(channel))
                    .map(|(key, _)| key.span(file))
            };
            let declared = if own.is_some() {
                key(node)
            } else {
                key(defaults.and_then(|(_, node)| node))
            };
            let declares = |part: PartKind| {
                [own, inherited]
                    .into_iter()
                    .flatten()
                    .any(|message| declares(message, part))
            };
            let missing = match kind {
                ChannelKind::Email => [
                    (!declares(PartKind::Subject)).then_some(Missing::Subject),
                    (!declares(PartKind::Html) && !declares(PartKind::Text))
                        .then_some(Missing::Body),
                ]
                .into_iter()
                .flatten()
                .collect(),
                _ if !declares(PartKind::Text) => vec![Missing::Text],
                _ => Vec::new(),
            };
            let mut parts = self.parts(file, message);
            if let (Some(_), Some(default)) = (own, inherited) {
                for part in self.parts(file, default) {
                    if parts.iter().all(|own| own.kind != part.kind) {
                        parts.push(part);
                    }
                }
                parts.sort_by_key(|part| part.kind);
            }
            let channel_max = manifest
                .channels
                .get(kind)
                .and_then(|declared| declared.max_parts);
            result.push(ChannelMessage {
                channel,
                parts,
                max_parts: message
                    .max_parts
                    .or(inherited.and_then(|default| default.max_parts))
                    .or(channel_max),
                declared: declared.unwrap_or_else(|| Span::new(file, 0, 0)),
                missing,
            });
        }
        result
    }

    /// The parts a message declares, inline or from a file, by kind.
    fn parts(&mut self, file: FileId, message: &Message) -> Vec<Part> {
        let mut parts = Vec::new();
        for (kind, inline, from_file) in part_sources(message) {
            if let Some(text) = inline {
                let name = format!("{}:{}", self.project.sources.file(file).name, text.start);
                self.origins.insert(
                    name.clone(),
                    Origin::Inline {
                        file,
                        text: text.clone(),
                    },
                );
                self.sources.insert(name.clone(), text.value.clone());
                parts.push(Part {
                    kind,
                    template: load_name(kind, &name),
                    declared: text.span(file),
                });
            } else if let Some(path) = from_file {
                let name = path.value.trim_start_matches("templates/").to_string();
                // A missing file is reported by the resolver.
                if self.origins.contains_key(&name) {
                    parts.push(Part {
                        kind,
                        template: load_name(kind, &name),
                        declared: path.span(file),
                    });
                }
            }
        }
        parts
    }
}

/// The render context of one message for one contact.
pub struct ContextInput<'a> {
    pub contact: Value,
    pub event: Option<Value>,
    pub vars: &'a Value,
    /// Now, as an RFC 3339 timestamp.
    pub now: &'a str,
}

/// The placeholder unsubscribe link of previews and checks; the runner
/// substitutes the contact's signed link.
pub fn unsubscribe_link(contact_id: &str) -> String {
    format!("https://unsubscribe.invalid/{contact_id}")
}

/// Builds the context `contact`, `event`, `campaign`, `variant`, `vars`, `links`, `now`.
pub fn context(target: &Target, input: ContextInput<'_>) -> Value {
    SharedContext::new(target, input.vars, input.now).message(input.contact, input.event)
}

/// The part of the context every message of one target shares: `campaign`,
/// `variant`, `vars` and `now`, built once rather than per contact.
#[derive(Debug)]
pub struct SharedContext {
    campaign: Value,
    variant: Value,
    vars: Value,
    now: Value,
    /// The signed addresses of `herald serve`; without them (previews,
    /// checks, a project without `serve:`) `links.unsubscribe` is the
    /// placeholder.
    links: Option<crate::signed_link::Links>,
}

impl SharedContext {
    pub fn new(target: &Target, vars: &Value, now: &str) -> Arc<SharedContext> {
        let mut campaign = BTreeMap::new();
        campaign.insert("name".to_string(), Value::from(target.name.clone()));
        campaign.insert(
            "type".to_string(),
            Value::from(format!("{:?}", target.message_type).to_lowercase()),
        );
        campaign.insert(
            "offer".to_string(),
            target
                .offer
                .as_ref()
                .map_or(Value::from(()), |offer| Value::from(offer.value.clone())),
        );
        Arc::new(SharedContext {
            campaign: Value::from(campaign),
            variant: Value::from(target.variant.clone().unwrap_or_else(|| "default".into())),
            vars: vars.clone(),
            now: Value::from(now),
            links: None,
        })
    }

    /// The same context whose `links.unsubscribe` is the contact's signed
    /// address on the message's channel.
    pub fn with_links(self: Arc<Self>, links: Option<crate::signed_link::Links>) -> Arc<Self> {
        if links.is_none() {
            return self;
        }
        Arc::new(SharedContext {
            campaign: self.campaign.clone(),
            variant: self.variant.clone(),
            vars: self.vars.clone(),
            now: self.now.clone(),
            links,
        })
    }

    /// A copy that shares no value with this one, for another thread.
    pub fn detached(&self) -> Arc<SharedContext> {
        Arc::new(SharedContext {
            campaign: deep_copy(&self.campaign),
            variant: deep_copy(&self.variant),
            vars: deep_copy(&self.vars),
            now: deep_copy(&self.now),
            links: self.links.clone(),
        })
    }

    /// The context of one message to `contact`: the shared values and the
    /// contact's own `contact`, `event` and `links`.
    pub fn message(self: &Arc<Self>, contact: Value, event: Option<Value>) -> Value {
        self.message_on(contact, event, "")
    }

    /// The context of one message to `contact` on `channel`, whose
    /// unsubscribe link is signed for that channel.
    pub fn message_on(
        self: &Arc<Self>,
        contact: Value,
        event: Option<Value>,
        channel: &'static str,
    ) -> Value {
        let id = contact
            .get_attr("id")
            .ok()
            .filter(|id| !id.is_undefined() && !id.is_none())
            .map(|id| id.to_string())
            .unwrap_or_default();
        Value::from_object(MessageContext {
            shared: self.clone(),
            contact,
            event,
            links: Value::from_object(Links {
                shared: self.clone(),
                contact: id,
                channel,
            }),
        })
    }
}

/// A copy of a value of maps, lists and strings that shares no allocation
/// (and so no reference count) with it.
fn deep_copy(value: &Value) -> Value {
    match value.kind() {
        ValueKind::Map => value.try_iter().map_or_else(
            |_| value.clone(),
            |keys| {
                let map: BTreeMap<Value, Value> = keys
                    .map(|key| {
                        let item = value.get_item(&key).unwrap_or_default();
                        (deep_copy(&key), deep_copy(&item))
                    })
                    .collect();
                Value::from(map)
            },
        ),
        ValueKind::Seq => value.try_iter().map_or_else(
            |_| value.clone(),
            |items| {
                items
                    .map(|item| deep_copy(&item))
                    .collect::<Vec<_>>()
                    .into()
            },
        ),
        ValueKind::String => match value.as_str() {
            Some(text) if value.is_safe() => Value::from_safe_string(text.to_string()),
            Some(text) => Value::from(text.to_string()),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// The root of one message's context. An object rather than a map, so that
/// a message costs its contact and links, not a copy of the shared values.
#[derive(Debug)]
struct MessageContext {
    shared: Arc<SharedContext>,
    contact: Value,
    event: Option<Value>,
    links: Value,
}

impl Object for MessageContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match key {
            "contact" => Some(self.contact.clone()),
            "event" => self.event.clone(),
            "campaign" => Some(self.shared.campaign.clone()),
            "variant" => Some(self.shared.variant.clone()),
            "vars" => Some(self.shared.vars.clone()),
            "links" => Some(self.links.clone()),
            "now" => Some(self.shared.now.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.event.is_some() {
            Enumerator::Str(&[
                "campaign", "contact", "event", "links", "now", "variant", "vars",
            ])
        } else {
            Enumerator::Str(&["campaign", "contact", "links", "now", "variant", "vars"])
        }
    }
}

/// `links`: the contact's unsubscribe link, signed when it is read (most
/// messages other than email never read it).
#[derive(Debug)]
struct Links {
    shared: Arc<SharedContext>,
    contact: String,
    channel: &'static str,
}

impl Object for Links {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        (key == "unsubscribe").then(|| {
            Value::from(match &self.shared.links {
                Some(links) if !self.channel.is_empty() => {
                    links.unsubscribe(&self.contact, self.channel)
                }
                _ => unsubscribe_link(&self.contact),
            })
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["unsubscribe"])
    }
}

/// A JSON value as a template value.
pub fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (None, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::from(n.to_string()),
        },
        serde_json::Value::String(s) => Value::from(s.clone()),
        serde_json::Value::Array(items) => items.iter().map(json_value).collect(),
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

/// The manifest's `vars` as a template value.
pub fn vars_value(manifest: &Manifest) -> Value {
    Value::from(
        manifest
            .vars
            .iter()
            .map(|(k, v)| (k.value.clone(), json_value(v)))
            .collect::<BTreeMap<String, Value>>(),
    )
}

/// A stored contact as the template value `contact`: its id and attributes,
/// dates as ISO text and datetimes as RFC 3339 timestamps. A shared contact
/// lets the thread that read it also free it.
pub fn contact_value(contact: impl Into<Arc<crate::contact::Contact>>) -> Value {
    Value::from_object(StoredContact(contact.into()))
}

/// A contact read from the store, converting an attribute only when a
/// template reads it: most templates read two or three of a contact's
/// attributes, so copying all of them into a map would be wasted.
#[derive(Debug)]
struct StoredContact(Arc<crate::contact::Contact>);

impl Object for StoredContact {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        use crate::contact::Value as Stored;
        if key == "id" {
            return Some(Value::from(self.0.id.as_str()));
        }
        Some(match self.0.attributes.get(key)? {
            Stored::String(s) => Value::from(s.as_str()),
            Stored::Integer(i) => Value::from(*i),
            Stored::Number(n) => Value::from(*n),
            Stored::Boolean(b) => Value::from(*b),
            Stored::Date(date) => Value::from(date.to_string()),
            Stored::Datetime(seconds) => {
                Value::from(crate::contact::timestamp_text(*seconds).unwrap_or_default())
            }
            Stored::List(items) => items.iter().map(|s| Value::from(s.as_str())).collect(),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        // In name order with `id` among them, as a map of the same keys.
        let mut keys: Vec<&str> = self.0.attributes.keys().map(String::as_str).collect();
        if let Err(index) = keys.binary_search(&"id") {
            keys.insert(index, "id");
        }
        Enumerator::Values(keys.into_iter().map(Value::from).collect())
    }
}
