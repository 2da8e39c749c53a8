//! The local preview server of `herald watch --serve`: a few GET routes on
//! 127.0.0.1 over std's TCP listener, one thread per connection.
//!
//! - `/?contact=ID`: every message rendered for one contact ([`super::page`]);
//! - `/events`: Server-Sent Events, one `data: VERSION` line whenever the
//!   project was checked again, which the page's script answers by fetching
//!   itself and swapping its content;
//! - `/version`: the current version as text.
//!
//! Only the local machine can connect, and nothing is read but the request
//! line, so a tiny HTTP/1.1 subset is all it needs.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Error;

use super::page::{self, Snapshot};

/// How often an idle event stream sends a comment, so that a closed page
/// is noticed and its thread ends.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The latest compilation, shared by the watch loop and the server.
#[derive(Default)]
pub struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    version: u64,
    snapshot: Option<Arc<Snapshot>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking request thread must not take the page down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `snapshot` the current one and wakes every event stream.
    pub fn publish(&self, snapshot: Snapshot) {
        let mut state = self.lock();
        state.version += 1;
        state.snapshot = Some(Arc::new(snapshot));
        self.changed.notify_all();
    }

    fn current(&self) -> (u64, Option<Arc<Snapshot>>) {
        let state = self.lock();
        (state.version, state.snapshot.clone())
    }

    /// Waits until the version differs from `seen` or `timeout` passes.
    fn wait_newer(&self, seen: u64, timeout: Duration) -> u64 {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |state| state.version == seen)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.version
    }
}

/// Binds 127.0.0.1:`port` (0 picks a free port) and serves in the background.
pub fn start(port: u16, shared: Arc<Shared>) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|error| Error::Usage(format!("cannot serve on 127.0.0.1:{port}: {error}")))?;
    let address = listener
        .local_addr()
        .map_err(|error| Error::Usage(format!("cannot serve on 127.0.0.1:{port}: {error}")))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = shared.clone();
            std::thread::spawn(move || {
                // A client that goes away mid-response is not an error worth reporting.
                let _ = handle(stream, &shared);
            });
        }
    });
    Ok(address)
}

fn handle(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are not needed; read them so the client sees a clean close.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut stream = stream;
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
        );
    }
    match path {
        "/" => {
            let contact = query_value(query, "contact");
            let (version, snapshot) = shared.current();
            let html = page::render(snapshot.as_deref(), version, contact.as_deref());
            respond(
                &mut stream,
                "200 OK",
                "text/html; charset=utf-8",
                html.as_bytes(),
            )
        }
        "/version" => {
            let (version, _) = shared.current();
            respond(
                &mut stream,
                "200 OK",
                "text/plain",
                format!("{version}\n").as_bytes(),
            )
        }
        "/events" => events(&mut stream, shared),
        "/favicon.ico" => respond(&mut stream, "204 No Content", "text/plain", b""),
        _ => respond(&mut stream, "404 Not Found", "text/plain", b"not found\n"),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// A Server-Sent Events stream of versions, until the client goes away.
fn events(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: keep-alive\r\n\r\nretry: 500\n\n",
    )?;
    let mut seen = 0;
    loop {
        let version = shared.wait_newer(seen, KEEP_ALIVE);
        if version == seen {
            stream.write_all(b": keep-alive\n\n")?;
        } else {
            write!(stream, "data: {version}\n\n")?;
            seen = version;
        }
        stream.flush()?;
    }
}

/// The percent-decoded value of `name` in a query string.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        decoded.push(byte);
                        index += 2;
                    }
                    Err(_) => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        assert_eq!(
            query_value("a=1&contact=sample%2D2", "contact").as_deref(),
            Some("sample-2")
        );
        assert_eq!(
            query_value("contact=%D0%98%D0%B2%D0%B0%D0%BD+1", "contact").as_deref(),
            Some("Иван 1")
        );
        assert_eq!(
            query_value("contact=50%", "contact").as_deref(),
            Some("50%")
        );
        assert_eq!(query_value("other=1", "contact"), None);
    }
}
