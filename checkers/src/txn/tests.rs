//! Literal histories, one per anomaly kind, and serial histories that must
//! check clean.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::history::{Op, OpType, Process};
use crate::testing::{found, h};
use crate::{Workload, check};

fn txn_check(history: &[Op]) -> crate::CheckResult {
    check(history, Workload::TxnListAppend)
}

#[test]
fn write_cycle_is_g0() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1],["append","y",2]] @n1
        1 1 ok     txn _ [["append","x",1],["append","y",2]] @n1
        2 2 invoke txn _ [["append","x",3],["append","y",4]] @n2
        3 2 ok     txn _ [["append","x",3],["append","y",4]] @n2
        4 3 invoke txn _ [["r","x",null],["r","y",null]] @n1
        5 3 ok     txn _ [["r","x",[1,3]],["r","y",[4,2]]] @n1
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), [("g0", "", vec![1, 3])]);
    let text = &result.anomalies[0].explanation;
    assert!(
        text.contains("-ww x->") && text.contains("-ww y->"),
        "{text}"
    );
    assert_eq!(result.ruled_out[0], "read uncommitted");
}

#[test]
fn read_of_a_failed_append_is_g1a() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 fail   txn _ [["append","x",1]] @n1
        2 2 invoke txn _ [["r","x",null]] @n2
        3 2 ok     txn _ [["r","x",[1]]] @n2
    "#);
    assert_eq!(found(&txn_check(&history)), [("g1a", "x", vec![1, 3])]);
}

#[test]
fn unknown_outcome_appends_may_have_committed() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 info   txn _ [["append","x",1]] @n1
        2 2 invoke txn _ [["r","x",null]] @n2
        3 2 ok     txn _ [["r","x",[1]]] @n2
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), []);
    assert!(result.ruled_out.is_empty());
}

#[test]
fn read_of_a_state_its_writer_changed_is_g1b() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1],["append","x",2]] @n1
        1 1 ok     txn _ [["append","x",1],["append","x",2]] @n1
        2 2 invoke txn _ [["r","x",null]] @n2
        3 2 ok     txn _ [["r","x",[1]]] @n2
        4 3 invoke txn _ [["append","y",5],["append","x",3],["r","x",null]] @n2
        5 3 ok     txn _ [["append","y",5],["append","x",3],["r","x",[1,3]]] @n2
    "#);
    // The second sees op 1's state halfway too, under its own append.
    assert_eq!(
        found(&txn_check(&history)),
        [("g1b", "x", vec![1, 3]), ("g1b", "x", vec![1, 5])]
    );
}

#[test]
fn each_reading_the_other_is_g1c() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1],["r","y",null]] @n1
        1 2 invoke txn _ [["append","y",2],["r","x",null]] @n2
        2 1 ok     txn _ [["append","x",1],["r","y",[2]]] @n1
        3 2 ok     txn _ [["append","y",2],["r","x",[1]]] @n2
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), [("g1c", "", vec![2, 3])]);
    let text = &result.anomalies[0].explanation;
    assert!(
        text.contains("-wr y->") && text.contains("-wr x->"),
        "{text}"
    );
}

#[test]
fn read_skew_is_g_single() {
    let history = h(r#"
        0 2 invoke txn _ [["append","x",2],["append","y",3]] @n2
        1 2 ok     txn _ [["append","x",2],["append","y",3]] @n2
        2 1 invoke txn _ [["r","x",null],["r","y",null]] @n1
        3 1 ok     txn _ [["r","x",[]],["r","y",[3]]] @n1
        4 3 invoke txn _ [["r","x",null]] @n2
        5 3 ok     txn _ [["r","x",[2]]] @n2
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), [("g-single", "", vec![1, 3])]);
    let text = &result.anomalies[0].explanation;
    assert!(
        text.contains("-rw x->") && text.contains("-wr y->"),
        "{text}"
    );
    assert_eq!(
        result.ruled_out,
        [
            "repeatable read",
            "snapshot isolation",
            "serializable",
            "strict serializable"
        ]
    );
}

