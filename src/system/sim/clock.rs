//! The history's clock under simulation: virtual time since the test's time
//! zero, as the paused tokio runtime advances it.

use tokio::time::Instant;

use crate::history::Clock;

/// Virtual nanoseconds since `start`.
pub struct Virtual {
    start: Instant,
}

impl Virtual {
    /// A clock whose zero is the virtual now.
    pub fn now() -> Virtual {
        Virtual {
            start: Instant::now(),
        }
    }
}

impl Clock for Virtual {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}
