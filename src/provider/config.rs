//! Delivery providers as declared, typed: one variant per kind with the
//! settings that kind uses. Secrets stay references to the environment
//! until a sender needs them, so a compiled project holds no credentials;
//! the clients that send are the sibling modules of this one.

/// A provider declared under `providers:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub config: ProviderConfig,
    /// Overrides the provider's API address (tests, self-hosted gateways).
    pub base_url: Option<String>,
    /// Messages per second the provider accepts.
    pub rate_limit: Option<f64>,
}

/// A provider's kind and the settings of that kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ProviderConfig {
    /// Appends messages as JSON lines to a file, relative to the project.
    File {
        path: String,
    },
    Webhook {
        url: String,
        /// The HMAC signing secret.
        secret: Option<Secret>,
        token: Option<Secret>,
    },
    Smtp {
        host: String,
        port: Option<u16>,
        username: Option<String>,
        password: Option<Secret>,
    },
    Telegram {
        token: Secret,
    },
    Smsc {
        login: String,
        password: Secret,
    },
    Unisender {
        api_key: Secret,
    },
    Whatsapp {
        token: Secret,
        /// Both needed to send; absent on a provider declared only for
        /// `herald serve`'s webhooks.
        phone_number_id: Option<String>,
        template: Option<String>,
        language: Option<String>,
        api_version: Option<String>,
        inbound_event: Option<String>,
    },
    Viber {
        token: Secret,
    },
    Vk {
        token: Secret,
        api_version: Option<String>,
    },
}

impl ProviderConfig {
    /// Whether the provider delivers a key once however often it is sent
    /// (what [`super::Client::honours_idempotency_key`] says of its client):
    /// the runner may then send again a message whose runner died mid-request.
    pub fn honours_idempotency_key(&self) -> bool {
        matches!(
            self,
            ProviderConfig::File { .. }
                | ProviderConfig::Webhook { .. }
                | ProviderConfig::Vk { .. }
        )
    }
}

impl ProviderConfig {
    /// Messages per second the provider's documentation allows, used when
    /// the manifest sets no `rate_limit`: Telegram about 30 in bulk, VK
    /// about 20 with a community token, WhatsApp 80 per number by default,
    /// Unisender's `sendEmail` and `sendSms` about 60 calls a minute.
    pub fn default_rate_limit(&self) -> Option<f64> {
        match self {
            ProviderConfig::Telegram { .. } => Some(30.0),
            ProviderConfig::Vk { .. } => Some(20.0),
            ProviderConfig::Whatsapp { .. } => Some(80.0),
            ProviderConfig::Unisender { .. } => Some(1.0),
            _ => None,
        }
    }
}

/// A credential: `${env:NAME}`, or a literal value where the project
/// allows `literal-secret`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    Literal(String),
}

impl Secret {
    /// Reads a setting of a secret field.
    pub fn new(text: &str) -> Secret {
        let text = text.trim();
        match env_variable(text) {
            Some(name) => Secret::Env(name.to_string()),
            None => Secret::Literal(text.to_string()),
        }
    }

    /// The secret's value, read from the environment at the moment of use.
    pub fn resolve(&self) -> Result<String, MissingSecret> {
        match self {
            Secret::Literal(value) => Ok(value.clone()),
            Secret::Env(name) => std::env::var(name).map_err(|_| MissingSecret {
                variable: name.clone(),
            }),
        }
    }
}

/// A secret's environment variable is not set (or not Unicode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingSecret {
    pub variable: String,
}

impl std::fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the environment variable `{}` is not set", self.variable)
    }
}

impl std::error::Error for MissingSecret {}

/// The variable of `${env:NAME}` with a conventional name.
pub fn env_variable(text: &str) -> Option<&str> {
    text.strip_prefix("${env:")
        .and_then(|rest| rest.strip_suffix('}'))
        .filter(|name| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_read_the_environment_only_when_used() {
        assert_eq!(
            Secret::new("${env:HERALD_TEST_UNSET_VARIABLE}"),
            Secret::Env("HERALD_TEST_UNSET_VARIABLE".into())
        );
        assert_eq!(
            Secret::new("${env:HERALD_TEST_UNSET_VARIABLE}").resolve(),
            Err(MissingSecret {
                variable: "HERALD_TEST_UNSET_VARIABLE".into()
            })
        );
        assert_eq!(Secret::new("hunter2"), Secret::Literal("hunter2".into()));
        assert_eq!(env_variable("${env:}"), None);
    }
}
