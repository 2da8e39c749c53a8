//! What the HTTP providers share: the client (rustls with the ring crypto
//! provider, no redirects, bounded waits) and the reading of transport
//! failures and `Retry-After` into outcomes.

use std::sync::Once;
use std::time::{Duration, SystemTime};

use super::{Outcome, SetupError, retry};

/// reqwest is built without a bundled crypto provider (aws-lc is slow to
/// build); ring is installed once for the whole process, which lettre's
/// rustls uses too.
pub(crate) fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means another provider was installed first, which is
        // just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for one provider. Redirects are not followed: a POST silently
/// turned into a GET elsewhere would be reported as sent.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, SetupError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .map_err(|error| SetupError(format!("cannot build the HTTP client: {error}")))
}

/// A request that did not get an answer. A connection that was never made
/// sent nothing; anything later (a timeout, a dropped connection, a broken
/// body) may have reached the provider. The URL is left out of the reason
/// because Telegram's carries the bot token.
pub(crate) fn transport_outcome(error: reqwest::Error) -> Outcome {
    let error = error.without_url();
    if error.is_connect() {
        Outcome::Retry {
            after: None,
            reason: format!("cannot connect: {}", describe(&error)),
        }
    } else {
        Outcome::Unknown {
            reason: format!("no answer: {}", describe(&error)),
        }
    }
}

/// The error with its causes, which say more than reqwest's own line
/// ("error sending request").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The response's `Retry-After`, if it has a readable one.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    retry::parse_retry_after(value.to_str().ok()?, SystemTime::now())
}

/// The first characters of a response body, for a reason that helps
/// without flooding the outbox with an HTML error page.
pub(crate) fn excerpt(body: &str) -> String {
    const LIMIT: usize = 200;
    let body = body.trim();
    match body.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_owned(),
    }
}

/// An HTTP answer, read whole.
pub(crate) struct Answered {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answered {
    /// The body as JSON of type `T`, if it is that.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.body).ok()
    }

    /// What an answer that is not the API's own (JSON) document means: an
    /// overloaded or failing service is retried after its hint; anything
    /// else is not understood, so the message may or may not have gone.
    pub fn unreadable(&self, provider: &str) -> Outcome {
        let reason = format!(
            "{provider} answered {}: {}",
            self.status,
            excerpt(&self.body)
        );
        if self.status == 429 || self.status >= 500 {
            Outcome::Retry {
                after: self.retry_after,
                reason,
            }
        } else {
            Outcome::Unknown { reason }
        }
    }
}

/// Sends the request and reads the whole answer; an outcome when no answer
/// came.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Answered, Outcome> {
    let response = request.send().await.map_err(transport_outcome)?;
    let status = response.status().as_u16();
    let retry_after = retry_after(&response);
    // A body cut off mid-way is an answer we cannot read, not a lost request.
    let body = response.text().await.unwrap_or_default();
    Ok(Answered {
        status,
        retry_after,
        body,
    })
}

/// `base` with `path` appended, whatever slashes the manifest used.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Checks a base URL when a client is built.
pub(crate) fn check_base_url(provider: &str, url: &str) -> Result<(), SetupError> {
    reqwest::Url::parse(url)
        .map(|_| ())
        .map_err(|error| SetupError(format!("the {provider} base URL is not valid: {error}")))
}
