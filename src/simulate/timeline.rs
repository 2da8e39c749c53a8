//! A simulation's timeline: what the outbox of the copy says happened, as
//! entries in time order, and the two ways `herald simulate` prints it.
//!
//! ## The JSON form (`--format json`), a stable interface
//!
//! One array; each entry is an object with every key below present (`null`
//! where it does not apply), sorted by `at`, then source, name, occurrence,
//! step, kind, contact, channel:
//!
//! - `at`: RFC 3339 UTC, when it happened in virtual time;
//! - `kind`: `sent` (a message went out), `skipped` (a policy kept the
//!   contact or the message from it; `reason` says which), `deferred`
//!   (quiet hours moved the message; `until` is when it goes out); for
//!   journeys also the journey log's `entered`, `woke`, `branch`, `split`,
//!   `updated`, `waited`, `converted` and `exited`, with the log's `detail`
//!   object (documented in `store::enrolments`);
//! - `source`: `campaign` or `journey`; `name`: the campaign or journey;
//! - `occurrence`: a campaign's scheduled occurrence (RFC 3339 UTC): which
//!   send of the schedule it belongs to; `step`: a journey's step;
//! - `contact_id`, `channel` (`null` when the contact gets nothing at all),
//!   `variant`, `reason` (the planner's reason in snake case: `no_consent`,
//!   `suppressed`, `unreachable`, `held_out`, `received_recently`,
//!   `frequency_cap`, `sms_too_long`, or at send time `consent_revoked`;
//!   `quiet_hours` for `deferred`; an exit's reason for `exited`),
//!   `until` (RFC 3339 UTC, for `deferred` and `waited`), `enrolment` (a
//!   journey's enrolment id), `detail` (a journey log entry's detail).
//!
//! Keys may be added; none is removed or renamed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::store::outbox::{OutboxRow, Watermark};
use crate::store::{Store, StoreError};

