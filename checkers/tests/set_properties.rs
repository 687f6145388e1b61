//! Property: generated set histories that are valid by construction check
//! clean, and planting one lost add yields exactly that one anomaly.
//!
//! The generator simulates up to four client processes against three nodes
//! and three keys. Each add's outcome (ok / fail / info) is fixed when it is
//! invoked, so reads can return any subset of the elements whose adds will not
//! fail; some invokes are left unfinished (indeterminate). Final reads hold
//! every acknowledged add plus a chosen subset of the indeterminate ones, the
//! same set on every node, each node listing it in a different order. A read
//! always holds the adds its own node acknowledged before it began (else it
//! would be a stale read).

use std::collections::BTreeSet;

use diverge_checkers::{AnomalyKind, Op, OpType, Process, Validity, Workload, check};
use proptest::prelude::*;
use serde_json::{Value, json};

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const KEYS: [&str; 3] = ["k0", "k1", "k2"];

/// One scheduling decision: which process acts, and the dice it uses.
#[derive(Clone, Debug)]
struct Step {
    process: usize,
    is_add: bool,
    key: usize,
    outcome: OpType,
    pick: u64,
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        3 => Just(OpType::Ok),
        1 => Just(OpType::Fail),
        1 => Just(OpType::Info),
    ];
    (
        0..4usize,
        any::<bool>(),
        0..KEYS.len(),
        outcome,
        any::<u64>(),
    )
        .prop_map(|(process, is_add, key, outcome, pick)| Step {
            process,
            is_add,
            key,
            outcome,
            pick,
        })
}

struct Add {
    key: usize,
    node: usize,
    element: u64,
    outcome: OpType,
    completion: Option<u64>,
}

struct Generated {
    ops: Vec<Op>,
    adds: Vec<Add>,
    /// Per key: the op indices of its final reads.
    final_reads: Vec<Vec<u64>>,
}

fn op(
    ops: &mut Vec<Op>,
    process: usize,
    kind: OpType,
    f: &str,
    key: usize,
    value: Value,
    node: usize,
) -> u64 {
    let index = ops.len() as u64;
    ops.push(Op {
        index,
        time: index * 1_000,
        process: Process::Client(process as u64),
        kind,
        f: f.to_owned(),
        key: Some(KEYS[key].to_owned()),
        value,
        node: Some(NODES[node].to_owned()),
        error: None,
    });
    index
}

