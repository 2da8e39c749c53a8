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
    TelegramSettings, WebhookProvider, WebhookSettings,
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
                    .and_then(|provider| provider.rate_limit)
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
    let manifest = &compilation.project.manifest.as_ref()?.value;
    manifest
        .channels
        .declared()
        .into_iter()
        .find(|(_, channel)| channel.provider.value == provider)
        .and_then(|(_, channel)| channel.from.clone())
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
        ProviderConfig::Unisender { .. }
        | ProviderConfig::Whatsapp { .. }
        | ProviderConfig::Viber { .. }
        | ProviderConfig::Vk { .. } => {
            return Err("herald cannot send through this kind of provider yet".to_string());
        }
    })
}
