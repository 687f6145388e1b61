//! Causal workload: registers (`write` unique values, `read` returns the
//! values held), checked for causal consistency.
//!
//! # The happens-before graph
//! Nodes: every `write` and every `ok` `read` (final reads excluded: they
//! run after quiescence, outside any session). Edges (a petgraph `DiGraph`):
//! session order (each process's ops in invoke order) and reads-from (the
//! write of every value a read returned -> that read). A cycle is a
//! `causal-cycle` (petgraph's `toposort`, witnesses from `tarjan_scc`).
//!
//! # Causal order without a transitive closure
//! Otherwise, ops are visited in topological order and each gets a vector
//! clock over the *writing sessions*: `clock[s]` = how many of session `s`'s
//! writes are in the op's causal past (session order makes that a prefix).
//! "w co o" is then one comparison. Memory is ops x writing sessions; above
//! [`MAX_CLOCK_CELLS`] the analysis is skipped with an inconclusive reason.
//!
//! # Bad patterns (Bouajjani et al., POPL 2017, unique values)
//! For a read `r` of key `x` that returned the writes `V` (maybe none), and a
//! write `w2` to `x` that certainly happened (`ok`, or returned by some
//! read) with `w2 co r` and `w2` not in `V`:
//! - `r` returned nothing: it missed `w2`, a cause (WriteCORead with the
//!   initial value);
//! - `r` returned `w1` with `w1 co w2`: `r` saw a value overwritten in its
//!   own causal past (WriteCORead).
//!
//! Per session, only the latest write to `x` in `r`'s past (the frontier)
//! needs checking, found by binary search. Classified as
//! `session-violation` when `w2` is `r`'s own session's write
//! (`read-your-writes`) or the session's previous read of `x` returned `w2`
//! or a write causally after `w1` (`monotonic-reads`); otherwise
//! `causal-violation` (the cause reached the session through another
//! session: this is also how monotonic-writes and writes-follow-reads
//! violations show). Thin-air reads are `impossible-read` ([`crate::reads`]).

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::{FastMap, NONE, fid};
use crate::pairing::Pair;

/// Budget for vector clocks (ops x writing sessions), ~256 MiB.
pub const MAX_CLOCK_CELLS: usize = 64 << 20;

/// One node of the graph.
#[derive(Clone, Copy, Debug)]
struct Node {
    pair: Pair,
    process: u64,
    /// Index into `index.writes` for writes, NONE for reads.
    write: u32,
}

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    check_causal(index).0
}

