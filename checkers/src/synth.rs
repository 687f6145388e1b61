//! Synthetic histories: realistic, valid by construction, deterministic from
//! a seed, optionally with planted anomalies. For benchmarks, property tests
//! and (later) a CLI command.
//!
//! # The simulation
//! `processes` clients talk to `nodes` replicas. Each step one random process
//! either invokes an op (on a random node) or completes its open one, so ops
//! overlap like in a real run. An op's outcome is drawn at invoke: `ok`
//! (most), `fail` (the write never applies) or `info` (applies or not, by a
//! coin; the process is then retired and replaced, Jepsen-style). A write
//! takes effect on its node at invoke and reaches every other node after a
//! random delay; reads return the node's state at completion. Replicas
//! resolve conflicts so that they converge: last-write-wins by effect time
//! (register), union (set), sum (counter), ordered by effect time
//! (list-append). After the last op everything is delivered (quiescence) and
//! every key is read on every node (`final-read`).
//!
//! Keys: `register` and `counter` use `keys` fixed keys. `set` and
//! `list-append` keep `keys` keys live and retire a key after
//! [`MAX_WRITES_PER_KEY`] writes (like Elle's generators), so reads stay
//! bounded and the history's size linear in `ops`.
//!
//! # Planting
//! [`SynthSpec::plant`] names anomaly kinds to add after generation, each in
//! the smallest way that produces that kind and no other (see [`plant`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write as _};

use serde_json::{Value, json};

use crate::anomaly::AnomalyKind;
use crate::history::{Op, OpType, Process};
use crate::workload::Workload;

/// Writes to one key before `set` and `list-append` retire it.
pub const MAX_WRITES_PER_KEY: usize = 100;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    pub workload: Workload,
    /// Invoke and completion lines before the final reads (approximately:
    /// a few planted ops may be added).
    pub ops: usize,
    pub processes: usize,
    pub keys: usize,
    pub nodes: usize,
    pub seed: u64,
    pub plant: Vec<AnomalyKind>,
    /// `causal`: replicas apply writes in causal order (default). When
    /// false, every replicated write gets an independent delay, so a
    /// dependent write can overtake its cause (all-to-all without causal
    /// delivery): the history then shows causal anomalies.
    pub causal_delivery: bool,
    /// `unique-ids`: nodes hand out ids with per-node offsets (default).
    /// When false, every node counts from 1 and ids collide.
    pub id_offsets: bool,
}

impl SynthSpec {
    /// 10 processes, 1,000 keys, 3 nodes, nothing planted.
    pub fn new(workload: Workload, ops: usize, seed: u64) -> Self {
        SynthSpec {
            workload,
            ops,
            processes: 10,
            keys: 1000,
            nodes: 3,
            seed,
            plant: Vec::new(),
            causal_delivery: true,
            id_offsets: true,
        }
    }
}

/// SplitMix64: tiny, fast, good enough for workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Generates a history (see the module docs).
pub fn synth_history(spec: &SynthSpec) -> Vec<Op> {
    // Insert-update histories are register writes: synthesize those.
    let register;
    let spec = if spec.workload == Workload::InsertUpdate {
        register = SynthSpec {
            workload: Workload::Register,
            ..spec.clone()
        };
        &register
    } else {
        spec
    };
    let mut sim = Sim::new(spec);
    sim.run();
    let mut history = sim.finish();
    for (i, &kind) in spec.plant.iter().enumerate() {
        plant(
            &mut history,
            spec.workload,
            kind,
            spec.seed ^ (i as u64 + 1),
        );
    }
    history
}

