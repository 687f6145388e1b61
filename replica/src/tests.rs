//! Unit tests of the replica state machine through its public `step` API.

use serde_json::{Value, json};

use crate::*;

fn cfg(id: &str, peers: &[&str]) -> Config {
    let mut c = Config::new(
        id,
        peers.iter().map(|p| p.to_string()).collect(),
        StrategyKind::Lww,
    );
    c.retry_base_ns = 10;
    c.retry_max_ns = 100;
    c
}

fn write(r: &mut Replica, now: Nanos, key: &str, value: Value) -> Output {
    r.step(
        now,
        Input::Write {
            key: key.into(),
            value,
            context: None,
            entropy: 0,
        },
    )
}

fn read(r: &mut Replica, key: &str) -> (Vec<Value>, Context) {
    match r.step(0, Input::Read { key: key.into() }).reply {
        Some(Reply::Read { values, context }) => (values, context),
        other => panic!("unexpected {other:?}"),
    }
}

fn dot(node: &str, seq: u64) -> Dot {
    Dot {
        node: node.into(),
        seq,
    }
}

fn change(key: &str, value: Value, origin: &str, seq: u64, ts: Nanos) -> Change {
    // A blind write: the writer had seen nothing of the key.
    Change {
        key: key.into(),
        value,
        dot: dot(origin, seq),
        ts,
        vv: VersionVector::default(),
        path: vec![origin.into()],
        uid: 0,
        deps: Default::default(),
        crdt: None,
    }
}

fn batch(from: &str, after: LogSeq, upto: LogSeq, changes: Vec<Change>) -> Batch {
    Batch {
        from: from.into(),
        after,
        upto,
        changes: changes.into_iter().map(std::sync::Arc::new).collect(),
    }
}

fn received(out: &Output) -> LogSeq {
    match out.reply {
        Some(Reply::Received { acked }) => acked,
        ref other => panic!("unexpected {other:?}"),
    }
}

fn ranges(out: &Output) -> Vec<(String, LogSeq, LogSeq, usize)> {
    out.send
        .iter()
        .map(|o| {
            (
                o.peer.clone(),
                o.batch.after,
                o.batch.upto,
                o.batch.changes.len(),
            )
        })
        .collect()
}

/// Send the start-up probes (unless already sent) and answer them with
/// `acked`; returns every batch sent in response.
fn probe(r: &mut Replica, now: Nanos, acked: LogSeq) -> Output {
    r.step(now, Input::Tick);
    let peers = r.config().peers.clone();
    let mut all = Output::default();
    for peer in peers {
        let out = r.step(
            now,
            Input::Delivered {
                peer,
                after: 0,
                upto: 0,
                result: Ok(acked),
            },
        );
        all.send.extend(out.send);
    }
    all
}

fn deliver(
    r: &mut Replica,
    now: Nanos,
    peer: &str,
    after: LogSeq,
    upto: LogSeq,
    result: Result<LogSeq, String>,
) -> Output {
    r.step(
        now,
        Input::Delivered {
            peer: peer.into(),
            after,
            upto,
            result,
        },
    )
}

#[test]
fn write_then_read() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    assert_eq!(read(&mut r, "k"), (vec![], Context::default()));
    let out = write(&mut r, 1000, "k", json!(1));
    let Some(Reply::Written { context, dot: d }) = out.reply else {
        panic!("{out:?}")
    };
    assert_eq!(d, dot("n1", 1));
    assert_eq!(context.encode(), "n1:1");
    assert_eq!(out.persist.len(), 1);
    let Record::Entry { seq, change } = &out.persist[0] else {
        panic!()
    };
    assert_eq!(*seq, 1);
    assert_eq!((change.ts, change.path.clone()), (1000, vec!["n1".into()]));
    assert!(out.send.is_empty(), "nothing ships before it is durable");
    assert_eq!(read(&mut r, "k"), (vec![json!(1)], context.clone()));

    // A write with the context read supersedes and extends it.
    let out = r.step(
        1000,
        Input::Write {
            key: "k".into(),
            value: json!(2),
            context: Some(context),
            entropy: 0,
        },
    );
    let Some(Reply::Written { context, dot: d }) = out.reply else {
        panic!("{out:?}")
    };
    assert_eq!(d, dot("n1", 2));
    assert_eq!(context.encode(), "n1:2");
    let Record::Entry { change, .. } = &out.persist[0] else {
        panic!()
    };
    assert_eq!(
        change.ts, 1001,
        "timestamps strictly increase even if the clock does not"
    );
    assert_eq!(read(&mut r, "k").0, vec![json!(2)]);
    assert_eq!(r.keys(), vec!["k".to_string()]);
    assert_eq!(r.status().log_end, 2);
}

