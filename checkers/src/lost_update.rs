//! `lost-update`: an acknowledged write the final state no longer reflects.
//!
//! - **set**: an `ok` add whose element is in no node's final read of its key.
//!   Sets only grow, so every acknowledged add must survive somewhere.
//! - **register**: an `ok` write B undone by a write A that had completed
//!   (`ok`) before B was invoked: some node's final state holds A's value and
//!   not B's. A precedes B in real time, so no conflict resolution may
//!   legitimately prefer A. Writes that overlap in time are concurrent and may
//!   replace each other; they are never reported.
//!
//! `info` writes are never lost: they may or may not have happened. Keys
//! without any final read are skipped (the verdict is then inconclusive, see
//! [`crate::coverage`]).

use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::history::OpType;
use crate::index::{HistoryIndex, KeyIndex, Write};

/// Set workload: acknowledged adds missing from every final read.
pub fn set(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        if k.final_reads.is_empty() {
            continue;
        }
        let key_name = index.key_name(key as u32);
        for &id in &k.writes {
            // Nearly every add is in a final read: looked up by its value
            // alone, before expanding the write (its ops are cache misses).
            let value = index.write_value(id);
            if k.final_reads.iter().any(|r| r.contains(value)) {
                continue;
            }
            let write = index.write(id);
            if write.outcome != OpType::Ok {
                continue;
            }
            let mut witnesses = vec![write.witness];
            witnesses.extend(k.final_read_witnesses());
            anomalies.push(Anomaly::new(
                AnomalyKind::LostUpdate,
                key_name,
                witnesses,
                format!(
                    "add of {} to key {key_name:?} was acknowledged (op {}) but no node's final \
                     read contains it ({})",
                    index.show(write.value),
                    write.witness,
                    nodes(index, k),
                ),
            ));
        }
    }
    anomalies
}

/// Register workload: acknowledged writes undone by an earlier write.
pub fn register(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        if !k.final_reads.is_empty() {
            register_key(index, key as u32, k, &mut anomalies);
        }
    }
    anomalies
}

/// Why a write B counts as lost: A, the node holding A but not B, its read.
struct Undo {
    a: Write,
    node: u32,
    read: u64,
}

fn register_key(index: &HistoryIndex, key: u32, k: &KeyIndex, out: &mut Vec<Anomaly>) {
    let is_ok = |w: &Write| w.outcome == OpType::Ok;
    // Acknowledged writes by invoke time: "B invoked after A completed" is
    // then a suffix found by binary search.
    let mut oks: Vec<Write> = k
        .writes
        .iter()
        .map(|&id| index.write(id))
        .filter(is_ok)
        .collect();
    if oks.is_empty() {
        return;
    }
    oks.sort_unstable_by_key(|w| (w.invoke_time, w.witness));
    let mut lost: Vec<Option<Undo>> = oks.iter().map(|_| None).collect();

    for read in &k.final_reads {
        // The acknowledged writes this node's final state reflects (the A's).
        let mut held: Vec<Write> = read
            .elems
            .iter()
            .filter_map(|&v| index.write_of(v))
            .filter(|w| w.key == key)
            .filter(is_ok)
            .collect();
        held.sort_unstable_by_key(|a| (a.end_time, a.witness));
        let Some(first) = held.first() else {
            continue;
        };
        let start = oks.partition_point(|b| b.invoke_time <= first.end_time);
        // Two pointers: as B's invoke time grows, so does the latest A that
        // completed before it.
        let mut j = 0;
        for (b, slot) in oks.iter().zip(lost.iter_mut()).skip(start) {
            while j + 1 < held.len() && held[j + 1].end_time < b.invoke_time {
                j += 1;
            }
            if read.contains(b.value) {
                continue;
            }
            let a = held[j];
            // Report each B once, with the latest A (ties: first node by name).
            if slot.as_ref().is_none_or(|u| a.end_time > u.a.end_time) {
                *slot = Some(Undo {
                    a,
                    node: read.node,
                    read: read.witness,
                });
            }
        }
    }

    let key_name = index.key_name(key);
    for (b, undo) in oks.iter().zip(&lost) {
        let Some(Undo { a, node, read }) = undo else {
            continue;
        };
        // A completed before B began: both were stamped within this span.
        let span = (a.invoke_time, b.end_time);
        out.push(Anomaly {
            writes_span: Some(span),
            ..Anomaly::new(
            AnomalyKind::LostUpdate,
            key_name,
            vec![a.witness, b.witness, *read],
            format!(
                "write of {} to key {key_name:?} was acknowledged (op {}) after the write of {} \
                 had completed (op {}), yet node {}'s final read (op {read}) holds {} and not {}",
                index.show(b.value),
                b.witness,
                index.show(a.value),
                a.witness,
                index.node_name(*node),
                index.show(a.value),
                index.show(b.value),
            ),
            )
        });
    }
    report_emptied(index, key_name, k, &oks, &lost, out);
}