/// The anomalies, plus an inconclusive reason if the analysis was skipped.
pub fn check_causal(index: &HistoryIndex) -> (Vec<Anomaly>, Option<String>) {
    let hist = index.hist;
    // Graph nodes: writes (by write id) and ok non-final reads.
    let mut nodes: Vec<Node> = Vec::new();
    let mut node_of_write = vec![NONE; index.write_count()];
    for (id, w) in index.writes().enumerate() {
        if hist.ops[w.pair.invoke as usize].f != fid::WRITE {
            continue;
        }
        node_of_write[id] = nodes.len() as u32;
        nodes.push(Node {
            pair: w.pair,
            process: hist.ops[w.pair.invoke as usize].process,
            write: id as u32,
        });
    }
    let mut read_nodes: Vec<(u32, usize)> = Vec::new(); // (node, read idx)
    for (i, r) in index.reads().enumerate() {
        if r.is_final {
            continue;
        }
        read_nodes.push((nodes.len() as u32, i));
        nodes.push(Node {
            pair: r.pair,
            process: hist.ops[r.pair.invoke as usize].process,
            write: NONE,
        });
    }
    let read_of_node: FastMap<u32, usize> = read_nodes.iter().copied().collect();

    // Sessions: nodes by process in invoke order.
    let mut by_session: Vec<u32> = (0..nodes.len() as u32).collect();
    by_session
        .sort_unstable_by_key(|&n| (nodes[n as usize].process, nodes[n as usize].pair.invoke));
    let mut graph: DiGraph<u32, ()> = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
    for n in 0..nodes.len() as u32 {
        graph.add_node(n);
    }
    let mut session_pred = vec![NONE; nodes.len()];
    for pair in by_session.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if nodes[a as usize].process == nodes[b as usize].process {
            session_pred[b as usize] = a;
            graph.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), ());
        }
    }
    // Reads-from. A write counts as certainly happened if ok or read.
    let mut happened: Vec<bool> = index.writes().map(|w| w.outcome == OpType::Ok).collect();
    let mut rf: Vec<Vec<u32>> = vec![Vec::new(); nodes.len()];
    for &(n, i) in &read_nodes {
        let r = index.read(i);
        for v in hist.elements(&r.value) {
            let Some(id) = index.write_by_value.get(v) else {
                continue;
            };
            let w = index.write(id);
            let wn = node_of_write[id as usize];
            if w.key != r.key || wn == NONE {
                continue;
            }
            happened[id as usize] = true;
            rf[n as usize].push(wn);
            graph.add_edge(NodeIndex::new(wn as usize), NodeIndex::new(n as usize), ());
        }
    }

    let order = match toposort(&graph, None) {
        Ok(order) => order,
        Err(_) => return (cycles(index, &graph, &nodes), None),
    };

    // Vector clocks over writing sessions.
    let mut session_dim: FastMap<u64, usize> = FastMap::default();
    for node in nodes.iter().filter(|n| n.write != NONE) {
        let d = session_dim.len();
        session_dim.entry(node.process).or_insert(d);
    }
    let dims = session_dim.len().max(1);
    if dims.saturating_mul(nodes.len()) > MAX_CLOCK_CELLS {
        return (
            Vec::new(),
            Some(format!(
                "causal analysis skipped: {} ops x {dims} writing sessions exceeds the clock budget",
                nodes.len()
            )),
        );
    }
    // Position of each write in its session (1-based, writes only).
    let mut pos = vec![0u32; nodes.len()];
    let mut count: FastMap<u64, u32> = FastMap::default();
    for &n in &by_session {
        let node = nodes[n as usize];
        if node.write != NONE {
            let c = count.entry(node.process).or_default();
            *c += 1;
            pos[n as usize] = *c;
        }
    }
    let mut clock = vec![0u32; dims * nodes.len()];
    let mut mine = vec![0u32; dims];
    for n in order {
        let n = n.index();
        mine.fill(0);
        let preds = rf[n]
            .iter()
            .chain((session_pred[n] != NONE).then_some(&session_pred[n]));
        for &p in preds {
            let theirs = &clock[p as usize * dims..(p as usize + 1) * dims];
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m = (*m).max(*t);
            }
        }
        let node = nodes[n];
        if node.write != NONE {
            mine[session_dim[&node.process]] = pos[n];
        }
        clock[n * dims..(n + 1) * dims].copy_from_slice(&mine);
    }
    let co = |a: usize, b: usize| -> bool {
        // a (a write node) is in b's causal past (or is b).
        let d = session_dim[&nodes[a].process];
        clock[b * dims + d] >= pos[a]
    };

    // Per key, per writing session: write nodes in session order.
    let mut writes_by_key: FastMap<u32, FastMap<usize, Vec<u32>>> = FastMap::default();
    for &n in &by_session {
        let node = nodes[n as usize];
        if node.write == NONE {
            continue;
        }
        let key = index.write(node.write).key;
        writes_by_key
            .entry(key)
            .or_default()
            .entry(session_dim[&node.process])
            .or_default()
            .push(n);
    }

    let mut out = Vec::new();
    // The session's previous read of each key: (process, key) -> read node.
    let mut last_read: FastMap<(u64, u32), u32> = FastMap::default();
    for &n in &by_session {
        let Some(&ri) = read_of_node.get(&n) else {
            continue;
        };
        let r = index.read(ri);
        let node = nodes[n as usize];
        let seen: &[u32] = &rf[n as usize];
        let previous = last_read.insert((node.process, r.key), n);
        let Some(sessions) = writes_by_key.get(&r.key) else {
            continue;
        };
        let mut found: Option<(u32, Option<u32>)> = None; // (w2, w1)
        'search: for (&d, list) in sessions {
            let known = clock[n as usize * dims + d];
            let k = list.partition_point(|&w| pos[w as usize] <= known);
            // Latest certainly-happened write of this session in r's past.
            let Some(&w2) = list[..k]
                .iter()
                .rev()
                .find(|&&w| happened[nodes[w as usize].write as usize])
            else {
                continue;
            };
            if seen.contains(&w2) {
                continue;
            }
            if seen.is_empty() {
                found = Some((w2, None));
                break 'search;
            }
            for &w1 in seen {
                if w1 != w2
                    && co(w1 as usize, w2 as usize)
                    && !seen.iter().any(|&s| s != w1 && co(w2 as usize, s as usize))
                {
                    found = Some((w2, Some(w1)));
                    break 'search;
                }
            }
        }
        let Some((w2, w1)) = found else { continue };
        let w2n = nodes[w2 as usize];
        let w2w = index.write(w2n.write);
        let key_name = index.key_name(r.key);
        let returned = match w1 {
            Some(w1) => format!(
                "returned {} (op {})",
                index.show(index.write(nodes[w1 as usize].write).value),
                index.write(nodes[w1 as usize].write).witness
            ),
            None => "returned nothing".to_owned(),
        };
        let monotonic = previous.is_some_and(|p| {
            rf[p as usize]
                .iter()
                .any(|&s| s == w2 || w1.is_some_and(|w1| s != w1 && co(w1 as usize, s as usize)))
        });
        let (kind, detail, why) = if w2n.process == node.process {
            (
                AnomalyKind::SessionViolation,
                Some("read-your-writes"),
                "its own session wrote".to_owned(),
            )
        } else if monotonic {
            (
                AnomalyKind::SessionViolation,
                Some("monotonic-reads"),
                format!(
                    "the session's previous read of {key_name:?} (op {}) had already seen",
                    index.read(read_of_node[&previous.unwrap()]).witness
                ),
            )
        } else {
            (
                AnomalyKind::CausalViolation,
                None,
                "causally precedes the read:".to_owned(),
            )
        };
        let mut witnesses: Vec<u64> = Vec::new();
        if let Some(w1) = w1 {
            witnesses.push(index.write(nodes[w1 as usize].write).witness);
        }
        witnesses.push(w2w.witness);
        witnesses.push(r.witness);
        let mut anomaly = Anomaly::new(
            kind,
            key_name,
            witnesses,
            format!(
                "read of {key_name:?}{} by process {} (op {}) {returned}, missing the write of {} \
                 (op {}){}, which {why} {}",
                crate::reads::on(index, r.node),
                node.process,
                r.witness,
                index.show(w2w.value),
                w2w.witness,
                if w1.is_some() { ", a later value" } else { "" },
                match detail {
                    Some(_) => "it".to_owned(),
                    None => "through session order and reads-from".to_owned(),
                },
            ),
        );
        anomaly.detail = detail.map(str::to_owned);
        out.push(anomaly);
    }
    (out, None)
}

