//! The replica state machine: client reads and writes, applying local and
//! remote changes through the strategy. What it sends each peer (cursors,
//! batching, retry backoff, entries loaded back from disk) is
//! [`sending`]; rebuilding it from a checkpoint and the log's records, and
//! trimming the in-memory log, is [`recovery`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::delivery::{Buffer, Conditions};
use crate::dots::AppliedDots;
use crate::inbound::Inbound;
use crate::log::{Entry, Log};
use crate::outbound::{NextSend, Outbound, Pipelining};
use crate::strategy::{Crdt, KeyState, Strategy, StrategyKind, StrategyOptions};
use crate::types::*;
use crate::version::{Context, VersionVector};

mod recovery;
mod sending;

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Peers this node sends its replication stream to.
    pub peers: Vec<NodeId>,
    pub strategy: StrategyKind,
    /// The strategy's options (priority order, on-write handler).
    pub strategy_options: StrategyOptions,
    /// Apply a received change only once everything it causally depends on
    /// has been applied (`--causal-delivery on`).
    pub causal_delivery: bool,
    /// Single-leader topology: the node that accepts client writes. Any
    /// other node refuses them.
    pub leader: Option<NodeId>,
    /// A change buffered longer than this is reported as stuck.
    pub stuck_after_ns: Nanos,
    /// Whether changes received from peers are forwarded to other peers
    /// (ring, star and tree relays do; all-to-all does not).
    pub forward_remote: bool,
    /// Read-only followers among `peers`: each is sent every change this
    /// node applies (its own and the ones it received), in the order
    /// applied, whatever `forward_remote` says for the other peers.
    pub followers: Vec<NodeId>,
    /// Most changes in one batch.
    pub batch_max: usize,
    /// A batch stops growing before a change would take its encoded size
    /// past this (a single larger change still goes, alone), so receivers
    /// can bound the bodies they accept.
    pub batch_bytes_max: usize,
    /// Most batches in flight per peer.
    pub window: usize,
    /// A batch shorter than `batch_max` joins others in flight only after
    /// the newest has been in flight this long (see [`Pipelining`]).
    pub linger_ns: Nanos,
    /// First retry delay after a failed send; doubles up to `retry_max_ns`.
    pub retry_base_ns: Nanos,
    pub retry_max_ns: Nanos,
    /// Most log entries kept in memory; older ones are read back from the
    /// durable log when a peer needs them ([`LoadRange`]).
    pub log_window_max: usize,
    /// Also drop from memory every entry all peers have acknowledged.
    pub drop_acked: bool,
}

impl Config {
    pub fn new(id: impl Into<NodeId>, peers: Vec<NodeId>, strategy: StrategyKind) -> Self {
        Config {
            id: id.into(),
            peers,
            strategy,
            strategy_options: StrategyOptions::default(),
            causal_delivery: false,
            leader: None,
            stuck_after_ns: 10_000_000_000,
            forward_remote: false,
            followers: Vec::new(),
            batch_max: 512,
            batch_bytes_max: 8 * 1024 * 1024,
            window: 4,
            linger_ns: 5_000_000,
            retry_base_ns: 20_000_000,
            retry_max_ns: 1_000_000_000,
            log_window_max: usize::MAX,
            drop_acked: false,
        }
    }
}

/// A snapshot for the admin status endpoint and quiescence detection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub node: NodeId,
    /// Last log position written.
    pub log_end: LogSeq,
    /// Log entries held in memory (the newest ones).
    pub log_in_memory: usize,
    /// Last log position durable (shippable).
    pub durable: LogSeq,
    pub keys: usize,
    /// The shift applied to the clock the strategy uses (clock faults).
    pub clock_offset_ms: i64,
    pub peers: Vec<PeerStatus>,
    /// Received changes waiting for a change they depend on.
    pub buffered: usize,
    /// Buffered changes waiting longer than the stuck bound.
    pub stuck: usize,
    /// Changes applied before one they causally depend on (an update
    /// overtaking its insert; only without causal delivery), since start.
    pub applied_before_deps: u64,
    /// Received updates of a key this node held no version of, skipped (see
    /// [`Record::Skipped`]); counted over the whole log, restarts included.
    pub skipped_updates: u64,
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
    pub log: Vec<Arc<Change>>,
    /// sender -> our contiguous cursor into its log.
    pub received: BTreeMap<NodeId, LogSeq>,
    /// Last dot seq this node issued.
    pub write_counter: u64,
    /// Last timestamp this node issued.
    pub last_ts: Nanos,
}

