//! The node's clock: wall-clock nanoseconds since the UNIX epoch plus an
//! adjustable offset, so the controller can skew one node's clock (a later
//! admin call) without touching the machine's.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use diverge_replica::Nanos;

/// Reads the skewed wall clock. Shared by the HTTP handlers and the tick loop.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ns: AtomicI64,
}

impl Clock {
    pub fn new() -> Self {
        Clock::default()
    }

    /// Now, in nanoseconds since the UNIX epoch, offset applied (saturating
    /// at 0 and `u64::MAX`).
    pub fn now_ns(&self) -> Nanos {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let wall = i128::try_from(wall).unwrap_or(i128::MAX);
        let skewed = wall + i128::from(self.offset_ns.load(Ordering::Relaxed));
        skewed.clamp(0, i128::from(u64::MAX)) as Nanos
    }

    pub fn offset_ns(&self) -> i64 {
        self.offset_ns.load(Ordering::Relaxed)
    }

    pub fn set_offset_ns(&self, offset_ns: i64) {
        self.offset_ns.store(offset_ns, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_shifts_the_reading() {
        let clock = Clock::new();
        let before = clock.now_ns();
        clock.set_offset_ns(3_600_000_000_000);
        let skewed = clock.now_ns();
        assert!(skewed >= before + 3_600_000_000_000);
        clock.set_offset_ns(i64::MIN);
        assert_eq!(clock.now_ns(), 0, "saturates at the epoch");
    }
}