#[test]
fn stale_context_conflicts_and_persists_nothing() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    let (_, empty) = read(&mut r, "k");
    write(&mut r, 10, "k", json!("a"));
    let out = r.step(
        20,
        Input::Write {
            key: "k".into(),
            value: json!("b"),
            context: Some(empty),
            entropy: 0,
        },
    );
    let Some(Reply::Conflict { context }) = &out.reply else {
        panic!("{out:?}")
    };
    assert_eq!(context.encode(), "n1:1");
    assert!(out.persist.is_empty() && out.send.is_empty());
    assert_eq!(read(&mut r, "k").0, vec![json!("a")]);
    assert_eq!(r.status().log_end, 1);
    // The refused write consumed no dot.
    let out = write(&mut r, 30, "k", json!("c"));
    assert!(matches!(out.reply, Some(Reply::Written { dot: ref d, .. }) if *d == dot("n1", 2)));
    // A context from a different key's history that covers ours is fine;
    // other keys are unaffected by this key's state.
    let out = r.step(
        40,
        Input::Write {
            key: "other".into(),
            value: json!(1),
            context: Some(Context::default()),
            entropy: 0,
        },
    );
    assert!(matches!(out.reply, Some(Reply::Written { .. })));
}

#[test]
fn lww_picks_higher_ts_and_node_id_breaks_ties() {
    let lww = LastWriteWins;
    let mut s = KeyState::default();
    lww.apply(&mut s, &change("k", json!("late"), "a", 1, 200));
    lww.apply(&mut s, &change("k", json!("early"), "b", 1, 100));
    assert_eq!(s.versions.len(), 1);
    assert_eq!(s.versions[0].value, json!("late"));
    // Same ts: the higher node id wins, in either order.
    for order in [["a", "b"], ["b", "a"]] {
        let mut s = KeyState::default();
        for n in order {
            lww.apply(&mut s, &change("k", json!(n), n, 1, 300));
        }
        assert_eq!(s.versions[0].value, json!("b"));
        assert_eq!(s.versions[0].dot, dot("b", 1));
    }

    // Through the replica: the loser is still recorded in the vv.
    let mut r = Replica::new(cfg("n1", &["n2"]));
    write(&mut r, 500, "k", json!("local"));
    r.step(
        0,
        Input::Receive(batch(
            "n2",
            0,
            1,
            vec![change("k", json!("remote"), "n2", 1, 400)],
        )),
    );
    let (values, ctx) = read(&mut r, "k");
    assert_eq!(values, vec![json!("local")]);
    assert_eq!(ctx.encode(), "n1:1,n2:1");
    r.step(
        0,
        Input::Receive(batch(
            "n2",
            1,
            2,
            vec![change("k", json!("remote2"), "n2", 2, 500)],
        )),
    );
    assert_eq!(
        read(&mut r, "k").0,
        vec![json!("remote2")],
        "tie at 500: n2 > n1"
    );
}

