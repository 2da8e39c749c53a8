//! Provider settings by kind (what each kind needs and uses) and secret
//! detection: secret fields must read the environment, and no other field
//! may hold something shaped like a credential.

use super::Resolver;
use crate::channel::ChannelKind;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{self, ProviderKind, Text};
use crate::provider::profile::{self, SenderForm};
use crate::provider::{ContentProfile, Provider, ProviderConfig, Secret};
use crate::source::FileId;
use crate::yaml::{Node, Value as YamlValue};

/// Settings that hold a secret and so must read the environment.
const SECRET_FIELDS: [&str; 4] = ["password", "token", "api_key", "secret"];

impl Resolver<'_> {
    /// Checks a provider's settings; the typed provider when every setting
    /// its kind needs is there.
    pub(super) fn provider(
        &mut self,
        file: FileId,
        name: &Text,
        provider: &model::Provider,
    ) -> Option<Provider> {
        use ProviderKind as K;
        let fields: [(&str, &Option<Text>); 15] = [
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
            ("phone_number_id", &provider.phone_number_id),
            ("template", &provider.template),
            ("language", &provider.language),
            ("api_version", &provider.api_version),
            ("inbound_event", &provider.inbound_event),
        ];
        let (required, allowed): (&[&str], &[&str]) = match provider.kind.value {
            K::File => (&["path"], &["path"]),
            K::Webhook => (&["url"], &["url", "secret", "token"]),
            K::Smtp => (&["host"], &["host", "username", "password"]),
            K::Telegram => (&["token"], &["token", "base_url"]),
            K::Smsc => (&["login", "password"], &["login", "password", "base_url"]),
            K::Unisender => (&["api_key"], &["api_key", "base_url"]),
            // `phone_number_id` and `template` are needed to send, which
            // [`Resolver::whatsapp_routes`] asks of a provider a channel uses;
            // one declared only for `herald serve`'s webhooks needs neither.
            K::Whatsapp => (
                &["token"],
                &[
                    "token",
                    "phone_number_id",
                    "template",
                    "language",
                    "api_version",
                    "inbound_event",
                    "base_url",
                ],
            ),
            K::Viber => (&["token"], &["token", "base_url"]),
            K::Vk => (&["token"], &["token", "api_version", "base_url"]),
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
            let secret_field = SECRET_FIELDS.contains(&key);
            self.secret(file, &name.value, key, value, secret_field);
        }
        if provider.kind.value == K::Smtp
            && provider.username.is_some() != provider.password.is_some()
        {
            let (present, absent) = if provider.username.is_some() {
                ("username", "password")
            } else {
                ("password", "username")
            };
            self.push(
                Diagnostic::new(
                    Code::ProviderSetting,
                    name.span(file),
                    format!(
                        "provider `{}` (kind `smtp`) has a `{present}` but no `{absent}`",
                        name.value
                    ),
                )
                .label(format!("`{absent}` missing"))
                .help("SMTP authenticates with both, or neither for a relay that needs none"),
            );
        }
        self.provider_values(file, &kind_name, provider);
        let typed = typed(provider)?;
        if let (Some(rate), Some(documented)) =
            (&provider.rate_limit, typed.config.default_rate_limit())
            && rate.value > documented
        {
            self.push(
                Diagnostic::new(
                    Code::RateLimitBeyondProvider,
                    rate.span(file),
                    format!(
                        "provider `{}` sends {} messages a second; {kind_name} documents about {documented}",
                        name.value, rate.value
                    ),
                )
                .label("faster than the provider allows")
                .help(format!(
                    "remove `rate_limit` (the default is {documented}), or allow `rate-limit-beyond-provider` if the account's limit is higher"
                )),
            );
        }
        Some(typed)
    }

    /// Settings whose value must have a documented form: addresses are
    /// absolute http(s) URLs, API versions look like the provider's, a
    /// WhatsApp number id is digits. The clients would refuse them only
    /// when a run builds them.
    fn provider_values(&mut self, file: FileId, kind_name: &str, provider: &model::Provider) {
        // (setting, value, whether it is valid, what is expected, an example)
        type Check<'a> = (&'a str, &'a Text, fn(&str) -> bool, &'a str, &'a str);
        let mut checks: Vec<Check> = Vec::new();
        for (key, value) in [("base_url", &provider.base_url), ("url", &provider.url)] {
            if let Some(value) = value {
                checks.push((
                    key,
                    value,
                    is_http_url,
                    "an absolute http:// or https:// address",
                    "https://gateway.example/herald",
                ));
            }
        }
        if let Some(version) = &provider.api_version {
            match provider.kind.value {
                ProviderKind::Vk => checks.push((
                    "api_version",
                    version,
                    is_version,
                    "a VK API version",
                    "\"5.199\"",
                )),
                ProviderKind::Whatsapp => checks.push((
                    "api_version",
                    version,
                    |text| text.strip_prefix('v').is_some_and(is_version),
                    "a Graph API version",
                    "v21.0",
                )),
                _ => {}
            }
        }
        if let Some(number) = &provider.phone_number_id {
            checks.push((
                "phone_number_id",
                number,
                |text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
                "the digits of the number's id in the WhatsApp Business account, not the phone number",
                "\"106540352242922\"",
            ));
        }
        for (key, value, valid, expected, example) in checks {
            let text = value.value.trim();
            // A reference to the environment is read when the client is built.
            if is_env_reference(text) || valid(text) {
                continue;
            }
            self.push(
                Diagnostic::new(
                    Code::InvalidProviderValue,
                    value.span(file),
                    format!("`{key}` of a `{kind_name}` provider must be {expected}"),
                )
                .label(format!(
                    "not {}",
                    expected.split(',').next().unwrap_or(expected)
                ))
                .help(format!("for example `{key}: {example}`")),
            );
        }
    }

    /// A WhatsApp provider that a channel sends through needs the number
    /// it sends from and the template it sends outside the 24-hour window.
    pub(super) fn whatsapp_routes(&mut self, file: FileId, manifest: &model::Manifest) {
        for (name, provider) in &manifest.providers {
            if provider.kind.value != ProviderKind::Whatsapp {
                continue;
            }
            let Some((channel, _)) = manifest
                .channels
                .declared()
                .into_iter()
                .find(|(_, channel)| channel.provider.value == name.value)
            else {
                continue;
            };
            for (setting, value, help) in [
                (
                    "phone_number_id",
                    &provider.phone_number_id,
                    "add `phone_number_id:` with the sending number's id from the WhatsApp Business account",
                ),
                (
                    "template",
                    &provider.template,
                    "add `template:` with the name of an approved template whose body is one parameter, `{{1}}`",
                ),
            ] {
                if value.is_none() {
                    self.push(
                        Diagnostic::new(
                            Code::ProviderSetting,
                            name.span(file),
                            format!(
                                "provider `{}` (kind `whatsapp`) needs `{setting}` to send the {channel} channel's messages",
                                name.value
                            ),
                        )
                        .label(format!("`{setting}` missing"))
                        .help(help),
                    );
                }
            }
        }
    }

    /// Every declared channel against the profile of the provider it is
    /// routed to: the sender the provider needs, in the form it takes, and
    /// a `max_length` the provider cannot honour.
    pub(super) fn channel_profiles(&mut self, file: FileId, manifest: &model::Manifest) {
        for (channel, declared) in manifest.channels.declared() {
            let Some(kind) = ChannelKind::from_name(channel) else {
                continue;
            };
            let Some((provider, profile)) = ContentProfile::for_channel(manifest, kind) else {
                continue;
            };
            if let Some(provider_kind) = manifest
                .providers
                .iter()
                .find(|(name, _)| name.value == provider)
                .map(|(_, declared)| declared.kind.value)
                && let Some(delivers) = profile::delivers(provider_kind)
                && !delivers.contains(&kind)
            {
                let names: Vec<&str> = delivers.iter().map(|kind| kind.name()).collect();
                self.push(
                    Diagnostic::new(
                        Code::ProviderKindMismatch,
                        declared.provider.span(file),
                        format!(
                            "channel `{channel}` is routed to provider `{provider}`, whose kind `{}` delivers only {}",
                            format!("{provider_kind:?}").to_lowercase(),
                            names.join(" and ")
                        ),
                    )
                    .label(format!("cannot deliver {channel}"))
                    .help(format!("route `channels.{channel}` to a provider that delivers {channel}, or to a `webhook` gateway")),
                );
                continue;
            }
            if let Some(rule) = &profile.sender {
                match &declared.from {
                    None => self.push(
                        Diagnostic::new(
                            Code::MissingSender,
                            declared.provider.span(file),
                            format!(
                                "channel `{channel}` has no `from`; {} (provider `{provider}`) needs one as its `{}`",
                                profile.provider, rule.field
                            ),
                        )
                        .label("`from` missing")
                        .help(match rule.form {
                            SenderForm::Mailbox => format!(
                                "add `from: \"Shop <hello@shop.example>\"` to `channels.{channel}`"
                            ),
                            SenderForm::Name { .. } => format!(
                                "add `from:` with the sender name registered with {} to `channels.{channel}`",
                                profile.provider
                            ),
                        }),
                    ),
                    Some(from) => {
                        if let Some(problem) = profile.sender_problem(&from.value) {
                            self.push(
                                Diagnostic::new(
                                    Code::InvalidSender,
                                    from.span(file),
                                    format!("channel `{channel}`'s `from` is not a sender {} takes: {problem}", profile.provider),
                                )
                                .label(format!("{} `{}`", profile.provider, rule.field))
                                .help(match rule.form {
                                    SenderForm::Mailbox => "write an address, optionally with a name: `Shop <hello@shop.example>`".to_string(),
                                    SenderForm::Name { .. } => format!("use the sender name registered with {}", profile.provider),
                                }),
                            );
                        }
                    }
                }
            }
            if let (Some(declared_limit), Some(limit)) = (&declared.max_length, profile.text)
                && declared_limit.value as usize > limit.max
            {
                self.push(
                    Diagnostic::new(
                        Code::LimitBeyondProvider,
                        declared_limit.span(file),
                        format!(
                            "channel `{channel}` allows {} characters; {} (provider `{provider}`) takes a `{}` of at most {}",
                            declared_limit.value, profile.provider, limit.field, limit.max
                        ),
                    )
                    .label("more than the provider takes")
                    .help(format!("set `max_length: {}` or less, or remove it", limit.max)),
                );
            }
        }
    }

    /// The literal secrets of a manifest that failed its schema, read from
    /// its YAML tree: every string setting of every provider.
    pub(super) fn unchecked_secrets(&mut self, file: FileId, manifest: &Node) {
        let Some((_, providers)) = manifest.entry("providers") else {
            return;
        };
        let YamlValue::Mapping(providers) = &providers.value else {
            return;
        };
        for (name, provider) in providers {
            let YamlValue::Mapping(settings) = &provider.value else {
                continue;
            };
            for (key, value) in settings {
                let (Some(key), Some(text)) = (key.as_str(), value.as_str()) else {
                    continue;
                };
                let text = Text {
                    value: text.to_string(),
                    start: value.start,
                    end: value.end,
                };
                let secret_field = SECRET_FIELDS.contains(&key);
                self.secret(file, &name.key_text(), key, &text, secret_field);
            }
        }
    }

    /// A secret field must be exactly `${env:NAME}`; any field that holds
    /// something shaped like a credential is reported too.
    pub(super) fn secret(
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
}

