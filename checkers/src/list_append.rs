//! List-append workload: `append` a unique value to a key's list, `read`
//! the whole list.
//!
//! - `lost-update`: an `ok` append in no node's final list.
//! - `duplicate-element`: a value twice in one list (any read or final read);
//!   one anomaly per list and value.
//! - `divergence`: final lists that differ, order included.
//! - `reordered-append`: append A completed (`ok`) before append B was
//!   invoked, both are in a final list, and B comes first. Found per list in
//!   one backward pass (suffix minimum of completion times); each (A, B)
//!   pair once, with the A that completed earliest.
//!
//! Impossible and aborted reads come from [`crate::reads`].

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::divergence;
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::{FastSet, Val};

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let key = key as u32;
        let key_name = index.key_name(key);
        // Lost: like the set, membership in any final list.
        if !k.final_reads.is_empty() {
            for w in k.writes.iter().map(|&id| index.write(id)) {
                if w.outcome == OpType::Ok && !k.final_reads.iter().any(|r| r.contains(w.value)) {
                    let mut witnesses = vec![w.witness];
                    witnesses.extend(k.final_read_witnesses());
                    out.push(Anomaly::new(
                        AnomalyKind::LostUpdate,
                        key_name,
                        witnesses,
                        format!(
                            "append of {} to key {key_name:?} was acknowledged (op {}) but no \
                             node's final list contains it ({})",
                            index.show(w.value),
                            w.witness,
                            crate::lost_update::nodes(index, k),
                        ),
                    ));
                }
            }
        }
        // Divergence, order-sensitive.
        if let Some(first) = k.final_reads.first() {
            let first_list = index.hist.elements(&first.value);
            let differs = k
                .final_reads
                .iter()
                .any(|r| index.hist.elements(&r.value).ne(first_list.clone()));
            if differs {
                let same_set = k.final_reads.iter().all(|r| r.elems == first.elems);
                let detail = if same_set {
                    "hold the same elements in different orders".to_owned()
                } else {
                    "disagree (different elements)".to_owned()
                };
                out.push(divergence::anomaly(index, key, k, detail));
            }
        }
        // Reordered appends, once per (A, B) over all final lists.
        let mut reported: FastSet<(Val, Val)> = FastSet::default();
        for r in &k.final_reads {
            let list: Vec<Val> = index.hist.elements(&r.value).collect();
            let mut best: Option<(u64, usize)> = None; // (A's end, A's position)
            for (i, &v) in list.iter().enumerate().rev() {
                let Some(b) = index.write_of(v).filter(|w| w.key == key) else {
                    continue;
                };
                if let Some((a_end, j)) = best
                    && a_end < b.invoke_time
                {
                    let a = index.write_of(list[j]).unwrap();
                    if reported.insert((a.value, b.value)) {
                        out.push(Anomaly::new(
                            AnomalyKind::ReorderedAppend,
                            key_name,
                            vec![a.witness, b.witness, r.witness],
                            format!(
                                "append of {} to key {key_name:?} completed (op {}) before the \
                                 append of {} was invoked, yet {}'s final list (op {}) has {} \
                                 before {}",
                                index.show(a.value),
                                a.witness,
                                index.show(b.value),
                                index.node_name(r.node),
                                r.witness,
                                index.show(b.value),
                                index.show(a.value),
                            ),
                        ));
                    }
                }
                if b.outcome == OpType::Ok && best.is_none_or(|(t, _)| b.end_time < t) {
                    best = Some((b.end_time, i));
                }
            }
        }
    }
    // Duplicates within any list read.
    for read in index.reads() {
        let mut seen: FastSet<Val> = FastSet::default();
        let mut dups: Vec<Val> = Vec::new();
        for v in index.hist.elements(&read.value) {
            if !seen.insert(v) && !dups.contains(&v) {
                dups.push(v);
            }
        }
        for v in dups {
            let key_name = index.key_name(read.key);
            out.push(Anomaly::new(
                AnomalyKind::DuplicateElement,
                key_name,
                vec![read.witness],
                format!(
                    "{}read of key {key_name:?}{} (op {}) lists {} more than once",
                    if read.is_final { "final " } else { "" },
                    crate::reads::on(index, read.node),
                    read.witness,
                    index.show(v),
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Workload, check};

    #[test]
    fn valid_lists_with_info_appends_check_clean() {
        let history = h("
            0 1 invoke append l 1 @n1
            1 1 ok     append l 1 @n1
            2 2 invoke append l 2 @n2
            3 2 info   append l 2 @n2
            4 3 invoke read l @n3
            5 3 ok     read l [1] @n3
            6 9 invoke final-read l @n1
            7 9 ok     final-read l [1,2] @n1
            8 9 invoke final-read l @n2
            9 9 ok     final-read l [1,2] @n2
        ");
        assert_eq!(found(&check(&history, Workload::ListAppend)), []);
    }

    #[test]
    fn lost_duplicate_reordered_and_diverged() {
        let history = h("
            0 1 invoke append l 1 @n1
            1 1 ok     append l 1 @n1
            2 1 invoke append l 2 @n1
            3 1 ok     append l 2 @n1
            4 1 invoke append l 3 @n1
            5 1 ok     append l 3 @n1
            6 9 invoke final-read l @n1
            7 9 ok     final-read l [2,1,1] @n1
            8 9 invoke final-read l @n2
            9 9 ok     final-read l [1,2] @n2
        ");
        assert_eq!(
            found(&check(&history, Workload::ListAppend)),
            [
                ("lost-update", "l", vec![5, 7, 9]),
                ("divergence", "l", vec![7, 9]),
                ("duplicate-element", "l", vec![7]),
                ("reordered-append", "l", vec![1, 3, 7]),
            ]
        );
    }

    #[test]
    fn concurrent_appends_may_land_in_any_order() {
        let history = h("
            0 1 invoke append l 1 @n1
            1 2 invoke append l 2 @n2
            2 1 ok     append l 1 @n1
            3 2 ok     append l 2 @n2
            4 9 invoke final-read l @n1
            5 9 ok     final-read l [2,1] @n1
        ");
        assert_eq!(found(&check(&history, Workload::ListAppend)), []);
    }
}
