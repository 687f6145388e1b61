//! `divergence`: nodes that still disagree on a key after the cluster healed
//! and quiesced. Multi-leader replication promises convergence, so final
//! reads of one key must be equal on every node. Compared as sets: order (and
//! sibling order) does not matter.

use std::collections::BTreeSet;

use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::history::Elem;
use crate::index::HistoryIndex;

/// One anomaly per key whose final reads are not all equal.
pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (&key, k) in &index.keys {
        let mut states = k.final_reads.values();
        let Some(first) = states.next() else {
            continue;
        };
        if states.all(|r| r.elems == first.elems) {
            continue;
        }
        // What each node lacks relative to the union names the difference
        // in a sentence even when the states themselves are large.
        let union: BTreeSet<&Elem> = k.final_reads.values().flat_map(|r| &r.elems).collect();
        let lacks: Vec<String> = k
            .final_reads
            .iter()
            .filter_map(|(node, r)| {
                let missing: Vec<&&Elem> = union.iter().filter(|e| !r.elems.contains(e)).collect();
                (!missing.is_empty()).then(|| format!("{node} lacks {}", list(&missing, 5)))
            })
            .collect();
        let mut anomaly = Anomaly::new(
            AnomalyKind::Divergence,
            key,
            k.final_read_witnesses(),
            format!(
                "final reads of key {key:?} disagree across {} nodes: {}",
                k.final_reads.len(),
                lacks.join("; "),
            ),
        );
        anomaly.nodes = k
            .final_reads
            .iter()
            .map(|(node, r)| ((*node).to_owned(), r.completion.value.clone()))
            .collect();
        anomalies.push(anomaly);
    }
    anomalies
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
