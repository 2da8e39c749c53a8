//! The manifest's `serve:` section, typed: where the service listens, the
//! public address and signing secret of the links messages carry, and how
//! each provider's webhook requests are verified. `herald check` has
//! already reported what is wrong in it (`resolver`); this only reads it.

use std::collections::BTreeMap;

use crate::model::{Manifest, ProviderKind};
use crate::provider::{MissingSecret, Secret};
use crate::signed_link::{Links, Signer};

/// Where the service listens unless the manifest or `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8025";
/// A link's lifetime unless `link_lifetime` says: a year, so that an old
/// newsletter's unsubscribe link still works as the law expects.
pub const DEFAULT_LINK_LIFETIME: &str = "1 year";
/// The largest request body unless `max_body_bytes` says: provider
/// webhooks batch a few hundred statuses at most.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// `serve:` as the service and the planner use it.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub listen: String,
    pub public_url: String,
    pub secret: Secret,
    /// Seconds a link stays valid after it was issued.
    pub link_lifetime: i64,
    pub max_body_bytes: usize,
    /// Whether sent email has its links pointed at the click redirect.
    pub track_clicks: bool,
    /// By provider name: the route is `/webhooks/<name>`.
    pub webhooks: BTreeMap<String, WebhookSettings>,
    /// The project's locale, for the unsubscribe page.
    pub locale: String,
}

/// Verification of one provider's webhook requests.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub kind: WebhookKind,
    pub secret: Secret,
    pub verify_token: Option<Secret>,
}

/// The providers whose delivery callbacks herald understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookKind {
    Whatsapp,
    Viber,
    Unisender,
    Smsc,
}

impl WebhookKind {
    pub fn of(kind: ProviderKind) -> Option<WebhookKind> {
        match kind {
            ProviderKind::Whatsapp => Some(WebhookKind::Whatsapp),
            ProviderKind::Viber => Some(WebhookKind::Viber),
            ProviderKind::Unisender => Some(WebhookKind::Unisender),
            ProviderKind::Smsc => Some(WebhookKind::Smsc),
            _ => None,
        }
    }
}

/// A lifetime in seconds (months and years approximately, as caps count them).
pub fn lifetime_seconds(text: &str) -> Result<i64, String> {
    crate::duration::Duration::parse(text).map(|duration| duration.approximate_minutes() * 60)
}

impl ServeSettings {
    /// The `serve:` section of a manifest; `None` without one. An invalid
    /// value (which `herald check` reports) falls back to its default, and
    /// a webhook for an undeclared or unsupported provider is left out.
    pub fn from_manifest(manifest: &Manifest) -> Option<ServeSettings> {
        let serve = manifest.serve.as_ref()?;
        let webhooks = serve
            .webhooks
            .iter()
            .filter_map(|(name, webhook)| {
                let provider = manifest
                    .providers
                    .iter()
                    .find(|(declared, _)| declared.value == name.value)?;
                Some((
                    name.value.clone(),
                    WebhookSettings {
                        kind: WebhookKind::of(provider.1.kind.value)?,
                        secret: Secret::new(&webhook.secret.value),
                        verify_token: webhook
                            .verify_token
                            .as_ref()
                            .map(|token| Secret::new(&token.value)),
                    },
                ))
            })
            .collect();
        Some(ServeSettings {
            listen: serve
                .listen
                .as_ref()
                .map_or(DEFAULT_LISTEN, |listen| listen.value.trim())
                .to_string(),
            public_url: serve.public_url.value.trim().to_string(),
            secret: Secret::new(&serve.secret.value),
            link_lifetime: serve
                .link_lifetime
                .as_ref()
                .and_then(|text| lifetime_seconds(&text.value).ok())
                .unwrap_or_else(|| lifetime_seconds(DEFAULT_LINK_LIFETIME).unwrap_or(0)),
            max_body_bytes: serve
                .max_body_bytes
                .and_then(|bytes| usize::try_from(bytes).ok())
                .unwrap_or(DEFAULT_MAX_BODY),
            track_clicks: serve.track_clicks.unwrap_or(false),
            webhooks,
            locale: manifest
                .locale
                .as_ref()
                .map_or_else(|| "en".to_string(), |locale| locale.value.clone()),
        })
    }

    /// The links messages planned at `issued_at` carry; fails when the
    /// secret's variable is not set.
    pub fn links(&self, issued_at: i64) -> Result<Links, MissingSecret> {
        Ok(Links::new(
            &self.public_url,
            Signer::new(self.secret.resolve()?.as_bytes()),
            self.link_lifetime,
            issued_at,
        )
        .tracking_clicks(self.track_clicks))
    }
}

/// The signed links of messages planned at `issued_at` (unix seconds) in a
/// project: `None` without `serve:`, an error when the secret's variable is
/// not set.
pub fn message_links(manifest: &Manifest, issued_at: i64) -> Result<Option<Links>, MissingSecret> {
    ServeSettings::from_manifest(manifest)
        .map(|settings| settings.links(issued_at))
        .transpose()
}
