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

use crate::store::lapses::address_columns;
use crate::store::{ContactActivity, Store, StoreError, SuppressionReason};

use super::normalise::{self, Rules};

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

const PAGE: usize = 10_000;

/// Runs over every contact; `seen` gets each change (applied unless dry run).
pub fn run(
    store: &Store,
    settings: &Settings,
    seen: &mut dyn FnMut(&Change),
) -> Result<u64, StoreError> {
    let mut checked = 0u64;
    let mut after = 0i64;
    loop {
        let page = store.contact_activity(after, &settings.conversions, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.row;
        if !settings.dry_run {
            store.begin()?;
        }
        let result = (|| -> Result<(), StoreError> {
            for contact in &page {
                checked += 1;
                check(store, settings, contact, seen)?;
            }
            Ok(())
        })();
        if !settings.dry_run {
            match result {
                Ok(()) => store.commit()?,
                Err(error) => {
                    store.rollback();
                    return Err(error);
                }
            }
        } else {
            result?;
        }
    }
    Ok(checked)
}

/// Decides (and unless a dry run, applies) what cleaning does to one contact.
fn check(
    store: &Store,
    settings: &Settings,
    contact: &ContactActivity,
    seen: &mut dyn FnMut(&Change),
) -> Result<(), StoreError> {
    let id = &contact.id;
    let mut changes = Vec::new();
    let columns = address_columns();
    let value = |name: &str| {
        columns
            .iter()
            .position(|a| *a == name)
            .and_then(|i| contact.addresses[i].as_deref())
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
    if contact.addresses.iter().all(Option::is_none) {
        changes.push(suppress(id, "*", "no address on any channel".into()));
    }
    if let Some(cutoff) = settings.cutoff {
        let converted = contact.converted_at;
        let activity = converted.or(contact.created_at).or(contact.first_event_at);
        let describe = |at: i64| {
            jiff::Timestamp::from_second(at)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        match (activity, contact.lapsed) {
            (Some(at), None | Some(false)) if at < cutoff => {
                let reason = match converted {
                    Some(at) => format!("no conversion since {}", describe(at)),
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
            if change.action == "lapse" {
                store.lapse(&change.contact, activity, settings.now, &change.reason)?;
            } else {
                store.clear_lapse(&change.contact, settings.now)?;
            }
        }
    }
    for change in &changes {
        if change.action == "suppress" {
            let channel = change.channel.as_deref().unwrap_or("*");
            if store.suppressed(id, channel)? {
                continue;
            }
            if !settings.dry_run {
                store.suppress(
                    id,
                    channel,
                    SuppressionReason::Invalid,
                    settings.now,
                    &change.reason,
                )?;
            }
        }
        seen(change);
    }
    Ok(())
}

fn suppress(id: &str, channel: &str, reason: String) -> Change {
    Change {
        contact: id.to_string(),
        action: "suppress",
        channel: Some(channel.to_string()),
        reason,
    }
}
