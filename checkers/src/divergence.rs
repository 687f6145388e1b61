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
