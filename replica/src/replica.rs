//! The replica state machine: client reads and writes, applying local and
//! remote changes through the strategy, per-peer replication cursors with
//! batching and retry backoff, and recovery from the log's records.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::dots::AppliedDots;
use crate::inbound::Inbound;
use crate::log::Log;
use crate::outbound::{NextSend, Outbound};
use crate::strategy::{KeyState, Strategy, StrategyKind};
use crate::types::*;
use crate::version::Context;

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
    /// The shift applied to the clock the strategy uses (clock faults).
    pub clock_offset_ms: i64,
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
    /// Batches from the peer that arrived before one they follow.
    pub out_of_order: u64,
}

/// The replica's durable state, for comparing a replica with its recovery
/// (and two replicas with each other). Volatile sender state (what is in
/// flight, backoff, what is durable) is not part of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub keys: BTreeMap<String, KeyState>,
    pub log: Vec<Change>,
    /// sender -> our contiguous cursor into its log.
    pub received: BTreeMap<NodeId, LogSeq>,
    /// Last dot seq this node issued.
    pub write_counter: u64,
    /// Last timestamp this node issued.
    pub last_ts: Nanos,
}

/// The replica. See the module docs.
#[derive(Debug)]
pub struct Replica {
    config: Config,
    strategy: Box<dyn Strategy>,
    keys: BTreeMap<String, KeyState>,
    /// Every applied change in apply order (whole log kept in memory).
    log: Log,
    applied: AppliedDots,
    /// Last dot seq issued to a local write; never reused.
    write_counter: u64,
    /// Last timestamp issued to a local write: timestamps strictly increase
    /// per origin even if the clock stalls or steps back.
    last_ts: Nanos,
    /// Log positions up to here are on disk and may be shipped.
    durable: LogSeq,
    inbound: Inbound,
    outbound: BTreeMap<NodeId, Outbound>,
    /// key -> log position of the last change applied to it, so a read
    /// knows which durability it depends on.
    key_seq: HashMap<String, LogSeq>,
    /// Shift of the clock the strategy uses (timestamps), set by clock
    /// faults. Timers (retry backoff) keep using the unshifted `now`.
    clock_offset_ns: i64,
}

impl Clone for Replica {
    fn clone(&self) -> Self {
        Replica {
            config: self.config.clone(),
            strategy: self.config.strategy.build(),
            keys: self.keys.clone(),
            log: self.log.clone(),
            applied: self.applied.clone(),
            write_counter: self.write_counter,
            last_ts: self.last_ts,
            durable: self.durable,
            inbound: self.inbound.clone(),
            outbound: self.outbound.clone(),
            clock_offset_ns: self.clock_offset_ns,
            key_seq: self.key_seq.clone(),
        }
    }
}

impl Replica {
    /// A fresh replica with an empty log.
    pub fn new(config: Config) -> Self {
        let outbound = config
            .peers
            .iter()
            .filter(|p| **p != config.id)
            .map(|p| (p.clone(), Outbound::default()))
            .collect();
        Replica {
            strategy: config.strategy.build(),
            config,
            keys: BTreeMap::new(),
            log: Log::default(),
            applied: AppliedDots::default(),
            write_counter: 0,
            last_ts: 0,
            durable: 0,
            inbound: Inbound::default(),
            outbound,
            clock_offset_ns: 0,
            key_seq: HashMap::new(),
        }
    }

    /// Rebuild a replica from its log's records, in log order.
    ///
    /// Every recovered entry is durable (it was read back from disk). The
    /// peers' cursors into our log are not recorded, so each peer is probed
    /// before anything is sent to it.
    pub fn recover(config: Config, records: impl IntoIterator<Item = Record>) -> Self {
        let mut r = Replica::new(config);
        for record in records {
            match record {
                Record::Entry { seq, change } => {
                    // The shell appends records in order; an entry that does
                    // not extend the log (duplicate or hole) would misalign
                    // every position after it, so it is skipped.
                    if seq != r.log.end() + 1 {
                        continue;
                    }
                    if change.dot.node == r.config.id {
                        r.write_counter = r.write_counter.max(change.dot.seq);
                        r.last_ts = r.last_ts.max(change.ts);
                    }
                    if r.applied.insert(&change.dot) {
                        r.apply_to_key(&change);
                    }
                    r.log.append(change);
                }
                Record::Cursor { peer, upto } => r.inbound.restore(&peer, upto),
            }
        }
        r.durable = r.log.end();
        r
    }