/// What an entry records: the message kinds, then the journey log's
/// (`store::enrolments` documents their `detail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Entered,
    Woke,
    Branch,
    Split,
    Updated,
    Deferred,
    Sent,
    Skipped,
    Waited,
    Converted,
    Exited,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Entered => "entered",
            EntryKind::Woke => "woke",
            EntryKind::Branch => "branch",
            EntryKind::Split => "split",
            EntryKind::Updated => "updated",
            EntryKind::Deferred => "deferred",
            EntryKind::Sent => "sent",
            EntryKind::Skipped => "skipped",
            EntryKind::Waited => "waited",
            EntryKind::Converted => "converted",
            EntryKind::Exited => "exited",
        }
    }

    /// A journey log kind; `None` for one this version does not know.
    fn parse(text: &str) -> Option<EntryKind> {
        [
            EntryKind::Entered,
            EntryKind::Woke,
            EntryKind::Branch,
            EntryKind::Split,
            EntryKind::Updated,
            EntryKind::Deferred,
            EntryKind::Sent,
            EntryKind::Skipped,
            EntryKind::Waited,
            EntryKind::Converted,
            EntryKind::Exited,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// One thing that happened to one contact.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(serialize_with = "crate::plan::rfc3339")]
    pub at: Timestamp,
    pub kind: EntryKind,
    pub source: String,
    pub name: String,
    pub occurrence: Option<String>,
    /// A journey's enrolment.
    pub enrolment: Option<String>,
    pub step: Option<String>,
    pub contact_id: String,
    pub channel: Option<String>,
    pub variant: Option<String>,
    pub reason: Option<String>,
    pub until: Option<String>,
    /// A journey log entry's detail (a JSON object).
    pub detail: Option<serde_json::Value>,
}

/// Every entry of a simulation, in time order.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(transparent)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

/// Reads the timeline from the copy's outbox: the rows written after
/// `before`, and the messages pending then. A pending message planned
/// before the simulation started shows at `from`.
pub(super) fn read(
    store: &Store,
    before: &Watermark,
    from: Timestamp,
) -> Result<Timeline, StoreError> {
    let mut entries = Vec::new();
    for row in store.outbox_since(before)? {
        entries.extend(entries_of(row, from));
    }
    // A journey's messages come from the outbox like a campaign's (with
    // channel and variant); the rest of what journeys did from their log.
    for log in store.journey_log_after(before.journey_log)? {
        let Some(kind) = EntryKind::parse(&log.kind) else {
            continue;
        };
        if matches!(kind, EntryKind::Sent | EntryKind::Deferred) {
            continue;
        }
        let detail: Option<serde_json::Value> = serde_json::from_str(&log.detail).ok();
        let field = |name: &str| {
            detail
                .as_ref()
                .and_then(|detail| detail.get(name))
                .and_then(|value| value.as_str())
                .map(str::to_string)
        };
        entries.push(Entry {
            at: Timestamp::from_second(log.at).unwrap_or(from),
            kind,
            source: "journey".into(),
            name: log.journey.clone(),
            occurrence: None,
            enrolment: Some(log.enrolment.clone()),
            step: log.step.clone(),
            contact_id: log.contact_id.clone(),
            channel: field("channel"),
            variant: None,
            reason: field("reason"),
            until: field("until"),
            detail,
        });
    }
    entries.sort_by(|a, b| order(a).cmp(&order(b)));
    Ok(Timeline { entries })
}

/// The timeline's order: by time, then what it belongs to and what
/// happened, then who.
#[allow(clippy::type_complexity)]
fn order(
    entry: &Entry,
) -> (
    Timestamp,
    &str,
    &str,
    &Option<String>,
    &Option<String>,
    EntryKind,
    &str,
    &Option<String>,
) {
    (
        entry.at,
        &entry.source,
        &entry.name,
        &entry.occurrence,
        &entry.step,
        entry.kind,
        &entry.contact_id,
        &entry.channel,
    )
}

fn entries_of(row: OutboxRow, from: Timestamp) -> Vec<Entry> {
    let second = |seconds: i64| Timestamp::from_second(seconds).unwrap_or(from);
    let campaign = row.kind == "campaign";
    let occurrence = campaign.then(|| row.occurrence.clone());
    let enrolment = (!campaign).then(|| row.occurrence.clone());
    let planned = occurrence
        .as_deref()
        .and_then(|text| text.parse::<Timestamp>().ok());
    let send_at = second(row.send_at).max(from);
    let entry = |kind: EntryKind, at: Timestamp| Entry {
        at,
        kind,
        source: row.kind.clone(),
        name: row.name.clone(),
        occurrence: occurrence.clone(),
        enrolment: enrolment.clone(),
        step: row.step.clone(),
        contact_id: row.contact_id.clone(),
        channel: (!row.channel.is_empty()).then(|| row.channel.clone()),
        variant: row.variant.clone(),
        reason: None,
        until: None,
        detail: None,
    };
    let mut entries = Vec::new();
    match row.state.as_str() {
        "skipped" => {
            let mut skipped = entry(EntryKind::Skipped, send_at);
            skipped.reason = row.reason.clone();
            entries.push(skipped);
        }
        state => {
            // Quiet hours moved a campaign message past the tick that
            // planned it (a simulation's record times are virtual).
            if let Some(planned) = planned
                && row.send_at > row.created_at
            {
                let mut deferred = entry(EntryKind::Deferred, planned.max(from));
                deferred.until = Some(second(row.send_at).to_string());
                deferred.reason = Some("quiet_hours".into());
                entries.push(deferred);
            }
            if state == "sent" {
                entries.push(entry(EntryKind::Sent, second(row.not_before).max(from)));
            }
        }
    }
    entries
}

impl Timeline {
    /// The entries of one contact.
    pub fn of_contact(self, contact: &str) -> Timeline {
        Timeline {
            entries: self
                .entries
                .into_iter()
                .filter(|entry| entry.contact_id == contact)
                .collect(),
        }
    }

    pub fn count(&self, kind: EntryKind) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.kind == kind)
            .count()
    }

    /// The human form: by local day, then by time, campaign (or journey)
    /// and kind, each line counting by channel or reason and naming the
    /// contacts when there are few.
    pub fn human(&self, zone: &TimeZone) -> String {
        let mut out = String::new();
        let mut day = String::new();
        let mut index = 0;
        while index < self.entries.len() {
            let first = &self.entries[index];
            let group_end = self.entries[index..]
                .iter()
                .position(|entry| !same_group(first, entry))
                .map_or(self.entries.len(), |offset| index + offset);
            let group = &self.entries[index..group_end];
            index = group_end;
            let local = first.at.to_zoned_datetime(zone.clone());
            let this_day = local.strftime("%a %Y-%m-%d").to_string();
            if this_day != day {
                if !day.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{this_day}");
                day = this_day;
            }
            let _ = writeln!(
                out,
                "  {}  {} {}{}  {} {}",
                local.strftime("%H:%M"),
                first.source,
                first.name,
                origin(first, zone),
                first.kind.as_str(),
                breakdown(group, zone)
            );
        }
        out
    }
}

