//! Headless Chromium for the browser tests (`.ci/run` installs it): the
//! flags that keep it quiet and offline, a skip where it is missing (a
//! failure under `CI=true`), and a minimal DevTools client to evaluate
//! JavaScript in an open page.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to reach a condition.
pub const WAIT: Duration = Duration::from_secs(10);

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags that keep a headless Chromium quiet, offline and self-contained.
pub fn chromium(profile: &Path) -> Command {
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null());
    command
}

pub fn have_chromium() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    // CI installs Chromium (.ci/run): a browser test that skips there would
    // pass without having looked at the page.
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMIUM} is missing under CI=true; .ci/run should have installed it"
    );
    eprintln!("skipped: {CHROMIUM} is not installed (.ci/run installs it)");
    false
}

/// Runs `command` to its end, at most `timeout`; its stdout.
pub fn output_within(mut command: Command, timeout: Duration) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return reader.join().unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromium did not finish within {timeout:?}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

pub struct Browser(pub Child);

impl Browser {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A page target of Chromium's DevTools protocol over a minimal WebSocket
/// client (text frames only, which is all the protocol uses).
pub struct DevTools {
    stream: TcpStream,
    next_id: u64,
}

impl DevTools {
    /// Connects to the page showing `address`, waiting for Chromium to be up.
    pub fn connect(port: u16, address: &str) -> DevTools {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            assert!(Instant::now() < deadline, "no DevTools page for {address}");
            std::thread::sleep(Duration::from_millis(100));
            let Ok(list) = http_get(&format!("127.0.0.1:{port}"), "/json/list") else {
                continue;
            };
            let Ok(targets) = serde_json::from_str::<serde_json::Value>(&list) else {
                continue;
            };
            let found = targets.as_array().and_then(|targets| {
                targets.iter().find_map(|target| {
                    let page = target["type"] == "page"
                        && target["url"]
                            .as_str()
                            .is_some_and(|url| url.contains(address));
                    page.then(|| target["webSocketDebuggerUrl"].as_str().map(str::to_string))
                        .flatten()
                })
            });
            if let Some(url) = found {
                break url;
            }
        };
        let rest = url.strip_prefix("ws://").expect("ws URL");
        let (host, path) = rest.split_once('/').expect("ws path");
        let mut stream = TcpStream::connect(host).expect("connect to DevTools");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("handshake response");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        DevTools { stream, next_id: 1 }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).expect("send frame");
    }

    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).expect("frame");
            let opcode = head[0] & 0x0f;
            let length = match head[1] & 0x7f {
                126 => {
                    let mut bytes = [0u8; 2];
                    self.stream.read_exact(&mut bytes).expect("length");
                    u64::from(u16::from_be_bytes(bytes))
                }
                127 => {
                    let mut bytes = [0u8; 8];
                    self.stream.read_exact(&mut bytes).expect("length");
                    u64::from_be_bytes(bytes)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; usize::try_from(length).expect("length")];
            self.stream.read_exact(&mut payload).expect("payload");
            if opcode == 0x1 || opcode == 0x0 {
                message.extend(payload);
                if head[0] & 0x80 != 0 {
                    return String::from_utf8_lossy(&message).into_owned();
                }
            }
        }
    }

    /// Evaluates a JavaScript expression in the page; its value as text.
    pub fn evaluate(&mut self, expression: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let request = serde_json::json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true},
        });
        self.send(&request.to_string());
        loop {
            let reply: serde_json::Value =
                serde_json::from_str(&self.receive()).expect("DevTools JSON");
            if reply["id"] == id {
                let value = &reply["result"]["result"]["value"];
                return value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
            }
        }
    }

    /// Waits (at most [`WAIT`]) until `condition` is true in the page.
    pub fn wait_until(&mut self, condition: &str) {
        let deadline = Instant::now() + WAIT;
        while self.evaluate(&format!("Boolean({condition})")) != "true" {
            assert!(Instant::now() < deadline, "the page never had {condition}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A GET request; the body.
pub fn http_get(address: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    // Chromium may keep the connection open: read what arrives.
    let _ = stream.read_to_string(&mut response);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok(body)
}