/// A node that ends with no value at all lost even the last acknowledged
/// write, which no earlier write can explain; report that write once.
fn report_emptied(
    index: &HistoryIndex,
    key: &str,
    k: &KeyIndex,
    oks: &[Write],
    lost: &[Option<Undo>],
    out: &mut Vec<Anomaly>,
) {
    let empty: Vec<_> = k
        .final_reads
        .iter()
        .filter(|r| r.elems.is_empty())
        .collect();
    let last = (0..oks.len()).max_by_key(|&i| (oks[i].end_time, oks[i].witness));
    let (Some(last), false) = (last, empty.is_empty()) else {
        return;
    };
    if lost[last].is_some() {
        return; // Already reported with an undoing write.
    }
    let b = oks[last];
    let mut witnesses = vec![b.witness];
    witnesses.extend(empty.iter().map(|r| r.witness));
    let names: Vec<&str> = empty.iter().map(|r| index.node_name(r.node)).collect();
    out.push(Anomaly::new(
        AnomalyKind::LostUpdate,
        key,
        witnesses,
        format!(
            "write of {} to key {key:?} was acknowledged (op {}) and completed last, yet node(s) \
             {} ended with no value at all",
            index.show(b.value),
            b.witness,
            list(&names, 5),
        ),
    ));
}

