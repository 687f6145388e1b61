//! Whether the history lets the checkers reach a verdict at all.
//!
//! Lost updates and divergence are judged on final reads. Without them, or
//! with some node's final read of a written key missing, "no anomaly found"
//! does not mean "valid": these reasons turn the verdict into `unknown`.
//!
//! A node held down for the whole run (`diverge run --down`, recorded as a
//! `start-down` nemesis op naming it) is never read at the end: no final
//! read of it is expected.

use crate::anomaly::list;
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::result::Stats;
use crate::workload::Workload;

/// The nodes `start-down` nemesis ops declared held down (by interned id).
pub fn down_nodes(index: &HistoryIndex) -> Vec<u32> {
    let hist = index.hist;
    // Interned ids stay below fid::OVERFLOW, so they fit an op's `f`.
    let Some(f) = hist.fs.get("start-down").map(|f| f as u16) else {
        return Vec::new();
    };
    hist.ops
        .iter()
        .filter(|op| !op.is_client() && op.f == f && op.kind == OpType::Ok)
        .flat_map(|op| match hist.to_json(op.value) {
            serde_json::Value::Array(names) => names,
            _ => Vec::new(),
        })
        .filter_map(|name| name.as_str().and_then(|n| hist.nodes.get(n)))
        .collect()
}

/// A workload whose client ops all failed (or never completed) proves
/// nothing: say so. A node that lacks the workload's endpoint (`/ids`,
/// `/claim`) fails every op; without this the run would pass.
pub fn nothing_acknowledged(stats: &Stats) -> Option<String> {
    (stats.ok == 0).then(|| {
        format!(
            "no client op completed ok ({} ok, {} fail, {} info): a workload that acknowledged \
             nothing proves nothing",
            stats.ok, stats.fail, stats.info
        )
    })
}

/// Per-key reasons beyond this many are summarized in one line.
const MAX_KEY_REASONS: usize = 10;

/// Human-readable reasons the verdict is inconclusive; empty if it is not.
pub fn reasons(index: &HistoryIndex, workload: Workload) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Some(first) = index.orphans.first() {
        reasons.push(format!(
            "{} completion(s) matched no open invoke with the same process and f (first: op {}); \
             they were ignored",
            index.orphans.len(),
            index.hist.index_of(*first),
        ));
    }
    if !workload.judging().final_state {
        return reasons; // Judged on the generates alone.
    }
    let final_reads: usize = index.keys.iter().map(|k| k.final_reads.len()).sum();
    if final_reads == 0 {
        reasons.push(if index.final_read_attempts == 0 {
            "no final reads in the history: lost updates and divergence cannot be judged".to_owned()
        } else {
            format!(
                "none of the {} final reads completed ok: lost updates and divergence cannot be \
                 judged",
                index.final_read_attempts
            )
        });
        return reasons;
    }
    let down = down_nodes(index);
    let mut missing = index
        .sorted_keys()
        .into_iter()
        .filter(|&key| !index.keys[key as usize].writes.is_empty())
        .filter_map(|key| {
            let k = &index.keys[key as usize];
            let absent: Vec<&str> = index
                .nodes
                .iter()
                .filter(|&&n| !down.contains(&n) && !k.final_reads.iter().any(|r| r.node == n))
                .map(|&n| index.node_name(n))
                .collect();
            let key = index.key_name(key);
            (!absent.is_empty()).then(|| {
                format!(
                    "key {key:?} was written but has no final read from {}",
                    list(&absent, 5)
                )
            })
        });
    reasons.extend(missing.by_ref().take(MAX_KEY_REASONS));
    let more = missing.count();
    if more > 0 {
        reasons.push(format!(
            "{more} more written key(s) lack final reads from some node"
        ));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Validity, Workload, check};

    #[test]
    fn an_ignored_completion_makes_its_impossible_read_unknown() {
        // The `ok` write of 5 has no invoke: it is ignored, so the read of
        // 5 looks impossible, but the ignored op may well have written it.
        let result = check(
            &h("
                0 1 ok     write r 5 @n1
                1 2 invoke read r @n2
                2 2 ok     read r [5] @n2
                3 9 invoke final-read r @n1
                4 9 ok     final-read r [5] @n1
                5 9 invoke final-read r @n2
                6 9 ok     final-read r [5] @n2
            "),
            Workload::Register,
        );
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            [
                "1 completion(s) matched no open invoke with the same process and f (first: op 0); \
              they were ignored"
            ]
        );
        assert_eq!(found(&result), [("impossible-read", "r", vec![2])]);
    }

    #[test]
    fn a_lost_update_without_every_final_read_is_unknown() {
        // Interrupted during the final reads: n1 (which acknowledged 1) was
        // never read, so n1 may still hold it.
        let result = check(
            &h("
                0 1 invoke add cart 1 @n1
                1 1 ok     add cart 1 @n1
                2 2 invoke add cart 2 @n2
                3 2 ok     add cart 2 @n2
                4 9 invoke final-read cart @n2
                5 9 ok     final-read cart [2] @n2
            "),
            Workload::Set,
        );
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            ["key \"cart\" was written but has no final read from n1"]
        );
        assert_eq!(result.anomaly_counts["lost-update"], 1);
        assert_eq!(
            result.anomalies[0].explanation,
            "add of 1 to key \"cart\" was acknowledged (op 1) but no node's final read contains \
             it (read on n2; no final read from n1)"
        );
    }

    #[test]
    fn a_workload_whose_ops_all_failed_is_unknown() {
        // A node without /ids: every generate fails.
        let result = check(
            &h("
                0 1 invoke generate _ @n1
                1 1 fail   generate _ @n1
                2 2 invoke generate _ @n2
                3 2 fail   generate _ @n2
                4 3 invoke generate _ @n1
                5 3 info   generate _ @n1
            "),
            Workload::UniqueIds,
        );
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            [
                "no client op completed ok (0 ok, 2 fail, 1 info): a workload that acknowledged \
              nothing proves nothing"
            ]
        );
        assert_eq!(found(&result), []);
    }

    #[test]
    fn anomalies_before_a_missing_end_are_listed_but_unknown() {
        // A stale read by the node that acknowledged the write, then the
        // controller died: no final reads at all.
        let result = check(
            &h("
                0 1 invoke add cart 1 @n1
                1 1 ok     add cart 1 @n1
                2 2 invoke read cart @n1
                3 2 ok     read cart [] @n1
            "),
            Workload::Set,
        );
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            ["no final reads in the history: lost updates and divergence cannot be judged"]
        );
        assert_eq!(result.anomaly_counts["stale-read"], 1);
    }
}
