//! `herald serve`: compiles the project, opens the store and runs the HTTP
//! service of [`crate::serve`] on the manifest's `serve.listen` address (or
//! `--listen`) until SIGINT or SIGTERM. Prints `listening on http://ADDR`
//! on stderr once it accepts connections (with `--listen 127.0.0.1:0`, the
//! port the system chose). Exit status: 1 when the project has errors, 2
//! when it cannot run (no `serve:` section, a secret not set, the address
//! taken, the store unavailable), 0 after a clean stop.

use std::sync::Arc;

use super::Settings;
use super::plan::compiled;
use crate::error::Error;
use crate::serve::{self, ServeSettings, Service, Writer};
use crate::store::Store;

/// What `herald serve` was asked.
#[derive(Debug)]
pub struct Request {
    /// Overrides `serve.listen`.
    pub listen: Option<String>,
}

pub fn run(settings: &Settings, request: &Request) -> Result<i32, Error> {
    let Some(compilation) = compiled(settings, "served")? else {
        return Ok(1);
    };
    let Some(manifest) = compilation.project.manifest.as_ref() else {
        return Ok(1);
    };
    let manifest = &manifest.value;
    let project_error = |reason: String| Error::Project {
        path: settings.project.clone(),
        reason,
    };
    let Some(serve_settings) = ServeSettings::from_manifest(manifest) else {
        return Err(project_error(
            "herald.yaml has no `serve:` section; add `serve: {public_url: https://..., \
             secret: ${env:HERALD_SERVE_SECRET}}`"
                .into(),
        ));
    };
    // A store that is not there is a wrong `--store` or a project not yet
    // imported: nothing the service hears could be matched to a contact.
    let path = settings.store.existing(manifest)?;
    let store = Store::open_with_catalog(&path, compilation.filters.catalog.clone())?;
    let (writer, writing) = Writer::start(store);
    let service = Service::new(&serve_settings, writer)
        .map_err(|missing| project_error(format!("`serve:` needs a secret: {missing}")))?;
    let address = request
        .listen
        .clone()
        .unwrap_or_else(|| serve_settings.listen.clone());
    let runtime = super::runtime()?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|error| Error::Usage(format!("cannot listen on {address}: {error}")))?;
        let local = listener
            .local_addr()
            .map_err(|error| Error::Usage(format!("cannot listen on {address}: {error}")))?;
        eprintln!("herald serve: listening on http://{local}");
        serve::serve(listener, Arc::new(service), stop_signal())
            .await
            .map_err(|error| Error::Usage(format!("serving on {local} failed: {error}")))
    });
    // The service and its writer handles are gone: the writing thread
    // finishes what was sent to it, then ends.
    drop(runtime);
    let _ = writing.join();
    served?;
    eprintln!("herald serve: stopped");
    Ok(0)
}

/// The first SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = Arc::new(tokio::sync::Notify::new());
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Ok(mut signals) = signal(kind)
                && signals.recv().await.is_some()
            {
                stop.notify_one();
            }
        });
    }
    stop.notified().await;
    eprintln!("herald serve: stopping: finishing the requests in flight");
}