/// "read on n1, n2, n3": which nodes were read, for explanations, and which
/// were not ("read on n2; no final read from n1, n3"): a node not read may
/// still hold the write. States are not spelled out: a set may hold
/// thousands of elements.
pub(crate) fn nodes(index: &HistoryIndex, k: &KeyIndex) -> String {
    let names: Vec<&str> = k
        .final_reads
        .iter()
        .map(|r| index.node_name(r.node))
        .collect();
    let down = crate::coverage::down_nodes(index);
    let unread: Vec<&str> = index
        .nodes
        .iter()
        .filter(|&&n| !down.contains(&n) && !k.final_reads.iter().any(|r| r.node == n))
        .map(|&n| index.node_name(n))
        .collect();
    if unread.is_empty() {
        format!("read on {}", list(&names, 5))
    } else {
        format!(
            "read on {}; no final read from {}",
            list(&names, 5),
            list(&unread, 5)
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{CheckOptions, Expectation, Validity, Workload, check, check_with};

    /// Write 2 begins 30 ms after write 1 completed, yet 1 wins everywhere.
    const OLDER_WINS: &str = "
        0 1 invoke write r 1 @n1
        1 1 ok     write r 1 @n1
        31 2 invoke write r 2 @n2
        32 2 ok     write r 2 @n2
        40 9 invoke final-read r @n1
        41 9 ok     final-read r [1] @n1
        42 9 invoke final-read r @n2
        43 9 ok     final-read r [1] @n2
    ";

    #[test]
    fn a_lin_kv_cas_is_a_write_of_the_value_it_sets() {
        // Maelstrom's lin-kv, judged as a register: the cas sets 2, so a
        // read of 2 is possible, and final reads still holding 1 lost it.
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            31 2 invoke cas r 2 @n2
            32 2 ok     cas r 2 @n2
            33 3 invoke read r @n2
            34 3 ok     read r [2] @n2
            40 9 invoke final-read r @n1
            41 9 ok     final-read r [1] @n1
            42 9 invoke final-read r @n2
            43 9 ok     final-read r [1] @n2
        ");
        let result = check(&history, Workload::LinKv);
        assert_eq!(found(&result), [("lost-update", "r", vec![1, 32, 41])]);
    }

    #[test]
    fn lww_losing_a_later_write_is_unexpected_without_a_clock_fault() {
        let lww = CheckOptions {
            strategy: Some("lww".into()),
            topology: Some("all-to-all".into()),
            ..CheckOptions::new(Workload::Register)
        };
        let result = check_with(&h(OLDER_WINS), &lww);
        assert_eq!(found(&result), [("lost-update", "r", vec![1, 32, 41])]);
        assert_eq!(result.anomalies[0].expectation, Expectation::Unexpected);
        // A clock fault in effect while the writes were stamped explains it.
        let skewed = h("
            0 nemesis invoke start-clock _
            1 nemesis ok     start-clock _
            2 1 invoke write r 1 @n1
            3 1 ok     write r 1 @n1
            33 2 invoke write r 2 @n2
            34 2 ok     write r 2 @n2
            35 nemesis invoke stop-clock _
            36 nemesis ok     stop-clock _
            40 9 invoke final-read r @n1
            41 9 ok     final-read r [1] @n1
            42 9 invoke final-read r @n2
            43 9 ok     final-read r [1] @n2
        ");
        let result = check_with(&skewed, &lww);
        assert_eq!(found(&result), [("lost-update", "r", vec![3, 34, 41])]);
        assert_eq!(result.anomalies[0].expectation, Expectation::Inherent);
    }

    #[test]
    fn set_acknowledged_add_missing_everywhere_is_lost_but_info_add_is_not() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 2 invoke add cart 2 @n2
            3 2 ok     add cart 2 @n2
            4 3 invoke add cart 3 @n3
            5 3 info   add cart 3 @n3
            6 9 invoke final-read cart @n1
            7 9 ok     final-read cart [1] @n1
            8 9 invoke final-read cart @n2
            9 9 ok     final-read cart [1] @n2
            10 9 invoke final-read cart @n3
            11 9 ok     final-read cart [1] @n3
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("lost-update", "cart", vec![3, 7, 9, 11])]);
        assert_eq!(result.valid, Validity::Invalid);
        assert_eq!(
            result.anomalies[0].explanation,
            "add of 2 to key \"cart\" was acknowledged (op 3) but no node's final read contains \
             it (read on n1, n2, n3)"
        );
    }

    #[test]
    fn set_add_surviving_on_one_node_is_not_lost() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 9 invoke final-read cart @n1
            3 9 ok     final-read cart [1] @n1
            4 9 invoke final-read cart @n2
            5 9 ok     final-read cart [] @n2
        ");
        // Divergence, yes; lost, no.
        assert_eq!(
            found(&check(&history, Workload::Set)),
            [("divergence", "cart", vec![3, 5])]
        );
    }

    #[test]
    fn register_write_undone_by_an_earlier_write_is_lost_once() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 2 invoke write r 2 @n2
            3 2 ok     write r 2 @n2
            4 9 invoke final-read r @n1
            5 9 ok     final-read r [1] @n1
            6 9 invoke final-read r @n2
            7 9 ok     final-read r [1] @n2
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("lost-update", "r", vec![1, 3, 5])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "write of 2 to key \"r\" was acknowledged (op 3) after the write of 1 had completed \
             (op 1), yet node n1's final read (op 5) holds 1 and not 2"
        );
    }

    #[test]
    fn register_concurrent_writes_may_replace_each_other() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 2 invoke write r 2 @n2
            2 1 ok     write r 1 @n1
            3 2 ok     write r 2 @n2
            4 9 invoke final-read r @n1
            5 9 ok     final-read r [1] @n1
            6 9 invoke final-read r @n2
            7 9 ok     final-read r [1] @n2
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), []);
        assert_eq!(result.valid, Validity::Valid);
    }

    #[test]
    fn register_lost_write_is_blamed_on_the_latest_earlier_write() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 1 invoke write r 2 @n1
            3 1 ok     write r 2 @n1
            4 1 invoke write r 3 @n1
            5 1 ok     write r 3 @n1
            6 9 invoke final-read r @n1
            7 9 ok     final-read r [1] @n1
            8 9 invoke final-read r @n2
            9 9 ok     final-read r [2] @n2
        ");
        // 2 is lost on n1 (undone by 1). 3 is lost on both nodes; the latest
        // undoing write is 2, on n2.
        assert_eq!(
            found(&check(&history, Workload::Register)),
            [
                ("lost-update", "r", vec![1, 3, 7]),
                ("lost-update", "r", vec![3, 5, 9]),
                ("divergence", "r", vec![7, 9]),
            ]
        );
    }

    #[test]
    fn register_info_and_failed_writes_are_never_lost() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 1 invoke write r 2 @n1
            3 1 info   write r 2 @n1
            4 2 invoke write r 3 @n2
            5 2 fail   write r 3 @n2
            6 3 invoke write r 4 @n2
            7 9 invoke final-read r @n1
            8 9 ok     final-read r [1] @n1
        ");
        // 4 never completed: indeterminate, like info.
        assert_eq!(found(&check(&history, Workload::Register)), []);
    }

    #[test]
    fn register_siblings_keep_both_concurrent_writes() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 2 invoke write r 2 @n2
            2 1 ok     write r 1 @n1
            3 2 ok     write r 2 @n2
            4 1 invoke write r 3 @n1
            5 1 ok     write r 3 @n1
            6 9 invoke final-read r @n1
            7 9 ok     final-read r [2,3] @n1
            8 9 invoke final-read r @n2
            9 9 ok     final-read r [3,2] @n2
        ");
        // 3 legitimately overwrote 1, which completed before it; 2 surviving
        // as a sibling of 3 is odd, but no acknowledged write is missing an
        // earlier write's value in its place.
        assert_eq!(found(&check(&history, Workload::Register)), []);
    }

    #[test]
    fn register_node_left_empty_loses_the_last_acknowledged_write() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 1 invoke write r 2 @n1
            3 1 ok     write r 2 @n1
            4 9 invoke final-read r @n1
            5 9 ok     final-read r [] @n1
            6 9 invoke final-read r @n2
            7 9 ok     final-read r [] @n2
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("lost-update", "r", vec![3, 5, 7])]);
        assert!(
            result.anomalies[0]
                .explanation
                .contains("n1, n2 ended with no value")
        );
    }
}
