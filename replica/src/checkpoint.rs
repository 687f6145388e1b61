//! A checkpoint: the replica's durable state at one log position, so a
//! restart loads it and replays only the records written after it instead
//! of the whole log.
//!
//! It holds what the log's records would rebuild (keys, applied dots,
//! counters, receive cursors, buffered changes) and no log entries: the
//! entries up to [`Checkpoint::log_end`] stay in the durable log, from which
//! a peer that still needs them is served (see [`LoadRange`](crate::LoadRange)).
//! The shell decides when to take one and how to store it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::dots::AppliedDots;
use crate::strategy::KeyState;
use crate::types::{Change, LogSeq, Nanos, NodeId};

/// The replica's durable state after log position `log_end`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The node it belongs to (a checkpoint of another node is refused).
    pub node: NodeId,
    /// Every log entry up to here is reflected in the state below.
    pub log_end: LogSeq,
    pub write_counter: u64,
    pub last_ts: Nanos,
    pub skipped_updates: u64,
    pub keys: BTreeMap<String, KeyState>,
    pub(crate) applied: AppliedDots,
    /// sender -> our contiguous cursor into its log.
    pub received: BTreeMap<NodeId, LogSeq>,
    /// Received changes waiting for their dependencies.
    pub buffered: Vec<Change>,
    /// key -> the largest integer this node itself wrote to it.
    pub own_max: HashMap<String, u64>,
}
