//! Values that cross the core's boundary: what the shell feeds in, what comes
//! out, what travels between nodes and what is written to the log.
//!
//! Everything here is serde-serializable: [`Batch`] is the body of a
//! replication request between nodes, [`Record`] is one entry of the durable
//! log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::strategy::Crdt;
use crate::version::{Context, VersionVector};

/// A node's identifier, e.g. `"n1"`.
pub type NodeId = String;

/// Nanoseconds since the UNIX epoch, as the shell's (possibly skewed) clock
/// reads it. The core never reads a clock itself.
pub type Nanos = u64;

/// Position of an entry in one node's replication log (1-based; 0 = "before
/// the first entry").
pub type LogSeq = u64;

/// The identity of one write: the node that accepted it from a client and
/// that node's write counter (1-based, strictly increasing, never reused).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dot {
    pub node: NodeId,
    pub seq: u64,
}

/// One write as it replicates: accepted once at its origin, then applied at
/// every other node exactly once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub key: String,
    pub value: Value,
    /// Identity of the write; `dot.node` is the origin.
    pub dot: Dot,
    /// The origin's timestamp for the write (strictly increasing per origin).
    pub ts: Nanos,
    /// The causal past of this write for its key: what the writer had seen
    /// of the key when it wrote (the client's context under the strategies
    /// that keep siblings, else everything the origin held). Applying the
    /// change adds `dot` to the key's context as well.
    pub vv: VersionVector,
    /// Every node this change has passed through, origin first. A node that
    /// finds its own id here ignores the change (loop prevention).
    pub path: Vec<NodeId>,
    /// The write's random 64-bit id (`unique-id`), from the shell's entropy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uid: u64,
    /// Node-level dependencies: per origin, the contiguous prefix of its
    /// writes the origin had applied when it accepted this write. With
    /// causal delivery a node applies the change only once it has applied
    /// all of them.
    #[serde(default, skip_serializing_if = "VersionVector::is_empty")]
    pub deps: VersionVector,
    /// The origin's whole new state of the key (`crdt` strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crdt: Option<Crdt>,
}

impl Change {
    /// The length of this change's JSON encoding, as it travels in a
    /// [`Batch`] (plus one for the separating comma).
    pub fn encoded_bytes(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail, and a Change always serializes.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0 + 1
    }
}

/// A writer that only counts what is written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A replication message: the entries of the sender's log in `(after, upto]`
/// that this peer should receive (entries the peer need not see are skipped,
/// so `changes` may be shorter than the range, or empty).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub from: NodeId,
    pub after: LogSeq,
    pub upto: LogSeq,
    /// Shared with the sender's log: a change goes to every peer and into
    /// the log without a deep copy.
    pub changes: Vec<Arc<Change>>,
}

impl Batch {
    /// A probe asks the peer where its cursor for us stands, sending nothing.
    pub fn probe(from: NodeId) -> Self {
        Batch {
            from,
            after: 0,
            upto: 0,
            changes: Vec::new(),
        }
    }
}

/// One durable log record. The log holds every accepted write and every
/// applied remote change (`Entry`), and how far each peer's stream has been
/// received contiguously (`Cursor`), so a restarted node rebuilds its state
/// and resumes replication where each peer left off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Record {
    Entry {
        seq: LogSeq,
        change: Arc<Change>,
    },
    Cursor {
        peer: NodeId,
        upto: LogSeq,
    },
    /// A received update that was not applied because this node holds no
    /// version of its key (its insert has not arrived; causal delivery off,
    /// single-value strategies): a log entry all the same, so it is
    /// deduplicated, keeps its origin's order and is forwarded by relays,
    /// but recovery does not apply it either. See
    /// [`Replica`](crate::Replica) ("skipped updates").
    Skipped {
        seq: LogSeq,
        change: Arc<Change>,
    },
    /// A received change that waits for a change it depends on (causal
    /// delivery, or origin order); it is not a log entry. Recovery buffers
    /// it again unless an `Entry` shows it was applied since.
    Buffered {
        change: Change,
    },
}

/// What the shell feeds into the core.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A client reads a key.
    Read { key: String },
    /// A client writes a key, optionally with the context it read.
    Write {
        key: String,
        value: Value,
        context: Option<Context>,
        /// Randomness from the shell (the `unique-id` strategy's write id).
        entropy: u64,
    },
    /// A client adds `delta` to a counter (`crdt` strategy).
    Increment { key: String, delta: i64 },
    /// A peer's replication batch arrived.
    Receive(Batch),
    /// The outcome of sending `batch_after..batch_upto` to `peer`:
    /// `Ok(acked)` is the peer's contiguous cursor for us after it applied
    /// the batch; `Err` means the send failed (timeout, refused, 5xx).
    Delivered {
        peer: NodeId,
        after: LogSeq,
        upto: LogSeq,
        result: Result<LogSeq, String>,
    },
    /// Every record up to and including log position `upto` is durable
    /// (written to the OS, fsynced if the node is configured to): entries up
    /// to there may now be shipped to peers.
    Persisted { upto: LogSeq },
    /// Time passes: retries whose backoff expired are sent.
    Tick,
    /// The shell's answer to a [`LoadRange`]: the durable log's entries in
    /// `(after, ..]` with their positions, in order (as many as it chose to
    /// read), or why they could not be read.
    Loaded {
        peer: NodeId,
        after: LogSeq,
        result: Result<Vec<(LogSeq, Arc<Change>)>, String>,
    },
}

/// A request to read log entries `(after, upto]` back from the durable log:
/// `peer` needs them and they are no longer in memory. The shell answers
/// with [`Input::Loaded`] (always, an error included: the peer's sender
/// waits for it).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadRange {
    pub peer: NodeId,
    pub after: LogSeq,
    pub upto: LogSeq,
}

/// The core's answer to one [`Input`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// The reply to the caller of this input, if it expects one. It must be
    /// released only after `persist` is durable.
    pub reply: Option<Reply>,
    /// Batches to send now, one HTTP request each.
    pub send: Vec<Outgoing>,
    /// Records to append to the log, in order.
    pub persist: Vec<Record>,
    /// Old log ranges to read back from the durable log.
    pub load: Vec<LoadRange>,
}

/// A batch addressed to a peer.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub peer: NodeId,
    pub batch: Batch,
}

/// Replies to client and replication requests.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// The values this node holds for the key (empty if absent; several when
    /// the strategy keeps siblings) and the causal context to write back with.
    Read {
        values: Vec<Value>,
        context: Context,
    },
    /// The write was accepted; `context` covers it.
    Written { context: Context, dot: Dot },
    /// The write's context is stale here: this node has accepted a write to
    /// the key that the client did not see. A definite failure.
    Conflict { context: Context },
    /// A replication batch was applied; `acked` is our contiguous cursor for
    /// the sender.
    Received { acked: LogSeq },
    /// The write was refused before anything happened. A definite failure.
    Refused(Refusal),
}

/// Why a client write was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// This node does not accept writes (single-leader follower); `leader`
    /// does.
    NotLeader { leader: NodeId },
    /// The value does not fit the strategy (e.g. a string under `crdt`).
    BadValue(String),
}