/// A client write: a value, or an increment of a counter.
enum WriteOp {
    Value(serde_json::Value),
    Increment(i64),
}

/// The replica. See the module docs.
#[derive(Debug)]
pub struct Replica {
    config: Config,
    strategy: Box<dyn Strategy>,
    keys: BTreeMap<String, KeyState>,
    /// The newest applied changes in apply order (see [`Log`]).
    log: Log,
    /// key -> the largest integer this node itself wrote to it (`/ids`
    /// never goes back, even once those writes left the in-memory log).
    own_max: HashMap<String, u64>,
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
    /// Received changes waiting for their dependencies.
    buffer: Buffer,
    /// See [`Status::applied_before_deps`].
    applied_before_deps: u64,
    /// See [`Status::skipped_updates`].
    skipped_updates: u64,
    /// The latest `now` seen (for the stuck bound in `status`).
    last_now: Nanos,
}

impl Clone for Replica {
    fn clone(&self) -> Self {
        Replica {
            config: self.config.clone(),
            strategy: self
                .config
                .strategy
                .build_with(&self.config.strategy_options),
            keys: self.keys.clone(),
            log: self.log.clone(),
            own_max: self.own_max.clone(),
            applied: self.applied.clone(),
            write_counter: self.write_counter,
            last_ts: self.last_ts,
            durable: self.durable,
            inbound: self.inbound.clone(),
            outbound: self.outbound.clone(),
            clock_offset_ns: self.clock_offset_ns,
            key_seq: self.key_seq.clone(),
            buffer: self.buffer.clone(),
            applied_before_deps: self.applied_before_deps,
            skipped_updates: self.skipped_updates,
            last_now: self.last_now,
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
            strategy: config.strategy.build_with(&config.strategy_options),
            config,
            keys: BTreeMap::new(),
            log: Log::default(),
            own_max: HashMap::new(),
            applied: AppliedDots::default(),
            write_counter: 0,
            last_ts: 0,
            durable: 0,
            inbound: Inbound::default(),
            outbound,
            clock_offset_ns: 0,
            key_seq: HashMap::new(),
            buffer: Buffer::default(),
            applied_before_deps: 0,
            skipped_updates: 0,
            last_now: 0,
        }
    }

    pub fn id(&self) -> &NodeId {
        &self.config.id
    }

    /// The log position a read of `key` depends on: the last change applied
    /// to the key (0 if none). A read need not wait for the log unless it
    /// would show a change that a crash could still lose, i.e. unless this
    /// position is not durable yet.
    pub fn read_depends_on(&self, key: &str) -> LogSeq {
        self.key_seq.get(key).copied().unwrap_or(0)
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
        self.last_now = self.last_now.max(now);
        self.buffer.stamp(now);
        match input {
            Input::Read { key } => Output {
                reply: Some(self.read(&key)),
                ..Output::default()
            },
            Input::Write {
                key,
                value,
                context,
                entropy,
            } => self.write(now, key, WriteOp::Value(value), context, entropy),
            Input::Increment { key, delta } => {
                self.write(now, key, WriteOp::Increment(delta), None, 0)
            }
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
            Input::Tick => {
                let persist = self.drain_buffer();
                let mut out = self.pump(now);
                out.persist = persist;
                out
            }
            Input::Loaded {
                peer,
                after,
                result,
            } => self.loaded(now, peer, after, result),
        }
    }

    pub fn status(&self) -> Status {
        Status {
            node: self.config.id.clone(),
            log_end: self.log.end(),
            log_in_memory: self.log.len(),
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
            buffered: self.buffer.len(),
            stuck: self
                .buffer
                .stuck(self.last_now, self.config.stuck_after_ns)
                .len(),
            applied_before_deps: self.applied_before_deps,
            skipped_updates: self.skipped_updates,
        }
    }

