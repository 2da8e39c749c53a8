//! What the benchmarks measure about their own process, from procfs: CPU
//! time (on a shared machine, CPU per unit of work says more than the wall
//! clock) and memory (resident now, and the peak since the last reset).
//! Each reads 0 where there is no procfs.

#![allow(dead_code)] // each benchmark uses its own part

/// User and system time of the process so far, in seconds, from
/// `/proc/self/stat` (USER_HZ = 100 ticks a second on every Linux this
/// runs on).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are the 12th and 13th of them.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The peak resident size since the start or the last
/// [`reset_peak_memory`], in kB (VmHWM).
pub fn peak_memory_kb() -> u64 {
    status_kb("VmHWM:")
}

/// The resident size now, in kB (VmRSS).
pub fn resident_kb() -> u64 {
    status_kb("VmRSS:")
}

/// Starts [`peak_memory_kb`] again from the current resident size, so that
/// the peak shows the work measured and not its set-up.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
