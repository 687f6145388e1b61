//! `divergence`: nodes that still disagree on a key after the cluster healed
//! and quiesced. Multi-leader replication promises convergence, so final
//! reads of one key must be equal on every node. Compared as sets: order (and
//! sibling order) does not matter.

use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::index::{HistoryIndex, KeyIndex};
use crate::model::Val;

/// One anomaly per key whose final reads are not all equal, as sets.
pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let Some(first) = k.final_reads.first() else {
            continue;
        };
        if k.final_reads.iter().all(|r| r.elems == first.elems) {
            continue;
        }
        // What each node lacks relative to the union names the difference
        // in a sentence even when the states themselves are large.
        let mut union: Vec<Val> = k
            .final_reads
            .iter()
            .flat_map(|r| r.elems.iter().copied())
            .collect();
        union.sort_unstable();
        union.dedup();
        let lacks: Vec<String> = k
            .final_reads
            .iter()
            .filter_map(|r| {
                let missing: Vec<String> = union
                    .iter()
                    .filter(|&&e| !r.contains(e))
                    .map(|&e| index.show(e))
                    .collect();
                (!missing.is_empty())
                    .then(|| format!("{} lacks {}", index.node_name(r.node), list(&missing, 5)))
            })
            .collect();
        anomalies.push(anomaly(
            index,
            key as u32,
            k,
            format!(
                "disagree across {} nodes: {}",
                k.final_reads.len(),
                lacks.join("; ")
            ),
        ));
    }
    anomalies
}

/// A divergence anomaly on `key` whose explanation ends with `detail`, with
/// every node's final read in `nodes`.
pub(crate) fn anomaly(index: &HistoryIndex, key: u32, k: &KeyIndex, detail: String) -> Anomaly {
    let key_name = index.key_name(key);
    let mut anomaly = Anomaly::new(
        AnomalyKind::Divergence,
        key_name,
        k.final_read_witnesses(),
        format!("final reads of key {key_name:?} {detail}"),
    );
    anomaly.nodes = k
        .final_reads
        .iter()
        .map(|r| {
            (
                index.node_name(r.node).to_owned(),
                index.hist.to_json(r.value),
            )
        })
        .collect();
    anomaly
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{found, h};
    use crate::{Workload, check};

    #[test]
    fn nodes_disagreeing_after_quiesce_diverge() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 2 invoke add cart 2 @n2
            3 2 ok     add cart 2 @n2
            4 9 invoke final-read cart @n1
            5 9 ok     final-read cart [1,2] @n1
            6 9 invoke final-read cart @n2
            7 9 ok     final-read cart [2,1] @n2
            8 9 invoke final-read cart @n3
            9 9 ok     final-read cart [1] @n3
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("divergence", "cart", vec![5, 7, 9])]);
        let anomaly = &result.anomalies[0];
        assert_eq!(
            anomaly.explanation,
            "final reads of key \"cart\" disagree across 3 nodes: n3 lacks 2"
        );
        assert_eq!(anomaly.nodes["n1"], json!([1, 2]));
        assert_eq!(anomaly.nodes["n2"], json!([2, 1]));
        assert_eq!(anomaly.nodes["n3"], json!([1]));
    }

    #[test]
    fn sibling_order_does_not_matter() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 2 invoke write r 2 @n2
            2 1 ok     write r 1 @n1
            3 2 ok     write r 2 @n2
            4 9 invoke final-read r @n1
            5 9 ok     final-read r [1,2] @n1
            6 9 invoke final-read r @n2
            7 9 ok     final-read r [2,1] @n2
        ");
        assert_eq!(found(&check(&history, Workload::Register)), []);
    }

    #[test]
    fn registers_holding_different_concurrent_winners_diverge() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 2 invoke write r 2 @n2
            2 1 ok     write r 1 @n1
            3 2 ok     write r 2 @n2
            4 9 invoke final-read r @n1
            5 9 ok     final-read r [1] @n1
            6 9 invoke final-read r @n2
            7 9 ok     final-read r [2] @n2
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("divergence", "r", vec![5, 7])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "final reads of key \"r\" disagree across 2 nodes: n1 lacks 2; n2 lacks 1"
        );
    }
}
