//! `herald serve`: the small HTTP service a live installation runs beside
//! the runner (SPEC section 8b). It answers
//!
//! - `GET /healthz`: `ok` while the service runs;
//! - `GET /u/<token>` and `POST /u/<token>`: one-click unsubscribe
//!   ([`unsubscribe`]): the POST of RFC 8058 unsubscribes at once, the GET
//!   shows a confirmation page whose button sends that POST;
//! - `POST /webhooks/<provider>` (and WhatsApp's `GET` handshake): the
//!   delivery statuses of each provider, verified as the provider
//!   documents ([`webhooks`]);
//! - `GET /c/<token>?url=...`: a click on a link of a sent message,
//!   recorded and redirected only to an address that message contained
//!   ([`click`]).
//!
//! Everything it learns is written through one store connection on its own
//! thread ([`writer`]), batched into transactions; a request is answered
//! after its write has committed. Bodies over `max_body_bytes` are refused
//! with 413 before they are read whole. Each request is logged as one JSON
//! line on stderr with its route (never the token in the path), status and
//! duration. SIGINT or SIGTERM stops accepting connections, lets the
//! requests in flight finish and their writes commit, then exits.

pub mod click;
pub mod settings;
pub mod unsubscribe;
pub mod webhooks;
pub mod writer;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::provider::MissingSecret;
use crate::signed_link::Signer;

pub use self::settings::{ServeSettings, WebhookKind};
pub use self::writer::{Writer, Written};

/// One provider's webhook with its secrets read from the environment.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub kind: WebhookKind,
    pub secret: String,
    pub verify_token: Option<String>,
}

/// What every request handler shares.
pub struct Service {
    pub signer: Signer,
    pub writer: Writer,
    pub webhooks: BTreeMap<String, Webhook>,
    /// The project's locale: the language of the unsubscribe pages.
    pub locale: String,
    pub max_body_bytes: usize,
}

impl Service {
    /// The service for `settings`, writing through `writer`; fails when a
    /// secret's environment variable is not set.
    pub fn new(settings: &ServeSettings, writer: Writer) -> Result<Service, MissingSecret> {
        let webhooks = settings
            .webhooks
            .iter()
            .map(|(name, webhook)| {
                Ok((
                    name.clone(),
                    Webhook {
                        kind: webhook.kind,
                        secret: webhook.secret.resolve()?,
                        verify_token: webhook
                            .verify_token
                            .as_ref()
                            .map(|token| token.resolve())
                            .transpose()?,
                    },
                ))
            })
            .collect::<Result<_, MissingSecret>>()?;
        Ok(Service {
            signer: Signer::new(settings.secret.resolve()?.as_bytes()),
            writer,
            webhooks,
            locale: settings.locale.clone(),
            max_body_bytes: settings.max_body_bytes,
        })
    }
}

/// The routes of the service.
pub fn router(service: Arc<Service>) -> Router {
    let limit = service.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/u/{token}",
            get(unsubscribe::confirm).post(unsubscribe::unsubscribe),
        )
        .route("/c/{token}", get(click::click))
        .route(
            "/webhooks/{provider}",
            get(webhooks::handshake).post(webhooks::receive),
        )
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(log))
        .with_state(service)
}

/// Serves on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Unix seconds now.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// One JSON line per request: the route pattern rather than the path, so
/// that no token reaches the log.
async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", |path| path.as_str())
        .to_string();
    let response = next.run(request).await;
    let line = serde_json::json!({
        "at": jiff::Timestamp::now().to_string(),
        "method": method,
        "route": route,
        "status": response.status().as_u16(),
        "ms": (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    });
    eprintln!("{line}");
    response
}
