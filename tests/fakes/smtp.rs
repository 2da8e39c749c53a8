//! A real SMTP server for tests: `smtp_server.py` (aiosmtpd) on 127.0.0.1,
//! writing each accepted message, parsed by Python's email package, to a
//! JSON file the test reads back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpFake {
    pub port: u16,
    child: Child,
    outdir: tempfile::TempDir,
}

impl SmtpFake {
    /// Starts the server, or `None` when aiosmtpd is not installed and this
    /// is not CI. Under CI (`CI=true`) a missing aiosmtpd fails the test:
    /// `.ci/run` installs it, so its absence is a broken setup, not a
    /// reason to skip silently.
    pub fn start() -> Option<SmtpFake> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the SMTP tests need Python's aiosmtpd (`python3 -m pip install aiosmtpd`, \
                 which .ci/run does)"
            );
            eprintln!("SKIPPED: python3 with aiosmtpd is not available; the SMTP test did not run");
            return None;
        }
        let outdir = tempfile::tempdir().expect("temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(outdir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("server stdout"))
            .read_line(&mut line)
            .expect("read the SMTP server's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP server did not print its port: {line:?}")
        });
        Some(SmtpFake {
            port,
            child,
            outdir,
        })
    }

    /// The messages received so far, in order, waiting up to `timeout` for
    /// `count` of them (the server writes after answering 250).
    pub fn received(&self, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let files = self.files();
            if files.len() >= count || Instant::now() >= deadline {
                return files
                    .iter()
                    .map(|path| {
                        serde_json::from_str(&std::fs::read_to_string(path).expect("read message"))
                            .expect("message JSON")
                    })
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(self.outdir.path())
            .expect("read the output folder")
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let number = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                Some((number, path))
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, path)| path).collect()
    }
}

impl Drop for SmtpFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