#[test]
fn write_skew_is_g2_which_snapshot_isolation_allows() {
    let history = h(r#"
        0 1 invoke txn _ [["r","x",null],["append","y",1]] @n1
        1 2 invoke txn _ [["r","y",null],["append","x",2]] @n2
        2 1 ok     txn _ [["r","x",[]],["append","y",1]] @n1
        3 2 ok     txn _ [["r","y",[]],["append","x",2]] @n2
        4 3 invoke txn _ [["r","x",null],["r","y",null]] @n1
        5 3 ok     txn _ [["r","x",[2]],["r","y",[1]]] @n1
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), [("g2", "", vec![2, 3])]);
    assert_eq!(
        result.ruled_out,
        ["repeatable read", "serializable", "strict serializable"]
    );
}

#[test]
fn the_fast_parser_reads_transactions_as_serde_does() {
    let history = h(r#"
        0 1 invoke txn _ [["r","x",null],["append","y",1]] @n1
        1 2 invoke txn _ [["r","y",null],["append","x",2]] @n2
        2 1 ok     txn _ [["r","x",[]],["append","y",1]] @n1
        3 2 ok     txn _ [["r","y",[]],["append","x",2]] @n2
        4 3 invoke txn _ [["r","x",null],["r","y",null]] @n1
        5 3 ok     txn _ [["r","x",[2]],["r","y",[1]]] @n1
    "#);
    let text: String = history
        .iter()
        .map(|op| serde_json::to_string(op).unwrap() + "\n")
        .collect();
    let (hist, _) = crate::parse_hist(&text, "test").unwrap();
    let opts = crate::CheckOptions::new(Workload::TxnListAppend);
    assert_eq!(
        found(&crate::check_hist(&hist, &opts)),
        found(&txn_check(&history))
    );
    assert_eq!(found(&txn_check(&history)), [("g2", "", vec![2, 3])]);
}

#[test]
fn a_read_missing_an_append_that_completed_before_it_began_is_a_realtime_cycle() {
    // Serializable (op 3 first, then op 1), but op 1 completed before op
    // 3 was invoked: a node that forgot an acknowledged append.
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 ok     txn _ [["append","x",1]] @n1
        2 2 invoke txn _ [["r","x",null]] @n2
        3 2 ok     txn _ [["r","x",[]]] @n2
        4 3 invoke txn _ [["r","x",null]] @n1
        5 3 ok     txn _ [["r","x",[1]]] @n1
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), [("realtime-cycle", "x", vec![1, 3])]);
    let text = &result.anomalies[0].explanation;
    assert!(
        text.contains("-rt-> txn op 3") && text.contains("-rw x->"),
        "{text}"
    );
    assert_eq!(result.ruled_out, ["strict serializable"]);
    // The same reads concurrent with the append: nothing.
    let concurrent = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 2 invoke txn _ [["r","x",null]] @n2
        2 1 ok     txn _ [["append","x",1]] @n1
        3 2 ok     txn _ [["r","x",[]]] @n2
        4 3 invoke txn _ [["r","x",null]] @n1
        5 3 ok     txn _ [["r","x",[1]]] @n1
    "#);
    assert_eq!(found(&txn_check(&concurrent)), []);
}

#[test]
fn reads_in_two_orders_are_incompatible() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 ok     txn _ [["append","x",1]] @n1
        2 2 invoke txn _ [["append","x",2]] @n2
        3 2 ok     txn _ [["append","x",2]] @n2
        4 3 invoke txn _ [["r","x",null]] @n1
        5 3 ok     txn _ [["r","x",[1,2]]] @n1
        6 4 invoke txn _ [["r","x",null]] @n2
        7 4 ok     txn _ [["r","x",[2,1]]] @n2
    "#);
    // Op 7's order (2 before 1, the one the graph follows) also puts op
    // 3's append before op 1's, which completed before op 3 began.
    assert_eq!(
        found(&txn_check(&history)),
        [
            ("incompatible-order", "x", vec![5, 7]),
            ("realtime-cycle", "x", vec![1, 3])
        ]
    );
}

