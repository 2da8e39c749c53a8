//! `herald contacts clean`: marks contacts that cannot be reached or have
//! stopped converting, without deleting anything.
//!
//! - An email or phone that is not valid suppresses that channel (`invalid`);
//!   a contact with no address on any channel is suppressed on all (`*`).
//! - A contact whose last conversion (a goal event of any campaign or
//!   journey; `purchase` when none is declared) is older than
//!   `policies.lapse_after` — or who never converted and joined before
//!   then — is marked lapsed. A lapsed contact who converts again is
//!   cleared (the row keeps when).
//!
//! Existing suppressions are never overwritten; contacts are read in pages
//! and each page's marks are written in one transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::normalise::{self, Rules};
use crate::channel::ChannelKind;

/// What cleaning would do to one contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub contact: String,
    /// `suppress`, `lapse` or `unlapse`.
    pub action: &'static str,
    /// The channel suppressed (`*` for every channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub reason: String,
}

pub struct Settings<'a> {
    pub rules: &'a Rules,
    pub now: i64,
    /// `now − lapse_after`, when a lapse period is configured.
    pub cutoff: Option<i64>,
    pub conversions: Vec<String>,
    pub dry_run: bool,
}

const PAGE: i64 = 10_000;

/// Runs over every contact; `seen` gets each change (applied unless dry run).
pub fn run(
    connection: &Connection,
    settings: &Settings,
    seen: &mut dyn FnMut(&Change),
) -> rusqlite::Result<u64> {
    let addresses: Vec<&str> = ChannelKind::ALL
        .into_iter()
        .filter_map(ChannelKind::address_field)
        .collect();
    let placeholders = |from: usize, count: usize| {
        (from..from + count)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let conversions = if settings.conversions.is_empty() {
        "NULL".to_string()
    } else {
        placeholders(2, settings.conversions.len())
    };
    let sql = format!(
        "SELECT c.rowid, c.id, {},
            c.created_at,
            (SELECT max(e.at) FROM events AS e WHERE e.contact_id = c.id AND e.event IN ({conversions})),
            (SELECT min(e.at) FROM events AS e WHERE e.contact_id = c.id),
            (SELECT l.cleared_at IS NULL FROM lapses AS l WHERE l.contact_id = c.id)
         FROM contacts AS c WHERE c.rowid > ?1 ORDER BY c.rowid LIMIT {PAGE}",
        addresses
            .iter()
            .map(|a| format!("c.{a}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut checked = 0u64;
    let mut after = 0i64;
    loop {
        let mut page = Vec::new();
        {
            let mut statement = connection.prepare(&sql)?;
            let mut parameters: Vec<rusqlite::types::Value> = vec![after.into()];
            parameters.extend(settings.conversions.iter().map(|e| e.clone().into()));
            let mut rows = statement.query(rusqlite::params_from_iter(parameters))?;
            while let Some(row) = rows.next()? {
                let rowid: i64 = row.get(0)?;
                let id: String = row.get(1)?;
                let values: Vec<Option<String>> = (0..addresses.len())
                    .map(|i| row.get::<_, Option<String>>(2 + i))
                    .collect::<Result<_, _>>()?;
                let base = 2 + addresses.len();
                let created: Option<i64> = row.get(base)?;
                let converted: Option<i64> = row.get(base + 1)?;
                let first_event: Option<i64> = row.get(base + 2)?;
                let lapsed: Option<bool> = row.get(base + 3)?;
                page.push((rowid, id, values, created, converted, first_event, lapsed));
            }
        }
        let Some(last) = page.last() else { break };
        after = last.0;
        if !settings.dry_run {
            connection.execute_batch("BEGIN IMMEDIATE")?;
        }
        let result = (|| -> rusqlite::Result<()> {
            for (_, id, values, created, converted, first_event, lapsed) in &page {
                checked += 1;
                let mut changes = Vec::new();
                let value = |name: &str| {
                    addresses
                        .iter()
                        .position(|a| *a == name)
                        .and_then(|i| values[i].as_deref())
                };
                if let Some(email) = value("email")
                    && let Err(reason) = normalise::email(email)
                {
                    changes.push(suppress(id, "email", reason));
                }
                if let Some(phone) = value("phone")
                    && let Err(reason) = normalise::phone(phone, settings.rules)
                {
                    changes.push(suppress(id, "sms", reason));
                }
                if values.iter().all(Option::is_none) {
                    changes.push(suppress(id, "*", "no address on any channel".into()));
                }
                if let Some(cutoff) = settings.cutoff {
                    let activity = converted.or(*created).or(*first_event);
                    let describe = |at: i64| {
                        jiff::Timestamp::from_second(at)
                            .map(|t| t.strftime("%Y-%m-%d").to_string())
                            .unwrap_or_default()
                    };
                    match (activity, lapsed) {
                        (Some(at), None | Some(false)) if at < cutoff => {
                            let reason = match converted {
                                Some(at) => format!("no conversion since {}", describe(*at)),
                                None => {
                                    format!("never converted; in the base since {}", describe(at))
                                }
                            };
                            changes.push(Change {
                                contact: id.clone(),
                                action: "lapse",
                                channel: None,
                                reason,
                            });
                        }
                        (Some(at), Some(true)) if at >= cutoff => changes.push(Change {
                            contact: id.clone(),
                            action: "unlapse",
                            channel: None,
                            reason: format!("converted on {}", describe(at)),
                        }),
                        _ => {}
                    }
                    if let Some(change) = changes.iter().find(|c| c.action != "suppress")
                        && !settings.dry_run
                    {
                        apply_lapse(connection, change, activity, settings.now)?;
                    }
                }
                for change in &changes {
                    if change.action == "suppress" {
                        let channel = change.channel.as_deref().unwrap_or("*");
                        let exists = connection
                            .prepare_cached(
                                "SELECT 1 FROM suppressions WHERE contact_id = ?1 AND channel = ?2",
                            )?
                            .query_row(params![id, channel], |_| Ok(()))
                            .optional()?
                            .is_some();
                        if exists {
                            continue;
                        }
                        if !settings.dry_run {
                            connection
                                .prepare_cached(
                                    "INSERT INTO suppressions (contact_id, channel, reason, at, detail)
                                     VALUES (?1, ?2, 'invalid', ?3, ?4)",
                                )?
                                .execute(params![id, channel, settings.now, change.reason])?;
                        }
                    }
                    seen(change);
                }
            }
            Ok(())
        })();
        if !settings.dry_run {
            match result {
                Ok(()) => connection.execute_batch("COMMIT")?,
                Err(error) => {
                    let _ = connection.execute_batch("ROLLBACK");
                    return Err(error);
                }
            }
        } else {
            result?;
        }
    }
    Ok(checked)
}

fn suppress(id: &str, channel: &str, reason: String) -> Change {
    Change {
        contact: id.to_string(),
        action: "suppress",
        channel: Some(channel.to_string()),
        reason,
    }
}

fn apply_lapse(
    connection: &Connection,
    change: &Change,
    activity: Option<i64>,
    now: i64,
) -> rusqlite::Result<()> {
    if change.action == "lapse" {
        connection
            .prepare_cached(
                "INSERT INTO lapses (contact_id, last_activity, at, reason, cleared_at)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT (contact_id) DO UPDATE SET last_activity = excluded.last_activity,
                   at = excluded.at, reason = excluded.reason, cleared_at = NULL",
            )?
            .execute(params![change.contact, activity, now, change.reason])?;
    } else {
        connection
            .prepare_cached("UPDATE lapses SET cleared_at = ?2 WHERE contact_id = ?1")?
            .execute(params![change.contact, now])?;
    }
    Ok(())
}
