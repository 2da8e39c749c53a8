//! The manifest's `serve:` section: the public address is an http(s) URL,
//! the listen address parses, the link lifetime is a duration, secrets
//! read the environment, and each webhook names a declared provider whose
//! kind herald can hear back from.

use super::Resolver;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model;
use crate::serve::settings::{WebhookKind, lifetime_seconds};
use crate::source::FileId;
use crate::suggestion::did_you_mean;

impl Resolver<'_> {
    pub(super) fn serve(&mut self, file: FileId, manifest: &model::Manifest) {
        let Some(serve) = &manifest.serve else {
            return;
        };
        let url = serve.public_url.value.trim();
        let parsed = reqwest::Url::parse(url).ok();
        if !parsed
            .as_ref()
            .is_some_and(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidSetting,
                    serve.public_url.span(file),
                    format!("`serve.public_url` `{url}` is not an http(s) address"),
                )
                .label("not a URL")
                .help(
                    "write the address the service is reached at, e.g. `https://mail.shop.example`",
                ),
            );
        }
        if let Some(listen) = &serve.listen
            && listen.value.trim().parse::<std::net::SocketAddr>().is_err()
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidSetting,
                    listen.span(file),
                    format!(
                        "`serve.listen` `{}` is not an address and port",
                        listen.value
                    ),
                )
                .label("not IP:port")
                .help("e.g. `127.0.0.1:8025`, or `0.0.0.0:8025` behind a proxy"),
            );
        }
        if let Some(lifetime) = &serve.link_lifetime
            && let Err(reason) = lifetime_seconds(&lifetime.value)
        {
            self.push(
                Diagnostic::new(Code::InvalidDuration, lifetime.span(file), reason)
                    .label("not a duration"),
            );
        }
        self.secret(file, "serve", "secret", &serve.secret, true);
        for (name, webhook) in &serve.webhooks {
            let variable = format!("{}_webhook", name.value);
            self.secret(file, &variable, "secret", &webhook.secret, true);
            if let Some(token) = &webhook.verify_token {
                self.secret(file, &variable, "verify_token", token, true);
            }
            let declared = manifest
                .providers
                .iter()
                .find(|(provider, _)| provider.value == name.value);
            let Some((_, provider)) = declared else {
                self.push(
                    Diagnostic::new(
                        Code::UnknownProvider,
                        name.span(file),
                        format!(
                            "`serve.webhooks` names `{}`, which `providers:` does not declare",
                            name.value
                        ),
                    )
                    .label("unknown provider")
                    .suggest(did_you_mean(
                        &name.value,
                        manifest.providers.keys().map(|key| key.value.as_str()),
                    )),
                );
                continue;
            };
            match WebhookKind::of(provider.kind.value) {
                None => self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        name.span(file),
                        format!(
                            "provider `{}` (kind `{}`) has no delivery webhook herald reads",
                            name.value,
                            format!("{:?}", provider.kind.value).to_lowercase()
                        ),
                    )
                    .label("no webhook for this kind")
                    .help("webhooks are read from providers of kind whatsapp, viber, unisender and smsc"),
                ),
                Some(kind) if kind != WebhookKind::Whatsapp && webhook.verify_token.is_some() => {
                    if let Some(token) = &webhook.verify_token {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidSetting,
                                token.span(file),
                                "`verify_token` is only used by WhatsApp's handshake",
                            )
                            .label("not used")
                            .help("remove `verify_token`"),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }
}