#[test]
fn changes_that_passed_through_us_are_ignored() {
    let mut r = Replica::new(cfg("n2", &["n3"]));
    let mut c = change("k", json!(1), "n1", 1, 10);
    c.path = vec!["n1".into(), "n2".into(), "n3".into()];
    let out = r.step(0, Input::Receive(batch("n3", 0, 4, vec![c])));
    assert_eq!(received(&out), 4, "the range still counts as received");
    assert_eq!(
        out.persist,
        vec![Record::Cursor {
            peer: "n3".into(),
            upto: 4
        }]
    );
    assert!(r.keys().is_empty());
    assert_eq!(r.status().log_end, 0);
}

#[test]
fn duplicate_changes_apply_once() {
    let mut r = Replica::new(cfg("n1", &["n2", "n3"]));
    let c = change("k", json!(1), "n3", 1, 10);
    let out = r.step(0, Input::Receive(batch("n2", 0, 1, vec![c.clone()])));
    assert_eq!(out.persist.len(), 2);
    let Record::Entry {
        seq: 1,
        change: stored,
    } = &out.persist[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(stored.path, vec!["n3".to_string(), "n1".to_string()]);
    // The same change again from the same peer (a retry) and via another.
    let out = r.step(0, Input::Receive(batch("n2", 0, 1, vec![c.clone()])));
    assert_eq!((received(&out), out.persist.len()), (1, 0));
    let out = r.step(0, Input::Receive(batch("n3", 0, 1, vec![c])));
    assert_eq!(
        out.persist,
        vec![Record::Cursor {
            peer: "n3".into(),
            upto: 1
        }]
    );
    assert_eq!(r.status().log_end, 1);
}

#[test]
fn receive_tracks_out_of_order_ranges_and_probes() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    let out = r.step(
        0,
        Input::Receive(batch("n2", 2, 3, vec![change("b", json!(2), "n2", 2, 20)])),
    );
    assert_eq!(received(&out), 0);
    // Origin order: n2's second write waits for its first.
    assert!(
        matches!(out.persist[..], [Record::Buffered { .. }]),
        "held back, and the cursor did not move: {out:?}"
    );
    assert_eq!(read(&mut r, "b").0, Vec::<Value>::new());
    let out = r.step(
        0,
        Input::Receive(batch("n2", 0, 2, vec![change("a", json!(1), "n2", 1, 10)])),
    );
    assert_eq!(received(&out), 3);
    assert_eq!(read(&mut r, "b").0, vec![json!(2)]);
    assert_eq!(
        out.persist.last(),
        Some(&Record::Cursor {
            peer: "n2".into(),
            upto: 3
        })
    );
    let out = r.step(0, Input::Receive(Batch::probe("n2".into())));
    assert_eq!((received(&out), out.persist.len()), (3, 0));
    assert_eq!(r.status().peers[0].received, 3);
}

#[test]
fn batches_respect_window_batch_max_and_durable() {
    let mut c = cfg("n1", &["n2"]);
    c.window = 2;
    c.batch_max = 2;
    let mut r = Replica::new(c);
    // Before the probe is answered nothing but the probe goes out.
    for i in 0..7 {
        write(&mut r, 100 + i, &format!("k{i}"), json!(i));
    }
    let out = r.step(1000, Input::Persisted { upto: 5 });
    assert_eq!(ranges(&out), vec![("n2".into(), 0, 0, 0)]);
    assert!(r.step(1000, Input::Tick).send.is_empty(), "probe in flight");
    let out = deliver(&mut r, 1000, "n2", 0, 0, Ok(0));
    assert_eq!(
        ranges(&out),
        vec![("n2".into(), 0, 2, 2), ("n2".into(), 2, 4, 2)],
        "window of two batches of two"
    );
    assert_eq!(r.status().peers[0].inflight, 2);
    assert!(r.step(1000, Input::Tick).send.is_empty(), "window full");
    let out = deliver(&mut r, 1000, "n2", 0, 2, Ok(2));
    assert!(
        out.send.is_empty(),
        "a partial batch waits behind the one in flight: {out:?}"
    );
    let out = r.step(1000, Input::Persisted { upto: 7 });
    assert_eq!(
        ranges(&out),
        vec![("n2".into(), 4, 6, 2)],
        "a full batch pipelines"
    );
    let out = deliver(&mut r, 1000, "n2", 2, 4, Ok(4));
    assert!(out.send.is_empty(), "one entry waits: {out:?}");
    let out = deliver(&mut r, 1000, "n2", 4, 6, Ok(6));
    assert_eq!(
        ranges(&out),
        vec![("n2".into(), 6, 7, 1)],
        "only durable entries, once nothing is in flight"
    );
    let st = r.status();
    assert_eq!(
        (st.durable, st.peers[0].acked, st.peers[0].backlog),
        (7, 6, 1)
    );
    // Persisted never claims more than the log holds.
    r.step(1000, Input::Persisted { upto: 99 });
    assert_eq!(r.status().durable, 7);
}