/// Writes a history as JSON Lines.
pub fn write_jsonl(history: &[Op], out: impl io::Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    for op in history {
        serde_json::to_writer(&mut out, op)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Generates a history straight into a JSONL file.
pub fn synth_file(spec: &SynthSpec, path: &std::path::Path) -> io::Result<()> {
    write_jsonl(&synth_history(spec), std::fs::File::create(path)?)
}

/// What a write does to a replica.
#[derive(Clone, Copy, Debug)]
struct Effect {
    key: usize,
    /// Effect time: a unique, increasing stamp (LWW and list order).
    stamp: u64,
    value: i64,
}

/// One replica's state for one key.
#[derive(Clone, Debug, Default)]
struct Replica {
    /// (stamp, value), the meaning per workload: the register's winner
    /// (one entry), the set's elements, the list in stamp order; the counter
    /// keeps its sum in `sum`.
    items: Vec<(u64, i64)>,
    sum: i64,
}

/// (deliver at step, node, stamp, key, value): ordered by time, then stamp.
type Delivery = (u64, usize, u64, usize, i64);

/// An op in flight.
#[derive(Clone, Debug)]
struct Open {
    f: &'static str,
    key: usize,
    node: usize,
    value: Value,
    outcome: OpType,
}

struct Sim<'s> {
    spec: &'s SynthSpec,
    rng: Rng,
    ops: Vec<Op>,
    /// replicas[node][key]
    replicas: Vec<Vec<Replica>>,
    /// (deliver at step, node, effect)
    pending: BinaryHeap<Reverse<Delivery>>,
    /// Process id and its open op, per client slot.
    slots: Vec<(u64, Option<Open>)>,
    next_process: u64,
    next_value: i64,
    step: u64,
    /// set / list-append: the live keys (ids) and their write counts.
    live: Vec<(usize, usize)>,
    key_count: usize,
    /// unique-ids: per node counter.
    id_counters: Vec<i64>,
    /// constraint: name -> claimant that holds it.
    claimed: BTreeMap<usize, i64>,
    /// causal: the latest delivery step scheduled per node.
    delivered_at: Vec<u64>,
    /// causal: chains started so far (chain j = keys 2j, then 2j+1).
    chains: usize,
    /// causal, per slot: the chain whose second write is next, and the
    /// chain whose first key is the next read.
    chain_state: Vec<(Option<usize>, Option<usize>)>,
}

impl<'s> Sim<'s> {
    fn new(spec: &'s SynthSpec) -> Self {
        let keys = spec.keys.max(1);
        let rotating = matches!(spec.workload, Workload::Set | Workload::ListAppend);
        Sim {
            spec,
            rng: Rng::new(spec.seed),
            ops: Vec::with_capacity(spec.ops + spec.keys * spec.nodes * 2),
            replicas: vec![Vec::new(); spec.nodes.max(1)],
            pending: BinaryHeap::new(),
            slots: (0..spec.processes.max(1) as u64)
                .map(|p| (p, None))
                .collect(),
            next_process: spec.processes.max(1) as u64,
            next_value: 1,
            step: 0,
            live: if rotating {
                (0..keys).map(|k| (k, 0)).collect()
            } else {
                Vec::new()
            },
            key_count: keys,
            id_counters: vec![0; spec.nodes.max(1)],
            claimed: BTreeMap::new(),
            delivered_at: vec![0; spec.nodes.max(1)],
            chains: 0,
            chain_state: vec![(None, None); spec.processes.max(1)],
        }
    }

    fn replica(&mut self, node: usize, key: usize) -> &mut Replica {
        let r = &mut self.replicas[node];
        if r.len() <= key {
            r.resize(key + 1, Replica::default());
        }
        &mut r[key]
    }

    fn emit(
        &mut self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<String>,
        value: Value,
        node: Option<usize>,
    ) {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: self.step * 1_000 + 17,
            process,
            kind,
            f: f.to_owned(),
            key,
            value,
            node: node.map(|n| format!("n{}", n + 1)),
            error: match kind {
                OpType::Fail => Some("refused".to_owned()),
                OpType::Info => Some("timeout".to_owned()),
                _ => None,
            },
        });
    }

    fn key_name(&self, key: usize) -> String {
        match self.spec.workload {
            Workload::Constraint => format!("name{key}"),
            _ => format!("k{key}"),
        }
    }

    fn run(&mut self) {
        while self.ops.len() < self.spec.ops {
            self.step += 1;
            self.deliver(self.step);
            if self.rng.below(2000) == 0 {
                let f = if self.rng.chance(50) {
                    "partition"
                } else {
                    "heal"
                };
                self.emit(Process::Nemesis, OpType::Info, f, None, Value::Null, None);
                continue;
            }
            let slot = self.rng.below(self.slots.len());
            match self.slots[slot].1.take() {
                None => self.invoke(slot),
                Some(open) => self.complete(slot, open),
            }
        }
    }

    fn deliver(&mut self, until: u64) {
        while let Some(&Reverse((at, node, stamp, key, value))) = self.pending.peek() {
            if at > until {
                break;
            }
            self.pending.pop();
            self.apply(node, Effect { key, stamp, value });
        }
    }

    /// Applies a write to one replica, converging per workload.
    fn apply(&mut self, node: usize, e: Effect) {
        let workload = self.spec.workload;
        let r = self.replica(node, e.key);
        match workload {
            Workload::Counter => r.sum += e.value,
            Workload::Register | Workload::Causal => {
                if r.items.first().is_none_or(|&(s, _)| s < e.stamp) {
                    r.items = vec![(e.stamp, e.value)];
                }
            }
            _ => {
                let at = r.items.partition_point(|&(s, _)| s < e.stamp);
                r.items.insert(at, (e.stamp, e.value));
            }
        }
    }

    /// A write takes effect on `node` now and everywhere else later.
    fn effect(&mut self, node: usize, key: usize, value: i64) {
        let e = Effect {
            key,
            stamp: self.step,
            value,
        };
        self.apply(node, e);
        for other in 0..self.replicas.len() {
            if other != node {
                let mut at = self.step + 1 + self.rng.below(40) as u64;
                if self.spec.workload == Workload::Causal && self.spec.causal_delivery {
                    // Causal delivery: each node applies in stamp order.
                    at = at.max(self.delivered_at[other]);
                    self.delivered_at[other] = at;
                }
                self.pending.push(Reverse((at, other, e.stamp, key, value)));
            }
        }
    }

    fn pick_key(&mut self) -> usize {
        if self.live.is_empty() {
            return self.rng.below(self.key_count);
        }
        let i = self.rng.below(self.live.len());
        self.live[i].0
    }

    fn invoke(&mut self, slot: usize) {
        // Causal sessions stick to one node (session guarantees hold).
        let node = if self.spec.workload == Workload::Causal {
            slot % self.replicas.len()
        } else {
            self.rng.below(self.replicas.len())
        };
        let is_write = self.spec.workload == Workload::Constraint || self.rng.chance(50);
        let outcome = match self.rng.below(100) {
            0..=2 => OpType::Fail,
            3..=5 => OpType::Info,
            _ => OpType::Ok,
        };
        let (f, key, value) = match (self.spec.workload, is_write) {
            (Workload::Causal, _) => self.causal_op(slot, is_write),
            (Workload::UniqueIds, _) => ("generate", usize::MAX, Value::Null),
            (Workload::Constraint, _) => {
                let claimant = self.fresh();
                ("claim", self.rng.below(self.key_count), json!(claimant))
            }
            (_, false) => ("read", self.pick_key(), Value::Null),
            (Workload::Counter, true) => {
                let amount = self.rng.below(10) as i64 - 3;
                ("add", self.rng.below(self.key_count), json!(amount))
            }
            (workload, true) => {
                let f = match workload {
                    Workload::Set => "add",
                    Workload::ListAppend => "append",
                    _ => "write",
                };
                let key = self.pick_key();
                let value = self.fresh();
                if let Some(live) = self.live.iter_mut().find(|(k, _)| *k == key) {
                    live.1 += 1;
                    if live.1 >= MAX_WRITES_PER_KEY {
                        *live = (self.key_count, 0);
                        self.key_count += 1;
                    }
                }
                (f, key, json!(value))
            }
        };
        let process = Process::Client(self.slots[slot].0);
        let key_name = (key != usize::MAX).then(|| self.key_name(key));
        self.emit(
            process,
            OpType::Invoke,
            f,
            key_name,
            value.clone(),
            Some(node),
        );
        let mut outcome = outcome;
        match f {
            "add" | "write" | "append" => {
                let v = value.as_i64().unwrap_or(0);
                let applies =
                    outcome == OpType::Ok || (outcome == OpType::Info && self.rng.chance(50));
                if applies {
                    self.effect(node, key, v);
                }
            }
            "claim" => {
                // One authority decides (a single leader's view): valid.
                let claimant = value.as_i64().unwrap_or(0);
                if outcome != OpType::Info {
                    outcome = if self.claimed.contains_key(&key) {
                        OpType::Fail
                    } else {
                        OpType::Ok
                    };
                }
                if outcome == OpType::Ok
                    || (outcome == OpType::Info
                        && !self.claimed.contains_key(&key)
                        && self.rng.chance(50))
                {
                    self.claimed.insert(key, claimant);
                }
            }
            _ => {}
        }
        self.slots[slot].1 = Some(Open {
            f,
            key,
            node,
            value,
            outcome,
        });
    }

    /// Causal chains: a process writes x (key 2j) then y (key 2j+1); readers
    /// read a recent chain's y, then its x.
    fn causal_op(&mut self, slot: usize, is_write: bool) -> (&'static str, usize, Value) {
        let (writing, reading) = self.chain_state[slot];
        let key = if is_write {
            match writing {
                Some(j) => {
                    self.chain_state[slot].0 = None;
                    2 * j + 1
                }
                None => {
                    let j = self.chains;
                    self.chains += 1;
                    self.key_count = self.key_count.max(2 * self.chains);
                    self.chain_state[slot].0 = Some(j);
                    2 * j
                }
            }
        } else {
            match reading {
                Some(j) => {
                    self.chain_state[slot].1 = None;
                    2 * j
                }
                None if self.chains == 0 => 0,
                None => {
                    let recent = self.chains.min(10);
                    let j = self.chains - 1 - self.rng.below(recent);
                    self.chain_state[slot].1 = Some(j);
                    2 * j + 1
                }
            }
        };
        if is_write {
            ("write", key, json!(self.fresh()))
        } else {
            ("read", key, Value::Null)
        }
    }

    fn fresh(&mut self) -> i64 {
        self.next_value += 1;
        self.next_value
    }

    fn complete(&mut self, slot: usize, open: Open) {
        let process = Process::Client(self.slots[slot].0);
        let key_name = (open.key != usize::MAX).then(|| self.key_name(open.key));
        let value = match (open.f, open.outcome) {
            ("read", OpType::Ok) => self.read(open.node, open.key),
            ("read", _) => Value::Null,
            ("generate", OpType::Ok) => {
                let n = self.replicas.len() as i64;
                self.id_counters[open.node] += 1;
                let id = self.id_counters[open.node];
                if self.spec.id_offsets {
                    json!(id * n + open.node as i64)
                } else {
                    json!(id)
                }
            }
            ("generate", _) => Value::Null,
            _ => open.value,
        };
        self.emit(
            process,
            open.outcome,
            open.f,
            key_name,
            value,
            Some(open.node),
        );
        if open.outcome == OpType::Info {
            self.slots[slot].0 = self.next_process;
            self.next_process += 1;
        }
    }

    fn read(&mut self, node: usize, key: usize) -> Value {
        let workload = self.spec.workload;
        if workload == Workload::Constraint {
            return Value::Null;
        }
        let r = self.replica(node, key);
        match workload {
            Workload::Counter => json!(r.sum),
            _ => Value::Array(r.items.iter().map(|&(_, v)| json!(v)).collect()),
        }
    }

    /// Quiescence, then every key on every node.
    fn finish(mut self) -> Vec<Op> {
        self.step += 1;
        self.emit(
            Process::Nemesis,
            OpType::Info,
            "heal",
            None,
            Value::Null,
            None,
        );
        self.deliver(u64::MAX);
        let final_process = Process::Client(self.next_process);
        let keys: Vec<usize> = match self.spec.workload {
            Workload::UniqueIds => Vec::new(),
            Workload::Constraint => self.claimed.keys().copied().collect(),
            _ => (0..self.key_count).collect(),
        };
        for key in keys {
            for node in 0..self.replicas.len() {
                self.step += 1;
                let name = self.key_name(key);
                self.emit(
                    final_process,
                    OpType::Invoke,
                    "final-read",
                    Some(name.clone()),
                    Value::Null,
                    Some(node),
                );
                let value = match self.spec.workload {
                    Workload::Constraint => json!([self.claimed[&key]]),
                    _ => self.read(node, key),
                };
                self.emit(
                    final_process,
                    OpType::Ok,
                    "final-read",
                    Some(name),
                    value,
                    Some(node),
                );
            }
        }
        self.ops
    }
}

/// Plants one anomaly of `kind` (see the module docs); a no-op for kinds
/// this workload cannot show. Renumbers indices afterwards.
pub fn plant(history: &mut Vec<Op>, workload: Workload, kind: AnomalyKind, seed: u64) {
    crate::plant::plant(history, workload, kind, seed);
    for (i, op) in history.iter_mut().enumerate() {
        op.index = i as u64;
    }
}
