//! What the read passes need of each write, packed small for the cache.
//!
//! The impossible/aborted-read pass ([`crate::reads`]) and the stale-read
//! pass ([`crate::stale`]) walk the same read elements in one loop, so one
//! table serves both: one lookup per element instead of one per pass.

use crate::history::OpType;
use crate::index::HistoryIndex;

/// [`Facts::ok_end`] of an `info` write (or one never completed).
pub const UNSURE: u64 = u64::MAX;
/// [`Facts::ok_end`] of a `fail` write.
pub const FAILED: u64 = u64::MAX - 1;

/// One write, 16 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Facts {
    pub key: u32,
    pub node: u32,
    /// The completion time of an `ok` write; [`UNSURE`] or [`FAILED`]
    /// otherwise (the outcome folded in saves a field and its padding).
    pub ok_end: u64,
}

impl Facts {
    pub fn is_ok(&self) -> bool {
        self.ok_end < FAILED
    }

    pub fn failed(&self) -> bool {
        self.ok_end == FAILED
    }
}

/// The facts of every write, by write id.
pub fn build(index: &HistoryIndex) -> Vec<Facts> {
    index
        .writes()
        .map(|w| Facts {
            key: w.key,
            node: w.node,
            ok_end: match w.outcome {
                // An `ok` write ending at the sentinels cannot happen in
                // practice (585 years of nanoseconds); clamp to stay `ok`.
                OpType::Ok => w.end_time.min(FAILED - 1),
                OpType::Fail => FAILED,
                _ => UNSURE,
            },
        })
        .collect()
}
