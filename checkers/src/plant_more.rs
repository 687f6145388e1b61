//! Planters for the kinds of the newer workloads (see [`crate::plant`]).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::anomaly::AnomalyKind;
use crate::history::{Op, OpType};
use crate::plant::Planter;
use crate::workload::Workload;

pub(crate) fn plant(p: &mut Planter, kind: AnomalyKind) {
    match (kind, p.workload) {
        (AnomalyKind::OverCount, Workload::Counter) => over_count(p),
        (AnomalyKind::DuplicateElement, Workload::ListAppend) => duplicate_element(p),
        (AnomalyKind::ReorderedAppend, Workload::ListAppend) => reordered_append(p),
        (AnomalyKind::DuplicateId, Workload::UniqueIds) => duplicate_id(p),
        (AnomalyKind::ConstraintViolation, Workload::Constraint) => constraint_violation(p),
        (AnomalyKind::CausalViolation, Workload::Causal) => causal_violation(p),
        (AnomalyKind::SessionViolation, Workload::Causal) => read_your_writes(p),
        (AnomalyKind::CausalCycle, Workload::Causal) => causal_cycle(p),
        (
            AnomalyKind::StaleRead,
            Workload::Set | Workload::Register | Workload::ListAppend | Workload::Causal,
        ) => stale_read(p),
        _ => {}
    }
}

fn over_count(p: &mut Planter) {
    let Some(i) = p.pick("final-read", |_| true) else {
        return;
    };
    let key = p.history[i].key.clone().unwrap();
    let (_, upper) = p.counter_bounds(&key);
    for j in p.finals_of(&key) {
        p.history[j].value = json!(upper + 1);
    }
}

/// Rewrites every final list of one key (they are equal in a valid
/// synthetic history) with `edit`, if `edit` finds something to change.
fn edit_lists(p: &mut Planter, edit: impl Fn(&[Value]) -> Option<Vec<Value>>) {
    let Some(i) = p.pick("final-read", |op| {
        op.value.as_array().is_some_and(|a| edit(a).is_some())
    }) else {
        return;
    };
    let key = p.history[i].key.clone().unwrap();
    for j in p.finals_of(&key) {
        if let Some(new) = p.history[j].value.as_array().and_then(|a| edit(a)) {
            p.history[j].value = Value::Array(new);
        }
    }
}

fn duplicate_element(p: &mut Planter) {
    // A copy right after the original: no new order between appends.
    edit_lists(p, |list| {
        let mut new = list.to_vec();
        new.insert(1, list.first()?.clone());
        Some(new)
    });
}

fn reordered_append(p: &mut Planter) {
    // Swap two neighbours A, B where A completed before B was invoked.
    let mut invoked: HashMap<String, u64> = HashMap::new();
    let mut acked: HashMap<String, u64> = HashMap::new();
    for op in p.history.iter().filter(|op| op.f == "append") {
        match op.kind {
            OpType::Invoke => {
                invoked.insert(op.value.to_string(), op.time);
            }
            OpType::Ok => {
                acked.insert(op.value.to_string(), op.time);
            }
            _ => {}
        }
    }
    edit_lists(p, |list| {
        let at = list.windows(2).position(|w| {
            let (a, b) = (w[0].to_string(), w[1].to_string());
            matches!((acked.get(&a), invoked.get(&b)), (Some(done), Some(start)) if done < start)
        })?;
        let mut new = list.to_vec();
        new.swap(at, at + 1);
        Some(new)
    });
}

fn duplicate_id(p: &mut Planter) {
    let oks: Vec<usize> = (0..p.history.len())
        .filter(|&i| p.history[i].f == "generate" && p.history[i].kind == OpType::Ok)
        .collect();
    if oks.len() < 2 {
        return;
    }
    let a = oks[p.rng.below(oks.len() - 1)];
    let b = oks[oks.len() - 1];
    p.history[b].value = p.history[a].value.clone();
}

fn constraint_violation(p: &mut Planter) {
    // A refused claim becomes accepted: two claimants got the name.
    let granted: Vec<Option<String>> = p
        .history
        .iter()
        .filter(|op| op.f == "claim" && op.kind == OpType::Ok)
        .map(|op| op.key.clone())
        .collect();
    let Some(i) = (0..p.history.len()).find(|&i| {
        let op = &p.history[i];
        op.f == "claim" && op.kind == OpType::Fail && granted.contains(&op.key)
    }) else {
        return;
    };
    p.history[i].kind = OpType::Ok;
    p.history[i].error = None;
}

/// Ops on fresh keys, appended before the final reads.
fn fresh(p: &Planter) -> (u64, i64, String) {
    (
        p.fresh_process(),
        p.fresh_value(),
        format!("planted{}", p.fresh_value()),
    )
}