/// One `causal-cycle` per strongly connected component with a cycle.
fn cycles(index: &HistoryIndex, graph: &DiGraph<u32, ()>, nodes: &[Node]) -> Vec<Anomaly> {
    let hist = index.hist;
    tarjan_scc(graph)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let mut witnesses: Vec<u64> = scc
                .iter()
                .map(|n| nodes[n.index()].pair.witness(hist))
                .collect();
            witnesses.sort_unstable();
            witnesses.truncate(10);
            let first = scc
                .iter()
                .min_by_key(|n| nodes[n.index()].pair.witness(hist))
                .expect("non-empty");
            let key = hist.key_name(nodes[first.index()].pair.key(hist));
            Anomaly::new(
                AnomalyKind::CausalCycle,
                key,
                witnesses.clone(),
                format!(
                    "{} ops form a cycle of session order and reads-from (each read saw a write \
                     that causally follows it); first ops: {}",
                    scc.len(),
                    crate::anomaly::list(&witnesses, 5),
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Workload, check};

    #[test]
    fn read_sees_effect_then_misses_its_cause() {
        // p1 writes x=1 then y=2; p2 reads y=2, then reads x and gets nothing.
        let history = h("
            0 1 invoke write x 1 @n1
            1 1 ok     write x 1 @n1
            2 1 invoke write y 2 @n1
            3 1 ok     write y 2 @n1
            4 2 invoke read y @n2
            5 2 ok     read y [2] @n2
            6 2 invoke read x @n2
            7 2 ok     read x [] @n2
        ");
        let result = check(&history, Workload::Causal);
        assert_eq!(found(&result), [("causal-violation", "x", vec![1, 7])]);
    }

    #[test]
    fn own_write_missed_is_read_your_writes() {
        let history = h("
            0 1 invoke write x 1 @n1
            1 1 ok     write x 1 @n1
            2 1 invoke read x @n2
            3 1 ok     read x [] @n2
        ");
        let result = check(&history, Workload::Causal);
        assert_eq!(found(&result), [("session-violation", "x", vec![1, 3])]);
        assert_eq!(
            result.anomalies[0].detail.as_deref(),
            Some("read-your-writes")
        );
    }

    #[test]
    fn info_write_missed_is_fine_and_older_value_after_newer_is_monotonic_reads() {
        let history = h("
            0 1 invoke write x 1 @n1
            1 1 info   write x 1 @n1
            2 2 invoke read x @n2
            3 2 ok     read x [] @n2
            4 3 invoke write z 5 @n1
            5 3 ok     write z 5 @n1
            6 3 invoke write z 6 @n1
            7 3 ok     write z 6 @n1
            8 4 invoke read z @n2
            9 4 ok     read z [6] @n2
            10 4 invoke read z @n3
            11 4 ok     read z [5] @n3
        ");
        let result = check(&history, Workload::Causal);
        assert_eq!(found(&result), [("session-violation", "z", vec![5, 7, 11])]);
        assert_eq!(
            result.anomalies[0].detail.as_deref(),
            Some("monotonic-reads")
        );
    }

    #[test]
    fn reading_a_future_write_is_a_cycle() {
        // p1 reads y=2 before writing x=1; p2 reads x=1 then writes y=2.
        let history = h("
            0 1 invoke read y @n1
            1 2 invoke read x @n2
            2 1 ok     read y [2] @n1
            3 2 ok     read x [1] @n2
            4 1 invoke write x 1 @n1
            5 2 invoke write y 2 @n2
            6 1 ok     write x 1 @n1
            7 2 ok     write y 2 @n2
        ");
        let result = check(&history, Workload::Causal);
        assert_eq!(found(&result), [("causal-cycle", "y", vec![2, 3, 6, 7])]);
    }

    /// The vector-clock search agrees with a brute-force reachability
    /// check on histories with causal delivery off.
    #[test]
    fn agrees_with_brute_force_reachability() {
        use crate::index::HistoryIndex;
        use crate::model::{Hist, fid};
        use crate::synth::{SynthSpec, synth_history};
        use std::collections::BTreeSet;

        let mut total = 0;
        for seed in 0..12 {
            let mut spec = SynthSpec {
                processes: 4,
                nodes: 3,
                ..SynthSpec::new(Workload::Causal, 3000, seed)
            };
            spec.causal_delivery = false;
            let hist = Hist::from_ops(&synth_history(&spec));
            let index = HistoryIndex::build(&hist);
            let fast: BTreeSet<u64> = super::check(&index)
                .iter()
                .map(|a| *a.witnesses.last().unwrap())
                .collect();

            // Brute force: explicit edges, DFS from every write.
            let ops: Vec<_> = index
                .writes()
                .filter(|w| hist.ops[w.pair.invoke as usize].f == fid::WRITE)
                .map(|w| (w.pair, Some(w)))
                .chain(
                    index
                        .reads()
                        .filter(|r| !r.is_final)
                        .map(|r| (r.pair, None)),
                )
                .collect();
            let n = ops.len();
            let proc_of = |i: usize| hist.ops[ops[i].0.invoke as usize].process;
            let mut succ = vec![Vec::new(); n];
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| (proc_of(i), ops[i].0.invoke));
            for w in order.windows(2) {
                if proc_of(w[0]) == proc_of(w[1]) {
                    succ[w[0]].push(w[1]);
                }
            }
            let write_node = |v| (0..n).find(|&i| ops[i].1.is_some_and(|w| w.value == v));
            let mut read_sets = vec![Vec::new(); n];
            let mut happened = vec![false; n];
            for i in 0..n {
                if ops[i].1.is_some() {
                    happened[i] |= ops[i].1.unwrap().outcome == crate::history::OpType::Ok;
                    continue;
                }
                let c = ops[i].0.completion(&hist).unwrap();
                for v in hist.elements(&c.value) {
                    if let Some(w) = write_node(v) {
                        succ[w].push(i);
                        read_sets[i].push(w);
                        happened[w] = true;
                    }
                }
            }
            let reach = |from: usize| {
                let mut seen = vec![false; n];
                let mut stack = vec![from];
                while let Some(x) = stack.pop() {
                    for &y in &succ[x] {
                        if !seen[y] {
                            seen[y] = true;
                            stack.push(y);
                        }
                    }
                }
                seen
            };
            let reaches: Vec<Vec<bool>> = (0..n).map(reach).collect();
            let mut slow = BTreeSet::new();
            for r in 0..n {
                if ops[r].1.is_some() {
                    continue;
                }
                let key = ops[r].0.key(&hist);
                let bad = (0..n).any(|w2| {
                    ops[w2].1.is_some_and(|w| w.key == key)
                        && happened[w2]
                        && reaches[w2][r]
                        && !read_sets[r].contains(&w2)
                        && (read_sets[r].is_empty()
                            || read_sets[r].iter().any(|&w1| reaches[w1][w2]))
                });
                if bad {
                    slow.insert(ops[r].0.witness(&hist));
                }
            }
            assert_eq!(fast, slow, "seed {seed}");
            total += fast.len();
        }
        assert!(total > 0, "the histories should contain some violations");
    }

    #[test]
    fn causal_histories_with_lagging_replicas_are_fine() {
        let history = h("
            0 1 invoke write x 1 @n1
            1 1 ok     write x 1 @n1
            2 1 invoke write y 2 @n1
            3 1 ok     write y 2 @n1
            4 2 invoke read x @n2
            5 2 ok     read x [] @n2
            6 2 invoke read y @n2
            7 2 ok     read y [2] @n2
            8 2 invoke read x @n2
            9 2 ok     read x [1] @n2
        ");
        assert_eq!(found(&check(&history, Workload::Causal)), []);
    }
}
