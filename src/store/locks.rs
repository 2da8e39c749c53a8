//! Why a store operation failed, in the user's terms: a write lock held by
//! another program (which one, as far as the system says, and how long this
//! one waited), a read-only file, or else SQLite's own message.

use std::path::Path;
use std::time::Duration;

use rusqlite::ErrorCode;

/// The byte of the `-shm` file a WAL writer locks while it writes
/// (SQLite's `WAL_WRITE_LOCK`: 120 + 0). Readers briefly take write locks
/// on neighbouring bytes, which must not be blamed.
const WAL_WRITE_LOCK_BYTE: u64 = 120;

/// The sentence for `error`, met by an operation that started `waited` ago.
pub fn explain(path: &Path, error: &rusqlite::Error, waited: Duration) -> String {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            let holders = lock_holders(path);
            let who = if holders.is_empty() {
                "another process".to_string()
            } else {
                holders.join(", ")
            };
            format!(
                "the store is locked by {who}, which is writing to it; gave up after waiting \
                 {:.1} s (try again when it has finished)",
                waited.as_secs_f64()
            )
        }
        Some(ErrorCode::ReadOnly) => read_only(),
        _ => error.to_string(),
    }
}

/// Why a command that writes cannot run on a write-protected store file.
pub fn read_only() -> String {
    "the store file is read-only, and this command writes to it; commands that only read it \
     (segment, contacts show, render --contact) still work: make the file and its folder \
     writable to change it"
        .to_string()
}

/// The programs holding a write lock on the store, as `name (pid N)`: on
/// Linux from `/proc/locks` (a rollback-journal writer locks the file
/// itself, a WAL writer one byte of the `-shm` file); elsewhere unknown.
fn lock_holders(path: &Path) -> Vec<String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let identity = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name)
                .ok()
                .map(|metadata| (device(metadata.dev()), metadata.ino()))
        };
        let file = identity("");
        let shm = identity("-shm");
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            return Vec::new();
        };
        let own = std::process::id();
        let mut pids: Vec<u32> = locks
            .lines()
            .filter_map(|line| {
                let lock = Lock::parse(line)?;
                let writes_file = Some(lock.file) == file;
                let writes_wal = Some(lock.file) == shm
                    && lock.start <= WAL_WRITE_LOCK_BYTE
                    && lock.end.is_none_or(|end| end >= WAL_WRITE_LOCK_BYTE);
                (lock.pid != own && (writes_file || writes_wal)).then_some(lock.pid)
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids.into_iter()
            .map(
                |pid| match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                    Ok(name) => format!("{} (pid {pid})", name.trim()),
                    Err(_) => format!("pid {pid}"),
                },
            )
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Vec::new()
    }
}

/// A granted write lock from one line of `/proc/locks`.
#[cfg(target_os = "linux")]
struct Lock {
    pid: u32,
    /// (major, minor) device numbers and inode.
    file: ((u64, u64), u64),
    start: u64,
    /// `None` for a lock to the end of the file (`EOF`).
    end: Option<u64>,
}

#[cfg(target_os = "linux")]
impl Lock {
    /// `1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 120 120`. SQLite locks
    /// with POSIX record locks only: a request still waiting (`1: -> POSIX`),
    /// a `READ` lock or a `FLOCK` one cannot be what keeps it out.
    fn parse(line: &str) -> Option<Lock> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"POSIX") || fields.get(3) != Some(&"WRITE") {
            return None;
        }
        let pid = fields.get(4)?.parse().ok()?;
        let mut file = fields.get(5)?.split(':');
        let major = u64::from_str_radix(file.next()?, 16).ok()?;
        let minor = u64::from_str_radix(file.next()?, 16).ok()?;
        let inode = file.next()?.parse().ok()?;
        let start = fields.get(6)?.parse().ok()?;
        let end = match *fields.get(7)? {
            "EOF" => None,
            end => Some(end.parse().ok()?),
        };
        Some(Lock {
            pid,
            file: ((major, minor), inode),
            start,
            end,
        })
    }
}

/// The (major, minor) numbers of a Linux `dev_t`.
#[cfg(target_os = "linux")]
fn device(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}
