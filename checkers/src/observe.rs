//! Measurements from the history alone (no verdict): replication lag,
//! writes that never reached every node, and availability per node and per
//! fault window.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::{NONE, fid};
use crate::result::{LagBin, LagStats, NeverReplicated, OutcomeCounts, WindowAvailability};

/// Bins of the replication lag over time: enough to see a fault's effect,
/// few enough to keep `results.json` small whatever the history's length.
const LAG_BINS: u64 = 100;

/// Replication lag per acknowledged written value: from its write's `ok`
/// completion to the completion of the first `ok` (non-final) read on
/// another node that returned it, 0 if that read completed first. `None`
/// when no value was ever observed on another node.
/// `first_seen` comes from [`crate::reads::check_and_observe`].
pub fn lag(index: &HistoryIndex, first_seen: &[u64]) -> Option<LagStats> {
    let mut lags_ns: Vec<u64> = Vec::new();
    let mut never = 0;
    for (w, &seen) in index.writes().zip(first_seen) {
        if w.outcome != OpType::Ok {
            continue;
        }
        if seen == u64::MAX {
            never += 1;
        } else {
            lags_ns.push(seen.saturating_sub(w.end_time));
        }
    }
    if lags_ns.is_empty() {
        return None;
    }
    lags_ns.sort_unstable();
    let at = |q: f64| lags_ns[((lags_ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
    Some(LagStats {
        observed: lags_ns.len() as u64,
        never_observed: never,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}

/// Replication lag over time: the same per-value lags as [`lag`], binned by
/// the write's `ok` completion time into at most [`LAG_BINS`] bins of equal
/// width (whole milliseconds), each with exact p50 / p99 / max. Empty bins
/// are left out; empty when no value was observed on another node.
pub fn lag_over_time(index: &HistoryIndex, first_seen: &[u64]) -> Vec<LagBin> {
    let samples: Vec<(u64, u64)> = index
        .writes()
        .zip(first_seen)
        .filter(|(w, seen)| w.outcome == OpType::Ok && **seen != u64::MAX)
        .map(|(w, &seen)| (w.end_time, seen.saturating_sub(w.end_time)))
        .collect();
    let Some(end) = samples.iter().map(|s| s.0).max() else {
        return Vec::new();
    };
    let width_ns = (end / LAG_BINS + 1).div_ceil(1_000_000) * 1_000_000;
    let mut bins: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (at, lag) in samples {
        bins.entry(at / width_ns).or_default().push(lag);
    }
    bins.into_iter()
        .map(|(i, mut lags)| {
            lags.sort_unstable();
            let at = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
            LagBin {
                start_s: (i * width_ns) as f64 / 1e9,
                width_s: width_ns as f64 / 1e9,
                values: lags.len() as u64,
                p50_ms: at(0.5),
                p99_ms: at(0.99),
                max_ms: at(1.0),
            }
        })
        .collect()
}

/// Acknowledged writes that some node's final read holds and another's
/// lacks: they reached some nodes and never the rest (a ring or star cut by
/// a node that is down). Writes no final read holds are lost updates, not
/// counted here. Only for workloads whose final reads hold every surviving
/// write (set, list-append); `None` otherwise or without final reads.
pub fn never_replicated(index: &HistoryIndex, accumulates: bool) -> Option<NeverReplicated> {
    if !accumulates {
        return None;
    }
    let mut figure = NeverReplicated::default();
    let mut any = false;
    for k in &index.keys {
        if k.final_reads.is_empty() {
            continue;
        }
        any = true;
        // Converged nodes share one element list (see `FinalRead::elems`):
        // then every write is held by all final reads or by none, and the
        // searches below would find nothing.
        let first = &k.final_reads[0].elems;
        let converged = k.final_reads.iter().all(|r| Arc::ptr_eq(&r.elems, first));
        for w in k.writes.iter().map(|&id| index.write(id)) {
            if w.outcome != OpType::Ok {
                continue;
            }
            figure.acknowledged += 1;
            if converged {
                continue;
            }
            let holding = k.final_reads.iter().filter(|r| r.contains(w.value)).count();
            if holding > 0 && holding < k.final_reads.len() {
                figure.count += 1;
            }
        }
    }
    any.then_some(figure)
}

/// ok / fail / info per node over client ops (final reads excluded; a
/// never-completed op counts as info).
pub fn availability(index: &HistoryIndex) -> BTreeMap<String, OutcomeCounts> {
    let hist = index.hist;
    let mut counts = vec![OutcomeCounts::default(); hist.nodes.len()];
    for p in &index.pairs {
        let node = p.node(hist);
        if node == NONE || p.invoke(hist).f == fid::FINAL_READ {
            continue;
        }
        counts[node as usize].add(p.outcome(hist));
    }
    counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.ok + c.fail + c.info > 0)
        .map(|(n, c)| (hist.node_name(n as u32).to_owned(), c))
        .collect()
}

impl OutcomeCounts {
    fn add(&mut self, outcome: OpType) {
        match outcome {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            _ => self.info += 1,
        }
    }
}

/// Fault windows from the nemesis ops: each `ok` `start-X` paired with the
/// next `ok` `stop-X` (the controller's convention), as (fault, start, end)
/// in nanoseconds; `u64::MAX` when never stopped.
pub(crate) fn fault_windows(index: &HistoryIndex) -> Vec<(String, u64, u64)> {
    let hist = index.hist;
    let mut windows: Vec<(String, u64, u64)> = Vec::new();
    for op in hist
        .ops
        .iter()
        .filter(|op| !op.is_client() && op.kind == OpType::Ok)
    {
        let f = hist.f_name(op.f);
        if let Some(fault) = f.strip_prefix("start-") {
            windows.push((fault.to_owned(), op.time, u64::MAX));
        } else if let Some(fault) = f.strip_prefix("stop-")
            && let Some(open) = windows
                .iter_mut()
                .rev()
                .find(|w| w.0 == fault && w.2 == u64::MAX)
        {
            open.2 = op.time;
        }
    }
    windows
}

/// ok / fail / info per fault window, in total and per node, over client
/// ops by invoke time (final reads excluded), `none` (no fault in effect)
/// first. Empty without fault windows. An op invoked while two faults
/// overlap counts in both.
pub fn availability_windows(index: &HistoryIndex) -> Vec<WindowAvailability> {
    let hist = index.hist;
    let windows = fault_windows(index);
    if windows.is_empty() {
        return Vec::new();
    }
    let seconds = |ns: u64| ns as f64 / 1e9;
    let mut counts: Vec<Vec<OutcomeCounts>> =
        vec![vec![OutcomeCounts::default(); hist.nodes.len() + 1]; windows.len() + 1];
    for p in &index.pairs {
        let invoke = p.invoke(hist);
        if invoke.f == fid::FINAL_READ {
            continue;
        }
        let node = p.node(hist);
        let slot = if node == NONE {
            hist.nodes.len()
        } else {
            node as usize
        };
        let outcome = p.outcome(hist);
        let mut in_any = false;
        for (w, (_, start, end)) in windows.iter().enumerate() {
            if (*start..*end).contains(&invoke.time) {
                counts[w + 1][slot].add(outcome);
                in_any = true;
            }
        }
        if !in_any {
            counts[0][slot].add(outcome);
        }
    }
    let mut out = Vec::with_capacity(windows.len() + 1);
    let named = std::iter::once(("none".to_owned(), 0, u64::MAX)).chain(windows);
    for ((fault, start, end), per_node) in named.zip(counts) {
        let mut total = OutcomeCounts::default();
        for c in &per_node {
            total.ok += c.ok;
            total.fail += c.fail;
            total.info += c.info;
        }
        let nodes = per_node[..hist.nodes.len()]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ok + c.fail + c.info > 0)
            .map(|(n, c)| (hist.node_name(n as u32).to_owned(), *c))
            .collect();
        out.push(WindowAvailability {
            fault,
            start_s: seconds(start),
            end_s: (end != u64::MAX).then(|| seconds(end)),
            total,
            nodes,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::h;
    use crate::{LagStats, NeverReplicated, OutcomeCounts, Validity, Workload, check};

    #[test]
    fn lag_over_time_bins_each_value_by_its_ack() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 2 invoke read r @n2
            3 2 ok     read r [1] @n2
            96 1 invoke write r 2 @n1
            97 1 ok     write r 2 @n1
            98 2 invoke read r @n2
            99 2 ok     read r [2] @n2
            100 1 invoke write r 3 @n1
            101 1 ok    write r 3 @n1
        ");
        let result = check(&history, Workload::Register);
        // Acks at 1 ms and 97 ms; 1 ms bins (97 ms / 100, rounded up).
        let bins: Vec<(f64, u64, f64)> = result
            .lag_over_time
            .iter()
            .map(|b| (b.start_s, b.values, b.max_ms))
            .collect();
        assert_eq!(bins, [(0.001, 1, 2.0), (0.097, 1, 2.0)]);
        assert!(result.lag_over_time.iter().all(|b| b.width_s == 0.001));
    }

    #[test]
    fn writes_held_by_some_final_reads_only_never_replicated() {
        // n2 is down: not read at the end, and no verdict of "unknown" for it.
        let history = h("
            0 nemesis ok start-down _ [\"n2\"]
            1 1 invoke add s 1 @n1
            2 1 ok     add s 1 @n1
            3 2 invoke add s 2 @n3
            4 2 ok     add s 2 @n3
            5 3 invoke add s 3 @n2
            6 3 fail   add s 3 @n2
            7 9 invoke final-read s @n1
            8 9 ok     final-read s [1,2] @n1
            9 9 invoke final-read s @n3
            10 9 ok    final-read s [2] @n3
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(
            result.never_replicated,
            Some(NeverReplicated {
                count: 1,
                acknowledged: 2
            })
        );
        assert_eq!(result.inconclusive, Vec::<String>::new());
        assert_eq!(result.valid, Validity::Invalid, "n1 and n3 diverge");
        assert_eq!(result.anomaly_counts["divergence"], 1);
    }

    #[test]
    fn lag_and_availability_from_the_history() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 2 invoke read r @n2
            3 2 ok     read r [] @n2
            4 2 invoke read r @n2
            5 2 ok     read r [1] @n2
            6 1 invoke write r 2 @n1
            7 1 ok     write r 2 @n1
            8 3 invoke write r 3 @n2
            9 3 fail   write r 3 @n2
            10 4 invoke read r @n1
            11 4 info  read r @n1
        ");
        let result = check(&history, Workload::Register);
        // Value 1: ok at op 1 (1 ms), first seen on n2 at op 5 (5 ms).
        assert_eq!(
            result.lag,
            Some(LagStats {
                observed: 1,
                never_observed: 1,
                p50_ms: 4.0,
                p99_ms: 4.0,
                max_ms: 4.0
            })
        );
        assert_eq!(
            result.availability["n1"],
            OutcomeCounts {
                ok: 2,
                fail: 0,
                info: 1
            }
        );
        assert_eq!(
            result.availability["n2"],
            OutcomeCounts {
                ok: 2,
                fail: 1,
                info: 0
            }
        );
    }

    #[test]
    fn availability_per_fault_window_counts_ops_by_invoke_time() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 nemesis info start-partition
            3 nemesis ok   start-partition
            4 1 invoke write r 2 @n1
            5 2 invoke write r 3 @n2
            6 1 fail   write r 2 @n1
            7 nemesis ok   stop-partition
            8 2 info   write r 3 @n2
            9 3 invoke read r @n2
            10 3 ok    read r [1] @n2
            11 nemesis ok start-offline
            12 3 invoke read r @n1
            13 9 invoke final-read r @n1
            14 9 ok    final-read r [1] @n1
        ");
        let result = check(&history, Workload::Register);
        let c = |ok, fail, info| OutcomeCounts { ok, fail, info };
        let w = &result.availability_windows;
        let summary: Vec<(&str, f64, Option<f64>, OutcomeCounts)> = w
            .iter()
            .map(|w| (w.fault.as_str(), w.start_s, w.end_s, w.total))
            .collect();
        assert_eq!(
            summary,
            [
                ("none", 0.0, None, c(2, 0, 0)),
                ("partition", 0.003, Some(0.007), c(0, 1, 1)),
                // Never stopped; the read on n1 never completed: info.
                ("offline", 0.011, None, c(0, 0, 1)),
            ]
        );
        assert_eq!(w[1].nodes["n1"], c(0, 1, 0));
        assert_eq!(w[1].nodes["n2"], c(0, 0, 1));
        assert_eq!(w[0].nodes["n2"], c(1, 0, 0));
        // Without start-/stop- nemesis ops there are no windows.
        let plain = check(&history[..2], Workload::Register);
        assert!(plain.availability_windows.is_empty());
    }
}
