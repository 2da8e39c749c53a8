//! The `smtp` provider: submission through an SMTP server with lettre's
//! async transport (connections pooled and reused), over STARTTLS (587),
//! implicit TLS (465) or, to a server on this machine only, plain text.
//!
//! Each message is `multipart/alternative` (text, then HTML) or plain text
//! alone, UTF-8 throughout: lettre encodes a non-ASCII subject as RFC 2047
//! encoded words and bodies as quoted-printable or base64. The message's
//! extra headers are written as given; [`Message::with_one_click_unsubscribe`]
//! supplies the RFC 8058 pair (`List-Unsubscribe` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`). The `Message-ID`
//! is derived from herald's key, so a resend after an unknown outcome
//! carries the same id and a receiving system can recognise it.
//!
//! Replies: 4xx retry; 5xx fail the message, and 550, 551 and 553 (no such
//! mailbox, not local, bad address) also suppress the address; 530, 534,
//! 535 and 538 (authentication) stop the provider. A connection that could
//! not be made is a retry; one that broke later is an unknown outcome,
//! since the server may have queued the message before it broke.
//!
//! [`Message::with_one_click_unsubscribe`]: super::Message::with_one_click_unsubscribe

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::{Digest, Sha256};

use super::{Credential, Message, Outcome, Parts, SetupError, hex, http};

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    ImplicitTls,
    /// No encryption: only to a server on this machine (tests, a local
    /// relay), which [`SmtpProvider::new`] checks.
    Plain,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::ImplicitTls => 465,
            SmtpSecurity::Plain => 25,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Credential>,
    /// The `From` mailbox, e.g. `Shop <news@shop.example>`; its domain is
    /// also the right-hand side of the `Message-ID`.
    pub from: String,
    pub reply_to: Option<String>,
    pub timeout: Duration,
}

impl SmtpSettings {
    pub fn new(host: impl Into<String>, security: SmtpSecurity, from: impl Into<String>) -> Self {
        SmtpSettings {
            host: host.into(),
            port: security.default_port(),
            security,
            username: None,
            password: None,
            from: from.into(),
            reply_to: None,
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct SmtpProvider {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    domain: String,
}

impl SmtpProvider {
    pub fn new(settings: SmtpSettings) -> Result<SmtpProvider, SetupError> {
        http::install_crypto_provider();
        let from: Mailbox = settings.from.parse().map_err(|error| {
            SetupError(format!(
                "the sender `{}` is not a mailbox: {error}",
                settings.from
            ))
        })?;
        let reply_to = match &settings.reply_to {
            Some(address) => Some(address.parse::<Mailbox>().map_err(|error| {
                SetupError(format!(
                    "the reply-to `{address}` is not a mailbox: {error}"
                ))
            })?),
            None => None,
        };
        let tls = match settings.security {
            SmtpSecurity::Plain if !is_loopback(&settings.host) => {
                return Err(SetupError(format!(
                    "plain-text SMTP is only allowed to this machine, not to `{}`: use STARTTLS \
                     or implicit TLS",
                    settings.host
                )));
            }
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(&settings.host)?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        match (&settings.username, &settings.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose().to_owned(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(SetupError(
                    "SMTP needs both a username and a password, or neither".to_owned(),
                ));
            }
        }
        let domain = from.email.domain().to_owned();
        Ok(SmtpProvider {
            transport: builder.build(),
            from,
            reply_to,
            domain,
        })
    }

    /// The `Message-ID` herald gives a message: the same for every attempt.
    pub fn message_id(&self, message: &Message) -> String {
        let digest = Sha256::digest(message.key.as_bytes());
        format!("<herald.{}@{}>", hex(&digest[..16]), self.domain)
    }

    pub async fn send(&self, message: &Message) -> Outcome {
        let email = match self.build(message) {
            Ok(email) => email,
            Err(outcome) => return outcome,
        };
        match self.transport.send(email).await {
            Ok(_) => Outcome::Sent {
                provider_message_id: Some(self.message_id(message)),
            },
            Err(error) => smtp_outcome(&error),
        }
    }

    fn build(&self, message: &Message) -> Result<lettre::Message, Outcome> {
        let to: Mailbox = message.recipient.parse().map_err(|error| {
            let reason = format!("`{}` is not an email address: {error}", message.recipient);
            Outcome::Failed {
                suppress: Some(reason.clone()),
                reason,
            }
        })?;
        let Parts::Email { subject, .. } = &message.parts else {
            return Err(Outcome::Failed {
                reason: "an email needs a subject; this message has only a text".to_owned(),
                suppress: None,
            });
        };
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(self.message_id(message)));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        for (name, value) in &message.headers {
            let name =
                HeaderName::new_from_ascii(name.clone()).map_err(|error| Outcome::Failed {
                    reason: format!("the header name `{name}` is not valid: {error}"),
                    suppress: None,
                })?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        let email = match &message.parts {
            Parts::Email {
                text,
                html: Some(html),
                ..
            } => builder.multipart(MultiPart::alternative_plain_html(
                text.clone(),
                html.clone(),
            )),
            _ => builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.parts.text().to_owned()),
        };
        email.map_err(|error| Outcome::Failed {
            reason: format!("cannot build the email: {error}"),
            suppress: None,
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SetupError> {
    TlsParameters::new(host.to_owned())
        .map_err(|error| SetupError(format!("cannot set up TLS for `{host}`: {error}")))
}

/// Whether `host` is this machine, the only place plain-text SMTP may go.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

fn smtp_outcome(error: &lettre::transport::smtp::Error) -> Outcome {
    let reason = format!("SMTP: {error}");
    if let Some(code) = error.status() {
        let code = code.to_string();
        return match code.as_str() {
            "530" | "534" | "535" | "538" => Outcome::StopProvider {
                reason,
                resume_after: None,
            },
            "550" | "551" | "553" => Outcome::Failed {
                suppress: Some(reason.clone()),
                reason,
            },
            _ if error.is_transient() => Outcome::Retry {
                after: None,
                reason,
            },
            _ => Outcome::Failed {
                reason,
                suppress: None,
            },
        };
    }
    if never_connected(error) || error.is_tls() || error.is_transport_shutdown() {
        Outcome::Retry {
            after: None,
            reason,
        }
    } else if error.is_client() {
        Outcome::StopProvider {
            reason,
            resume_after: None,
        }
    } else {
        Outcome::Unknown { reason }
    }
}

/// Whether the failure was reaching the server at all, before any message
/// could be transmitted.
fn never_connected(error: &lettre::transport::smtp::Error) -> bool {
    use std::error::Error;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            );
        }
        source = cause.source();
    }
    false
}
