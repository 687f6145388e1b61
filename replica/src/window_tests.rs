//! Unit tests of the bounded in-memory log: what leaves memory, how a peer
//! behind the window is served through loads, and checkpoints.

use std::sync::Arc;

use serde_json::json;

use crate::*;

fn cfg(peers: &[&str], window: usize) -> Config {
    let mut c = Config::new(
        "n1",
        peers.iter().map(|p| p.to_string()).collect(),
        StrategyKind::Lww,
    );
    c.retry_base_ns = 10;
    c.retry_max_ns = 100;
    c.log_window_max = window;
    c.drop_acked = true;
    c.batch_max = 100;
    c
}

/// `n` durable local writes; returns their entries as the disk holds them.
fn writes(r: &mut Replica, n: u64) -> Vec<(LogSeq, Arc<Change>)> {
    let mut disk = Vec::new();
    for i in 1..=n {
        let out = r.step(
            i,
            Input::Write {
                key: format!("k{}", i % 3),
                value: json!(i),
                context: None,
                entropy: 0,
            },
        );
        for record in out.persist {
            if let Record::Entry { seq, change } = record {
                disk.push((seq, change));
            }
        }
    }
    r.step(n, Input::Persisted { upto: n });
    disk
}

fn answer(r: &mut Replica, peer: &str, after: LogSeq, upto: LogSeq, acked: LogSeq) -> Output {
    r.step(
        1000,
        Input::Delivered {
            peer: peer.into(),
            after,
            upto,
            result: Ok(acked),
        },
    )
}

fn sent(out: &Output) -> Vec<(String, LogSeq, LogSeq, usize)> {
    out.send
        .iter()
        .map(|o| {
            let b = &o.batch;
            (o.peer.clone(), b.after, b.upto, b.changes.len())
        })
        .collect()
}

#[test]
fn entries_leave_memory_only_once_every_peer_acknowledged_them() {
    let mut r = Replica::new(cfg(&["n2", "n3"], usize::MAX));
    writes(&mut r, 5);
    r.step(1000, Input::Tick); // probes
    let out = answer(&mut r, "n2", 0, 0, 0);
    assert_eq!(sent(&out), vec![("n2".into(), 0, 5, 5)]);
    assert_eq!(r.log_base(), 0, "n3's cursor is not known yet");
    let out = answer(&mut r, "n3", 0, 0, 0);
    assert_eq!(sent(&out), vec![("n3".into(), 0, 5, 5)]);
    answer(&mut r, "n2", 0, 5, 5);
    answer(&mut r, "n3", 0, 5, 2);
    assert_eq!((r.log_base(), r.log().len()), (2, 3), "n3 still needs 3..5");
    assert_eq!(r.log()[0].dot.seq, 3);
}

#[test]
fn a_peer_behind_the_window_is_served_by_a_load() {
    let mut r = Replica::new(cfg(&["n2"], 3));
    let disk = writes(&mut r, 10);
    assert_eq!((r.log_base(), r.status().log_in_memory), (7, 3));
    r.step(1000, Input::Tick);
    let out = answer(&mut r, "n2", 0, 0, 0);
    assert_eq!(
        out.load,
        vec![LoadRange {
            peer: "n2".into(),
            after: 0,
            upto: 7
        }]
    );
    assert!(out.send.is_empty());
    assert!(
        r.step(1001, Input::Tick).send.is_empty(),
        "waits for the load"
    );
    // The shell reads back fewer than asked: the batch covers what came.
    let out = r.step(
        1002,
        Input::Loaded {
            peer: "n2".into(),
            after: 0,
            result: Ok(disk[..4].to_vec()),
        },
    );
    assert_eq!(sent(&out), vec![("n2".into(), 0, 4, 4)]);
    assert_eq!(out.send[0].batch.changes[3], disk[3].1);
    let out = answer(&mut r, "n2", 0, 4, 4);
    assert_eq!(out.load[0].after, 4);
    let out = r.step(
        1003,
        Input::Loaded {
            peer: "n2".into(),
            after: 4,
            result: Ok(disk[4..7].to_vec()),
        },
    );
    assert_eq!(sent(&out), vec![("n2".into(), 4, 7, 3)]);
    // The rest is in memory.
    let out = answer(&mut r, "n2", 4, 7, 7);
    assert_eq!(sent(&out), vec![("n2".into(), 7, 10, 3)]);
    answer(&mut r, "n2", 7, 10, 10);
    assert_eq!(r.status().peers[0].backlog, 0);
}

#[test]
fn a_failed_or_misplaced_load_is_asked_again_after_a_backoff() {
    let mut r = Replica::new(cfg(&["n2"], 2));
    let disk = writes(&mut r, 6);
    r.step(1000, Input::Tick);
    answer(&mut r, "n2", 0, 0, 0);
    let failed = |result| Input::Loaded {
        peer: "n2".into(),
        after: 0,
        result,
    };
    let out = r.step(1000, failed(Err("disk".into())));
    assert!(out.send.is_empty() && out.load.is_empty(), "backs off");
    let out = r.step(1010, Input::Tick);
    assert_eq!(out.load.len(), 1, "asked again");
    // Entries that do not continue the stream at `after` are not sent.
    let out = r.step(1010, failed(Ok(disk[1..3].to_vec())));
    assert!(out.send.is_empty());
    assert_eq!(r.status().peers[0].failures, 2);
}

