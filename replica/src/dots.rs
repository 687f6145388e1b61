//! The set of writes (dots) a replica has applied, per origin.
//!
//! Deduplication is what makes at-least-once replication safe: batches are
//! retried after timeouts, resent after go-back-N rewinds and, in relay
//! topologies, the same change can arrive along several paths. Each origin's
//! dots are stored as a contiguous prefix (`1..=max`) plus the out-of-order
//! extras above it, so the set stays small once gaps fill in.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::types::{Dot, NodeId};
use crate::version::VersionVector;

/// Applied dots of one origin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OriginDots {
    /// Every seq in `1..=contiguous` has been applied.
    contiguous: u64,
    /// Applied seqs above `contiguous + 1` (never adjacent to it: those are
    /// absorbed into `contiguous`).
    extras: BTreeSet<u64>,
}

/// Per-origin applied dots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDots {
    origins: BTreeMap<NodeId, OriginDots>,
}

impl AppliedDots {
    pub fn contains(&self, dot: &Dot) -> bool {
        self.origins
            .get(&dot.node)
            .is_some_and(|o| dot.seq <= o.contiguous || o.extras.contains(&dot.seq))
    }

    /// Record `dot` as applied; false if it already was.
    pub fn insert(&mut self, dot: &Dot) -> bool {
        if self.contains(dot) {
            return false;
        }
        let o = self.origins.entry(dot.node.clone()).or_default();
        if dot.seq == o.contiguous + 1 {
            o.contiguous = dot.seq;
            // Absorb extras that now connect, so the set shrinks back to a
            // single number once the stream has no holes.
            while o.extras.remove(&(o.contiguous + 1)) {
                o.contiguous += 1;
            }
        } else {
            o.extras.insert(dot.seq);
        }
        true
    }

    /// The contiguous applied prefix of `origin`'s writes.
    pub fn contiguous(&self, origin: &str) -> u64 {
        self.origins.get(origin).map_or(0, |o| o.contiguous)
    }

    /// Every origin's contiguous applied prefix (a change's dependencies).
    pub fn frontier(&self) -> VersionVector {
        VersionVector(
            self.origins
                .iter()
                .filter(|(_, o)| o.contiguous > 0)
                .map(|(n, o)| (n.clone(), o.contiguous))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(n: &str, seq: u64) -> Dot {
        Dot {
            node: n.into(),
            seq,
        }
    }

    #[test]
    fn out_of_order_dots_are_absorbed_once_contiguous() {
        let mut d = AppliedDots::default();
        assert!(d.insert(&dot("a", 3)));
        assert!(d.insert(&dot("a", 2)));
        assert_eq!(d.contiguous("a"), 0);
        assert!(!d.insert(&dot("a", 3)));
        assert!(d.insert(&dot("a", 1)));
        assert_eq!(d.contiguous("a"), 3);
        assert!(d.contains(&dot("a", 2)));
        assert!(!d.contains(&dot("a", 4)));
        assert!(!d.contains(&dot("b", 1)));
        assert!(!d.insert(&dot("a", 1)));
    }
}