#[test]
fn batches_stop_before_their_encoded_bytes_pass_the_bound() {
    let mut c = cfg("n1", &["n2"]);
    c.window = 8;
    c.linger_ns = 0;
    // Room for two of the 1000-byte values below, not three.
    c.batch_bytes_max = 2500;
    let mut r = Replica::new(c);
    let big = "x".repeat(1000);
    for i in 0..4 {
        write(&mut r, 100 + i, &format!("k{i}"), json!(big));
    }
    // A single change over the bound still goes, alone.
    write(&mut r, 200, "huge", json!("y".repeat(5000)));
    r.step(1000, Input::Persisted { upto: 5 });
    let out = deliver(&mut r, 1000, "n2", 0, 0, Ok(0));
    assert_eq!(
        ranges(&out),
        vec![
            ("n2".into(), 0, 2, 2),
            ("n2".into(), 2, 4, 2),
            ("n2".into(), 4, 5, 1)
        ]
    );
    for sent in &out.send {
        let encoded = serde_json::to_vec(&sent.batch).unwrap().len();
        let changes: usize = sent.batch.changes.iter().map(|c| c.encoded_bytes()).sum();
        assert!(encoded >= changes, "the count is of the real encoding");
        if sent.batch.changes.len() > 1 {
            assert!(changes <= 2500, "{changes} bytes of changes");
        }
    }
}

#[test]
fn all_to_all_skips_remote_entries_relay_forwards_them() {
    for forward in [false, true] {
        let mut c = cfg("n1", &["n2", "n3"]);
        c.forward_remote = forward;
        let mut r = Replica::new(c);
        write(&mut r, 10, "a", json!(1));
        r.step(
            0,
            Input::Receive(batch("n2", 0, 1, vec![change("b", json!(2), "n2", 1, 5)])),
        );
        write(&mut r, 20, "c", json!(3));
        r.step(0, Input::Persisted { upto: 3 });
        let out = probe(&mut r, 30, 0);
        let to = |peer: &str| {
            let b: Vec<&Batch> = out
                .send
                .iter()
                .filter(|o| o.peer == peer)
                .map(|o| &o.batch)
                .collect();
            assert_eq!(b.len(), 1, "{out:?}");
            assert_eq!(
                (b[0].after, b[0].upto),
                (0, 3),
                "skipped entries are covered"
            );
            b[0].changes.clone()
        };
        let keys =
            |cs: &[std::sync::Arc<Change>]| cs.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
        // n2's own change never goes back to it.
        assert_eq!(keys(&to("n2")), vec!["a", "c"]);
        if forward {
            let n3 = to("n3");
            assert_eq!(keys(&n3), vec!["a", "b", "c"]);
            assert_eq!(
                n3[1].path,
                vec!["n2".to_string(), "n1".to_string()],
                "stored path"
            );
        } else {
            assert_eq!(keys(&to("n3")), vec!["a", "c"]);
        }
        // A batch with nothing for the peer still advances its cursor.
        r.step(
            0,
            Input::Receive(batch("n2", 1, 2, vec![change("d", json!(4), "n2", 2, 6)])),
        );
        let out = r.step(40, Input::Persisted { upto: 4 });
        assert!(out.send.is_empty(), "waits behind the first batch");
        let n3_gets = usize::from(forward);
        let mut out = deliver(&mut r, 40, "n2", 0, 3, Ok(3));
        out.send.extend(deliver(&mut r, 40, "n3", 0, 3, Ok(3)).send);
        assert_eq!(
            ranges(&out),
            vec![("n2".into(), 3, 4, 0), ("n3".into(), 3, 4, n3_gets)]
        );
        deliver(&mut r, 40, "n2", 3, 4, Ok(4));
        let st = r.status();
        assert_eq!(st.peers[0].peer, "n2");
        assert_eq!((st.peers[0].acked, st.peers[0].backlog), (4, 0));
    }
}

