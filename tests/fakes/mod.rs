//! Fake provider services for tests: small HTTP servers on 127.0.0.1 (an
//! ephemeral port) that answer as each API documents (PROVIDERS.md), record
//! every request, and can be scripted to answer otherwise: an error, slowly,
//! or by dropping the connection. The SMTP fake is a real SMTP server
//! (Python's aiosmtpd, see `smtp_server.py`).
//!
//! Built on hyper directly rather than axum: a scripted "drop" is a service
//! returning an error, on which hyper closes the connection without an
//! answer, exactly what a provider that crashed mid-request looks like.
//!
//! Shared by several test binaries (`mod fakes;`), each using a part.
#![allow(dead_code)]

pub mod outcomes;
pub mod smsc;
pub mod smtp;
pub mod telegram;
pub mod unisender;
pub mod viber;
pub mod vk;
pub mod webhook;
pub mod whatsapp;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The form fields of a form-encoded body, else of the query string.
    pub fn form(&self) -> BTreeMap<String, String> {
        let form_body = self
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
        let source = if form_body {
            self.body.as_slice()
        } else {
            self.query.as_bytes()
        };
        form_urlencoded::parse(source).into_owned().collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the fake does with the next request instead of its usual answer.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answer this, without handling the request.
    Answer(Reply),
    /// Handle the request as usual (it takes effect), answer after a delay.
    Slow(Duration),
    /// Handle the request as usual (it takes effect), then close the
    /// connection without answering.
    Drop,
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A running fake; stopped when dropped.
pub struct FakeServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Script>>>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Starts a server answering with `handler` unless scripted otherwise.
    pub async fn start(handler: Handler) -> FakeServer {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let state = (requests.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (requests, script, handler) =
                    (state.0.clone(), state.1.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        serve(request, requests.clone(), script.clone(), handler.clone())
                    });
                    // Errors here are the scripted drops and clients going away.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeServer {
            url,
            requests,
            script,
            task,
        }
    }

    /// Queues what the next requests get, in order.
    pub fn script(&self, items: impl IntoIterator<Item = Script>) {
        self.script.lock().unwrap().extend(items);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the script")
    }
}

impl std::error::Error for Dropped {}

async fn serve(
    request: hyper::Request<Incoming>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Script>>>,
    handler: Handler,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    requests.lock().unwrap().push(recorded.clone());
    let next = script.lock().unwrap().pop_front();
    let reply = match next {
        Some(Script::Answer(reply)) => reply,
        Some(Script::Slow(delay)) => {
            let reply = handler(&recorded);
            tokio::time::sleep(delay).await;
            reply
        }
        Some(Script::Drop) => {
            handler(&recorded);
            return Err(Dropped);
        }
        None => handler(&recorded),
    };
    Ok(response(reply))
}

fn response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| unreachable!("the fake's replies are well-formed"))
}
