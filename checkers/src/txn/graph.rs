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
//! - `rt`: T1 completed `ok` before T2 was invoked (real time), kept
//!   transitively reduced ([`realtime`]).
//!
//! Per strongly connected component, the weakest cycle of each class:
//! `g0` (ww only), `g1c` (ww and wr, at least one wr), `g-single` (exactly
//! one rw), `g2` (an rw cycle where no single-rw one was found); where none
//! of these is, `realtime-cycle` (a cycle that needs `rt` edges: only
//! strict serializability forbids it). Each class
//! is found from the components of its own edges (a closing edge whose
//! ends they join closes a cycle), so a search rarely fails; those that
//! may are bounded ([`SEARCHES`]).

use std::collections::VecDeque;

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use super::Writers;
use super::order::Orders;
use super::parse::{Mop, Txn};
use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{Elem, OpType};
use crate::model::{FastMap as HashMap, FastSet as HashSet};

/// Edge kinds, as bits.
const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;
/// Real time: T1 completed before T2 was invoked.
const RT: u8 = 8;

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
    let writer = |key: &str, v: &Elem| writers.get(key, v).filter(|&w| live(w));
    for (key, order) in orders {
        for pair in order.windows(2) {
            if let (Some(a), Some(b)) = (writer(key, &pair[0]), writer(key, &pair[1])) {
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
            let seen = writers.observed(t, key, list);
            if let Some(w) = seen.last().and_then(|v| writer(key, v)) {
                deps.add(w, t, WR, key);
            }
            let order = &orders[key];
            if order.starts_with(seen)
                && let Some(w) = order.get(seen.len()).and_then(|v| writer(key, v))
            {
                deps.add(t, w, RW, key);
            }
        }
    }
    realtime(txns, &mut deps);
    deps
}

/// The `rt` edges, transitively reduced: each transaction gets an edge
/// from every `ok` one that completed before it was invoked and that no
/// other such one completed after (the frontier at its invocation), so
/// there are about as many edges per transaction as clients.
fn realtime(txns: &[Txn], deps: &mut Deps) {
    // (time, completion after invocation at the same instant, txn)
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome == OpType::Fail {
            continue;
        }
        events.push((txn.invoked, false, t));
        if let Some(at) = txn.ok_at {
            events.push((at, true, t));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<usize> = Vec::new();
    let mut before: HashMap<usize, Vec<usize>> = HashMap::default();
    for (_, completion, t) in events {
        if completion {
            // What preceded t precedes, through t, whatever follows it.
            let preceding = before.remove(&t).unwrap_or_default();
            frontier.retain(|f| !preceding.contains(f));
            frontier.push(t);
        } else {
            for &f in &frontier {
                deps.add(f, t, RT, "");
            }
            before.insert(t, frontier.clone());
        }
    }
}

/// Searches tried per component for a single-rw cycle beyond the rw edges
/// whose ends the ww/wr edges already join (which close one for sure):
/// each search may visit the whole component, so a huge one stays bounded.
/// Past them, an rw cycle is reported as `g2`.
const SEARCHES: usize = 100;

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
        let component = Component {
            members: &members,
            within: &within,
        };
        let before = out.len();
        let found = |kind, closing, path_kinds, searches, out: &mut Vec<Anomaly>| {
            let cycle = component.find(deps, closing, path_kinds, searches)?;
            out.push(anomaly(txns, deps, kind, &cycle));
            Some(())
        };
        // A ww (wr) edge is itself in the path graph: if its ends are not
        // joined there, no path leads back, so no search is needed.
        found(AnomalyKind::G0, WW, WW, 0, &mut out);
        found(AnomalyKind::G1c, WR, WW | WR, 0, &mut out);
        let single = found(AnomalyKind::GSingle, RW, WW | WR, SEARCHES, &mut out);
        if single.is_none() {
            found(AnomalyKind::G2, RW, WW | WR | RW, 0, &mut out);
        }
        // The component exists only through real time: strict
        // serializability alone is broken.
        if !out[before..]
            .iter()
            .any(|a| a.kind != AnomalyKind::RealtimeCycle)
        {
            found(
                AnomalyKind::RealtimeCycle,
                RT,
                WW | WR | RW | RT,
                0,
                &mut out,
            );
        }
    }
    out
}

/// One strongly connected component of the graph: its members sorted, and
/// as a set.
struct Component<'c> {
    members: &'c [u32],
    within: &'c HashSet<u32>,
}

impl Component<'_> {
    /// A cycle: an edge of kind `closing` from a to b, then the shortest
    /// path back from b to a over edges of `path_kinds`. First among the
    /// edges whose ends the path edges join (a path back exists), then up
    /// to `searches` others. The first in member order, so a history
    /// always shows the same cycle.
    fn find(&self, deps: &Deps, closing: u8, path_kinds: u8, searches: usize) -> Option<Vec<Edge>> {
        let joined = self.joined(deps, path_kinds);
        let mut closing_edges = Vec::new();
        for &a in self.members {
            for (_, b, &bits) in deps.graph.edges(a) {
                if bits & closing != 0 && self.within.contains(&b) {
                    closing_edges.push((a, b));
                }
            }
        }
        let (sure, others): (Vec<_>, Vec<_>) = closing_edges
            .into_iter()
            .partition(|(a, b)| joined[a] == joined[b]);
        sure.into_iter()
            .chain(others.into_iter().take(searches))
            .find_map(|(a, b)| {
                let mut path = shortest(deps, self.within, b, a, path_kinds)?;
                path.insert(0, (a, b, closing));
                Some(path)
            })
    }

    /// Each member's strongly connected component over the edges of
    /// `kinds` alone.
    fn joined(&self, deps: &Deps, kinds: u8) -> HashMap<u32, usize> {
        let mut graph: DiGraphMap<u32, ()> = DiGraphMap::new();
        for &a in self.members {
            graph.add_node(a);
            for (_, b, &bits) in deps.graph.edges(a) {
                if bits & kinds != 0 && self.within.contains(&b) {
                    graph.add_edge(a, b, ());
                }
            }
        }
        let mut of = HashMap::default();
        for (i, component) in tarjan_scc(&graph).into_iter().enumerate() {
            of.extend(component.into_iter().map(|n| (n, i)));
        }
        of
    }
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
    let mut came: HashMap<u32, Edge> = HashMap::default();
    let mut queue = VecDeque::from([from]);
    let mut visited = HashSet::from_iter([from]);
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
            // The weakest kind the edge has: ww, then wr, rw, rt.
            let kind = [WW, WR, RW, RT]
                .into_iter()
                .find(|k| usable & k != 0)
                .unwrap_or(RT);
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
        RW => "rw",
        _ => "rt",
    };
    let mut text = format!("txn op {}", txns[cycle[0].0 as usize].witness);
    let mut keys: Vec<&str> = Vec::new();
    for &(a, b, k) in cycle {
        let key = deps.keys[&(a, b, k)].as_str();
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
        let on = if key.is_empty() {
            String::new()
        } else {
            format!(" {key}")
        };
        text.push_str(&format!(
            " -{}{on}-> txn op {}",
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
