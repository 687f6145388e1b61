//! Unit tests of skipped updates (an update arriving before its insert,
//! without causal delivery) and of origin order under every strategy.

use serde_json::{Value, json};

use crate::*;

fn replica(strategy: StrategyKind, causal: bool) -> Replica {
    let mut c = Config::new("n3", vec!["n1".into(), "n2".into()], strategy);
    c.causal_delivery = causal;
    Replica::new(c)
}

fn dot(node: &str, seq: u64) -> Dot {
    Dot {
        node: node.into(),
        seq,
    }
}

/// n1's insert of `row` (its first write).
fn insert() -> Change {
    Change {
        key: "row".into(),
        value: json!("inserted"),
        dot: dot("n1", 1),
        ts: 10,
        vv: VersionVector::default(),
        path: vec!["n1".into()],
        uid: 1,
        deps: VersionVector::default(),
        crdt: None,
    }
}

/// n2's update of `row`, written after n2 applied n1's insert.
fn update() -> Change {
    let mut seen = VersionVector::default();
    seen.add(&dot("n1", 1));
    Change {
        key: "row".into(),
        value: json!("updated"),
        dot: dot("n2", 1),
        ts: 20,
        vv: seen.clone(),
        path: vec!["n2".into()],
        uid: 2,
        deps: seen,
        crdt: None,
    }
}

fn receive(r: &mut Replica, from: &str, upto: LogSeq, change: Change) -> Output {
    r.step(
        0,
        Input::Receive(Batch {
            from: from.into(),
            after: upto - 1,
            upto,
            changes: vec![change.into()],
        }),
    )
}

fn values(r: &mut Replica) -> Vec<Value> {
    match r.step(0, Input::Read { key: "row".into() }).reply {
        Some(Reply::Read { values, .. }) => values,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn without_causal_delivery_an_update_of_a_missing_key_is_skipped_and_stays_lost() {
    for strategy in [
        StrategyKind::Lww,
        StrategyKind::UniqueId,
        StrategyKind::Priority,
    ] {
        let mut r = replica(strategy, false);
        let mut records = receive(&mut r, "n2", 1, update()).persist;
        assert!(
            matches!(&records[0], Record::Skipped { seq: 1, change } if change.dot == dot("n2", 1)),
            "{strategy:?}: {records:?}"
        );
        assert_eq!(values(&mut r), Vec::<Value>::new(), "{strategy:?}");
        assert_eq!(r.status().skipped_updates, 1);
        // The late insert is applied; the update is gone for good here.
        records.extend(receive(&mut r, "n1", 1, insert()).persist);
        assert_eq!(values(&mut r), vec![json!("inserted")], "{strategy:?}");
        // A resend of the update is a duplicate: still skipped once.
        assert!(receive(&mut r, "n2", 1, update()).persist.is_empty());
        assert_eq!(r.status().skipped_updates, 1);
        // A restart agrees: same state, same count, the entry still in the
        // log (relays forward it; the dot keeps its origin's order).
        let mut back = Replica::recover(r.config().clone(), records);
        assert_eq!(back.snapshot(), r.snapshot());
        assert_eq!(values(&mut back), vec![json!("inserted")]);
        assert_eq!(back.status().skipped_updates, 1);
        assert_eq!(back.log().len(), 2);
    }
}

#[test]
fn with_causal_delivery_the_update_waits_for_its_insert() {
    let mut r = replica(StrategyKind::Lww, true);
    assert!(matches!(
        receive(&mut r, "n2", 1, update()).persist[..],
        [Record::Buffered { .. }, Record::Cursor { .. }]
    ));
    assert_eq!(r.status().buffered, 1);
    receive(&mut r, "n1", 1, insert());
    assert_eq!(values(&mut r), vec![json!("updated")]);
    assert_eq!(r.status().skipped_updates, 0);
    assert_eq!(r.status().buffered, 0);
}

#[test]
fn strategies_keeping_siblings_or_crdt_state_apply_the_update_with_its_context() {
    for strategy in [StrategyKind::Siblings, StrategyKind::Merge] {
        let mut r = replica(strategy, false);
        receive(&mut r, "n2", 1, update());
        receive(&mut r, "n1", 1, insert());
        // The update's context covers the insert: the insert is superseded.
        assert_eq!(values(&mut r), vec![json!("updated")], "{strategy:?}");
        assert_eq!(r.status().skipped_updates, 0);
        assert_eq!(r.status().applied_before_deps, 1);
    }
}

#[test]
fn a_nodes_own_insert_then_update_never_skips_and_origin_order_holds_for_lww() {
    let mut r = replica(StrategyKind::Lww, false);
    // n1's update (its second write) arrives before its insert: held back.
    let mut second = update();
    second.dot = dot("n1", 2);
    second.path = vec!["n1".into()];
    receive(&mut r, "n1", 2, second);
    assert_eq!(r.status().buffered, 1);
    assert_eq!(values(&mut r), Vec::<Value>::new());
    receive(&mut r, "n1", 1, insert());
    assert_eq!(values(&mut r), vec![json!("updated")]);
    assert_eq!(r.status().skipped_updates, 0);
}