    pub fn id(&self) -> &NodeId {
        &self.config.id
    }

    /// Whether everything a read of `key` would return is durable: a read
    /// need not wait for the log unless it would show a change that a crash
    /// could still lose.
    pub fn read_is_durable(&self, key: &str) -> bool {
        self.key_seq.get(key).is_none_or(|&seq| seq <= self.durable)
    }

    /// Shift the clock the strategy uses by `offset_ns` (0 resets it).
    /// Timestamps still strictly increase: a clock moved back makes this
    /// node's new writes carry old-looking timestamps only as far as that
    /// allows, as a real node with a stepped-back clock would.
    pub fn set_clock_offset_ns(&mut self, offset_ns: i64) {
        self.clock_offset_ns = offset_ns;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feed one input at time `now`.
    pub fn step(&mut self, now: Nanos, input: Input) -> Output {
        match input {
            Input::Read { key } => Output {
                reply: Some(self.read(&key)),
                ..Output::default()
            },
            Input::Write {
                key,
                value,
                context,
            } => self.write(now, key, value, context),
            Input::Receive(batch) => self.receive(batch),
            Input::Delivered {
                peer,
                after,
                upto,
                result,
            } => {
                if let Some(out) = self.outbound.get_mut(&peer) {
                    match result {
                        Ok(acked) => out.on_ok(after, upto, acked, self.durable),
                        Err(_) => out.on_err(
                            after,
                            upto,
                            now,
                            self.config.retry_base_ns,
                            self.config.retry_max_ns,
                        ),
                    }
                }
                self.pump(now)
            }
            Input::Persisted { upto } => {
                self.durable = self.durable.max(upto.min(self.log.end()));
                self.pump(now)
            }
            Input::Tick => self.pump(now),
        }
    }

    pub fn status(&self) -> Status {
        Status {
            node: self.config.id.clone(),
            log_end: self.log.end(),
            durable: self.durable,
            keys: self.keys.len(),
            clock_offset_ms: self.clock_offset_ns / 1_000_000,
            // In configuration order, which is how operators list them.
            peers: self
                .config
                .peers
                .iter()
                .filter_map(|peer| self.outbound.get(peer).map(|out| (peer, out)))
                .map(|(peer, out)| PeerStatus {
                    peer: peer.clone(),
                    acked: out.acked,
                    backlog: self.durable.saturating_sub(out.acked),
                    inflight: out.inflight(),
                    failures: out.failures,
                    received: self.inbound.cursor(peer),
                    out_of_order: self.inbound.out_of_order(peer),
                })
                .collect(),
        }
    }

    /// Every key this replica holds, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// What this replica holds for `key`.
    pub fn key_state(&self, key: &str) -> Option<&KeyState> {
        self.keys.get(key)
    }

    /// Our contiguous cursor into each sender's log (including senders that
    /// are not in `peers`, e.g. the upstream neighbour in a ring).
    pub fn received(&self) -> BTreeMap<NodeId, LogSeq> {
        self.inbound.cursors()
    }

    /// The replication log, position `i + 1` at index `i`.
    pub fn log(&self) -> &[Change] {
        self.log.entries()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            keys: self.keys.clone(),
            log: self.log.entries().to_vec(),
            received: self.inbound.cursors(),
            write_counter: self.write_counter,
            last_ts: self.last_ts,
        }
    }

    fn read(&self, key: &str) -> Reply {
        match self.keys.get(key) {
            Some(state) => Reply::Read {
                values: state.versions.iter().map(|v| v.value.clone()).collect(),
                context: Context(state.vv.clone()),
            },
            None => Reply::Read {
                values: Vec::new(),
                context: Context::default(),
            },
        }
    }

