//! `herald watch`: re-checks the project and re-renders previews on every
//! save ([`crate::watch`]) for sample contacts or one from the store.

use super::render::{Contacts, recipients};
use super::{Settings, print};
use crate::error::Error;
use crate::watch::{Options, Watcher};

/// What `herald watch` was asked.
#[derive(Debug)]
pub struct Request {
    pub contacts: Contacts,
    pub serve: Option<u16>,
}

/// Runs until interrupted; exits 2 only when the project cannot be watched.
pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let (store, contacts) = (settings.store.clone(), request.contacts.clone());
    let watcher = Watcher::start(Options {
        root: settings.project.clone(),
        prefix: settings.prefix(),
        color: settings.color,
        serve: request.serve,
        recipients: Box::new(move |compilation, manifest| {
            recipients(&store, compilation, manifest, &contacts)
        }),
        print,
    })?;
    if let Contacts::Store(_) = &request.contacts {
        // A contact that cannot be read is a wrong argument: say so now,
        // not on every save.
        let compilation = watcher.compilation();
        let manifest = compilation.project.manifest.as_ref().ok_or_else(|| {
            Error::Usage("herald.yaml has errors; run `herald check` first".into())
        })?;
        recipients(
            &settings.store,
            compilation,
            &manifest.value,
            &request.contacts,
        )?;
    }
    watcher.run()
}
