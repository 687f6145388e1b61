//! Maelstrom's set rule for `g-set` and `broadcast`: every acknowledged
//! add must be in every node's final read, not merely in some (diverge's
//! `set` rule, [`crate::lost_update::set`], asks only that it survive
//! somewhere). An acknowledged add a node's final read lacks is a
//! `lost-update` at that node: the nodes were healed and given time to
//! converge, and that node never learned of it.

use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::history::OpType;
use crate::index::HistoryIndex;

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let key_name = index.key_name(key as u32);
        for &id in &k.writes {
            let value = index.write_value(id);
            let lacking: Vec<_> = k
                .final_reads
                .iter()
                .filter(|r| !r.contains(value))
                .collect();
            if lacking.is_empty() {
                continue;
            }
            let write = index.write(id);
            if write.outcome != OpType::Ok {
                continue;
            }
            let nodes: Vec<&str> = lacking.iter().map(|r| index.node_name(r.node)).collect();
            let mut witnesses = vec![write.witness];
            witnesses.extend(lacking.iter().map(|r| r.witness));
            anomalies.push(Anomaly::new(
                AnomalyKind::LostUpdate,
                key_name,
                witnesses,
                format!(
                    "add of {} to {key_name:?} was acknowledged (op {}) but the final read of {} \
                     of {} nodes lacks it ({})",
                    index.show(write.value),
                    write.witness,
                    lacking.len(),
                    k.final_reads.len(),
                    list(&nodes, 5),
                ),
            ));
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Validity, Workload, check};

    #[test]
    fn an_acknowledged_add_one_node_lacks_is_lost_there() {
        let history = h("
            0 1 invoke add broadcast 1 @n1
            1 1 ok     add broadcast 1 @n1
            2 2 invoke add broadcast 2 @n2
            3 2 info   add broadcast 2 @n2
            4 9 invoke final-read broadcast @n1
            5 9 ok     final-read broadcast [1] @n1
            6 9 invoke final-read broadcast @n2
            7 9 ok     final-read broadcast [] @n2
        ");
        let result = check(&history, Workload::Broadcast);
        assert_eq!(result.valid, Validity::Invalid);
        let lost: Vec<_> = found(&result)
            .into_iter()
            .filter(|(kind, _, _)| *kind == "lost-update")
            .collect();
        assert_eq!(lost, [("lost-update", "broadcast", vec![1, 7])]);
        assert!(
            result.anomalies.iter().any(|a| a.explanation
                == "add of 1 to \"broadcast\" was acknowledged (op 1) but the final read of 1 \
                    of 2 nodes lacks it (n2)"),
            "{:?}",
            result.anomalies
        );
        // diverge's own set rule: surviving somewhere is enough.
        assert_eq!(
            found(&check(&history, Workload::Set)),
            [("divergence", "broadcast", vec![5, 7])]
        );
    }
}
