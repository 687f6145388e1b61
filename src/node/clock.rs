//! The node's clock: wall-clock nanoseconds since the UNIX epoch. Clock
//! faults do not touch it: they shift the clock the core's strategy uses
//! (`Replica::set_clock_offset_ns`), so retry timers keep real time.

use std::time::{SystemTime, UNIX_EPOCH};

use diverge_replica::Nanos;

/// Reads the wall clock. Shared by the HTTP handlers and the tick loop.
#[derive(Debug, Default)]
pub struct Clock;

impl Clock {
    pub fn new() -> Self {
        Clock
    }

    /// Now, in nanoseconds since the UNIX epoch (0 before it).
    pub fn now_ns(&self) -> Nanos {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as Nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wall_clock() {
        let clock = Clock::new();
        let a = clock.now_ns();
        let b = clock.now_ns();
        assert!(a > 1_700_000_000_000_000_000, "after 2023");
        assert!(b >= a);
    }
}
