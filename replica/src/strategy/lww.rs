//! Last write wins: one version per key, the highest (timestamp, origin)
//! survives. Timestamps are the origins' (possibly skewed) clocks, so a
//! causally later write from a node whose clock is behind loses: the
//! trouble with timestamps, on purpose.

use super::{KeyState, Strategy, StrategyKind, Version};
use crate::types::{Change, Nanos, NodeId};

#[derive(Debug, Clone, Copy, Default)]
pub struct LastWriteWins;

impl Strategy for LastWriteWins {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Lww
    }

    /// Keep one version: the change replaces it iff its (ts, origin) is
    /// higher. This is a max over a total order, hence commutative and
    /// idempotent. The origin's dot seq breaks the remaining tie, which only
    /// exists when an origin reused a timestamp after losing state.
    fn apply(&self, state: &mut KeyState, change: &Change) {
        let wins = match state.versions.first() {
            None => true,
            Some(cur) => {
                (lww_order(change.ts, &change.dot.node), change.dot.seq)
                    > (lww_order(cur.ts, &cur.dot.node), cur.dot.seq)
            }
        };
        if wins {
            state.versions = vec![Version::of(change)];
        }
    }
}

/// Order used by LWW to pick a winner; node id breaks timestamp ties.
pub fn lww_order(ts: Nanos, origin: &NodeId) -> (Nanos, &NodeId) {
    (ts, origin)
}