#[test]
fn failure_backs_off_then_resends_from_acked() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    for i in 0..4 {
        write(&mut r, i, "k", json!(i));
    }
    r.step(0, Input::Persisted { upto: 2 });
    let out = probe(&mut r, 0, 0);
    assert_eq!(ranges(&out), vec![("n2".into(), 0, 2, 2)]);
    deliver(&mut r, 0, "n2", 0, 2, Ok(2));
    let out = r.step(1, Input::Persisted { upto: 4 });
    assert_eq!(ranges(&out), vec![("n2".into(), 2, 4, 2)]);
    // The send fails at t=100: retry after 10ns, then 20, 40, capped at 100.
    let out = deliver(&mut r, 100, "n2", 2, 4, Err("timeout".into()));
    assert!(out.send.is_empty());
    let st = &r.status().peers[0];
    assert_eq!((st.failures, st.inflight, st.acked), (1, 0, 2));
    assert!(
        r.step(109, Input::Tick).send.is_empty(),
        "still backing off"
    );
    let out = r.step(110, Input::Tick);
    assert_eq!(
        ranges(&out),
        vec![("n2".into(), 2, 4, 2)],
        "resent from acked"
    );
    deliver(&mut r, 110, "n2", 2, 4, Err("refused".into()));
    assert!(r.step(129, Input::Tick).send.is_empty());
    assert_eq!(r.step(130, Input::Tick).send.len(), 1);
    // Stale answers to the dropped batches change nothing.
    deliver(&mut r, 131, "n2", 0, 2, Err("late".into()));
    deliver(&mut r, 131, "n2", 7, 9, Ok(9));
    assert_eq!(r.status().peers[0].failures, 2);
    assert_eq!(r.status().peers[0].acked, 2);
    // Failures keep growing up to retry_max.
    for (t, f) in [(130, 3), (200, 4), (300, 5), (400, 6)] {
        deliver(&mut r, t, "n2", 2, 4, Err("down".into()));
        assert_eq!(r.status().peers[0].failures, f);
        let wait = (10u64 << (f - 1)).min(100);
        assert!(r.step(t + wait - 1, Input::Tick).send.is_empty());
        assert_eq!(r.step(t + wait, Input::Tick).send.len(), 1);
    }
    deliver(&mut r, 500, "n2", 2, 4, Ok(4));
    let st = &r.status().peers[0];
    assert_eq!(
        (st.failures, st.inflight, st.acked, st.backlog),
        (0, 0, 4, 0)
    );
}

#[test]
fn probe_first_then_resume_where_the_peer_left_off() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    for i in 0..5 {
        write(&mut r, i, "k", json!(i));
    }
    let out = r.step(10, Input::Persisted { upto: 5 });
    assert_eq!(ranges(&out), vec![("n2".into(), 0, 0, 0)]);
    // A failed probe backs off and is retried.
    assert!(
        deliver(&mut r, 10, "n2", 0, 0, Err("down".into()))
            .send
            .is_empty()
    );
    assert!(r.step(19, Input::Tick).send.is_empty());
    assert_eq!(
        ranges(&r.step(20, Input::Tick)),
        vec![("n2".into(), 0, 0, 0)]
    );
    // The peer already has our first three entries.
    let out = deliver(&mut r, 20, "n2", 0, 0, Ok(3));
    assert_eq!(ranges(&out), vec![("n2".into(), 3, 5, 2)]);
    assert_eq!(r.status().peers[0].acked, 3);
}

