//! How long to wait before the next attempt: exponential backoff with full
//! jitter, and the provider's own hints (`Retry-After` in seconds or as an
//! HTTP date, Telegram's `parameters.retry_after`).
//!
//! Full jitter (a uniform delay between zero and the exponential ceiling)
//! spreads the retries of many messages that failed together, so a provider
//! recovering from an outage is not hit by them all at once. The functions
//! are pure: the caller passes the random source and the clock, and does
//! the waiting, which keeps tests free of real sleeps.

use std::time::{Duration, SystemTime};

/// Exponential backoff with full jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling after the first failed attempt.
    pub base: Duration,
    /// The ceiling never grows past this.
    pub cap: Duration,
    /// Attempts in all, the first included; after the last the message is
    /// dead.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(15 * 60),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The longest wait after `attempt` (1-based) failed:
    /// `min(cap, base * 2^(attempt - 1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        self.base
            .checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .map_or(self.cap, |ceiling| ceiling.min(self.cap))
    }

    /// The wait before the attempt after `attempt` (1-based), or `None`
    /// when that was the last one allowed. A provider's `hint` is honoured
    /// as given (it knows its own limits better than the formula);
    /// otherwise a uniform random wait up to the ceiling.
    pub fn next_delay(
        &self,
        attempt: u32,
        hint: Option<Duration>,
        random: &mut fastrand::Rng,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        Some(hint.unwrap_or_else(|| {
            let ceiling = self.ceiling(attempt).as_nanos();
            let nanos = random.u128(0..=ceiling);
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        }))
    }
}

/// Parses a `Retry-After` value (RFC 9110 section 10.2.3): a number of
/// seconds, or an HTTP date, which is turned into the wait from `now` (zero
/// when it has passed). `None` for anything else.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // A number too large for u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}
