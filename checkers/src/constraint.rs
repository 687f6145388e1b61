//! Constraint workload: `claim` a name (`key`) for a claimant (the invoke's
//! unique `value`); `ok` = the node accepted, `fail` = it refused (taken).
//! Final reads return the claimants a node holds for the name.
//!
//! `constraint-violation`: two different claimants both got `ok` for one
//! name (witnesses: both completions), or a final read holds more than one
//! claimant (witness: that read). A claimant held after its claim failed is
//! an `aborted-read` ([`crate::reads`]).

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::fid;

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let key_name = index.key_name(key as u32);
        let mut oks: Vec<_> = k
            .writes
            .iter()
            .map(|&id| index.write(id))
            .filter(|w| {
                w.outcome == OpType::Ok && index.hist.ops[w.pair.invoke as usize].f == fid::CLAIM
            })
            .collect();
        oks.sort_unstable_by_key(|w| w.witness);
        if let Some(first) = oks.first()
            && let Some(second) = oks.iter().find(|w| w.value != first.value)
        {
            out.push(Anomaly::new(
                AnomalyKind::ConstraintViolation,
                key_name,
                vec![first.witness, second.witness],
                format!(
                    "name {key_name:?} was granted to {} on {} (op {}) and to {} on {} (op {}); \
                     {} claim(s) succeeded in all",
                    index.show(first.value),
                    index.node_name(first.node),
                    first.witness,
                    index.show(second.value),
                    index.node_name(second.node),
                    second.witness,
                    oks.len(),
                ),
            ));
        }
        for r in k.final_reads.iter().filter(|r| r.elems.len() > 1) {
            let holders: Vec<String> = r.elems.iter().map(|&v| index.show(v)).collect();
            out.push(Anomaly::new(
                AnomalyKind::ConstraintViolation,
                key_name,
                vec![r.witness],
                format!(
                    "node {}'s final read of name {key_name:?} (op {}) holds {} claimants: {}",
                    index.node_name(r.node),
                    r.witness,
                    holders.len(),
                    crate::anomaly::list(&holders, 5),
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
    fn name_granted_twice_and_held_twice() {
        let history = h("
            0 1 invoke claim alice 100 @n1
            1 2 invoke claim alice 200 @n2
            2 1 ok     claim alice 100 @n1
            3 2 ok     claim alice 200 @n2
            4 3 invoke claim bob 300 @n1
            5 3 ok     claim bob 300 @n1
            6 4 invoke claim bob 400 @n2
            7 4 fail   claim bob 400 @n2
            8 5 invoke claim carol 500 @n2
            9 5 info   claim carol 500 @n2
            10 9 invoke final-read alice @n1
            11 9 ok     final-read alice [100,200] @n1
            12 9 invoke final-read alice @n2
            13 9 ok     final-read alice [100,200] @n2
            14 9 invoke final-read bob @n1
            15 9 ok     final-read bob [300] @n1
            16 9 invoke final-read bob @n2
            17 9 ok     final-read bob [300] @n2
            18 9 invoke final-read carol @n1
            19 9 ok     final-read carol [500] @n1
            20 9 invoke final-read carol @n2
            21 9 ok     final-read carol [500] @n2
        ");
        assert_eq!(
            found(&check(&history, Workload::Constraint)),
            [
                ("constraint-violation", "alice", vec![2, 3]),
                ("constraint-violation", "alice", vec![11]),
                ("constraint-violation", "alice", vec![13]),
            ]
        );
    }
}
