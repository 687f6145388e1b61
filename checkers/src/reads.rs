//! Reads that return values they never could: `impossible-read` and
//! `aborted-read`. Both look at every `ok` read and final read.
//!
//! - **impossible-read**: a value no op ever tried to write to that key (no
//!   `add`/`write` invoke carries it). Values are unique across a test, so a
//!   value written only to another key is impossible here too.
//! - **aborted-read**: a value whose write definitely failed (`fail`). An
//!   `info` write may have happened, so its value may appear anywhere.
//!
//! One anomaly per offending value (and key), witnessed by the first read
//! that returned it; the explanation says how many reads did. Reporting every
//! read would bury the one fact in repetition.
//!
//! Bounded: with a `per_key` limit only that many of each kind per key
//! (those of the earliest witnesses) become anomalies, the rest are only
//! counted, so a read of millions of never-written values costs a counter
//! each, not a sentence each.

use std::collections::BinaryHeap;

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::facts::{self, Facts};
use crate::index::{HistoryIndex, Read};
use crate::model::{FastMap, NONE, Val};
use crate::stale;

/// Reads expanded together in the read pass (see [`check_and_observe`]).
const READ_BATCH: usize = 32;

/// The first read that returned a value, and how many did. 16 bytes: one
/// per impossible value, and a read may return millions.
struct Seen {
    first: u64,
    node: u32,
    reads: u32,
}

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    check_and_observe(index, &facts::build(index), None, None).0
}

/// Anomalies counted but not built, by kind.
pub type Omitted = Vec<(AnomalyKind, usize)>;

/// The `per_key` smallest items of each key (all of them without a limit),
/// in (key, item) order, and how many were left out.
fn smallest_per_key<T: Ord>(
    per_key: Option<usize>,
    items: impl Iterator<Item = (u32, T)>,
) -> (Vec<(u32, T)>, usize) {
    let limit = per_key.unwrap_or(usize::MAX);
    let mut heaps: FastMap<u32, BinaryHeap<T>> = FastMap::default();
    let mut omitted = 0;
    for (key, item) in items {
        let heap = heaps.entry(key).or_default();
        heap.push(item);
        if heap.len() > limit {
            heap.pop(); // The largest: not among the first `limit`.
            omitted += 1;
        }
    }
    let mut kept: Vec<(u32, T)> = heaps
        .into_iter()
        .flat_map(|(key, heap)| heap.into_iter().map(move |t| (key, t)))
        .collect();
    kept.sort_unstable();
    (kept, omitted)
}

/// [`check`], plus (in the same pass over every read element) which read
/// first returned each write's value among the non-final reads on another
/// node (its position in [`HistoryIndex::reads`], [`NONE`] if none): turned
/// into times by [`seen_times`] for [`crate::observe::lag`]. `stale`, if
/// given, is fed every non-final read in that same pass: the elements are
/// decoded and looked up once for both checks.
pub fn check_and_observe(
    index: &HistoryIndex,
    facts: &[Facts],
    mut stale: Option<&mut stale::Checker>,
    per_key: Option<usize>,
) -> (Vec<Anomaly>, Vec<u32>, Omitted) {
    // Read positions, not times: 4 bytes less per write while the stale
    // checker's tables are alive too (the peak of a large check).
    let mut seen_at = vec![NONE; index.write_count()];
    let mut impossible: FastMap<(u32, Val), Seen> = FastMap::default();
    let mut aborted: FastMap<u32, Seen> = FastMap::default();
    // Key by key: the per-write tables stay in cache (see
    // `reads_by_key`). Every result is per key or kept in order within a key
    // (the first read to return a value is the earliest of its key), so
    // the order changes nothing.
    //
    // Expanding a read loads its invoke and completion ops, far apart in
    // the history and, in this order, cache misses: expanded a batch at a
    // time, the loads are independent and overlap.
    let order = index.reads_by_key();
    let mut batch: Vec<(u32, Read)> = Vec::with_capacity(READ_BATCH);
    for chunk in order.chunks(READ_BATCH) {
        batch.clear();
        batch.extend(chunk.iter().map(|&at| (at, index.read(at as usize))));
        for &(at, read) in &batch {
            let first_seen = || Seen {
                first: read.witness,
                node: read.node,
                reads: 0,
            };
            // A read with an impossible value is not judged stale (the stale
            // checker would compare against a write that does not exist).
            let mut stale = stale.as_deref_mut().filter(|_| !read.is_final);
            if let Some(s) = stale.as_deref_mut() {
                s.begin();
            }
            let mut possible = true;
            for value in index.hist.elements(&read.value) {
                let seen = match index.write_by_value.get(value) {
                    Some(id) if facts[id as usize].key == read.key => {
                        let w = facts[id as usize];
                        if !read.is_final && w.node != read.node && seen_at[id as usize] == NONE {
                            seen_at[id as usize] = at;
                        }
                        if let Some(s) = stale.as_deref_mut() {
                            s.element(&read, id, w);
                        }
                        if !w.failed() {
                            continue;
                        }
                        aborted.entry(id).or_insert_with(first_seen)
                    }
                    _ => {
                        possible = false;
                        impossible
                            .entry((read.key, value))
                            .or_insert_with(first_seen)
                    }
                };
                seen.reads = seen.reads.saturating_add(1);
            }
            if let Some(s) = stale.filter(|_| possible) {
                s.end(&read);
            }
        }
    }

    let (impossible, impossible_omitted) = smallest_per_key(
        per_key,
        impossible
            .into_iter()
            .map(|((key, value), seen)| (key, (seen.first, value, seen.node, seen.reads))),
    );
    let (aborted, aborted_omitted) = smallest_per_key(
        per_key,
        aborted.into_iter().map(|(id, seen)| {
            let write = index.write(id);
            (
                write.key,
                (write.witness, seen.first, id, seen.node, seen.reads),
            )
        }),
    );
    let mut anomalies = Vec::with_capacity(impossible.len() + aborted.len());
    for (key, (first, value, node, reads)) in impossible {
        let key = index.key_name(key);
        let elsewhere = match index.write_of(value) {
            Some(w) => format!(" (it was only written to key {:?})", index.key_name(w.key)),
            None => String::new(),
        };
        anomalies.push(Anomaly::new(
            AnomalyKind::ImpossibleRead,
            key,
            vec![first],
            format!(
                "read of key {key:?}{} (op {first}) returned {}, which no op ever tried to write{elsewhere}; {reads} read(s) returned it",
                on(index, node),
                index.show(value),
            ),
        ));
    }
    for (key, (witness, first, id, node, reads)) in aborted {
        let write = index.write(id);
        let key = index.key_name(key);
        anomalies.push(Anomaly::new(
            AnomalyKind::AbortedRead,
            key,
            vec![witness, first],
            format!(
                "read of key {key:?}{} (op {first}) returned {}, whose write failed (op {witness}); {reads} read(s) returned it",
                on(index, node),
                index.show(write.value),
            ),
        ));
    }
    let omitted = vec![
        (AnomalyKind::ImpossibleRead, impossible_omitted),
        (AnomalyKind::AbortedRead, aborted_omitted),
    ];
    (anomalies, seen_at, omitted)
}

