//! The sent messages whose delivery herald asks the provider about (a
//! provider that reports statuses only when asked, as Unisender's
//! `checkSms`), and when each was last asked: a message stays awaited until
//! a final status is recorded for it, by the runner's poll or by
//! `herald serve`, or until it is older than the poll's horizon.

use rusqlite::params;

use super::{Store, StoreError};

/// A sent message whose final delivery status is not known yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwaitedStatus {
    pub key: String,
    /// The id the provider gave when it accepted the message.
    pub provider_message_id: String,
}

/// Which messages to ask about.
#[derive(Clone, Copy, Debug)]
pub struct StatusQuery<'a> {
    pub provider: &'a str,
    pub channel: &'a str,
    /// Sent at or after (unix seconds): older messages are given up on.
    pub sent_since: i64,
    /// Not asked about after this (unix seconds): each is asked again only
    /// after an interval.
    pub checked_before: i64,
    pub limit: usize,
}

impl Store {
    /// The messages to ask about, least recently asked first.
    pub fn awaited_statuses(
        &self,
        query: &StatusQuery<'_>,
    ) -> Result<Vec<AwaitedStatus>, StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "SELECT o.key, o.provider_message_id FROM outbox AS o
                     LEFT JOIN status_checks AS c ON c.key = o.key
                     WHERE o.state = 'sent' AND o.provider_message_id IS NOT NULL
                       AND o.provider = ?1 AND o.updated_at >= ?2 AND o.channel = ?3
                       AND coalesce(c.checked_at, 0) < ?4
                       AND NOT EXISTS (
                           SELECT 1 FROM events AS e
                           WHERE json_extract(e.properties, '$.message_key') = o.key
                             AND e.event IN ('message_delivered', 'message_failed'))
                     ORDER BY coalesce(c.checked_at, 0), o.updated_at, o.key
                     LIMIT ?5",
                )?
                .query_map(
                    params![
                        query.provider,
                        query.sent_since,
                        query.channel,
                        query.checked_before,
                        query.limit as i64
                    ],
                    |row| {
                        Ok(AwaitedStatus {
                            key: row.get(0)?,
                            provider_message_id: row.get(1)?,
                        })
                    },
                )?
                .collect()
        })
    }

    /// Records that the provider was asked about the message at `at`.
    pub fn status_checked(&self, key: &str, at: i64) -> Result<(), StoreError> {
        self.run(|| {
            self.connection
                .prepare_cached(
                    "INSERT INTO status_checks (key, checked_at) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET checked_at = excluded.checked_at",
                )?
                .execute(params![key, at])
                .map(|_| ())
        })
    }
}