/// The typed provider; `None` when a setting its kind needs is missing.
fn typed(provider: &model::Provider) -> Option<Provider> {
    let text = |value: &Option<Text>| value.as_ref().map(|text| text.value.trim().to_string());
    let secret = |value: &Option<Text>| value.as_ref().map(|text| Secret::new(&text.value));
    let config = match provider.kind.value {
        ProviderKind::File => ProviderConfig::File {
            path: text(&provider.path)?,
        },
        ProviderKind::Webhook => ProviderConfig::Webhook {
            url: text(&provider.url)?,
            secret: secret(&provider.secret),
            token: secret(&provider.token),
        },
        ProviderKind::Smtp => ProviderConfig::Smtp {
            host: text(&provider.host)?,
            port: provider.port,
            username: text(&provider.username),
            password: secret(&provider.password),
        },
        ProviderKind::Telegram => ProviderConfig::Telegram {
            token: secret(&provider.token)?,
        },
        ProviderKind::Smsc => ProviderConfig::Smsc {
            login: text(&provider.login)?,
            password: secret(&provider.password)?,
        },
        ProviderKind::Unisender => ProviderConfig::Unisender {
            api_key: secret(&provider.api_key)?,
        },
        ProviderKind::Whatsapp => ProviderConfig::Whatsapp {
            token: secret(&provider.token)?,
            phone_number_id: text(&provider.phone_number_id),
            template: text(&provider.template),
            language: text(&provider.language),
            api_version: text(&provider.api_version),
            inbound_event: text(&provider.inbound_event),
        },
        ProviderKind::Viber => ProviderConfig::Viber {
            token: secret(&provider.token)?,
        },
        ProviderKind::Vk => ProviderConfig::Vk {
            token: secret(&provider.token)?,
            api_version: text(&provider.api_version),
        },
    };
    Some(Provider {
        config,
        base_url: text(&provider.base_url),
        rate_limit: provider.rate_limit.as_ref().map(|rate| rate.value),
    })
}

/// An absolute `http://` or `https://` address with a host.
fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// Digits, a dot, digits: `5.199`, `21.0`.
fn is_version(text: &str) -> bool {
    text.split_once('.').is_some_and(|(major, minor)| {
        [major, minor]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// `${env:NAME}` with a conventional variable name.
pub fn is_env_reference(text: &str) -> bool {
    crate::provider::env_variable(text).is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        assert!(is_env_reference("${env:SMSC_PASSWORD}"));
        assert!(!is_env_reference("${env:}"));
        assert!(looks_like_secret("123456789:AAH9x8q0mYVbWt2Fz9Zq6nC0kL1pR3sT4uV").is_some());
        assert!(looks_like_secret("https://user:pa55@hooks.example.com/x").is_some());
        assert!(looks_like_secret("https://hooks.example.com/herald").is_none());
        assert!(looks_like_secret("smtp.example.com").is_none());
    }
}