fn causal_violation(p: &mut Planter) {
    // p1 writes x then y; p2 reads y, then reads x and misses it.
    let (proc_, v, key) = (fresh(p).0, fresh(p).1, fresh(p).2);
    let (x, y) = (format!("{key}x"), format!("{key}y"));
    use OpType::*;
    p.insert(vec![
        Planter::op(proc_, Invoke, "write", &x, json!(v), "n1"),
        Planter::op(proc_, Ok, "write", &x, json!(v), "n1"),
        Planter::op(proc_, Invoke, "write", &y, json!(v + 1), "n1"),
        Planter::op(proc_, Ok, "write", &y, json!(v + 1), "n1"),
        Planter::op(proc_ + 1, Invoke, "read", &y, Value::Null, "n2"),
        Planter::op(proc_ + 1, Ok, "read", &y, json!([v + 1]), "n2"),
        Planter::op(proc_ + 1, Invoke, "read", &x, Value::Null, "n2"),
        Planter::op(proc_ + 1, Ok, "read", &x, json!([]), "n2"),
    ]);
    final_reads(p, proc_ + 2, &[(&x, v), (&y, v + 1)]);
}

fn read_your_writes(p: &mut Planter) {
    let (proc_, v, key) = fresh(p);
    use OpType::*;
    p.insert(vec![
        Planter::op(proc_, Invoke, "write", &key, json!(v), "n1"),
        Planter::op(proc_, Ok, "write", &key, json!(v), "n1"),
        Planter::op(proc_, Invoke, "read", &key, Value::Null, "n2"),
        Planter::op(proc_, Ok, "read", &key, json!([]), "n2"),
    ]);
    final_reads(p, proc_ + 1, &[(&key, v)]);
}

fn causal_cycle(p: &mut Planter) {
    // Each process reads the value the other writes only afterwards.
    let (proc_, v, key) = fresh(p);
    let (x, y) = (format!("{key}x"), format!("{key}y"));
    use OpType::*;
    p.insert(vec![
        Planter::op(proc_, Invoke, "read", &y, Value::Null, "n1"),
        Planter::op(proc_ + 1, Invoke, "read", &x, Value::Null, "n2"),
        Planter::op(proc_, Ok, "read", &y, json!([v + 1]), "n1"),
        Planter::op(proc_ + 1, Ok, "read", &x, json!([v]), "n2"),
        Planter::op(proc_, Invoke, "write", &x, json!(v), "n1"),
        Planter::op(proc_ + 1, Invoke, "write", &y, json!(v + 1), "n2"),
        Planter::op(proc_, Ok, "write", &x, json!(v), "n1"),
        Planter::op(proc_ + 1, Ok, "write", &y, json!(v + 1), "n2"),
    ]);
    final_reads(p, proc_ + 2, &[(&x, v), (&y, v + 1)]);
}

/// On a fresh key: a write acknowledged by n1, then another process's read
/// on n1 that returns nothing; every node's final read holds the value, so
/// nothing is lost or divergent. Times step by 1 ns after the last op
/// before the final reads, so the read begins strictly after the ack.
fn stale_read(p: &mut Planter) {
    let (proc_, v, key) = fresh(p);
    let f = match p.workload {
        Workload::Set => "add",
        Workload::ListAppend => "append",
        _ => "write",
    };
    let at = p.final_start();
    let t0 = at.checked_sub(1).map_or(0, |i| p.history[i].time);
    use OpType::*;
    let planted = [
        Planter::op(proc_, Invoke, f, &key, json!(v), "n1"),
        Planter::op(proc_, Ok, f, &key, json!(v), "n1"),
        Planter::op(proc_ + 1, Invoke, "read", &key, Value::Null, "n1"),
        Planter::op(proc_ + 1, Ok, "read", &key, json!([]), "n1"),
    ];
    let timed = planted.into_iter().enumerate().map(|(i, op)| Op {
        time: t0 + 1 + i as u64,
        ..op
    });
    p.history.splice(at..at, timed);
    final_reads(p, proc_ + 2, &[(&key, v)]);
}

/// Every node's final read of each planted key returns its last value (as
/// a one-element array), appended after the history's own: a planted key
/// without them would make the verdict unknown (see `coverage`).
fn final_reads(p: &mut Planter, process: u64, keys: &[(&str, i64)]) {
    let mut nodes: Vec<String> = p
        .history
        .iter()
        .filter(|op| op.f == "final-read")
        .filter_map(|op| op.node.clone())
        .collect();
    nodes.sort();
    nodes.dedup();
    let mut time = p.history.last().map_or(0, |op| op.time);
    for &(key, v) in keys {
        for node in &nodes {
            for kind in [OpType::Invoke, OpType::Ok] {
                let value = if kind == OpType::Ok {
                    json!([v])
                } else {
                    Value::Null
                };
                time += 1;
                let op = Planter::op(process, kind, "final-read", key, value, node);
                p.history.push(Op { time, ..op });
            }
        }
    }
}
