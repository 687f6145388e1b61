//! Conflict strategies: how a key's state absorbs a change, whether it came
//! from a local client or from a peer. Every strategy must be commutative and
//! idempotent over changes (given the core's deduplication), so that any
//! delivery order converges to one state.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{Change, Dot, Nanos, NodeId};
use crate::version::VersionVector;

/// One stored version of a key's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub value: Value,
    pub dot: Dot,
    pub ts: Nanos,
}

/// What a node holds for one key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyState {
    /// The current versions: one for single-value strategies, several for
    /// strategies that keep siblings.
    pub versions: Vec<Version>,
    /// Every write this node has applied to the key, winners and losers.
    pub vv: VersionVector,
}

/// The strategies the node knows by name (`--strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    Lww,
}

impl StrategyKind {
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Lww => "lww",
        }
    }

    pub fn build(self) -> Box<dyn Strategy> {
        match self {
            StrategyKind::Lww => Box::new(LastWriteWins),
        }
    }
}

/// How concurrent writes to one key converge.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> StrategyKind;

    /// Whether a client write whose context does not cover the key's current
    /// state is refused (409). Single-value strategies refuse; strategies that
    /// keep siblings accept and keep the unseen versions.
    fn refuses_stale_writes(&self) -> bool {
        true
    }

    /// Fold `change` into `state`. Called once per change per node (the
    /// core deduplicates); `state.vv` is maintained by the core.
    fn apply(&self, state: &mut KeyState, change: &Change);
}

/// Last write wins: the highest (timestamp, origin node) survives.
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
            state.versions = vec![Version {
                value: change.value.clone(),
                dot: change.dot.clone(),
                ts: change.ts,
            }];
        }
    }
}

/// Order used by LWW to pick a winner; node id breaks timestamp ties.
pub fn lww_order(ts: Nanos, origin: &NodeId) -> (Nanos, &NodeId) {
    (ts, origin)
}
