//! `herald render`: previews a campaign (or one variant), a journey step or
//! a template file ([`crate::template::preview`]) for contacts from the
//! store, from a YAML/JSON file, or for generated samples.

use std::path::{Path, PathBuf};

use super::settings::StoreLocation;
use super::{Now, OutputFormat, Settings, print};
use crate::compiler::{Compilation, compile};
use crate::error::Error;
use crate::model::Manifest;
use crate::store::Store;
use crate::template::preview::{Recipient, human, render_all, select};
use crate::template::samples::{self, SAMPLE_NOW};

/// Where the contacts of a preview come from.
#[derive(Clone, Debug)]
pub enum Contacts {
    Samples(usize),
    File(PathBuf),
    Store(String),
}

/// What `herald render` was asked.
#[derive(Debug)]
pub struct Request {
    pub target: String,
    pub variant: Option<String>,
    pub contacts: Contacts,
    /// The time templates see as `now` (default: [`SAMPLE_NOW`], so that
    /// previews do not change from one run to the next).
    pub now: Option<Now>,
    pub format: OutputFormat,
}

/// Exits 1 when a part fails to render.
pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let compilation = compile(&settings.project)?;
    let project = &compilation.project;
    let (Some(templates), Some(manifest)) = (&compilation.templates, project.manifest.as_ref())
    else {
        return Err(Error::Usage(
            "herald.yaml has errors; run `herald check` first".into(),
        ));
    };
    let manifest = &manifest.value;
    let now = match &request.now {
        Some(now) => now.instant(&manifest.timezone.value)?.to_string(),
        None => SAMPLE_NOW.to_string(),
    };
    let targets = select(templates, &request.target, request.variant.as_deref())?;
    let recipients = recipients(&settings.store, &compilation, manifest, &request.contacts)?;
    let outputs = render_all(templates, manifest, &targets, &recipients, &now);
    let failed = outputs.iter().any(|output| output.error.is_some());
    let text = match request.format {
        OutputFormat::Json => {
            let value = serde_json::json!({ "renders": outputs });
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
        OutputFormat::Human => human(&outputs, manifest, true),
    };
    print(&text)?;
    Ok(i32::from(failed))
}

/// The contacts a preview renders for.
pub(super) fn recipients(
    store: &StoreLocation,
    compilation: &Compilation,
    manifest: &Manifest,
    contacts: &Contacts,
) -> Result<Vec<Recipient>, Error> {
    match contacts {
        Contacts::Samples(count) => Ok(samples::contacts(manifest, (*count).max(1))
            .into_iter()
            .map(|sample| Recipient {
                id: sample.id,
                description: sample.description,
                contact: sample.contact,
                event: None,
            })
            .collect()),
        Contacts::File(path) => contact_file(path),
        Contacts::Store(id) => {
            let store_path = store.existing(manifest)?;
            let store = Store::open_read_only(&store_path, compilation.filters.catalog.clone())
                .map_err(Error::from)?;
            let contact = store
                .contact(id)
                .map_err(Error::from)?
                .ok_or_else(|| Error::Usage(format!("no contact `{id}` in the store")))?;
            Ok(vec![Recipient {
                id: contact.id.clone(),
                description: "from the store".into(),
                contact: crate::template::contact_value(contact),
                event: None,
            }])
        }
    }
}

/// Contacts from a YAML or JSON file: one contact, a list of them, or
/// `{contact: {...}, event: {...}}` entries to give a journey's event too.
fn contact_file(path: &Path) -> Result<Vec<Recipient>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Error::Usage(format!("cannot read {}: {error}", path.display())))?;
    let document: serde_json::Value = serde_saphyr::from_str(&text).map_err(|error| {
        Error::Usage(format!("{} is not YAML or JSON: {error}", path.display()))
    })?;
    let entries = match document {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut recipients = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let (contact, event) = match entry {
            serde_json::Value::Object(mut map) if map.contains_key("contact") => {
                let contact = map.remove("contact").unwrap_or_default();
                (contact, map.remove("event"))
            }
            other => (other, None),
        };
        if !contact.is_object() {
            return Err(Error::Usage(format!(
                "{}: contact {} is not a mapping of attributes",
                path.display(),
                index + 1
            )));
        }
        let id = contact
            .get("id")
            .and_then(|id| {
                id.as_str()
                    .map(str::to_string)
                    .or_else(|| Some(id.to_string()))
            })
            .unwrap_or_else(|| format!("contact-{}", index + 1));
        recipients.push(Recipient {
            id,
            description: format!("from {}", path.display()),
            contact: crate::template::json_value(&contact),
            event: event.as_ref().map(crate::template::json_value),
        });
    }
    Ok(recipients)
}
