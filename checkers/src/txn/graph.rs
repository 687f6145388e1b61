//! The dependency graph between transactions and its cycles (Adya's, as
//! Elle finds them in list-append histories).
//!
//! Nodes are the transactions that may have committed (`ok`, and `info`:
//! an unknown outcome may have taken effect); definitely failed ones are
//! left out. Edges, from each key's version order ([`super::order`]):
//!
//! - `ww`: T1 appended the value just before T2's in the order.
//! - `wr`: T2 read a list ending in T1's append (its own appends aside).
//! - `rw`: T1 read a prefix of the order and T2 appended the next value
//!   (T1 missed it: an anti-dependency).
//!
//! Per strongly connected component, the weakest cycle of each class:
//! `g0` (ww only), `g1c` (ww and wr, at least one wr), `g-single` (exactly
//! one rw), `g2` (an rw cycle where no single-rw one was found).

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use super::Writers;
use super::order::Orders;
use super::parse::{Mop, Txn};
use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::OpType;

/// Edge kinds, as bits.
const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;

/// The dependency graph: edge weights are kind bits; `keys` names the key
/// of each (from, to, kind).
#[derive(Default)]
pub struct Deps {
    graph: DiGraphMap<u32, u8>,
    keys: HashMap<(u32, u32, u8), String>,
}

impl Deps {
    fn add(&mut self, from: usize, to: usize, kind: u8, key: &str) {
        if from == to {
            return;
        }
        let (a, b) = (from as u32, to as u32);
        match self.graph.edge_weight_mut(a, b) {
            Some(bits) => *bits |= kind,
            None => {
                self.graph.add_edge(a, b, kind);
            }
        }
        self.keys
            .entry((a, b, kind))
            .or_insert_with(|| key.to_owned());
    }
}

/// The graph of `txns` over `orders`.
pub fn build(txns: &[Txn], writers: &Writers, orders: &Orders) -> Deps {
    let mut deps = Deps::default();
    let live = |t: usize| txns[t].outcome != OpType::Fail;
    let writer = |key: &str, v| {
        writers
            .get(&(key.to_owned(), v))
            .copied()
            .filter(|&w| live(w))
    };
    for (key, order) in orders {
        for pair in order.windows(2) {
            if let (Some(a), Some(b)) = (writer(key, pair[0].clone()), writer(key, pair[1].clone()))
            {
                deps.add(a, b, WW, key);
            }
        }
    }
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        for mop in &txn.mops {
            let Mop::Read {
                key,
                value: Some(list),
            } = mop
            else {
                continue;
            };
            // What it saw of others: its own appends at the end aside.
            let mut seen = list.as_slice();
            while let Some((last, rest)) = seen.split_last()
                && writers.get(&(key.clone(), last.clone())) == Some(&t)
            {
                seen = rest;
            }
            if let Some(w) = seen.last().and_then(|v| writer(key, v.clone())) {
                deps.add(w, t, WR, key);
            }
            let order = &orders[key];
            if order.starts_with(seen)
                && let Some(w) = order.get(seen.len()).and_then(|v| writer(key, v.clone()))
            {
                deps.add(t, w, RW, key);
            }
        }
    }
    deps
}

/// The cycle anomalies of `deps`.
pub fn cycles(txns: &[Txn], deps: &Deps) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for scc in tarjan_scc(&deps.graph) {
        if scc.len() < 2 {
            continue;
        }
        let mut members = scc;
        members.sort_unstable();
        let within: HashSet<u32> = members.iter().copied().collect();
        let found = |kind, closing, path_kinds, out: &mut Vec<Anomaly>| {
            let cycle = find(deps, (&members, &within), closing, path_kinds)?;
            out.push(anomaly(txns, deps, kind, &cycle));
            Some(())
        };
        found(AnomalyKind::G0, WW, WW, &mut out);
        found(AnomalyKind::G1c, WR, WW | WR, &mut out);
        if found(AnomalyKind::GSingle, RW, WW | WR, &mut out).is_none() {
            found(AnomalyKind::G2, RW, WW | WR | RW, &mut out);
        }
    }
    out
}

/// A cycle in one component (its members sorted, and as a set): an edge
/// of kind `closing` from a to b, then the shortest path back from b to a
/// over edges of `path_kinds`. The first in member order, so a history
/// always shows the same cycle.
fn find(
    deps: &Deps,
    (members, within): (&[u32], &HashSet<u32>),
    closing: u8,
    path_kinds: u8,
) -> Option<Vec<Edge>> {
    for &a in members {
        for (_, b, &bits) in deps.graph.edges(a) {
            if bits & closing == 0 || !within.contains(&b) {
                continue;
            }
            if let Some(mut path) = shortest(deps, within, b, a, path_kinds) {
                path.insert(0, (a, b, closing));
                return Some(path);
            }
        }
    }
    None
}

/// One edge of a cycle: from, to, kind bit.
type Edge = (u32, u32, u8);

/// Breadth-first: the fewest edges from `from` to `to`.
fn shortest(
    deps: &Deps,
    within: &HashSet<u32>,
    from: u32,
    to: u32,
    kinds: u8,
) -> Option<Vec<Edge>> {
    let mut came: HashMap<u32, Edge> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut visited = HashSet::from([from]);
    while let Some(n) = queue.pop_front() {
        if n == to {
            let mut path = Vec::new();
            let mut at = to;
            while at != from {
                let edge = came[&at];
                path.push(edge);
                at = edge.0;
            }
            path.reverse();
            return Some(path);
        }
        for (_, m, &bits) in deps.graph.edges(n) {
            let usable = bits & kinds;
            if usable == 0 || !within.contains(&m) || !visited.insert(m) {
                continue;
            }
            // The weakest kind the edge has: ww, then wr, then rw.
            let kind = [WW, WR, RW]
                .into_iter()
                .find(|k| usable & k != 0)
                .unwrap_or(RW);
            came.insert(m, (n, m, kind));
            queue.push_back(m);
        }
    }
    None
}

fn anomaly(txns: &[Txn], deps: &Deps, kind: AnomalyKind, cycle: &[Edge]) -> Anomaly {
    let name = |k: u8| match k {
        WW => "ww",
        WR => "wr",
        _ => "rw",
    };
    let mut text = format!("txn op {}", txns[cycle[0].0 as usize].witness);
    let mut keys: Vec<&str> = Vec::new();
    for &(a, b, k) in cycle {
        let key = deps.keys[&(a, b, k)].as_str();
        if !keys.contains(&key) {
            keys.push(key);
        }
        text.push_str(&format!(
            " -{} {key}-> txn op {}",
            name(k),
            txns[b as usize].witness
        ));
    }
    let mut witnesses: Vec<u64> = cycle
        .iter()
        .map(|&(a, _, _)| txns[a as usize].witness)
        .collect();
    witnesses.sort_unstable();
    let text = format!("{} cycle: {text}", kind.name());
    match keys.as_slice() {
        [key] => Anomaly::new(kind, key, witnesses, text),
        // Across keys: the explanation names each edge's.
        _ => Anomaly::keyless(kind, witnesses, text),
    }
}