/// Builds the history; `lose` removes that ok add's element from the final
/// reads.
fn generate(steps: &[Step], keep_indeterminate: u64, lose: Option<usize>) -> Generated {
    let mut ops = Vec::new();
    let mut adds: Vec<Add> = Vec::new();
    // Per process: the open op, as (add id or None for a read, key, invoke
    // index).
    let mut open: [Option<(Option<usize>, usize, u64)>; 4] = [None; 4];
    for s in steps {
        let node = s.process % NODES.len();
        match open[s.process].take() {
            None if s.is_add => {
                let element = adds.len() as u64 + 100;
                let invoke = op(
                    &mut ops,
                    s.process,
                    OpType::Invoke,
                    "add",
                    s.key,
                    json!(element),
                    node,
                );
                adds.push(Add {
                    key: s.key,
                    node,
                    element,
                    outcome: s.outcome,
                    completion: None,
                });
                open[s.process] = Some((Some(adds.len() - 1), s.key, invoke));
            }
            None => {
                let invoke = op(
                    &mut ops,
                    s.process,
                    OpType::Invoke,
                    "read",
                    s.key,
                    Value::Null,
                    node,
                );
                open[s.process] = Some((None, s.key, invoke));
            }
            Some((Some(id), key, _)) => {
                let add = &adds[id];
                let (outcome, element) = (add.outcome, add.element);
                let index = op(
                    &mut ops,
                    s.process,
                    outcome,
                    "add",
                    key,
                    json!(element),
                    node,
                );
                adds[id].completion = Some(index);
            }
            Some((None, key, invoke)) => {
                // Any subset of the elements whose adds will not fail that
                // holds those this node acknowledged before the read began.
                let seen: Vec<u64> = adds
                    .iter()
                    .enumerate()
                    .filter(|(i, a)| {
                        let own = a.outcome == OpType::Ok
                            && a.node == node
                            && a.completion.is_some_and(|c| c < invoke);
                        a.key == key
                            && a.outcome != OpType::Fail
                            && (own || s.pick >> (i % 64) & 1 == 1)
                    })
                    .map(|(_, a)| a.element)
                    .collect();
                op(
                    &mut ops,
                    s.process,
                    OpType::Ok,
                    "read",
                    key,
                    json!(seen),
                    node,
                );
            }
        }
    }
    // Invokes still open stay unfinished: indeterminate, like info.
    let mut final_reads: Vec<Vec<u64>> = vec![Vec::new(); KEYS.len()];
    for (key, reads) in final_reads.iter_mut().enumerate() {
        let state: BTreeSet<u64> = adds
            .iter()
            .enumerate()
            .filter(|(_, a)| a.key == key)
            .filter(|&(i, a)| match (a.outcome, a.completion) {
                (OpType::Ok, Some(_)) => lose != Some(i),
                (OpType::Fail, Some(_)) => false,
                _ => keep_indeterminate >> (i % 64) & 1 == 1,
            })
            .map(|(_, a)| a.element)
            .collect();
        for node in 0..NODES.len() {
            let mut listed: Vec<u64> = state.iter().copied().collect();
            if !listed.is_empty() {
                let by = node % listed.len();
                listed.rotate_left(by);
            }
            op(
                &mut ops,
                9,
                OpType::Invoke,
                "final-read",
                key,
                Value::Null,
                node,
            );
            reads.push(op(
                &mut ops,
                9,
                OpType::Ok,
                "final-read",
                key,
                json!(listed),
                node,
            ));
        }
    }
    Generated {
        ops,
        adds,
        final_reads,
    }
}

proptest! {
    #[test]
    fn valid_set_histories_have_no_anomaly(
        steps in prop::collection::vec(step(), 0..80),
        keep in any::<u64>(),
    ) {
        let g = generate(&steps, keep, None);
        let result = check(&g.ops, Workload::Set);
        prop_assert!(result.anomalies.is_empty(), "{:#?}", result.anomalies);
        // A history in which no client op was acknowledged proves nothing.
        let acknowledged = g
            .ops
            .iter()
            .any(|op| op.kind == OpType::Ok && op.f != "final-read");
        let want = if acknowledged { Validity::Valid } else { Validity::Unknown };
        prop_assert_eq!(result.valid, want, "{:?}", result.inconclusive);
    }

    #[test]
    fn one_planted_lost_add_is_exactly_the_one_anomaly(
        steps in prop::collection::vec(step(), 1..80),
        keep in any::<u64>(),
        which in any::<prop::sample::Index>(),
    ) {
        let probe = generate(&steps, keep, None);
        let acked: Vec<usize> = probe
            .adds
            .iter()
            .enumerate()
            .filter(|(_, a)| a.outcome == OpType::Ok && a.completion.is_some())
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!acked.is_empty());
        let lost = acked[which.index(acked.len())];

        let g = generate(&steps, keep, Some(lost));
        let result = check(&g.ops, Workload::Set);
        let add = &g.adds[lost];
        let mut witnesses = vec![add.completion.unwrap()];
        witnesses.extend(&g.final_reads[add.key]);
        prop_assert_eq!(result.anomalies.len(), 1, "{:#?}", result.anomalies);
        let anomaly = &result.anomalies[0];
        prop_assert_eq!(anomaly.kind, AnomalyKind::LostUpdate);
        prop_assert_eq!(anomaly.key.as_deref(), Some(KEYS[add.key]));
        prop_assert_eq!(&anomaly.witnesses, &witnesses);
        prop_assert_eq!(result.valid, Validity::Invalid);
    }
}
