//! Unit tests of per-peer forwarding: a follower among the peers of an
//! all-to-all leader gets every change the leader applies (its own and the
//! ones it received, in the order applied), while the other leaders get
//! only the leader's own writes.

use serde_json::json;

use crate::*;

fn change(key: &str, origin: &str, seq: u64) -> Change {
    Change {
        key: key.into(),
        value: json!(seq),
        dot: Dot {
            node: origin.into(),
            seq,
        },
        ts: seq,
        vv: VersionVector::default(),
        path: vec![origin.into()],
        uid: 0,
        deps: Default::default(),
        crdt: None,
    }
}

fn write(r: &mut Replica, key: &str) {
    let out = r.step(
        1,
        Input::Write {
            key: key.into(),
            value: json!(key),
            context: None,
            entropy: 0,
        },
    );
    assert!(matches!(out.reply, Some(Reply::Written { .. })), "{out:?}");
}

/// Keys of the changes each peer is sent once the probes are answered.
fn shipped(r: &mut Replica) -> Vec<(String, Vec<String>)> {
    r.step(10, Input::Tick);
    let peers = r.config().peers.clone();
    peers
        .into_iter()
        .map(|peer| {
            let out = r.step(
                10,
                Input::Delivered {
                    peer: peer.clone(),
                    after: 0,
                    upto: 0,
                    result: Ok(0),
                },
            );
            let keys = out
                .send
                .iter()
                .flat_map(|o| o.batch.changes.iter().map(|c| c.key.clone()))
                .collect();
            (peer, keys)
        })
        .collect()
}

fn leader(followers: &[&str]) -> Replica {
    let mut peers = vec!["n2".to_string()];
    peers.extend(followers.iter().map(|f| f.to_string()));
    let mut c = Config::new("n1", peers, StrategyKind::Lww);
    c.followers = followers.iter().map(|f| f.to_string()).collect();
    Replica::new(c)
}

fn apply_mixed(r: &mut Replica) {
    write(r, "a");
    let received = Batch {
        from: "n2".into(),
        after: 0,
        upto: 1,
        changes: vec![change("b", "n2", 1).into()],
    };
    r.step(2, Input::Receive(received));
    write(r, "c");
    r.step(3, Input::Persisted { upto: 3 });
}

#[test]
fn followers_get_every_applied_change_other_leaders_only_own_writes() {
    let mut r = leader(&["n1f1", "n1f2"]);
    apply_mixed(&mut r);
    let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shipped(&mut r),
        vec![
            ("n2".into(), keys(&["a", "c"])),
            ("n1f1".into(), keys(&["a", "b", "c"])),
            ("n1f2".into(), keys(&["a", "b", "c"])),
        ]
    );
}

#[test]
fn without_the_follower_flag_a_peer_misses_received_changes() {
    // The same wiring with n1f1 as a plain peer: it would never see n2's
    // write, which is why followers need their own forwarding rule.
    let mut c = Config::new("n1", vec!["n2".into(), "n1f1".into()], StrategyKind::Lww);
    c.followers = Vec::new();
    let mut r = Replica::new(c);
    apply_mixed(&mut r);
    let to_follower = shipped(&mut r).remove(1);
    assert_eq!(to_follower.1, vec!["a".to_string(), "c".to_string()]);
}

#[test]
fn a_follower_refuses_writes_naming_its_leader() {
    let mut c = Config::new("n1f1", Vec::new(), StrategyKind::Lww);
    c.leader = Some("n1".into());
    let mut r = Replica::new(c);
    let out = r.step(
        1,
        Input::Write {
            key: "k".into(),
            value: json!(1),
            context: None,
            entropy: 0,
        },
    );
    assert!(
        matches!(out.reply, Some(Reply::Refused(Refusal::NotLeader { ref leader })) if leader == "n1"),
        "{out:?}"
    );
}
