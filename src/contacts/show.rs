//! `herald contacts show ID`: one contact as the store holds it, with its
//! consent history, suppressions, lapse, recent events and the segments it
//! is in (evaluated in memory at `--now`).

use serde_json::{Value as Json, json};

use crate::contact::{Contact, timestamp_text};
use crate::store::{ConsentRecord, Store, StoreError};

fn time(seconds: Option<i64>) -> Json {
    seconds
        .and_then(timestamp_text)
        .map_or(Json::Null, Json::String)
}

fn text(value: Option<&str>) -> Json {
    value.map_or(Json::Null, |text| Json::String(text.to_string()))
}

fn consent(record: &ConsentRecord) -> Json {
    json!({
        "channel": record.channel,
        "status": if record.granted { "granted" } else { "revoked" },
        "at": time(record.at),
        "source": text(record.source.as_deref()),
    })
}

/// Everything about one contact, as JSON (the human form is rendered from it).
pub fn describe(
    store: &Store,
    contact: &Contact,
    segments: Vec<String>,
    events: usize,
) -> Result<Json, StoreError> {
    let attributes: serde_json::Map<String, Json> = contact
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect();
    let consents: Vec<Json> = store.consents(&contact.id)?.iter().map(consent).collect();
    let history: Vec<Json> = store
        .consent_history(&contact.id)?
        .iter()
        .map(consent)
        .collect();
    let suppressions: Vec<Json> = store
        .suppressions(&contact.id)?
        .into_iter()
        .map(|suppression| {
            json!({
                "channel": suppression.channel,
                "reason": suppression.reason,
                "at": time(suppression.at),
                "detail": text(suppression.detail.as_deref()),
            })
        })
        .collect();
    let lapse = store.lapse_of(&contact.id)?.map(|lapse| {
        json!({
            "reason": lapse.reason,
            "last_activity": time(lapse.last_activity),
            "at": time(Some(lapse.at)),
            "cleared_at": time(lapse.cleared_at),
        })
    });
    let aliases = store.aliases(&contact.id)?;
    let total = contact.events.len();
    let recent: Vec<Json> = contact
        .events
        .iter()
        .rev()
        .take(events)
        .map(|event| {
            json!({"id": event.id, "event": event.event, "at": time(Some(event.at)), "properties": event.properties})
        })
        .collect();
    Ok(json!({
        "id": contact.id,
        "aliases": aliases,
        "attributes": attributes,
        "consent": consents,
        "consent_history": history,
        "suppressions": suppressions,
        "lapsed": lapse,
        "events": {"total": total, "recent": recent},
        "segments": segments,
    }))
}

/// The human form.
pub fn render(contact: &Json) -> String {
    let text = |value: &Json| match value {
        Json::String(text) => text.clone(),
        Json::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut out = format!("contact {}\n", text(&contact["id"]));
    if let Some(aliases) = contact["aliases"].as_array().filter(|a| !a.is_empty()) {
        let aliases: Vec<String> = aliases.iter().map(text).collect();
        out.push_str(&format!("  also known as: {}\n", aliases.join(", ")));
    }
    if let Some(attributes) = contact["attributes"].as_object() {
        let width = attributes
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0);
        for (name, value) in attributes {
            out.push_str(&format!("  {name:<width$}  {}\n", text(value)));
        }
    }
    let table = |out: &mut String, title: &str, rows: &Json, columns: &[&str]| {
        let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
        if rows.is_empty() {
            out.push_str(&format!("{title}: none\n"));
            return;
        }
        out.push_str(&format!("{title}:\n"));
        for row in rows {
            let cells: Vec<String> = columns.iter().map(|c| text(&row[*c])).collect();
            out.push_str(&format!("  {}\n", cells.join("  ")));
        }
    };
    table(
        &mut out,
        "consent",
        &contact["consent"],
        &["channel", "status", "at", "source"],
    );
    table(
        &mut out,
        "consent history",
        &contact["consent_history"],
        &["channel", "status", "at", "source"],
    );
    table(
        &mut out,
        "suppressions",
        &contact["suppressions"],
        &["channel", "reason", "at", "detail"],
    );
    match contact["lapsed"].as_object() {
        Some(lapse) if lapse.get("cleared_at").is_none_or(Json::is_null) => out.push_str(&format!(
            "lapsed: since {} ({})\n",
            text(&lapse["at"]),
            text(&lapse["reason"])
        )),
        Some(lapse) => out.push_str(&format!(
            "lapsed: no (was lapsed {}, cleared {})\n",
            text(&lapse["at"]),
            text(&lapse["cleared_at"])
        )),
        None => out.push_str("lapsed: no\n"),
    }
    let recent = contact["events"]["recent"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    out.push_str(&format!(
        "events: {} (latest {} shown)\n",
        text(&contact["events"]["total"]),
        recent.len()
    ));
    for event in recent {
        out.push_str(&format!(
            "  {}  {}  {}  {}\n",
            text(&event["at"]),
            text(&event["event"]),
            text(&event["id"]),
            event["properties"]
        ));
    }
    let segments: Vec<String> = contact["segments"]
        .as_array()
        .map(|s| s.iter().map(text).collect())
        .unwrap_or_default();
    if segments.is_empty() {
        out.push_str("segments: none\n");
    } else {
        out.push_str(&format!("segments: {}\n", segments.join(", ")));
    }
    out
}