/// The end times of the reads [`check_and_observe`] found (`u64::MAX` for
/// [`NONE`]): the input of [`crate::observe::lag`].
pub fn seen_times(index: &HistoryIndex, seen_at: &[u32]) -> Vec<u64> {
    seen_at
        .iter()
        .map(|&at| {
            if at == NONE {
                u64::MAX
            } else {
                index.read(at as usize).end_time
            }
        })
        .collect()
}

/// " on n1", or nothing when the node is unknown.
pub(crate) fn on(index: &HistoryIndex, node: u32) -> String {
    if node == NONE {
        String::new()
    } else {
        format!(" on {}", index.node_name(node))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Validity, Workload, check};

    #[test]
    fn value_nobody_wrote_is_an_impossible_read_reported_once() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 2 invoke read cart @n2
            3 2 ok     read cart [1,5] @n2
            4 9 invoke final-read cart @n1
            5 9 ok     final-read cart [1,5] @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("impossible-read", "cart", vec![3])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "read of key \"cart\" on n2 (op 3) returned 5, which no op ever tried to write; 2 \
             read(s) returned it"
        );
    }

    #[test]
    fn value_written_only_to_another_key_is_impossible_here() {
        let history = h("
            0 1 invoke write a 1 @n1
            1 1 ok     write a 1 @n1
            2 2 invoke read b @n1
            3 2 ok     read b [1] @n1
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("impossible-read", "b", vec![3])]);
        assert!(
            result.anomalies[0]
                .explanation
                .contains("only written to key \"a\"")
        );
    }

    #[test]
    fn indeterminate_writes_may_appear_without_anomaly() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 info   add cart 1 @n1
            2 2 invoke add cart 2 @n2
            3 3 invoke read cart @n3
            4 3 ok     read cart [1,2] @n3
            5 9 invoke final-read cart @n1
            6 9 ok     final-read cart [1,2] @n1
        ");
        // 2's invoke never completed: as indeterminate as 1's info.
        assert_eq!(found(&check(&history, Workload::Set)), []);
    }

    #[test]
    fn value_of_a_failed_write_is_an_aborted_read() {
        let history = h("
            0 1 invoke add cart 3 @n1
            1 1 fail   add cart 3 @n1
            2 2 invoke read cart @n2
            3 2 ok     read cart [3] @n2
            4 9 invoke final-read cart @n1
            5 9 ok     final-read cart [3] @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("aborted-read", "cart", vec![1, 3])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "read of key \"cart\" on n2 (op 3) returned 3, whose write failed (op 1); 2 read(s) \
             returned it"
        );
    }

    #[test]
    fn unsuccessful_reads_and_nemesis_ops_are_not_checked() {
        let history = h("
            0 nemesis info partition
            1 2 invoke read cart @n2
            2 2 fail   read cart [99] @n2
            3 3 invoke read cart @n3
            4 3 info   read cart [98] @n3
            5 nemesis info heal
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), []);
        assert_eq!(result.valid, Validity::Unknown); // no final reads
    }
}
