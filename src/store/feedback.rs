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
use crate::channel::ChannelKind;

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
    /// No message: the contact whose address on `channel` is `address`
    /// (Viber's `unsubscribed` names only the user).
    Recipient {
        channel: ChannelKind,
        address: String,
    },
}

/// Whom a status is about: the contact and channel, and the outbox message
/// when the status names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressee {
    pub contact_id: String,
    pub channel: String,
    pub message: Option<SentMessage>,
}

impl Store {
    /// The outbox message a reference names (a recipient names none).
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
            MessageReference::Recipient { .. } => Ok(None),
        })
    }

    /// The contact (and message) a reference names; `None` when the store
    /// has neither.
    pub fn addressee(&self, reference: &MessageReference) -> Result<Option<Addressee>, StoreError> {
        let MessageReference::Recipient { channel, address } = reference else {
            return Ok(self.sent_message(reference)?.map(|message| Addressee {
                contact_id: message.contact_id.clone(),
                channel: message.channel.clone(),
                message: Some(message),
            }));
        };
        let Some(field) = channel.address_field() else {
            return Ok(None);
        };
        // `field` is one of the built-in column names, never user input.
        let contact: Option<String> = self.run(|| {
            self.connection
                .prepare_cached(&format!(
                    "SELECT id FROM contacts WHERE {} = ?1 ORDER BY id LIMIT 1",
                    super::schema::identifier(field)
                ))?
                .query_row([address], |row| row.get(0))
                .optional()
        })?;
        Ok(contact.map(|contact_id| Addressee {
            contact_id,
            channel: channel.name().to_string(),
            message: None,
        }))
    }

    /// Records a delivery status as an event of the message's contact;
    /// `suppress` (when the status says the address is dead or unwilling)
    /// suppresses the message's channel, and an `unsubscribed` one also
    /// revokes its consent. Returns whether the event was new:
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
        match suppress {
            // The recipient said no: as a one-click unsubscribe, consent too.
            Some((SuppressionReason::Unsubscribed, detail)) => {
                self.unsubscribe(event.contact, channel, event.at, detail)?;
            }
            Some((reason, detail)) => {
                self.suppress(event.contact, channel, reason, event.at, detail)?;
            }
            None => {}
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
