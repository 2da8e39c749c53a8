//! The runner: carries out a plan through the outbox. [`enqueue`] writes
//! what the planner decided (the same [`crate::plan::plan`] that `herald
//! plan` prints) into the outbox in one transaction, or nothing when the
//! plan has errors; [`deliver`] claims due messages with a lease, sends them
//! concurrently through the provider clients of [`crate::provider`] within
//! each provider's rate limit, and records each outcome once the provider
//! answered; [`clients`] builds those clients from the project's provider
//! declarations; [`tick`] is one round of all that (recover, plan,
//! enqueue, deliver), with the delivery pluggable: the providers for
//! `herald run`, a virtual sink for `herald simulate`; after delivering,
//! [`statuses`] asks the providers that report only when asked what became
//! of the messages they took.
//!
//! Two clocks: scheduling (due occurrences, quiet hours, retry times) runs
//! on [`Clock`], which `--now` makes virtual so that journeys with waits
//! can be run in accelerated time; leases run on the wall clock, because
//! they are about real processes that may die.

pub mod clients;
pub mod deliver;
pub mod enqueue;
pub mod journeys;
pub mod statuses;
pub mod tick;

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

pub use self::clients::{Route, build_routes};
pub use self::deliver::{Options, Tally, deliver};
pub use self::enqueue::{Enqueued, enqueue};
pub use self::tick::{
    Delivered, Delivery, Progress, Providers, Tick, TickReport, VirtualSink, tick,
};

/// The runner's scheduling clock: the current time, or a virtual time that
/// started at `--now` and advances with the wall clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Timestamp,
    started: Instant,
}

impl Clock {
    pub fn real() -> Clock {
        Clock::starting_at(Timestamp::now())
    }

    pub fn starting_at(start: Timestamp) -> Clock {
        Clock {
            start,
            started: Instant::now(),
        }
    }

    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.started.elapsed()).unwrap_or_default();
        self.start.saturating_add(elapsed).unwrap_or(self.start)
    }
}

/// Wall-clock unix seconds, for leases and record times.
pub fn wall_seconds() -> i64 {
    Timestamp::now().as_second()
}