#[test]
fn gap_reply_rewinds_to_the_peer_cursor() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    for i in 0..6 {
        write(&mut r, i, "k", json!(i));
    }
    r.step(0, Input::Persisted { upto: 6 });
    probe(&mut r, 0, 0);
    deliver(&mut r, 0, "n2", 0, 6, Ok(6));
    assert_eq!(r.status().peers[0].acked, 6);
    for i in 6..8 {
        write(&mut r, i, "k", json!(i));
    }
    let out = r.step(0, Input::Persisted { upto: 8 });
    assert_eq!(ranges(&out), vec![("n2".into(), 6, 8, 2)]);
    // The peer crashed and lost everything after 4.
    let out = deliver(&mut r, 0, "n2", 6, 8, Ok(4));
    assert_eq!(ranges(&out), vec![("n2".into(), 4, 8, 4)]);
    let st = &r.status().peers[0];
    assert_eq!((st.acked, st.backlog, st.failures), (4, 4, 0));
}

#[test]
fn recovery_reproduces_state_and_continues_dots_and_timestamps() {
    let mut r = Replica::new(cfg("n1", &["n2"]));
    let mut records = Vec::new();
    records.extend(write(&mut r, 1000, "a", json!(1)).persist);
    records.extend(
        r.step(
            0,
            Input::Receive(batch(
                "n2",
                0,
                2,
                vec![change("a", json!(2), "n2", 1, 5000)],
            )),
        )
        .persist,
    );
    records.extend(write(&mut r, 900, "b", json!(3)).persist);
    records.extend(
        r.step(
            0,
            Input::Receive(batch(
                "n2",
                2,
                3,
                vec![change("c", json!(4), "n2", 2, 6000)],
            )),
        )
        .persist,
    );
    assert_eq!(records.len(), 6);

    let mut back = Replica::recover(cfg("n1", &["n2"]), records.clone());
    assert_eq!(back.snapshot(), r.snapshot());
    assert_eq!(back.received().get("n2"), Some(&3));
    assert_eq!(read(&mut back, "a").0, vec![json!(2)]);
    let st = back.status();
    assert_eq!((st.log_end, st.durable, st.keys), (4, 4, 3));
    // The next local write continues the dot and the timestamp.
    let out = write(&mut back, 5, "d", json!(5));
    let Record::Entry { seq, change } = &out.persist[0] else {
        panic!()
    };
    assert_eq!(
        (*seq, change.dot.clone(), change.ts),
        (5, dot("n1", 3), 1002)
    );
    // The recovered log is shippable after a probe; duplicates of what the
    // peer already has are deduplicated by it.
    let out = probe(&mut back, 10, 1);
    assert_eq!(ranges(&out), vec![("n2".into(), 1, 4, 1)]);
}

#[test]
fn status_lists_peers_in_configuration_order_and_clones_are_independent() {
    let mut r = Replica::new(cfg("n1", &["n3", "n2"]));
    write(&mut r, 1, "k", json!(1));
    r.step(1, Input::Persisted { upto: 1 });
    let st = r.status();
    let peers: Vec<&str> = st.peers.iter().map(|p| p.peer.as_str()).collect();
    assert_eq!(peers, vec!["n3", "n2"]);
    assert!(st.peers.iter().all(|p| p.backlog == 1 && p.inflight == 1));
    let mut c = r.clone();
    write(&mut c, 2, "k", json!(2));
    assert_eq!(read(&mut r, "k").0, vec![json!(1)]);
    assert_eq!(read(&mut c, "k").0, vec![json!(2)]);
}
