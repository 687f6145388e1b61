//! Where the history's timestamps come from. The lifecycle hands the
//! recorder a clock: the wall clock's monotonic time since the test began
//! in a real run, a virtual one under simulation.

use std::time::Instant;

/// Nanoseconds since the test's time zero.
pub trait Clock: Send + Sync {
    fn now_ns(&self) -> u64;
}

/// Monotonic real time since `start`.
#[derive(Debug, Clone, Copy)]
pub struct SinceStart {
    start: Instant,
}

impl SinceStart {
    /// A clock whose zero is now.
    pub fn now() -> Self {
        SinceStart {
            start: Instant::now(),
        }
    }

    /// A clock whose zero is `start`.
    pub fn from(start: Instant) -> Self {
        SinceStart { start }
    }
}

impl Clock for SinceStart {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}