#[test]
fn a_checkpoint_and_the_records_after_it_recover_the_replica() {
    let mut r = Replica::new(cfg(&["n2"], 2));
    writes(&mut r, 5);
    let checkpoint = r.checkpoint();
    assert_eq!(checkpoint.log_end, 5);
    let mut after = Vec::new();
    for i in 6..=8 {
        let out = r.step(
            i,
            Input::Write {
                key: "k1".into(),
                value: json!(i * 100),
                context: None,
                entropy: 0,
            },
        );
        after.extend(out.persist);
    }
    // Through JSON, as the node stores it.
    let stored: Checkpoint =
        serde_json::from_str(&serde_json::to_string(&checkpoint).expect("encodes"))
            .expect("decodes");
    let back = Replica::recover_from(r.config().clone(), Some(stored), after);
    assert_eq!(back.snapshot().keys, r.snapshot().keys);
    assert_eq!(back.status().log_end, 8);
    assert_eq!(back.own_max("k1"), 800);
    // Its next write continues the counters.
    let mut back = back;
    let out = back.step(
        9,
        Input::Write {
            key: "k2".into(),
            value: json!(1),
            context: None,
            entropy: 0,
        },
    );
    let Some(Reply::Written { dot, .. }) = out.reply else {
        panic!("{out:?}")
    };
    assert_eq!(dot.seq, 9);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// With no cap, dropping acknowledged entries never drops one a
        /// peer still needs: whatever the writes, answers and failures,
        /// the in-memory log reaches down to every peer's confirmed cursor,
        /// and nothing ever has to be loaded back.
        #[test]
        fn dropping_acknowledged_entries_keeps_what_any_peer_needs(
            steps in prop::collection::vec((0..4u8, 0..2usize, 0..3u64), 1..120),
        ) {
            let peers = ["n2", "n3"];
            let mut r = Replica::new(cfg(&peers, usize::MAX));
            let mut inflight: Vec<(String, LogSeq, LogSeq)> = Vec::new();
            let mut now = 0;
            for (op, p, n) in steps {
                now += 50;
                let out = match op {
                    0 => {
                        let end = r.log_end();
                        writes_from(&mut r, end, n + 1);
                        r.step(now, Input::Persisted { upto: r.log_end() })
                    }
                    1 | 2 if !inflight.is_empty() => {
                        let i = p % inflight.len();
                        let (peer, after, upto) = inflight.remove(i);
                        // The peer confirms all, part or none of the batch.
                        let acked = if op == 1 { upto } else { after + (upto - after) * n / 3 };
                        r.step(now, Input::Delivered { peer, after, upto, result: Ok(acked) })
                    }
                    3 if !inflight.is_empty() => {
                        let (peer, after, upto) = inflight.remove(0);
                        r.step(now, Input::Delivered { peer, after, upto, result: Err("lost".into()) })
                    }
                    _ => r.step(now, Input::Tick),
                };
                prop_assert!(out.load.is_empty(), "loaded {:?}", out.load);
                for o in out.send {
                    let b = o.batch;
                    if (b.after, b.upto) == (0, 0) {
                        // Probes are answered at once: the peer has nothing.
                        let out = r.step(now, Input::Delivered { peer: o.peer, after: 0, upto: 0, result: Ok(0) });
                        inflight.extend(out.send.into_iter().map(|o| (o.peer, o.batch.after, o.batch.upto)));
                    } else {
                        inflight.push((o.peer, b.after, b.upto));
                    }
                }
                let acked = r.status().peers.iter().map(|p| p.acked).min().unwrap_or(0);
                prop_assert!(r.log_base() <= acked, "base {} past acked {acked}", r.log_base());
            }
            // Every batch confirmed in full: nothing is left in memory.
            for _ in 0..1000 {
                now += 1000;
                let mut send = r.step(now, Input::Tick).send;
                if let Some((peer, after, upto)) = inflight.pop() {
                    send.extend(r.step(now, Input::Delivered { peer, after, upto, result: Ok(upto) }).send);
                }
                inflight.extend(send.into_iter().map(|o| (o.peer, o.batch.after, o.batch.upto)));
                if inflight.is_empty() && r.status().peers.iter().all(|p| p.backlog == 0 && p.inflight == 0) {
                    break;
                }
            }
            prop_assert_eq!((r.log_base(), r.status().log_in_memory), (r.log_end(), 0));
        }
    }

    /// `n` more durable writes after position `end`.
    fn writes_from(r: &mut Replica, end: LogSeq, n: u64) {
        for i in 1..=n {
            r.step(
                end + i,
                Input::Write {
                    key: "k".into(),
                    value: json!(end + i),
                    context: None,
                    entropy: 0,
                },
            );
        }
    }
}
