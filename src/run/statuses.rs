//! Delivery statuses the runner asks for. A provider that tells what became
//! of a sent message only when asked (Unisender's `checkSms` for SMS; its
//! email statuses, and SMSC's, WhatsApp's and Viber's, come to
//! `herald serve`'s webhooks) is asked after each tick's deliveries about
//! the messages it accepted, and a final answer is recorded as
//! `herald serve` records a webhook ([`webhooks::record`]): an event
//! linked to the message, `message_delivered` or `message_failed`, the
//! latter suppressing the number when Unisender calls it invalid. `ok_sent`
//! is not final: the message is asked about again after [`INTERVAL`], for
//! up to [`HORIZON`] after it was sent.
//!
//! Asking spends the provider's rate limit like sending does, so a tick
//! asks about at most [`SECONDS_PER_TICK`] seconds' worth of messages, the
//! least recently asked first.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::Route;
use crate::compiler::Compilation;
use crate::provider::unisender::{SmsStatus, UnisenderProvider};
use crate::provider::{Client, ProviderConfig};
use crate::serve::webhooks::{self, Status};
use crate::store::feedback::MessageReference;
use crate::store::statuses::StatusQuery;
use crate::store::{Store, StoreError, SuppressionReason};

/// How long a message's status is left before it is asked about again.
pub const INTERVAL: i64 = 10 * 60;
/// How long after its send a message's status is still asked about: an SMS
/// that no operator delivered in three days will not be.
pub const HORIZON: i64 = 3 * 24 * 60 * 60;
/// Seconds of a tick spent asking, at the provider's rate limit.
pub const SECONDS_PER_TICK: f64 = 10.0;
/// The most messages a tick asks one provider about.
const MOST_PER_TICK: usize = 100;
/// The channel whose statuses are asked for.
const CHANNEL: &str = "sms";

/// What a tick's asking found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Polled {
    /// Messages the providers were asked about.
    pub asked: u64,
    pub delivered: u64,
    pub failed: u64,
}

impl Polled {
    pub fn is_empty(&self) -> bool {
        self.asked == 0
    }
}

/// The providers with messages to ask about at `now`, so that the tick
/// builds their clients even when they have nothing to send.
pub fn awaiting(
    compilation: &Compilation,
    store: &Store,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for (name, provider) in &compilation.providers {
        if !matches!(provider.config, ProviderConfig::Unisender { .. }) {
            continue;
        }
        if !store.awaited_statuses(&query(name, now, 1))?.is_empty() {
            names.push(name.clone());
        }
    }
    Ok(names)
}

fn query(provider: &str, now: i64, limit: usize) -> StatusQuery<'_> {
    StatusQuery {
        provider,
        channel: CHANNEL,
        sent_since: now - HORIZON,
        checked_before: now - INTERVAL + 1,
        limit,
    }
}

/// Asks every provider of `routes` that answers when asked about the
/// messages awaiting a status at `now` (unix seconds), and records what
/// they say.
pub async fn poll(
    store: &Store,
    routes: &BTreeMap<String, Route>,
    now: i64,
) -> Result<Polled, StoreError> {
    let mut polled = Polled::default();
    for (name, route) in routes {
        let Client::Unisender(provider) = route.client.as_ref() else {
            continue;
        };
        let (limit, pause) = match route.rate_limit {
            Some(rate) => (
                ((rate * SECONDS_PER_TICK) as usize).clamp(1, MOST_PER_TICK),
                Duration::from_secs_f64(1.0 / rate),
            ),
            None => (MOST_PER_TICK, Duration::ZERO),
        };
        for (index, awaited) in store
            .awaited_statuses(&query(name, now, limit))?
            .into_iter()
            .enumerate()
        {
            if index > 0 {
                tokio::time::sleep(pause).await;
            }
            polled.asked += 1;
            let status = ask(
                provider,
                name,
                &awaited.key,
                &awaited.provider_message_id,
                now,
            )
            .await;
            store.begin()?;
            let written = (|| {
                if let Some(status) = &status {
                    webhooks::record(store, std::slice::from_ref(status))?;
                }
                store.status_checked(&awaited.key, now)
            })();
            match written.and_then(|()| store.commit()) {
                Ok(()) => match status.map(|status| status.event) {
                    Some("message_delivered") => polled.delivered += 1,
                    Some(_) => polled.failed += 1,
                    None => {}
                },
                Err(error) => {
                    store.rollback();
                    return Err(error);
                }
            }
        }
    }
    Ok(polled)
}

/// `checkSms` for one message: the status to record when it is final;
/// `None` while pending, or when Unisender could not say (asked again
/// after the interval).
async fn ask(
    provider: &UnisenderProvider,
    name: &str,
    key: &str,
    sms_id: &str,
    now: i64,
) -> Option<Status> {
    let (event, word, suppress) = match provider.sms_status(sms_id).await.ok()? {
        SmsStatus::Pending => return None,
        SmsStatus::Delivered => ("message_delivered", "delivered".to_owned(), None),
        SmsStatus::Failed { reason, suppress } => (
            "message_failed",
            reason.clone(),
            suppress.then_some((SuppressionReason::Invalid, reason)),
        ),
    };
    let mut properties = Map::new();
    properties.insert("status".into(), Value::from(word));
    properties.insert("provider_message_id".into(), sms_id.into());
    Some(Status {
        id: format!("{name}:{sms_id}:checkSms:{event}"),
        event,
        at: now,
        message: MessageReference::Key(key.to_owned()),
        properties,
        suppress,
    })
}
