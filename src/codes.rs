//! The registry of diagnostic codes: one table assigns every code, its
//! kebab-case name, its default severity and whether the manifest's `lint`
//! section may change its level. The doc comment of each entry is what
//! `herald explain CODE` prints. Codes are never reused; a retired code stays
//! in the table.
//!
//! Prefixes name the stage: `Y` YAML loading, `P` project layout, `S` schema,
//! `R` reference resolution, `T`
//! templates (syntax and variables), `C` channel content rules on rendered
//! samples, `F` filters (the segment language).

use crate::diagnostic::Severity;

macro_rules! codes {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $name:literal, $severity:ident, $configurable:literal $(, $file:literal)?;
    )*) => {
        /// A diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant),*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable code, such as `S001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// The kebab-case name, read as "allow <name>".
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name),* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity),* }
            }

            /// Whether the manifest's `lint` section may change the level.
            pub fn configurable(self) -> bool {
                match self { $(Code::$variant => $configurable),* }
            }

            /// The rule's documentation, as `herald explain` prints it.
            pub fn documentation(self) -> String {
                let raw: &[&str] = match self { $(Code::$variant => &[$($doc),*]),* };
                // Lint and conflict rules keep their documentation as the
                // module doc comment of their own file.
                match self {
                    $($(Code::$variant => return module_documentation(include_str!($file)),)?)*
                    _ => {}
                }
                raw.iter()
                    .map(|line| line.strip_prefix(' ').unwrap_or(line))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    };
}

