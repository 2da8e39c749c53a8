//! Running `herald watch` in the background and reading what it prints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a test waits for one block of output.
pub const WAIT: Duration = Duration::from_secs(10);

/// A small project: a segment used through another one, a campaign whose
/// email includes a partial and whose SMS is inline.
pub fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_project(dir.path());
    dir
}

/// Writes the files of [`project`] into `root`.
pub fn write_project(root: &Path) {
    let files = [
        (
            "herald.yaml",
            "timezone: Europe/Moscow\nlocale: ru\ncurrency: RUB\n\
             contact:\n  attributes:\n    first_name: string\n    \
             gender: {type: enum, values: [male, female]}\n    \
             orders_count: {type: integer, required: true}\n\
             channels:\n  email: {provider: local, cost: 0.4}\n  \
             sms: {provider: local, cost: 2.2, max_parts: 2}\n\
             providers:\n  local: {kind: file, path: outbox.jsonl}\n\
             vars:\n  shop_name: Ласточка\n",
        ),
        ("segments/buyers.yaml", "filter: orders_count > 0\n"),
        (
            "segments/loyal.yaml",
            "filter: in segment \"buyers\" and orders_count > 3\n",
        ),
        (
            "campaigns/promo.yaml",
            "type: promotional\naudience:\n  segment: loyal\n\
             schedule:\n  at: \"2026-12-20 11:00\"\nchannels: [email, sms]\n\
             messages:\n  email:\n    subject: \"Скидка для вас\"\n    html_file: promo.html\n  \
             sms:\n    text: \"{{ vars.shop_name }}: скидка до воскресенья\"\n",
        ),
        (
            "templates/promo.html",
            "<h1>Скидка</h1>{% include \"partials/footer.html\" %}\n\
             <a href=\"{{ links.unsubscribe }}\">Отписаться</a>\n",
        ),
        ("templates/partials/footer.html", "<p>Footer v1</p>\n"),
        ("templates/unused.txt", "Not used by any message\n"),
    ];
    for (name, text) in files {
        write(root, name, text);
    }
}

/// Writes a file, creating its folder.
pub fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// One block of `herald watch` output: a header line to the `checked in` line.
#[derive(Debug)]
pub struct Block(pub Vec<String>);

impl Block {
    pub fn header(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    pub fn last(&self) -> &str {
        self.0.last().map_or("", String::as_str)
    }

    pub fn has(&self, text: &str) -> bool {
        self.0.iter().any(|line| line.contains(text))
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n{}", self.0.join("\n"))
    }
}

/// `herald watch` running on a project.
pub struct Watch {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    /// `herald watch --samples 1 ARGUMENTS` on `project`.
    pub fn start(project: &Path, arguments: &[&str]) -> Watch {
        let mut arguments = arguments.to_vec();
        if !arguments.contains(&"--samples") && !arguments.contains(&"--contact") {
            arguments.extend(["--samples", "1"]);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("--project")
            .arg(project)
            .arg("watch")
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("herald starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if let Ok(mut text) = collected.lock() {
                    text.push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
        });
        Watch {
            child,
            lines,
            stderr,
        }
    }

    /// The next block; fails the test after [`WAIT`].
    pub fn block(&mut self) -> Block {
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let end = line.starts_with("rechecked in") || line.starts_with("checked in");
                    lines.push(line);
                    if end {
                        return Block(lines);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no complete block within {WAIT:?}; got:\n{}\nstderr:\n{}",
                    lines.join("\n"),
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "herald watch ended; got:\n{}\nstderr:\n{}",
                    lines.join("\n"),
                    self.stderr()
                ),
            }
        }
    }

    /// Blocks until one satisfies `done`; returns it.
    pub fn wait_for(&mut self, mut done: impl FnMut(&Block) -> bool) -> Block {
        let deadline = Instant::now() + WAIT;
        loop {
            let block = self.block();
            if done(&block) {
                return block;
            }
            assert!(
                Instant::now() < deadline,
                "no matching block within {WAIT:?}; last:{block}"
            );
        }
    }

    /// Asserts nothing is printed for `duration`.
    pub fn quiet(&mut self, duration: Duration) {
        if let Ok(line) = self.lines.recv_timeout(duration) {
            panic!("expected no output, got: {line}");
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for the process to end; its exit code.
    pub fn exit_status(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads collect the last output.
                std::thread::sleep(Duration::from_millis(50));
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The preview page's address from a start block (`preview page: http://…/`).
pub fn page_address(block: &Block) -> String {
    block
        .0
        .iter()
        .find_map(|line| line.strip_prefix("preview page: http://"))
        .map(|address| address.trim_end_matches('/').to_string())
        .unwrap_or_else(|| panic!("no preview page line in{block}"))
}

/// A GET request to `address` (`127.0.0.1:PORT`); the status line and body.
pub fn get(address: &str, path: &str) -> (String, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}
