//! Planting one anomaly into a valid synthetic history ([`crate::synth`]).
//!
//! Each planter changes as little as possible so that the checker must find
//! exactly that kind: it edits final reads or one read, or inserts a few ops
//! (on fresh process ids) just before the final reads. Indices are
//! renumbered by the caller.

use serde_json::{Value, json};

use crate::anomaly::AnomalyKind;
use crate::history::{Op, OpType, Process};
use crate::synth::Rng;
use crate::workload::Workload;

pub fn plant(history: &mut Vec<Op>, workload: Workload, kind: AnomalyKind, seed: u64) {
    let mut p = Planter {
        history,
        rng: Rng::new(seed),
        workload,
    };
    match kind {
        AnomalyKind::LostUpdate => p.lost_update(),
        AnomalyKind::Divergence => p.divergence(),
        AnomalyKind::ImpossibleRead => p.impossible_read(),
        AnomalyKind::AbortedRead => p.aborted_read(),
        other => crate::plant_more::plant(&mut p, other),
    }
}

pub(crate) struct Planter<'h> {
    pub history: &'h mut Vec<Op>,
    pub rng: Rng,
    pub workload: Workload,
}

impl Planter<'_> {
    /// Position of the first final read (where planted ops go).
    pub fn final_start(&self) -> usize {
        self.history
            .iter()
            .position(|op| op.f == "final-read")
            .unwrap_or(self.history.len())
    }

    pub fn fresh_value(&self) -> i64 {
        let max = self
            .history
            .iter()
            .filter_map(|op| op.value.as_i64())
            .max()
            .unwrap_or(0);
        max.max(0) + 1_000_000
    }

    pub fn fresh_process(&self) -> u64 {
        self.history
            .iter()
            .filter_map(|op| match op.process {
                Process::Client(n) => Some(n),
                Process::Nemesis => None,
            })
            .max()
            .unwrap_or(0)
            + 1000
    }

    /// Inserts ops just before the final reads, timed like their neighbour.
    pub fn insert(&mut self, ops: Vec<Op>) {
        let at = self.final_start();
        let time = at.checked_sub(1).map_or(0, |i| self.history[i].time);
        let ops = ops.into_iter().map(|op| Op { time, ..op });
        self.history.splice(at..at, ops);
    }

    pub fn op(process: u64, kind: OpType, f: &str, key: &str, value: Value, node: &str) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(process),
            kind,
            f: f.to_owned(),
            key: Some(key.to_owned()),
            value,
            node: Some(node.to_owned()),
            error: None,
        }
    }

    /// Final reads of `key`, as positions.
    pub fn finals_of(&self, key: &str) -> Vec<usize> {
        (0..self.history.len())
            .filter(|&i| {
                let op = &self.history[i];
                op.f == "final-read" && op.kind == OpType::Ok && op.key.as_deref() == Some(key)
            })
            .collect()
    }

    /// A random `ok` completion with `f`, as a position.
    pub fn pick(&mut self, f: &str, filter: impl Fn(&Op) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.history.len())
            .filter(|&i| {
                let op = &self.history[i];
                op.f == f && op.kind == OpType::Ok && filter(op)
            })
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.below(candidates.len())])
    }

    fn write_f(&self) -> &'static str {
        match self.workload {
            Workload::Set | Workload::Counter => "add",
            Workload::ListAppend => "append",
            Workload::Constraint => "claim",
            _ => "write",
        }
    }

    fn edit_finals(&mut self, key: &str, edit: impl Fn(&mut Vec<Value>)) {
        for i in self.finals_of(key) {
            let mut items = self.history[i]
                .value
                .as_array()
                .cloned()
                .unwrap_or_default();
            edit(&mut items);
            self.history[i].value = Value::Array(items);
        }
    }

    fn lost_update(&mut self) {
        match self.workload {
            Workload::Set | Workload::ListAppend => {
                let f = self.write_f();
                let finals: Vec<Op> = self
                    .history
                    .iter()
                    .filter(|op| op.f == "final-read")
                    .cloned()
                    .collect();
                let held = |op: &Op| {
                    finals.iter().any(|r| {
                        r.key == op.key && r.value.as_array().is_some_and(|a| a.contains(&op.value))
                    })
                };
                let Some(i) = self.pick(f, held) else { return };
                let (key, value) = (
                    self.history[i].key.clone().unwrap(),
                    self.history[i].value.clone(),
                );
                self.edit_finals(&key, |items| items.retain(|v| *v != value));
            }
            Workload::Register => {
                // A write A that completed before the final winner W was
                // invoked; every node ends holding A.
                let finals: Vec<Op> = self
                    .history
                    .iter()
                    .filter(|op| op.f == "final-read")
                    .cloned()
                    .collect();
                let mut found = None;
                for r in &finals {
                    let key = r.key.clone();
                    // (invoke position, ok position, value) of ok writes.
                    let mut oks = Vec::new();
                    for (i, op) in self.history.iter().enumerate() {
                        if op.f == "write" && op.kind == OpType::Ok && op.key == key {
                            let inv = self.history[..i]
                                .iter()
                                .rposition(|o| o.process == op.process && o.kind == OpType::Invoke);
                            oks.push((inv.unwrap_or(i), i, op.value.clone()));
                        }
                    }
                    let Some(b) = oks.iter().max_by_key(|w| w.0) else {
                        continue;
                    };
                    let a = oks.iter().filter(|w| w.1 < b.0).max_by_key(|w| w.1);
                    if let Some(a) = a {
                        found = Some((key.unwrap(), a.2.clone()));
                        break;
                    }
                }
                let Some((key, a)) = found else { return };
                self.edit_finals(&key, |items| *items = vec![a.clone()]);
            }
            Workload::Counter => {
                let Some(i) = self.pick("final-read", |_| true) else {
                    return;
                };
                let key = self.history[i].key.clone().unwrap();
                let (lower, _) = self.counter_bounds(&key);
                for j in self.finals_of(&key) {
                    self.history[j].value = json!(lower - 1);
                }
            }
            _ => {}
        }
    }

    /// Bounds of a counter's final value from its adds.
    pub fn counter_bounds(&self, key: &str) -> (i64, i64) {
        let mut open: std::collections::HashMap<Process, i64> = Default::default();
        let (mut lower, mut upper) = (0, 0);
        for op in self
            .history
            .iter()
            .filter(|op| op.f == "add" && op.key.as_deref() == Some(key))
        {
            match op.kind {
                OpType::Invoke => {
                    if let Some(amount) = open.insert(op.process, op.value.as_i64().unwrap_or(0)) {
                        lower += amount.min(0);
                        upper += amount.max(0);
                    }
                }
                OpType::Ok => {
                    let amount = open.remove(&op.process).unwrap_or(0);
                    lower += amount;
                    upper += amount;
                }
                OpType::Fail => {
                    open.remove(&op.process);
                }
                OpType::Info => {
                    let amount = open.remove(&op.process).unwrap_or(0);
                    lower += amount.min(0);
                    upper += amount.max(0);
                }
            }
        }
        for amount in open.into_values() {
            lower += amount.min(0);
            upper += amount.max(0);
        }
        (lower, upper)
    }

    fn divergence(&mut self) {
        let Some(i) = self.pick("final-read", |_| true) else {
            return;
        };
        let key = self.history[i].key.clone().unwrap();
        let node = self.history[i].node.clone().unwrap();
        let process = self.fresh_process();
        if self.workload == Workload::Counter {
            // An add that never completed, applied on one node only.
            self.insert(vec![Self::op(
                process,
                OpType::Invoke,
                "add",
                &key,
                json!(1),
                &node,
            )]);
            let i = self
                .finals_of(&key)
                .into_iter()
                .find(|&i| self.history[i].node.as_deref() == Some(&node))
                .unwrap();
            let v = self.history[i].value.as_i64().unwrap_or(0);
            self.history[i].value = json!(v + 1);
            return;
        }
        if self.workload == Workload::Constraint {
            return;
        }
        // A write that never completed, held by one node only.
        let value = self.fresh_value();
        let f = self.write_f();
        self.insert(vec![Self::op(
            process,
            OpType::Invoke,
            f,
            &key,
            json!(value),
            &node,
        )]);
        let i = self
            .finals_of(&key)
            .into_iter()
            .find(|&i| self.history[i].node.as_deref() == Some(&node))
            .unwrap();
        let mut items = self.history[i]
            .value
            .as_array()
            .cloned()
            .unwrap_or_default();
        items.push(json!(value));
        self.history[i].value = Value::Array(items);
    }

    fn impossible_read(&mut self) {
        let Some(i) = self.pick("read", |op| op.value.is_array() || op.value.is_i64()) else {
            return;
        };
        let fresh = self.fresh_value();
        let op = &mut self.history[i];
        match &mut op.value {
            Value::Array(items) => items.push(json!(fresh)),
            // Counter: far beyond anything the adds allow.
            v => *v = json!(fresh * 1000),
        }
    }

    fn aborted_read(&mut self) {
        if matches!(
            self.workload,
            Workload::Counter | Workload::UniqueIds | Workload::Constraint
        ) {
            return;
        }
        let Some(i) = self.pick("final-read", |_| true) else {
            return;
        };
        let key = self.history[i].key.clone().unwrap();
        let node = self.history[i].node.clone().unwrap();
        let (p, value, f) = (self.fresh_process(), self.fresh_value(), self.write_f());
        let mut read_value = vec![json!(value)];
        if matches!(self.workload, Workload::ListAppend | Workload::Set) {
            // Keep the read a prefix of the final list plus the value (and
            // holding every acknowledged add: no stale read).
            read_value = self.history[i]
                .value
                .as_array()
                .cloned()
                .unwrap_or_default();
            read_value.push(json!(value));
        }
        self.insert(vec![
            Self::op(p, OpType::Invoke, f, &key, json!(value), &node),
            Self::op(p, OpType::Fail, f, &key, json!(value), &node),
            Self::op(p + 1, OpType::Invoke, "read", &key, Value::Null, &node),
            Self::op(
                p + 1,
                OpType::Ok,
                "read",
                &key,
                Value::Array(read_value),
                &node,
            ),
        ]);
    }
}
