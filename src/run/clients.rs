//! The provider clients the runner sends through, built from the project's
//! typed provider declarations ([`crate::provider::Provider`]) and the
//! channels that use them (an email channel's `from` is the SMTP sender, an
//! SMS channel's `from` the SMSC sender name). Secrets are read from the
//! environment here, when a client is built, and only for the providers
//! that have messages to send.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::compiler::Compilation;
use crate::provider::smtp::is_loopback;
use crate::provider::{
    Client, Credential, FileProvider, FileSettings, Provider, ProviderConfig, Secret, SmscAuth,
    SmscProvider, SmscSettings, SmtpProvider, SmtpSecurity, SmtpSettings, TelegramProvider,
    TelegramSettings, UnisenderProvider, UnisenderSettings, ViberProvider, ViberSettings,
    VkProvider, VkSettings, WebhookProvider, WebhookSettings, WhatsappProvider, WhatsappSettings,
    unisender,
};

/// A provider the runner can send through.
#[derive(Clone, Debug)]
pub struct Route {
    pub client: Arc<Client>,
    /// Messages per second; `None` for no limit.
    pub rate_limit: Option<f64>,
}

/// Builds a client for each provider in `names`; a provider that cannot be
/// built (undeclared, a missing secret, an unsupported kind) is returned
/// with the reason instead.
pub fn build_routes(
    compilation: &Compilation,
    root: &Path,
    names: &[String],
) -> (BTreeMap<String, Route>, BTreeMap<String, String>) {
    let mut routes = BTreeMap::new();
    let mut failures = BTreeMap::new();
    for name in names {
        let built = match compilation.providers.get(name) {
            Some(provider) => client(compilation, root, name, provider),
            None => Err("it is not declared under `providers:`".to_string()),
        };
        match built {
            Ok(client) => {
                let rate_limit = compilation
                    .providers
                    .get(name)
                    .and_then(|provider| {
                        provider.rate_limit.or(provider.config.default_rate_limit())
                    })
                    .filter(|rate| *rate > 0.0);
                routes.insert(
                    name.clone(),
                    Route {
                        client: Arc::new(client),
                        rate_limit,
                    },
                );
            }
            Err(reason) => {
                failures.insert(name.clone(), reason);
            }
        }
    }
    (routes, failures)
}

/// The `from` of the first channel delivered by `provider`.
fn sender(compilation: &Compilation, provider: &str) -> Option<String> {
    channel_sender(compilation, provider, None)
}

/// The `from` of the first channel delivered by `provider`, of the
/// channel kind `only` when given (a Unisender provider may deliver both
/// email and SMS, each with its own sender).
fn channel_sender(compilation: &Compilation, provider: &str, only: Option<&str>) -> Option<String> {
    let manifest = &compilation.project.manifest.as_ref()?.value;
    manifest
        .channels
        .declared()
        .into_iter()
        .find(|(kind, channel)| {
            channel.provider.value == provider && only.is_none_or(|only| only == *kind)
        })
        .and_then(|(_, channel)| channel.from.as_ref().map(|from| from.value.clone()))
}

fn resolve(secret: &Secret) -> Result<Credential, String> {
    secret
        .resolve()
        .map(Credential::new)
        .map_err(|missing| missing.to_string())
}

fn client(
    compilation: &Compilation,
    root: &Path,
    name: &str,
    provider: &Provider,
) -> Result<Client, String> {
    let base_url = provider.base_url.clone();
    let setup = |error: crate::provider::SetupError| error.0;
    Ok(match &provider.config {
        ProviderConfig::File { path } => Client::File(
            FileProvider::open(FileSettings {
                path: root.join(path),
            })
            .map_err(setup)?,
        ),
        ProviderConfig::Webhook { url, secret, token } => {
            let mut settings = WebhookSettings::new(base_url.unwrap_or_else(|| url.clone()));
            settings.secret = secret.as_ref().map(resolve).transpose()?;
            settings.token = token.as_ref().map(resolve).transpose()?;
            Client::Webhook(WebhookProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Smtp {
            host,
            port,
            username,
            password,
        } => {
            let from = sender(compilation, name)
                .ok_or("the email channel it delivers needs a `from` address")?;
            // The port says how the server expects to be spoken to; plain
            // text only to this machine (a local relay or a test server).
            let security = match port {
                Some(465) => SmtpSecurity::ImplicitTls,
                _ if is_loopback(host) => SmtpSecurity::Plain,
                _ => SmtpSecurity::StartTls,
            };
            let mut settings = SmtpSettings::new(host.clone(), security, from);
            if let Some(port) = port {
                settings.port = *port;
            }
            settings.username = username.clone();
            settings.password = password.as_ref().map(resolve).transpose()?;
            Client::Smtp(SmtpProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Telegram { token } => {
            let mut settings = TelegramSettings::new(resolve(token)?);
            if let Some(base_url) = base_url {
                settings.base_url = base_url;
            }
            Client::Telegram(TelegramProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Smsc { login, password } => {
            let mut settings = SmscSettings::new(SmscAuth::Login {
                login: login.clone(),
                password: resolve(password)?,
            });
            settings.sender = sender(compilation, name);
            if let Some(base_url) = base_url {
                settings.base_url = base_url;
            }
            Client::Smsc(SmscProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Unisender { api_key } => {
            let mut settings = UnisenderSettings::new(resolve(api_key)?);
            settings.base_url = base_url;
            if let Some(from) = channel_sender(compilation, name, Some("email")) {
                let (address, display) = unisender::split_from(&from);
                settings.from_email = Some(address);
                settings.from_name = display;
            }
            settings.sms_sender = channel_sender(compilation, name, Some("sms"));
            Client::Unisender(UnisenderProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Vk { token, api_version } => {
            let mut settings = VkSettings::new(resolve(token)?);
            if let Some(base_url) = base_url {
                settings.base_url = base_url;
            }
            if let Some(version) = api_version {
                settings.api_version = version.clone();
            }
            Client::Vk(VkProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Whatsapp {
            token,
            phone_number_id,
            template,
            language,
            api_version,
            inbound_event,
        } => {
            let language = language
                .clone()
                .or_else(|| {
                    let manifest = &compilation.project.manifest.as_ref()?.value;
                    Some(manifest.locale.as_ref()?.value.replace('-', "_"))
                })
                .unwrap_or_else(|| "ru".to_owned());
            let (Some(phone_number_id), Some(template)) = (phone_number_id, template) else {
                return Err("it needs `phone_number_id` and `template` to send".to_string());
            };
            let mut settings = WhatsappSettings::new(
                resolve(token)?,
                phone_number_id.clone(),
                template.clone(),
                language,
            );
            if let Some(base_url) = base_url {
                settings.base_url = base_url;
            }
            if let Some(version) = api_version {
                settings.api_version = version.clone();
            }
            if let Some(event) = inbound_event {
                settings.inbound_event = event.clone();
            }
            Client::Whatsapp(WhatsappProvider::new(settings).map_err(setup)?)
        }
        ProviderConfig::Viber { token } => {
            let sender_name = sender(compilation, name)
                .ok_or("the viber channel it delivers needs a `from` (the sender name)")?;
            let mut settings = ViberSettings::new(resolve(token)?, sender_name);
            if let Some(base_url) = base_url {
                settings.base_url = base_url;
            }
            Client::Viber(ViberProvider::new(settings).map_err(setup)?)
        }
    })
}