    fn write(
        &mut self,
        now: Nanos,
        key: String,
        value: serde_json::Value,
        context: Option<Context>,
    ) -> Output {
        let current = self
            .keys
            .get(&key)
            .map(|s| s.vv.clone())
            .unwrap_or_default();
        if let Some(ctx) = context
            && self.strategy.refuses_stale_writes()
            && !current.le(&ctx.0)
        {
            // The client did not see a write this node holds: refuse rather
            // than silently overwrite it. Nothing changes, nothing persists.
            return Output {
                reply: Some(Reply::Conflict {
                    context: Context(current),
                }),
                ..Output::default()
            };
        }
        self.write_counter += 1;
        let strategy_now = (i128::from(now) + i128::from(self.clock_offset_ns))
            .clamp(0, i128::from(u64::MAX)) as Nanos;
        self.last_ts = strategy_now.max(self.last_ts + 1);
        let dot = Dot {
            node: self.config.id.clone(),
            seq: self.write_counter,
        };
        let mut vv = current;
        vv.add(&dot);
        let change = Change {
            key,
            value,
            dot: dot.clone(),
            ts: self.last_ts,
            vv,
            path: vec![self.config.id.clone()],
        };
        let key = change.key.clone();
        let record = self.accept(change);
        let context = Context(self.keys[&key].vv.clone());
        Output {
            reply: Some(Reply::Written { context, dot }),
            send: Vec::new(),
            persist: vec![record],
        }
    }

    fn receive(&mut self, batch: Batch) -> Output {
        let mut persist = Vec::new();
        for mut change in batch.changes {
            if change.path.contains(&self.config.id) || self.applied.contains(&change.dot) {
                continue;
            }
            change.path.push(self.config.id.clone());
            persist.push(self.accept(change));
        }
        if self.inbound.accept(&batch.from, batch.after, batch.upto) {
            persist.push(Record::Cursor {
                peer: batch.from.clone(),
                upto: self.inbound.cursor(&batch.from),
            });
        }
        Output {
            reply: Some(Reply::Received {
                acked: self.inbound.cursor(&batch.from),
            }),
            send: Vec::new(),
            persist,
        }
    }

    /// Apply a new (not yet applied) change, append it to the log and return
    /// the record to persist.
    fn accept(&mut self, change: Change) -> Record {
        let fresh = self.applied.insert(&change.dot);
        debug_assert!(fresh, "accept of an applied dot {:?}", change.dot);
        self.apply_to_key(&change);
        let seq = self.log.append(change.clone());
        Record::Entry { seq, change }
    }

    fn apply_to_key(&mut self, change: &Change) {
        // The change is about to be appended at the next log position.
        self.key_seq.insert(change.key.clone(), self.log.end() + 1);
        let state = self.keys.entry(change.key.clone()).or_default();
        self.strategy.apply(state, change);
        // Winners and losers alike: the vv says what this node has seen.
        state.vv.join(&change.vv);
    }

    /// Whether `peer` should receive the log entry `change`.
    fn ships_to(&self, change: &Change, peer: &NodeId) -> bool {
        if self.config.forward_remote {
            !change.path.contains(peer)
        } else {
            change.dot.node == self.config.id
        }
    }

    /// The batch for `peer` starting after `after`: at most `batch_max`
    /// changes from durable entries. Skipped entries are covered by `upto`
    /// too, so the peer's cursor can reach our log end.
    fn batch_for(&self, peer: &NodeId, after: LogSeq) -> Batch {
        let max = self.config.batch_max.max(1);
        let mut changes = Vec::new();
        let mut upto = after;
        for (seq, change) in self.log.range(after, self.durable) {
            upto = seq;
            if self.ships_to(change, peer) {
                changes.push(change.clone());
                if changes.len() >= max {
                    break;
                }
            }
        }
        Batch {
            from: self.config.id.clone(),
            after,
            upto,
            changes,
        }
    }

    /// Everything the senders may send now.
    fn pump(&mut self, now: Nanos) -> Output {
        let mut send = Vec::new();
        let peers: Vec<NodeId> = self.outbound.keys().cloned().collect();
        for peer in peers {
            while let Some(next) =
                self.outbound[&peer].want_send(now, self.durable, self.config.window)
            {
                let batch = match next {
                    NextSend::Probe => {
                        self.outbound.get_mut(&peer).expect("peer").sent_probe();
                        Batch::probe(self.config.id.clone())
                    }
                    NextSend::Range { after } => {
                        let batch = self.batch_for(&peer, after);
                        self.outbound
                            .get_mut(&peer)
                            .expect("peer")
                            .sent(batch.after, batch.upto);
                        batch
                    }
                };
                send.push(Outgoing {
                    peer: peer.clone(),
                    batch,
                });
            }
        }
        Output {
            reply: None,
            send,
            persist: Vec::new(),
        }
    }
}
