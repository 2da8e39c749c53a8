//! What comes back from recipients and providers, as `herald serve`
//! records it: one-click unsubscribes (a suppression and a revoked consent
//! with its history entry) and delivery statuses (events linked to the
//! outbox message they are about, idempotent by the event id, suppressing
//! the address on a hard bounce, a complaint or a permanent failure).
//!
//! Each function runs inside the caller's transaction: the service's
//! writer batches many requests into one commit.

use rusqlite::{OptionalExtension, params};

use super::{ConsentChange, EventRecord, Store, StoreError, SuppressionReason};

/// The outbox message a status is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    pub key: String,
    pub contact_id: String,
    pub channel: String,
    pub provider: String,
    /// The message as the provider clients took it (JSON).
    pub payload: String,
}

/// How a status names its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageReference {
    /// herald's idempotency key, echoed by the provider (WhatsApp's
    /// `biz_opaque_callback_data`, Unisender's metadata).
    Key(String),
    /// The provider's own message id, recorded when it accepted the message.
    ProviderId { provider: String, id: String },
}

impl Store {
    /// The outbox message a reference names.
    pub fn sent_message(
        &self,
        reference: &MessageReference,
    ) -> Result<Option<SentMessage>, StoreError> {
        let row = |row: &rusqlite::Row<'_>| {
            Ok(SentMessage {
                key: row.get(0)?,
                contact_id: row.get(1)?,
                channel: row.get(2)?,
                provider: row.get(3)?,
                payload: row.get(4)?,
            })
        };
        self.run(|| match reference {
            MessageReference::Key(key) => self
                .connection
                .prepare_cached(
                    "SELECT key, contact_id, channel, provider, payload FROM outbox WHERE key = ?1",
                )?
                .query_row([key], row)
                .optional(),
            MessageReference::ProviderId { provider, id } => self
                .connection
                .prepare_cached(
                    "SELECT key, contact_id, channel, provider, payload FROM outbox
                     WHERE provider = ?1 AND provider_message_id = ?2",
                )?
                .query_row(params![provider, id], row)
                .optional(),
        })
    }

    /// Records a delivery status as an event of the message's contact;
    /// `suppress` (when the status says the address is dead or unwilling)
    /// suppresses the message's channel. Returns whether the event was new:
    /// a replayed status changes nothing.
    pub fn record_status(
        &self,
        event: &EventRecord<'_>,
        channel: &str,
        suppress: Option<(SuppressionReason, &str)>,
    ) -> Result<bool, StoreError> {
        if !self.add_event(event)? {
            return Ok(false);
        }
        if let Some((reason, detail)) = suppress {
            self.suppress(event.contact, channel, reason, event.at, detail)?;
        }
        Ok(true)
    }

    /// Unsubscribes a contact from a channel: the channel is suppressed as
    /// `unsubscribed` and its consent revoked, with a history entry from
    /// `source`. Returns whether anything changed (a second click does not).
    pub fn unsubscribe(
        &self,
        contact: &str,
        channel: &str,
        at: i64,
        source: &str,
    ) -> Result<bool, StoreError> {
        let revoked = self
            .current_consent(contact, channel)?
            .is_some_and(|consent| !consent.granted);
        let suppressed = self.suppressed(contact, channel)?;
        if revoked && suppressed {
            return Ok(false);
        }
        self.suppress(
            contact,
            channel,
            SuppressionReason::Unsubscribed,
            at,
            source,
        )?;
        if !revoked {
            let change = ConsentChange {
                channel,
                granted: false,
                at,
                source: Some(source),
            };
            self.set_current_consent(contact, &change)?;
            self.append_consent_history(contact, &change)?;
        }
        Ok(true)
    }

    /// How many events of a kind the store holds (for `herald serve`'s
    /// tests and benchmark: nothing lost, nothing counted twice).
    pub fn count_events(&self, event: &str) -> Result<u64, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached("SELECT count(*) FROM events WHERE event = ?1")?
                .query_row([event], |row| row.get::<_, i64>(0))
                .map(|count| count.max(0) as u64)
        })
    }
}