#[test]
fn a_read_missing_its_own_append_is_internal() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1],["r","x",null]] @n1
        1 1 ok     txn _ [["append","x",1],["r","x",[]]] @n1
        2 2 invoke txn _ [["r","y",null],["append","y",5],["r","y",null]] @n1
        3 2 ok     txn _ [["r","y",[]],["append","y",5],["r","y",[5]]] @n1
    "#);
    assert_eq!(
        found(&txn_check(&history)),
        [("internal-inconsistency", "x", vec![1])]
    );
}

#[test]
fn duplicates_and_values_nobody_appended() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 ok     txn _ [["append","x",1]] @n1
        2 2 invoke txn _ [["r","x",null],["r","y",null]] @n2
        3 2 ok     txn _ [["r","x",[1,1]],["r","y",[9]]] @n2
    "#);
    assert_eq!(
        found(&txn_check(&history)),
        [
            ("impossible-read", "y", vec![3]),
            ("duplicate-element", "x", vec![3]),
        ]
    );
}

#[test]
fn a_value_that_is_not_a_transaction_is_inconclusive() {
    let history = h(r#"
        0 1 invoke txn _ [["append","x",1]] @n1
        1 1 ok     txn _ [["write","x",1]] @n1
    "#);
    let result = txn_check(&history);
    assert_eq!(found(&result), []);
    assert_eq!(result.valid, crate::Validity::Unknown);
    assert!(
        result.inconclusive[0].contains("op 1"),
        "{:?}",
        result.inconclusive
    );
}

/// One transaction for the serial generator: micro-ops as (append?, key).
fn txns() -> impl Strategy<Value = Vec<(Vec<(bool, u8)>, u8)>> {
    let mops = prop::collection::vec((any::<bool>(), 0u8..3), 1..5);
    // The second number: 0..=7 ok, 8 fail, 9 info applied, 10 info not.
    prop::collection::vec((mops, 0u8..11), 1..60)
}

/// A history of `txns` run one at a time against one correct store.
fn serial(txns: &[(Vec<(bool, u8)>, u8)]) -> Vec<Op> {
    let mut lists: [Vec<i64>; 3] = Default::default();
    let mut next = 0i64;
    let mut ops = Vec::new();
    for (i, (mops, fate)) in txns.iter().enumerate() {
        let mut state = lists.clone();
        let (mut invoke, mut done) = (Vec::new(), Vec::new());
        for &(append, key) in mops {
            let k = usize::from(key);
            if append {
                next += 1;
                state[k].push(next);
                invoke.push(json!(["append", key, next]));
                done.push(json!(["append", key, next]));
            } else {
                invoke.push(json!(["r", key, null]));
                done.push(json!(["r", key, state[k]]));
            }
        }
        let (kind, value) = match fate {
            0..=7 => (OpType::Ok, Value::Array(done)),
            8 => (OpType::Fail, Value::Array(invoke.clone())),
            _ => (OpType::Info, Value::Array(invoke.clone())),
        };
        if matches!(fate, 0..=7 | 9) {
            lists = state;
        }
        let op = |index: usize, kind, value| Op {
            index: index as u64,
            time: index as u64,
            process: Process::Client(i as u64),
            kind,
            f: "txn".into(),
            key: None,
            value,
            node: Some(format!("n{}", i % 3)),
            error: None,
        };
        ops.push(op(2 * i, OpType::Invoke, Value::Array(invoke)));
        ops.push(op(2 * i + 1, kind, value));
    }
    ops
}

proptest! {
    #[test]
    fn serial_histories_have_no_anomaly(txns in txns()) {
        let result = txn_check(&serial(&txns));
        prop_assert_eq!(found(&result), vec![]);
        prop_assert!(result.ruled_out.is_empty());
    }
}
