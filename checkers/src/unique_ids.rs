//! Unique-ids workload: `generate` returns an id on its `ok` completion.
//! `duplicate-id`: two `ok` generates returned the same id. One anomaly per
//! repeated id, witnessed by the first two completions (the explanation
//! counts all of them and names their nodes).

use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::{CValue, FastMap, Val, fid};

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let hist = index.hist;
    let mut by_id: FastMap<Val, Vec<u32>> = FastMap::default();
    let mut order: Vec<Val> = Vec::new();
    for p in &index.pairs {
        if p.invoke(hist).f != fid::GENERATE {
            continue;
        }
        let Some(c) = p.completion(hist).filter(|c| c.kind == OpType::Ok) else {
            continue;
        };
        let CValue::One(id) = c.value else { continue };
        let entry = by_id.entry(id).or_default();
        if entry.len() == 1 {
            order.push(id);
        }
        entry.push(p.completion);
    }
    order
        .into_iter()
        .map(|id| {
            let mut ops: Vec<u32> = by_id[&id].clone();
            ops.sort_unstable();
            let nodes: Vec<&str> = ops
                .iter()
                .map(|&o| hist.node_name(hist.ops[o as usize].node))
                .collect();
            let witnesses: Vec<u64> = ops[..2].iter().map(|&o| hist.index_of(o)).collect();
            Anomaly::keyless(
                AnomalyKind::DuplicateId,
                witnesses.clone(),
                format!(
                    "id {} was handed out {} times (first ops {} and {}), by nodes {}",
                    hist.show(id),
                    ops.len(),
                    witnesses[0],
                    witnesses[1],
                    list(&nodes, 5),
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Validity, Workload, check};

    #[test]
    fn same_id_from_two_nodes_is_a_duplicate() {
        let history = h("
            0 1 invoke generate @n1
            1 2 invoke generate @n2
            2 1 ok     generate _ 7 @n1
            3 2 ok     generate _ 7 @n2
            4 3 invoke generate @n3
            5 3 info   generate @n3
            6 1 invoke generate @n1
            7 1 ok     generate _ 8 @n1
        ");
        let result = check(&history, Workload::UniqueIds);
        assert_eq!(found(&result), [("duplicate-id", "", vec![2, 3])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "id 7 was handed out 2 times (first ops 2 and 3), by nodes n1, n2"
        );
        let clean = h("
            0 1 invoke generate @n1
            1 1 ok     generate _ 1 @n1
            2 2 invoke generate @n2
            3 2 ok     generate _ 2 @n2
        ");
        assert_eq!(check(&clean, Workload::UniqueIds).valid, Validity::Valid);
    }
}