/// Entries that print as one line: same time, origin and kind.
fn same_group(a: &Entry, b: &Entry) -> bool {
    a.at == b.at
        && a.kind == b.kind
        && a.source == b.source
        && a.name == b.name
        && a.occurrence == b.occurrence
        && a.step == b.step
}

/// Which send a line belongs to, when it is not the time shown: the
/// occurrence of a campaign, the step of a journey.
fn origin(entry: &Entry, zone: &TimeZone) -> String {
    if let Some(step) = &entry.step {
        return format!(" [{step}]");
    }
    match entry
        .occurrence
        .as_deref()
        .and_then(|o| o.parse::<Timestamp>().ok())
    {
        Some(occurrence) if occurrence != entry.at => format!(
            " (occurrence {})",
            occurrence
                .to_zoned_datetime(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
        ),
        _ => String::new(),
    }
}

/// Contacts are named on a line that has at most this many.
const NAMED: usize = 8;

/// `9: email 4, sms 2, telegram 3` with the contacts when few; skips by
/// reason, deferrals by when they go out.
fn breakdown(group: &[Entry], zone: &TimeZone) -> String {
    let mut parts: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for entry in group {
        let label = match entry.kind {
            EntryKind::Sent => entry.channel.clone().unwrap_or_default(),
            EntryKind::Skipped | EntryKind::Exited => entry.reason.clone().unwrap_or_default(),
            EntryKind::Entered => format!("by {}", detail(entry, "trigger")),
            EntryKind::Woke => detail(entry, "cause"),
            EntryKind::Converted => detail(entry, "event"),
            EntryKind::Branch | EntryKind::Split => format!("to {}", detail(entry, "goto")),
            EntryKind::Updated => format!(
                "{} {} → {}",
                detail(entry, "attribute"),
                detail(entry, "from"),
                detail(entry, "to")
            ),
            EntryKind::Waited => match entry
                .until
                .as_deref()
                .and_then(|u| u.parse::<Timestamp>().ok())
            {
                Some(until) => format!(
                    "until {}",
                    until
                        .to_zoned_datetime(zone.clone())
                        .strftime("%Y-%m-%d %H:%M")
                ),
                None => format!("for {}", detail(entry, "event")),
            },
            EntryKind::Deferred => {
                let until = entry
                    .until
                    .as_deref()
                    .and_then(|u| u.parse::<Timestamp>().ok());
                match until {
                    Some(until) => format!(
                        "until {}",
                        until
                            .to_zoned_datetime(zone.clone())
                            .strftime("%Y-%m-%d %H:%M")
                    ),
                    None => String::new(),
                }
            }
        };
        parts.entry(label).or_default().push(entry);
    }
    let named = group.len() <= NAMED;
    let single = parts.len() == 1;
    let parts: Vec<String> = parts
        .iter()
        .map(|(label, entries)| {
            let mut part = if single {
                label.clone()
            } else {
                format!("{label} {}", entries.len())
            };
            if named {
                let who: Vec<String> = entries.iter().map(|entry| who(entry)).collect();
                let _ = write!(part, " ({})", who.join(", "));
            }
            part
        })
        .collect();
    let separator = if single { " " } else { ": " };
    format!("{}{separator}{}", group.len(), parts.join(", "))
}

/// A field of a journey log entry's detail, as text.
fn detail(entry: &Entry, name: &str) -> String {
    match entry.detail.as_ref().and_then(|detail| detail.get(name)) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// A contact as a line names it: with the channel of a skipped message and
/// the variant of a sent one.
fn who(entry: &Entry) -> String {
    let mut text = entry.contact_id.clone();
    if entry.kind != EntryKind::Sent
        && let Some(channel) = &entry.channel
    {
        let _ = write!(text, " {channel}");
    }
    if entry.kind == EntryKind::Sent
        && let Some(variant) = &entry.variant
    {
        let _ = write!(text, " variant {variant}");
    }
    text
}
