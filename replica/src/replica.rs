//! The replica state machine: client reads and writes, applying local and
//! remote changes through the strategy, per-peer replication cursors with
//! batching and retry backoff, and recovery from the log's records.

use serde::Serialize;

use crate::strategy::StrategyKind;
use crate::types::*;

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Peers this node sends its replication stream to.
    pub peers: Vec<NodeId>,
    pub strategy: StrategyKind,
    /// Whether changes received from peers are forwarded to other peers
    /// (ring, star and tree relays do; all-to-all does not).
    pub forward_remote: bool,
    /// Most changes in one batch.
    pub batch_max: usize,
    /// Most batches in flight per peer.
    pub window: usize,
    /// First retry delay after a failed send; doubles up to `retry_max_ns`.
    pub retry_base_ns: Nanos,
    pub retry_max_ns: Nanos,
}

impl Config {
    pub fn new(id: impl Into<NodeId>, peers: Vec<NodeId>, strategy: StrategyKind) -> Self {
        Config {
            id: id.into(),
            peers,
            strategy,
            forward_remote: false,
            batch_max: 512,
            window: 4,
            retry_base_ns: 20_000_000,
            retry_max_ns: 1_000_000_000,
        }
    }
}

/// A snapshot for the admin status endpoint and quiescence detection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub node: NodeId,
    /// Last log position written.
    pub log_end: LogSeq,
    /// Last log position durable (shippable).
    pub durable: LogSeq,
    pub keys: usize,
    pub peers: Vec<PeerStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeerStatus {
    pub peer: NodeId,
    /// The peer's acknowledged cursor into our log.
    pub acked: LogSeq,
    /// Durable log entries the peer has not acknowledged yet.
    pub backlog: u64,
    pub inflight: usize,
    pub failures: u64,
    /// Our contiguous cursor into the peer's log.
    pub received: LogSeq,
}

/// The replica. See the module docs.
#[derive(Debug)]
pub struct Replica {
    config: Config,
}

impl Replica {
    /// A fresh replica with an empty log.
    pub fn new(config: Config) -> Self {
        Replica { config }
    }

    /// Rebuild a replica from its log's records, in log order.
    pub fn recover(config: Config, records: impl IntoIterator<Item = Record>) -> Self {
        let _ = records;
        Replica::new(config)
    }

    pub fn id(&self) -> &NodeId {
        &self.config.id
    }

    /// Feed one input at time `now`.
    pub fn step(&mut self, now: Nanos, input: Input) -> Output {
        let _ = (now, input);
        todo!("Replica::step")
    }

    pub fn status(&self) -> Status {
        todo!("Replica::status")
    }

    /// Every key this replica holds, sorted.
    pub fn keys(&self) -> Vec<String> {
        todo!("Replica::keys")
    }
}