    /// Buffered changes waiting longer than the stuck bound, with what they
    /// wait for (the shell logs them).
    pub fn stuck(&self) -> Vec<(Dot, VersionVector)> {
        self.buffer
            .stuck(self.last_now, self.config.stuck_after_ns)
            .into_iter()
            .map(|c| (c.dot.clone(), c.deps.clone()))
            .collect()
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

    /// The in-memory window of the replication log, oldest first: position
    /// `log_base() + i + 1` at index `i`.
    pub fn log(&self) -> Vec<Arc<Change>> {
        self.log.changes().cloned().collect()
    }

    /// Position of the last log entry.
    pub fn log_end(&self) -> LogSeq {
        self.log.end()
    }

    /// Log entries at or below this position are not held in memory.
    pub fn log_base(&self) -> LogSeq {
        self.log.base()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            keys: self.keys.clone(),
            log: self.log(),
            received: self.inbound.cursors(),
            write_counter: self.write_counter,
            last_ts: self.last_ts,
        }
    }

    fn read(&self, key: &str) -> Reply {
        match self.keys.get(key) {
            Some(state) => Reply::Read {
                values: self.strategy.read(state),
                context: Context(state.vv.clone(), text_version(state)),
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
        op: WriteOp,
        context: Option<Context>,
        entropy: u64,
    ) -> Output {
        let refused = |reason| Output {
            reply: Some(Reply::Refused(reason)),
            ..Output::default()
        };
        if let Some(leader) = &self.config.leader
            && *leader != self.config.id
        {
            return refused(Refusal::NotLeader {
                leader: leader.clone(),
            });
        }
        // Borrowed, not cloned: a key's state (siblings, vv) can be large
        // and a write needs only parts of it.
        let absent = KeyState::default();
        let state = self.keys.get(&key).unwrap_or(&absent);
        let sets_counter = matches!(op, WriteOp::Value(serde_json::Value::Number(_)))
            && self.strategy.kind() == StrategyKind::Crdt;
        if let Some(ctx) = &context
            && (self.strategy.refuses_stale_writes() || sets_counter)
            && !state.vv.le(&ctx.0)
        {
            // The client did not see a write this node holds: refuse rather
            // than silently overwrite it. Nothing changes, nothing persists.
            return Output {
                reply: Some(Reply::Conflict {
                    context: Context(state.vv.clone(), text_version(state)),
                }),
                ..Output::default()
            };
        }
        let dot = Dot {
            node: self.config.id.clone(),
            seq: self.write_counter + 1,
        };
        let (value, crdt) = match op {
            WriteOp::Value(value) => {
                let observed = context.as_ref().map_or(&state.vv, |c| &c.0);
                // A context without a text version (read before the key
                // existed) saw the empty document: "".
                let version = context.as_ref().map(|c| c.1.as_deref().unwrap_or(""));
                match self
                    .strategy
                    .local_crdt(state, &value, observed, version, &dot)
                {
                    Ok(crdt) => (value, crdt),
                    Err(e) => return refused(Refusal::BadValue(e)),
                }
            }
            WriteOp::Increment(delta) => {
                if self.strategy.kind() != StrategyKind::Crdt {
                    return refused(Refusal::BadValue(format!(
                        "increments need --strategy crdt (this node runs {})",
                        self.strategy.kind().name()
                    )));
                }
                if let Some(Crdt::OrSet { .. }) = &state.crdt {
                    return refused(Refusal::BadValue(
                        "the key holds a set (array), not a counter".into(),
                    ));
                }
                let crdt = Crdt::increment(state.crdt.as_ref(), &dot.node, i128::from(delta));
                (serde_json::json!({ "increment": delta }), Some(crdt))
            }
        };
        // The write's causal past: what the client read (strategies keeping
        // siblings), else everything this node holds for the key.
        let vv = match context {
            Some(ctx) if self.strategy.writes_with_client_context() => ctx.0,
            _ => state.vv.clone(),
        };
        self.write_counter += 1;
        let strategy_now = (i128::from(now) + i128::from(self.clock_offset_ns))
            .clamp(0, i128::from(u64::MAX)) as Nanos;
        self.last_ts = strategy_now.max(self.last_ts + 1);
        let change = Change {
            key,
            value,
            dot: dot.clone(),
            ts: self.last_ts,
            vv,
            path: vec![self.config.id.clone()],
            uid: entropy,
            deps: self.applied.frontier(),
            crdt,
        };
        let key = change.key.clone();
        let record = self.accept(change);
        let state = &self.keys[&key];
        let context = Context(state.vv.clone(), text_version(state));
        Output {
            reply: Some(Reply::Written { context, dot }),
            send: Vec::new(),
            persist: vec![record],
            load: Vec::new(),
        }
    }

    /// The conditions a received change must meet before it is applied.
    fn conditions(&self) -> Conditions {
        Conditions {
            origin_order: true,
            causal: self.config.causal_delivery,
        }
    }

    /// Apply every buffered change that has become deliverable.
    fn drain_buffer(&mut self) -> Vec<Record> {
        let when = self.conditions();
        let mut persist = Vec::new();
        while let Some(change) = self.buffer.take_deliverable(when, &self.applied) {
            persist.push(self.accept(change));
        }
        persist
    }

    fn receive(&mut self, batch: Batch) -> Output {
        let mut persist = Vec::new();
        for change in batch.changes {
            // Freshly received: the only reference, so no copy is made.
            let mut change = Arc::unwrap_or_clone(change);
            if change.path.contains(&self.config.id)
                || self.applied.contains(&change.dot)
                || self.buffer.contains(&change.dot)
            {
                continue;
            }
            change.path.push(self.config.id.clone());
            if self.conditions().deliverable(&change, &self.applied) {
                persist.push(self.accept(change));
                persist.extend(self.drain_buffer());
            } else if !self.buffer.contains(&change.dot) {
                persist.push(Record::Buffered {
                    change: change.clone(),
                });
                self.buffer.hold(change, Some(self.last_now));
            }
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
            load: Vec::new(),
        }
    }

    /// Apply a new (not yet applied) change, append it to the log and return
    /// the record to persist.
    fn accept(&mut self, change: Change) -> Record {
        let fresh = self.applied.insert(&change.dot);
        debug_assert!(fresh, "accept of an applied dot {:?}", change.dot);
        let skipped = self.skips(&change);
        if skipped {
            self.skipped_updates += 1;
        } else {
            self.apply_to_key(&change);
        }
        if change.dot.node == self.config.id {
            self.note_own(&change);
        }
        let change = Arc::new(change);
        let seq = self.log.append(change.clone());
        match skipped {
            true => Record::Skipped { seq, change },
            false => Record::Entry { seq, change },
        }
    }

    /// Whether a received change is an update to skip: the origin held a
    /// version of the key when it wrote (its context is not empty), this
    /// node holds none (the insert has not arrived), causal delivery is off
    /// and the strategy models a row store. PostgreSQL's logical
    /// replication does the same with an UPDATE of a row that does not
    /// exist: it applies nothing and moves on, so the update is lost here.
    fn skips(&self, change: &Change) -> bool {
        !self.config.causal_delivery
            && self.strategy.skips_orphan_updates()
            && change.dot.node != self.config.id
            && !change.vv.is_empty()
            && !self.keys.contains_key(&change.key)
    }

    fn apply_to_key(&mut self, change: &Change) {
        // The change is about to be appended at the next log position.
        // (Look up before inserting: the key is cloned only when it is new.)
        let next = self.log.end() + 1;
        match self.key_seq.get_mut(&change.key) {
            Some(seq) => *seq = next,
            None => {
                self.key_seq.insert(change.key.clone(), next);
            }
        }
        if change.dot.node != self.config.id && !Conditions::deps_met(change, &self.applied) {
            // Only possible without causal delivery: the change overtook
            // one it depends on, and is applied anyway.
            self.applied_before_deps += 1;
        }
        if !self.keys.contains_key(&change.key) {
            self.keys.insert(change.key.clone(), Default::default());
        }
        let state = self.keys.get_mut(&change.key).expect("inserted above");
        self.strategy.apply(state, change);
        // Winners and losers alike: the vv says what this node has seen.
        state.vv.join(&change.vv);
        state.vv.add(&change.dot);
    }
}

/// A text document's library version, for the context a client gets.
fn text_version(state: &KeyState) -> Option<String> {
    state
        .text
        .as_ref()
        .map(crate::strategy::text::TextDoc::version)
}
