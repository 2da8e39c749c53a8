//! `herald contacts show ID`: one contact as the store holds it, with its
//! consent history, suppressions, lapse, recent events and the segments it
//! is in (evaluated in memory at `--now`).

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value as Json, json};

use crate::contact::{Contact, timestamp_text};

fn time(seconds: Option<i64>) -> Json {
    seconds
        .and_then(timestamp_text)
        .map_or(Json::Null, Json::String)
}

/// The contact's id, following an alias.
pub fn resolve(connection: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    let direct = connection
        .query_row("SELECT id FROM contacts WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()?;
    match direct {
        Some(id) => Ok(Some(id)),
        None => connection
            .query_row(
                "SELECT contact_id FROM contact_aliases WHERE alias = ?1",
                [id],
                |row| row.get(0),
            )
            .optional(),
    }
}

/// Everything about one contact, as JSON (the human form is rendered from it).
pub fn describe(
    connection: &Connection,
    contact: &Contact,
    segments: Vec<String>,
    events: usize,
) -> rusqlite::Result<Json> {
    let attributes: serde_json::Map<String, Json> = contact
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect();
    let rows = |sql: &str, columns: &[&str]| -> rusqlite::Result<Vec<Json>> {
        let mut statement = connection.prepare(sql)?;
        let mut rows = statement.query([&contact.id])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut object = serde_json::Map::new();
            for (index, name) in columns.iter().enumerate() {
                let value = if *name == "at" || name.ends_with("_at") || *name == "last_activity" {
                    time(row.get::<_, Option<i64>>(index)?)
                } else {
                    match row.get::<_, Option<String>>(index)? {
                        Some(text) => Json::String(text),
                        None => Json::Null,
                    }
                };
                object.insert((*name).to_string(), value);
            }
            out.push(Json::Object(object));
        }
        Ok(out)
    };
    let consent = rows(
        "SELECT channel, status, at, source FROM consents WHERE contact_id = ?1 ORDER BY channel",
        &["channel", "status", "at", "source"],
    )?;
    let history = rows(
        "SELECT channel, status, at, source FROM consent_history WHERE contact_id = ?1 ORDER BY channel, at, rowid",
        &["channel", "status", "at", "source"],
    )?;
    let suppressions = rows(
        "SELECT channel, reason, at, detail FROM suppressions WHERE contact_id = ?1 ORDER BY channel",
        &["channel", "reason", "at", "detail"],
    )?;
    let lapse = rows(
        "SELECT reason, last_activity, at, cleared_at FROM lapses WHERE contact_id = ?1",
        &["reason", "last_activity", "at", "cleared_at"],
    )?;
    let aliases = rows(
        "SELECT alias FROM contact_aliases WHERE contact_id = ?1 ORDER BY alias",
        &["alias"],
    )?;
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
        "aliases": aliases.iter().filter_map(|a| a.get("alias").cloned()).collect::<Vec<_>>(),
        "attributes": attributes,
        "consent": consent,
        "consent_history": history,
        "suppressions": suppressions,
        "lapsed": lapse.into_iter().next(),
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