/// The `//!` lines at the top of a rule's source file, without the markers.
fn module_documentation(source: &str) -> String {
    source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| {
            line.trim_start_matches("//!")
                .strip_prefix(' ')
                .unwrap_or(line.trim_start_matches("//!"))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

impl Code {
    /// Looks a code up by its code (`R001`, any case) or its name (`unknown-segment`).
    pub fn lookup(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text) || code.name() == text)
    }

    /// The first paragraph of the documentation, on one line.
    pub fn summary(self) -> String {
        self.documentation()
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    /// The file is not valid YAML.
    ///
    /// ## Why it matters
    /// herald cannot read anything from a file it cannot parse, so every other
    /// check of this file is skipped until the syntax is fixed.
    ///
    /// ## Example
    /// ```yaml
    /// filter: [orders_count > 0
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: "orders_count > 0"
    /// ```
    YamlSyntax = "Y001", "yaml-syntax", Error, false;

    /// A mapping has the same key twice.
    ///
    /// ## Why it matters
    /// Most YAML readers silently keep the last value, so the first one looks
    /// active in review but is ignored. herald rejects the file instead.
    ///
    /// ## Example
    /// ```yaml
    /// description: Active customers
    /// description: Customers who bought this year
    /// ```
    ///
    /// ## Fix
    /// Keep one of the two keys.
    DuplicateKey = "Y002", "duplicate-key", Error, false;

    /// The file is not UTF-8 text.
    ///
    /// ## Why it matters
    /// herald files hold names, templates and filters in any language; they
    /// must be UTF-8 so that every tool reads the same characters.
    ///
    /// ## Example
    /// A segment saved in Windows-1251 by an old editor.
    ///
    /// ## Fix
    /// Re-save the file as UTF-8 (without a byte order mark).
    InvalidEncoding = "Y003", "invalid-encoding", Error, false;

    /// The file exceeds the reader's resource limits (nesting depth, alias expansion).
    ///
    /// ## Why it matters
    /// Deeply nested or alias-expanding documents ("billion laughs") can exhaust
    /// memory; herald refuses them instead of hanging a CI job.
    ///
    /// ## Example
    /// ```yaml
    /// a: &a [x, x, x, x, x, x, x, x, x]
    /// b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    /// c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    /// # ... and so on
    /// ```
    ///
    /// ## Fix
    /// Write the data out plainly; herald files never need deep aliasing.
    YamlLimit = "Y004", "yaml-limit", Error, false;

    /// A file in a project folder is not a YAML file herald reads.
    ///
    /// ## Why it matters
    /// Only `*.yaml` files below `segments/`, `campaigns/` and `journeys/` are
    /// definitions. A `welcome.yml` or `welcome.yaml.bak` is silently ignored
    /// by the compiler, which is rarely what its author meant.
    ///
    /// ## Example
    /// `journeys/welcome.yml`
    ///
    /// ## Fix
    /// Rename it to `journeys/welcome.yaml`, or move it out of the folder.
    StrayFile = "P001", "stray-file", Warning, true;

    /// A key that the schema for this kind of file does not define.
    ///
    /// ## Why it matters
    /// A misspelt key (`shedule:` for `schedule:`) would otherwise be ignored
    /// and the campaign would silently run with defaults.
    ///
    /// ## Example
    /// ```yaml
    /// type: promotional
    /// shedule:
    ///   at: "2026-12-20 11:00"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// type: promotional
    /// schedule:
    ///   at: "2026-12-20 11:00"
    /// ```
    UnknownKey = "S001", "unknown-key", Error, false;

    /// A value has the wrong type (a list where a string is expected, a word where a number is).
    ///
    /// ## Why it matters
    /// herald reads files into typed definitions; a value of the wrong type
    /// cannot mean what its author intended.
    ///
    /// ## Example
    /// ```yaml
    /// holdout: ten percent
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// holdout: 10
    /// ```
    WrongType = "S002", "wrong-type", Error, false;

    /// A required key is missing.
    ///
    /// ## Why it matters
    /// Without it the definition is incomplete: a segment without a `filter`
    /// selects nobody, a campaign without `type` cannot be checked for consent.
    ///
    /// ## Example
    /// ```yaml
    /// description: Customers who bought twice
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// description: Customers who bought twice
    /// filter: orders_count >= 2
    /// ```
    MissingKey = "S003", "missing-key", Error, false;

    /// A value is of the right type but not allowed (not one of the listed words, out of range, wrong format).
    ///
    /// ## Why it matters
    /// `type: promo` is a string, but herald knows only `promotional`,
    /// `informational` and `transactional`; guessing would be worse than stopping.
    ///
    /// ## Example
    /// ```yaml
    /// type: promo
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// type: promotional
    /// ```
    InvalidValue = "S004", "invalid-value", Error, false;

    /// A reference to a segment that does not exist.
    ///
    /// ## Why it matters
    /// The audience of a campaign or journey would be undefined.
    ///
    /// ## Example
    /// ```yaml
    /// audience:
    ///   segment: lifecycle/activ
    /// ```
    ///
    /// ## Fix
    /// Use the segment's name: its path below `segments/` without `.yaml`.
    /// ```yaml
    /// audience:
    ///   segment: lifecycle/active
    /// ```
    UnknownSegment = "R001", "unknown-segment", Error, false;

    /// A reference to a template file that does not exist below `templates/`.
    ///
    /// ## Why it matters
    /// The message could not be rendered and nothing would be sent.
    ///
    /// ## Example
    /// ```yaml
    /// messages:
    ///   email:
    ///     html_file: promo/decmber.html
    /// ```
    ///
    /// ## Fix
    /// Give the path below `templates/`:
    /// ```yaml
    ///     html_file: promo/december.html
    /// ```
    UnknownTemplate = "R002", "unknown-template", Error, false;

    /// A channel is used that the manifest does not declare.
    ///
    /// ## Why it matters
    /// herald only sends through channels with a provider, a sender and a cost
    /// in `herald.yaml`; a message for an undeclared channel can never go out.
    ///
    /// ## Example
    /// ```yaml
    /// channels: [email, whatsapp]   # herald.yaml declares email and sms
    /// ```
    ///
    /// ## Fix
    /// Declare the channel under `channels:` in `herald.yaml`, or remove it here.
    UnknownChannel = "R003", "unknown-channel", Error, false;

    /// A channel names a provider that `providers:` does not declare.
    ///
    /// ## Why it matters
    /// Messages on the channel would have no way to be delivered.
    ///
    /// ## Example
    /// ```yaml
    /// channels:
    ///   sms:
    ///     provider: smsc-ru
    /// providers:
    ///   smsc: {kind: smsc, login: "${env:SMSC_LOGIN}", password: "${env:SMSC_PASSWORD}"}
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     provider: smsc
    /// ```
    UnknownProvider = "R004", "unknown-provider", Error, false;

    /// An event type that `events:` in `herald.yaml` does not declare.
    ///
    /// ## Why it matters
    /// A journey triggered by an undeclared event never starts; a goal on one
    /// is never reached.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   event: cart_abandon
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// trigger:
    ///   event: cart_abandoned
    /// ```
    UnknownEvent = "R005", "unknown-event", Error, false;

    /// Segments refer to each other in a cycle.
    ///
    /// ## Why it matters
    /// A segment defined through itself has no meaning and cannot be evaluated.
    ///
    /// ## Example
    /// `segments/a.yaml`: `filter: in segment "b"`;
    /// `segments/b.yaml`: `filter: in segment "a"`.
    ///
    /// ## Fix
    /// Write one of the segments' conditions out in full.
    SegmentCycle = "R006", "segment-cycle", Error, false;

    /// A segment that no campaign, journey or other segment uses.
    ///
    /// ## Why it matters
    /// Dead definitions rot: nobody notices when they stop meaning what their
    /// name says. It is also often a sign that a reference was misspelt.
    ///
    /// ## Example
    /// `segments/old/autumn_2024.yaml`, referenced nowhere.
    ///
    /// ## Fix
    /// Delete it, or set `unused-segment: allow` under `lint:` if it is kept
    /// for `herald segment` queries.
    UnusedSegment = "R007", "unused-segment", Warning, true;

    /// A provider secret written into the YAML instead of read from the environment.
    ///
    /// ## Why it matters
    /// The project lives in git: a password or token committed there is
    /// leaked to everyone with read access, for ever.
    ///
    /// ## Example
    /// ```yaml
    /// providers:
    ///   telegram:
    ///     kind: telegram
    ///     token: 123456789:AAH9x8q0mYVbWt2Fz9Zq6nC0kL1pR3sT4uV
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     token: ${env:TELEGRAM_BOT_TOKEN}
    /// ```
    /// and revoke the leaked token.
    LiteralSecret = "R008", "literal-secret", Error, true;

    /// A journey step refers to a step id that the journey does not define.
    ///
    /// ## Why it matters
    /// Contacts reaching the step would have nowhere to go.
    ///
    /// ## Example
    /// ```yaml
    /// - branch:
    ///     - when: orders_count > 0
    ///       goto: thank_you
    /// ```
    ///
    /// ## Fix
    /// Give the target step that id (`id: thank_you`) or correct the name.
    UnknownStep = "R009", "unknown-step", Error, false;

    /// A journey step with no action, or with more than one.
    ///
    /// ## Why it matters
    /// Each step does exactly one thing (`send`, `wait`, `wait_for`, `branch`,
    /// `split`, `update` or `exit`); a step with two would leave their order
    /// to guesswork.
    ///
    /// ## Example
    /// ```yaml
    /// - wait: 1 day
    ///   send: {channels: [email], messages: {email: {subject_file: x.txt}}}
    /// ```
    ///
    /// ## Fix
    /// Split it into two steps, one after the other.
    StepAction = "R010", "step-action", Error, false;

    /// A provider lacks a setting its kind needs, or has one its kind does not use.
    ///
    /// ## Why it matters
    /// The provider could not be called at run time; herald reports it before
    /// anything is planned.
    ///
    /// ## Example
    /// ```yaml
    /// providers:
    ///   mail: {kind: smtp, port: 587}
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///   mail: {kind: smtp, host: smtp.example.com, port: 587,
    ///          username: "${env:SMTP_USER}", password: "${env:SMTP_PASSWORD}"}
    /// ```
    ProviderSetting = "R011", "provider-setting", Error, false;

    /// A duration or time of day that herald cannot read.
    ///
    /// ## Why it matters
    /// Waits, goal windows and re-entry periods decide when messages go out.
    ///
    /// ## Example
    /// ```yaml
    /// - wait: 2 dayz
    /// ```
    ///
    /// ## Fix
    /// Durations are a whole number and a unit: `30 minutes`, `12 hours`,
    /// `3 days`, `2 weeks`, `6 months`, `1 year`. Times of day are `HH:MM`.
    InvalidDuration = "R012", "invalid-duration", Error, false;

    /// A reference to a contact attribute that the manifest does not declare.
    ///
    /// ## Why it matters
    /// An `update` step or a birthday trigger on an unknown attribute would
    /// do nothing at run time.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   anniversary: birth_day
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// trigger:
    ///   anniversary: birthday
    /// ```
    UnknownAttribute = "R013", "unknown-attribute", Error, false;

    /// A value that must name a time zone, locale, currency or country does not.
    ///
    /// ## Why it matters
    /// Schedules, quiet hours and phone normalisation depend on them.
    ///
    /// ## Example
    /// ```yaml
    /// timezone: Moscow
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// timezone: Europe/Moscow
    /// ```
    InvalidSetting = "R014", "invalid-setting", Error, false;

    /// A `lint:` entry names a rule that does not exist or cannot be configured.
    ///
    /// ## Why it matters
    /// A misspelt rule name would silently leave the rule at its default level.
    ///
    /// ## Example
    /// ```yaml
    /// lint:
    ///   unused-segments: allow
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// lint:
    ///   unused-segment: allow
    /// ```
    /// `herald explain --list` lists every rule.
    UnknownRule = "R015", "unknown-rule", Error, false;

    /// A journey trigger that names no kind of trigger, or more than one.
    ///
    /// ## Why it matters
    /// A journey starts on exactly one thing: an `event`, entry into a
    /// `segment`, or a date attribute's `anniversary`.
    ///
    /// ## Example
    /// ```yaml
    /// trigger:
    ///   event: purchase
    ///   anniversary: birthday
    /// ```
    ///
    /// ## Fix
    /// Keep one, and make a second journey for the other.
    TriggerKind = "R016", "trigger-kind", Error, false;

    /// Two steps of one journey have the same `id`.
    ///
    /// ## Why it matters
    /// A `goto` to that id would be ambiguous, and the position stored for a
    /// contact would not say which step it is at.
    ///
    /// ## Example
    /// ```yaml
    /// - id: reminder
    ///   send: ...
    /// - id: reminder
    ///   send: ...
    /// ```
    ///
    /// ## Fix
    /// Give each step its own id (`reminder_1`, `reminder_2`).
    DuplicateStep = "R017", "duplicate-step", Error, false;

    /// A template that minijinja cannot parse.
    ///
    /// ## Why it matters
    /// A template with a syntax error renders nothing, so every message that
    /// uses it (or includes it) would fail for every contact.
    ///
    /// ## Example
    /// ```jinja
    /// Hello {{ contact.first_name }!
    /// ```
    ///
    /// ## Fix
    /// ```jinja
    /// Hello {{ contact.first_name }}!
    /// ```
    TemplateSyntax = "T001", "template-syntax", Error, false;

    /// A template reads a variable that its message's context does not have.
    ///
    /// ## Why it matters
    /// Templates render with strict undefined values: a misspelt attribute
    /// would stop the send for every contact. `contact.*` is checked against
    /// `contact.attributes` and the built-in fields, `event.*` against the
    /// properties of the journey's trigger event, `vars.*` against `vars:`.
    ///
    /// ## Example
    /// ```jinja
    /// Hello {{ contact.frist_name }}!
    /// ```
    ///
    /// ## Fix
    /// ```jinja
    /// Hello {{ contact.first_name }}!
    /// ```
    UnknownVariable = "T002", "unknown-variable", Error, false;

    /// An optional contact attribute is printed without a guard.
    ///
    /// ## Why it matters
    /// A contact without the attribute makes the template fail (undefined
    /// values are strict), so that contact gets no message at all.
    ///
    /// ## Example
    /// ```jinja
    /// {{ contact.city }}
    /// ```
    ///
    /// ## Fix
    /// ```jinja
    /// {{ contact.city | default("your city") }}
    /// {% if contact.city %}in {{ contact.city }}{% endif %}
    /// ```
    /// Declaring the attribute `required: true` also settles it.
    UnguardedOptional = "T003", "unguarded-optional", Warning, true;

    /// A template uses a filter or test that does not exist.
    ///
    /// ## Why it matters
    /// minijinja looks filters up when the template renders, so the mistake
    /// would only show when the first message is sent.
    ///
    /// ## Example
    /// ```jinja
    /// {{ event.items_count | plurals("товар", "товара", "товаров") }}
    /// ```
    ///
    /// ## Fix
    /// ```jinja
    /// {{ event.items_count | plural("товар", "товара", "товаров") }}
    /// ```
    UnknownFilter = "T004", "unknown-filter", Error, false;

    /// A template fails to render for a sample contact.
    ///
    /// ## Why it matters
    /// herald renders every message for sample contacts built from the data
    /// model (missing optional attributes, both genders, long names); a
    /// template that fails for them would fail for real contacts too.
    ///
    /// ## Example
    /// ```jinja
    /// {{ contact.orders_count + " orders" }}
    /// ```
    ///
    /// ## Fix
    /// ```jinja
    /// {{ contact.orders_count }} orders
    /// ```
    RenderError = "T005", "render-error", Error, false;

    /// An SMS takes more parts than `max_parts` allows for its audience.
    ///
    /// ## Why it matters
    /// Every part is billed; a single Cyrillic letter or typographic quote
    /// switches the whole message to UCS-2 (70 characters, 67 per part when
    /// concatenated), and GSM-7 extension characters count twice.
    ///
    /// ## Example
    /// ```yaml
    /// sms:
    ///   max_parts: 1
    ///   text: "Дорогой покупатель, только сегодня скидка 25% на всю обувь и аксессуары в нашем магазине"
    /// ```
    ///
    /// ## Fix
    /// Shorten the text (`herald render` shows characters and parts), or
    /// raise `max_parts` for an audience of customers.
    SmsTooLong = "C001", "sms-too-long", Error, true;

    /// The campaign's `offer` is not within the first 40 characters of the SMS.
    ///
    /// ## Why it matters
    /// Phones show the first line in the notification; an offer further down
    /// is not seen.
    ///
    /// ## Example
    /// ```yaml
    /// offer: "-25%"
    /// messages:
    ///   sms:
    ///     text: "Здравствуйте! Мы подготовили для вас подборку новинок: -25% на обувь"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     text: "-25% на обувь до воскресенья! Подборка новинок: ..."
    /// ```
    OfferTooLate = "C002", "offer-too-late", Warning, true;

    /// A promotional email without the unsubscribe link.
    ///
    /// ## Why it matters
    /// The law (38-ФЗ, CAN-SPAM, GDPR) and mailbox providers require an easy
    /// way to unsubscribe from advertising; mail without it goes to spam.
    ///
    /// ## Example
    /// ```html
    /// <p>Скидка 25% до воскресенья!</p>
    /// ```
    ///
    /// ## Fix
    /// ```html
    /// <p>Скидка 25% до воскресенья!</p>
    /// <a href="{{ links.unsubscribe }}">Отписаться</a>
    /// ```
    MissingUnsubscribeLink = "C003", "missing-unsubscribe-link", Error, true;

    /// An email subject longer than mail clients show.
    ///
    /// ## Why it matters
    /// Desktop clients cut a subject at about 70 characters and phones much
    /// earlier; what is cut off is not read.
    ///
    /// ## Example
    /// ```yaml
    /// subject: "Только до конца недели: большая весенняя распродажа обуви, сумок и аксессуаров"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// subject: "Весенняя распродажа: -25% на обувь"
    /// ```
    SubjectTooLong = "C004", "subject-too-long", Warning, true;

    /// A messenger or push message longer than the channel accepts.
    ///
    /// ## Why it matters
    /// Providers reject longer messages (Telegram 4096 characters, Viber
    /// 1000, push about 180 shown), so the contact gets nothing.
    ///
    /// ## Example
    /// A Telegram text of 5000 characters.
    ///
    /// ## Fix
    /// Shorten the text, link to the full version, or set the channel's
    /// `max_length` when the provider allows more.
    MessageTooLong = "C005", "message-too-long", Error, true;

    /// A rendered header value (subject, preheader) contains a line break.
    ///
    /// ## Why it matters
    /// A line break in a mail header ends it early or injects other headers;
    /// providers reject the message or, worse, send it altered.
    ///
    /// ## Example
    /// ```yaml
    /// subject: |
    ///   Скидка 25%
    ///   только сегодня
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// subject: "Скидка 25% только сегодня"
    /// ```
    HeaderLineBreak = "C006", "header-line-break", Error, true;

    /// A filter that does not follow the segment language's grammar.
    ///
    /// ## Why it matters
    /// herald cannot know which contacts a filter means until it parses; the
    /// message says what was expected at the marked column.
    ///
    /// ## Example
    /// ```yaml
    /// filter: orders_count > 0 an city = "Москва"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: orders_count > 0 and city = "Москва"
    /// ```
    /// `grammar/README.md` describes every construct with an example.
    FilterSyntax = "F001", "filter-syntax", Error, false;

    /// A filter names a contact attribute that is neither built in nor declared.
    ///
    /// ## Why it matters
    /// A misspelt attribute would select nobody (or everybody, under `not`).
    ///
    /// ## Example
    /// ```yaml
    /// filter: total_spend >= 50000
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: total_spent >= 50000
    /// ```
    /// or declare the attribute under `contact.attributes` in herald.yaml.
    UnknownFilterAttribute = "F002", "unknown-filter-attribute", Error, false;

    /// A filter names an event type that `events:` does not declare.
    ///
    /// ## Why it matters
    /// `did`, `count` and `sum` over an undeclared event would never see an event.
    ///
    /// ## Example
    /// ```yaml
    /// filter: did purchse within 90 days
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: did purchase within 90 days
    /// ```
    UnknownFilterEvent = "F003", "unknown-filter-event", Error, false;

    /// A filter names a property the event type does not declare.
    ///
    /// ## Why it matters
    /// Inside `where`, in `sum(event.property …)` and in `event.property`
    /// (journey trigger filters) names refer to the event's declared
    /// properties; an unknown one would never match.
    ///
    /// ## Example
    /// ```yaml
    /// filter: sum(purchase.ammount within 365 days) > 10000
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: sum(purchase.amount within 365 days) > 10000
    /// ```
    UnknownEventProperty = "F004", "unknown-event-property", Error, false;

    /// A test, function or aggregate that is not defined for the value's type or place.
    ///
    /// ## Why it matters
    /// `city > 5`, `contains` on a number or `age()` of a string have no
    /// meaning; herald refuses to guess one.
    ///
    /// ## Example
    /// ```yaml
    /// filter: tags contains "vip"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: tags has "vip"
    /// ```
    InvalidCondition = "F005", "invalid-condition", Error, false;

    /// An enum attribute or property is compared with a value it does not declare.
    ///
    /// ## Why it matters
    /// Enum values are exact; an undeclared one (often a typo or a wrong case)
    /// matches nobody.
    ///
    /// ## Example
    /// ```yaml
    /// filter: loyalty = "Gold"    # values: [bronze, silver, gold]
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: loyalty = "gold"
    /// ```
    UndeclaredEnumValue = "F006", "undeclared-enum-value", Error, false;

    /// A literal of the wrong type for what it is compared with.
    ///
    /// ## Why it matters
    /// `orders_count > "5"` or `birthday = 1990` compare different kinds of
    /// value; the answer would depend on storage details, not on the data.
    ///
    /// ## Example
    /// ```yaml
    /// filter: orders_count > "5"
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: orders_count > 5
    /// ```
    LiteralTypeMismatch = "F007", "literal-type-mismatch", Error, false;

    /// `sum`, `avg`, `min` or `max` of a property that is not a number (or, for min and max, a date).
    ///
    /// ## Why it matters
    /// Adding up order ids or categories has no meaning.
    ///
    /// ## Example
    /// ```yaml
    /// filter: sum(purchase.category within 365 days) > 3
    /// ```
    ///
    /// ## Fix
    /// Aggregate a numeric property, or count the events:
    /// ```yaml
    /// filter: count(purchase within 365 days where category = "shoes") > 3
    /// ```
    NonNumericAggregate = "F008", "non-numeric-aggregate", Error, false;

    /// A filter that can never match any contact.
    ///
    /// ## Why it matters
    /// Its segment, campaign or branch would silently reach nobody. The
    /// clashing parts are marked: contradictory ranges or equalities on one
    /// value, `x is set and x is not set`, an enum equal to two values.
    ///
    /// ## Example
    /// ```yaml
    /// filter: age(birthday) > 40 and age(birthday) < 30
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    /// filter: age(birthday) > 40 or age(birthday) < 30
    /// ```
    NeverMatches = "F009", "never-matches", Error, true;

    /// A filter that matches every contact.
    ///
    /// ## Why it matters
    /// A condition that is always true (`x is set or x is not set`) is
    /// usually a mistake for a narrower one; a campaign would go to the
    /// whole base.
    ///
    /// ## Example
    /// ```yaml
    /// filter: city is set or city is not set
    /// ```
    ///
    /// ## Fix
    /// Write the condition meant, or leave the filter out where everybody is meant.
    AlwaysMatches = "F010", "always-matches", Warning, true;

    // Lint and conflict rules: documentation is the doc comment of each rule's file.
    UnreachableStep = "J001", "unreachable-step", Warning, true, "lint/unreachable_step.rs";
    LoopWithoutWait = "J002", "loop-without-wait", Error, true, "lint/loop_without_wait.rs";
    WaitWithoutTimeout = "J003", "wait-without-timeout", Error, true, "lint/wait_without_timeout.rs";
    ExitOnTrigger = "J004", "exit-on-trigger", Error, true, "lint/exit_on_trigger.rs";
    WaitBeyondGoal = "J005", "wait-beyond-goal", Warning, true, "lint/wait_beyond_goal.rs";
    GoalWithoutExit = "J006", "goal-without-exit", Warning, true, "lint/goal_without_exit.rs";
    WaitForExitEvent = "J007", "wait-for-exit-event", Warning, true, "lint/wait_for_exit_event.rs";
    BranchNeverTaken = "J008", "branch-never-taken", Warning, true, "lint/branch_never_taken.rs";
    WeightsNot100 = "L001", "weights-not-100", Error, true, "lint/weights_not_100.rs";
    HoldoutWithoutGoal = "L002", "holdout-without-goal", Warning, true, "lint/holdout_without_goal.rs";
    ChannelWithoutMessage = "L003", "channel-without-message", Error, true, "lint/channel_without_message.rs";
    MessageWithoutChannel = "L004", "message-without-channel", Warning, true, "lint/message_without_channel.rs";
    OverlappingTriggers = "X001", "overlapping-triggers", Warning, true, "lint/overlapping_triggers.rs";
    MissingPriority = "X002", "missing-priority", Warning, true, "lint/missing_priority.rs";
    FrequencyCapExceeded = "X003", "frequency-cap-exceeded", Warning, true, "lint/frequency_cap_exceeded.rs";
    DiscountWithoutBuyerExclusion = "X004", "discount-without-buyer-exclusion", Warning, true, "lint/discount_without_buyer_exclusion.rs";
    UnguardedNegativeCondition = "X005", "unguarded-negative-condition", Warning, true, "lint/unguarded_negative_condition.rs";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.as_str()), "{code} reused");
            assert!(names.insert(code.name()), "{} reused", code.name());
            let name = code.name();
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name} is not kebab-case"
            );
            let doc = code.documentation();
            for section in ["## Why it matters", "## Example", "## Fix"] {
                assert!(doc.contains(section), "{code} lacks {section}");
            }
            assert_eq!(Code::lookup(code.as_str()), Some(*code));
            assert_eq!(Code::lookup(code.name()), Some(*code));
        }
    }
}
