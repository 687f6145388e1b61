//! Property tests: replicas converge whatever the delivery order, duplicates,
//! failures and restarts, and recovery from any prefix of the log's records
//! reproduces the replica.

use std::collections::BTreeMap;
use std::sync::Arc;

use diverge_replica::*;
use proptest::prelude::*;
use serde_json::json;

#[path = "convergence/sim.rs"]
mod sim;
use sim::{Rng, Sim, others};

const KEYS: u64 = 3;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("n{i}")).collect()
}

fn write(r: &mut Replica, now: Nanos, key: u64, value: u64) -> Output {
    r.step(
        now,
        Input::Write {
            key: format!("k{key}"),
            value: json!(value),
            context: None,
            entropy: value.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        },
    )
}

/// Keys and their states, which must be identical on converged replicas.
fn keys(r: &Replica) -> BTreeMap<String, KeyState> {
    r.snapshot().keys
}

/// Every key must hold the LWW winner among all writes accepted anywhere,
/// and its vv must cover all of them.
fn check_lww_outcome(r: &Replica, accepted: &[Change]) {
    let mut expect: BTreeMap<&str, &Change> = BTreeMap::new();
    for c in accepted {
        let e = expect.entry(c.key.as_str()).or_insert(c);
        if (c.ts, &c.dot.node) > (e.ts, &e.dot.node) {
            *e = c;
        }
    }
    assert_eq!(r.keys().len(), expect.len());
    for (key, winner) in expect {
        let state = r.key_state(key).expect("key present");
        assert_eq!(state.versions.len(), 1);
        assert_eq!(state.versions[0].dot, winner.dot);
        assert_eq!(state.versions[0].value, winner.value);
        for c in accepted.iter().filter(|c| c.key == key) {
            assert!(state.vv.covers(&c.dot), "{key} vv misses {:?}", c.dot);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Local writes, then every change delivered to every replica through
    /// random, overlapping, out-of-order batches.
    #[test]
    fn any_delivery_order_converges(
        writes in prop::collection::vec((0..3usize, 0..KEYS, 0..20u64), 1..40),
        seed in any::<u64>(),
    ) {
        let names = ids(3);
        let mut reps: Vec<Replica> = names
            .iter()
            .map(|id| Replica::new(Config::new(id.clone(), others(&names, id), StrategyKind::Lww)))
            .collect();
        for (i, &(node, key, now)) in writes.iter().enumerate() {
            let out = write(&mut reps[node], now, key, i as u64);
            prop_assert!(matches!(out.reply, Some(Reply::Written { .. })), "{:?}", out);
        }
        let logs: Vec<Vec<Arc<Change>>> = reps.iter().map(|r| r.log().to_vec()).collect();
        let accepted: Vec<Change> = logs.iter().flatten().map(|c| Change::clone(c)).collect();

        let mut rng = Rng(seed);
        // (target, origin, after, upto): a covering partition of each log
        // into random chunks, plus random overlapping duplicates.
        let mut msgs = Vec::new();
        for (target, _) in names.iter().enumerate() {
            for (origin, log) in logs.iter().enumerate() {
                if origin == target || log.is_empty() {
                    continue;
                }
                let end = log.len() as u64;
                let mut at = 0;
                while at < end {
                    let upto = (at + 1 + rng.below(3)).min(end);
                    msgs.push((target, origin, at, upto));
                    at = upto;
                }
                for _ in 0..rng.below(4) {
                    let after = rng.below(end);
                    let upto = after + 1 + rng.below(end - after);
                    msgs.push((target, origin, after, upto));
                }
            }
        }
        rng.shuffle(&mut msgs);
        for (target, origin, after, upto) in msgs {
            let batch = Batch {
                from: names[origin].clone(),
                after,
                upto,
                changes: logs[origin][after as usize..upto as usize].to_vec(),
            };
            let out = reps[target].step(0, Input::Receive(batch));
            prop_assert!(matches!(out.reply, Some(Reply::Received { .. })), "{:?}", out);
        }

        for r in &reps {
            prop_assert_eq!(keys(r), keys(&reps[0]));
            check_lww_outcome(r, &accepted);
            // Each remote change was logged exactly once, and the receive
            // cursors reached each origin's log end.
            prop_assert_eq!(r.log().len(), accepted.len());
            for (origin, log) in logs.iter().enumerate() {
                if &names[origin] != r.id() {
                    prop_assert_eq!(r.received().get(&names[origin]).copied().unwrap_or(0), log.len() as u64);
                }
            }
        }
    }

    /// The whole protocol: writes, batches, acks, failures, partial flushes,
    /// crashes with restart from the records, then a quiet period in which
    /// every replica must reach the same state.
    #[test]
    fn simulated_exchange_converges(
        seed in any::<u64>(),
        steps in 50..400usize,
        ring in any::<bool>(),
        window in 1..4usize,
        batch_max in 1..4usize,
        kind in any_strategy(),
        causal in any::<bool>(),
    ) {
        let mut sim = Sim::new(3, ring, window, batch_max, seed);
        sim.reconfigure(kind, causal);
        for _ in 0..steps {
            sim.random_step();
        }
        sim.quiesce();
        let first = keys(&sim.reps[0]);
        // As in the strategy test below: replicas may differ only where an
        // update that overtook its insert was skipped (row-like strategies,
        // no causal delivery).
        let skipped: u64 = sim.reps.iter().map(|r| r.status().skipped_updates).sum();
        if skipped > 0 {
            prop_assert!(
                !causal && skips_orphan_updates(kind),
                "{kind:?} (causal delivery {causal}) skipped {skipped} updates"
            );
        }
        for r in &sim.reps {
            if skipped == 0 {
                prop_assert_eq!(keys(r), first.clone());
                if kind == StrategyKind::Lww {
                    check_lww_outcome(r, &sim.accepted);
                }
            }
            prop_assert_eq!(r.status().buffered, 0);
            for p in r.status().peers {
                prop_assert_eq!((p.backlog, p.inflight), (0, 0), "{:?}", p);
            }
        }
    }

    /// The same with two log entries at most in memory and restarts from
    /// checkpoints: a peer behind the in-memory window (down, partitioned,
    /// or restarted) is served from the disk, and nothing a peer still
    /// needs is lost by truncation: every replica converges.
    #[test]
    fn bounded_log_memory_converges(
        seed in any::<u64>(),
        steps in 50..400usize,
        ring in any::<bool>(),
        window in 1..4usize,
        batch_max in 1..4usize,
        kind in any_strategy(),
        causal in any::<bool>(),
    ) {
        let mut sim = Sim::new(3, ring, window, batch_max, seed);
        sim.reconfigure(kind, causal);
        sim.bound_memory();
        for _ in 0..steps {
            sim.random_step();
        }
        sim.quiesce();
        let skipped: u64 = sim.reps.iter().map(|r| r.status().skipped_updates).sum();
        for r in &sim.reps {
            prop_assert!(r.status().log_in_memory <= 2, "{:?}", r.status());
            if skipped == 0 {
                prop_assert_eq!(keys(r), keys(&sim.reps[0]));
                if kind == StrategyKind::Lww {
                    check_lww_outcome(r, &sim.accepted);
                }
            }
            prop_assert_eq!(r.status().buffered, 0);
            for p in r.status().peers {
                prop_assert_eq!((p.backlog, p.inflight), (0, 0), "{:?}", p);
            }
        }
    }

    /// Recovering from the records written so far reproduces the replica at
    /// every step boundary; any prefix at all recovers without panicking to
    /// exactly the entries and cursors it holds.
    #[test]
    fn recovery_from_any_prefix_matches(
        ops in prop::collection::vec((0..4u8, 0..KEYS, 0..50u64, 0..6u64), 1..60),
    ) {
        let cfg = || Config::new("n0", vec!["n1".into(), "n2".into()], StrategyKind::Lww);
        let mut r = Replica::new(cfg());
        // Remote logs the fake peers n1 and n2 send from.
        let mut remote: [Vec<Change>; 2] = [Vec::new(), Vec::new()];
        let mut records: Vec<Record> = Vec::new();
        let mut boundaries = vec![(0, r.snapshot())];
        for (i, &(op, key, now, x)) in ops.iter().enumerate() {
            let out = match op {
                0 | 1 => write(&mut r, now, key, i as u64),
                2 => {
                    // A stale or fresh context write.
                    let ctx = if x % 2 == 0 { Context::default() } else {
                        match r.step(now, Input::Read { key: format!("k{key}") }).reply {
                            Some(Reply::Read { context, .. }) => context,
                            _ => unreachable!(),
                        }
                    };
                    r.step(now, Input::Write { key: format!("k{key}"), value: json!(i), context: Some(ctx), entropy: i as u64 })
                }
                _ => {
                    // A peer appends a write to its log and sends a random
                    // (possibly out-of-order, possibly repeated) range.
                    let p = (x % 2) as usize;
                    let origin = format!("n{}", p + 1);
                    let seq = remote[p].len() as u64 + 1;
                    let mut vv = VersionVector::default();
                    let dot = Dot { node: origin.clone(), seq };
                    vv.add(&dot);
                    remote[p].push(Change {
                        key: format!("k{key}"), value: json!(i), dot, ts: now, vv, path: vec![origin.clone()], uid: 0, deps: VersionVector::default(), crdt: None,
                    });
                    let end = remote[p].len() as u64;
                    let after = end.saturating_sub(1 + x / 2);
                    let changes = remote[p][after as usize..].iter().cloned().map(Arc::new).collect();
                    r.step(now, Input::Receive(Batch { from: origin, after, upto: end, changes }))
                }
            };
            records.extend(out.persist);
            boundaries.push((records.len(), r.snapshot()));
        }
        for (n, snap) in &boundaries {
            let back = Replica::recover(cfg(), records[..*n].to_vec());
            prop_assert_eq!(&back.snapshot(), snap);
            prop_assert_eq!(back.status().durable, snap.log.len() as u64);
        }
        for n in 0..=records.len() {
            let back = Replica::recover(cfg(), records[..n].to_vec());
            let entries: Vec<Arc<Change>> = records[..n].iter().filter_map(|rec| match rec {
                Record::Entry { change, .. } | Record::Skipped { change, .. } => Some(change.clone()),
                Record::Cursor { .. } | Record::Buffered { .. } => None,
            }).collect();
            prop_assert_eq!(back.log(), &entries[..]);
            let mut cursors = BTreeMap::new();
            for rec in &records[..n] {
                if let Record::Cursor { peer, upto } = rec {
                    cursors.insert(peer.clone(), *upto);
                }
            }
            prop_assert_eq!(back.received(), cursors);
        }
    }
}

/// Every strategy, with a deterministic on-write handler for `custom`.
fn strategy_config(id: &str, peers: Vec<String>, kind: StrategyKind, causal: bool) -> Config {
    let mut c = Config::new(id, peers, kind);
    c.causal_delivery = causal;
    if kind == StrategyKind::Custom {
        c.strategy_options.on_write = Some(std::sync::Arc::new(LongestArray));
    }
    c
}

/// An on-write handler: the longest array wins, then the highest dot.
#[derive(Debug)]
struct LongestArray;

impl Handler for LongestArray {
    fn resolve(&self, _key: &str, versions: &[Version]) -> Result<serde_json::Value, String> {
        let best = versions
            .iter()
            .max_by_key(|v| (v.value.as_array().map_or(0, Vec::len), v.dot.clone()))
            .ok_or("no versions")?;
        Ok(best.value.clone())
    }
}

/// The strategies that model row stores and skip an update whose insert
/// has not arrived (without causal delivery), as the node documents.
fn skips_orphan_updates(kind: StrategyKind) -> bool {
    matches!(
        kind,
        StrategyKind::Lww | StrategyKind::UniqueId | StrategyKind::Priority | StrategyKind::Custom
    )
}

fn any_strategy() -> impl proptest::strategy::Strategy<Value = StrategyKind> {
    prop::sample::select(StrategyKind::ALL.to_vec())
}

/// What a client reads: values and context.
fn read_at(r: &mut Replica, key: &str) -> (Vec<serde_json::Value>, Context) {
    match r.step(0, Input::Read { key: key.into() }).reply {
        Some(Reply::Read { values, context }) => (values, context),
        other => panic!("{other:?}"),
    }
}

/// Elements of every value read (set semantics, siblings unioned).
fn elements(values: &[serde_json::Value]) -> std::collections::BTreeSet<u64> {
    values
        .iter()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_u64())
        .collect()
}

/// A shuffled, duplicated, chunked delivery of each origin's own changes
/// (`streams[o]`, positions are indices + 1) to every other replica.
fn deliver_all(
    reps: &mut [Replica],
    names: &[String],
    streams: &[Vec<Arc<Change>>],
    rng: &mut Rng,
    share: u64,
) {
    let mut msgs = Vec::new();
    for target in 0..reps.len() {
        for (origin, log) in streams.iter().enumerate() {
            if origin == target || log.is_empty() {
                continue;
            }
            let end = log.len() as u64;
            let mut at = 0;
            while at < end {
                let upto = (at + 1 + rng.below(3)).min(end);
                if rng.chance(share) {
                    msgs.push((target, origin, at, upto));
                }
                at = upto;
            }
            for _ in 0..rng.below(3) {
                let after = rng.below(end);
                msgs.push((target, origin, after, after + 1 + rng.below(end - after)));
            }
        }
    }
    rng.shuffle(&mut msgs);
    for (target, origin, after, upto) in msgs {
        let batch = Batch {
            from: names[origin].clone(),
            after,
            upto,
            changes: streams[origin][after as usize..upto as usize].to_vec(),
        };
        reps[target].step(0, Input::Receive(batch));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For every strategy: clients add unique elements by read-modify-write
    /// (with the context read, a stale empty context, or none) in two rounds
    /// with a partial exchange between them; then every change is delivered
    /// in a random order with duplicates. All replicas end identical (unless
    /// an update overtook its insert and was skipped, which only the row-like
    /// strategies do and only without causal delivery); the strategies that
    /// keep concurrent writes lose no element.
    #[test]
    fn every_strategy_converges_and_the_keeping_ones_lose_nothing(
        kind in any_strategy(),
        causal in any::<bool>(),
        rounds in prop::collection::vec(prop::collection::vec((0..3usize, 0..2u64, 0..3u8), 1..12), 2),
        seed in any::<u64>(),
    ) {
        let names = ids(3);
        let mut reps: Vec<Replica> = names
            .iter()
            .map(|id| Replica::new(strategy_config(id, others(&names, id), kind, causal)))
            .collect();
        let mut rng = Rng(seed);
        let mut streams: Vec<Vec<Arc<Change>>> = vec![Vec::new(); 3];
        let mut acknowledged = std::collections::BTreeSet::new();
        let mut element = 0u64;
        for (round, writes) in rounds.iter().enumerate() {
            for &(node, key, mode) in writes {
                element += 1;
                let key = format!("k{key}");
                let (values, context) = read_at(&mut reps[node], &key);
                let mut set = elements(&values);
                set.insert(element);
                let value = json!(set.into_iter().collect::<Vec<_>>());
                let context = match mode {
                    0 => Some(context),
                    1 => Some(Context::default()),
                    _ => None,
                };
                let out = reps[node].step(element * 10, Input::Write { key, value, context, entropy: rng.next() });
                match out.reply {
                    Some(Reply::Written { .. }) => {
                        acknowledged.insert(element);
                        let Some(Record::Entry { change, .. }) = out.persist.first() else { panic!() };
                        streams[node].push(change.clone());
                    }
                    Some(Reply::Conflict { .. }) => prop_assert!(mode == 1, "{kind:?} refused a fresh write"),
                    other => prop_assert!(false, "{other:?}"),
                }
            }
            let share = if round == 0 { 50 } else { 100 };
            deliver_all(&mut reps, &names, &streams, &mut rng, share);
        }
        // Retransmission: the last round delivered every chunk; Ticks drain.
        for r in &mut reps {
            r.step(0, Input::Tick);
        }
        let total: usize = streams.iter().map(Vec::len).sum();
        // Without causal delivery the row-like strategies skip an update that
        // overtook its insert (as PostgreSQL does): replicas may then differ,
        // and only then. Skipping never happens otherwise.
        let skipped: u64 = reps.iter().map(|r| r.status().skipped_updates).sum();
        if skipped > 0 {
            prop_assert!(
                !causal && skips_orphan_updates(kind),
                "{kind:?} (causal delivery {causal}) skipped {skipped} updates"
            );
        }
        let mut read_back = std::collections::BTreeSet::new();
        for i in 0..reps.len() {
            if skipped == 0 {
                prop_assert_eq!(keys(&reps[i]), keys(&reps[0]), "{:?} diverged", kind);
            }
            prop_assert_eq!(reps[i].status().buffered, 0);
            prop_assert_eq!(reps[i].log().len(), total);
            for key in ["k0", "k1"] {
                let (values, _) = read_at(&mut reps[i], key);
                read_back.extend(elements(&values));
            }
        }
        if matches!(kind, StrategyKind::Siblings | StrategyKind::Merge | StrategyKind::Crdt) {
            prop_assert_eq!(&read_back, &acknowledged, "{:?} lost an acknowledged element", kind);
        }
        if causal {
            for r in &reps {
                prop_assert_eq!(r.status().applied_before_deps, 0);
            }
        }
    }

    /// Siblings keep exactly the writes no other write saw.
    #[test]
    fn siblings_are_exactly_the_unseen_writes(
        writes in prop::collection::vec((0..3usize, 0..3u8), 1..16),
        seed in any::<u64>(),
    ) {
        let names = ids(3);
        let mut reps: Vec<Replica> = names
            .iter()
            .map(|id| Replica::new(strategy_config(id, others(&names, id), StrategyKind::Siblings, false)))
            .collect();
        let mut rng = Rng(seed);
        let mut streams: Vec<Vec<Arc<Change>>> = vec![Vec::new(); 3];
        let mut accepted: Vec<Change> = Vec::new();
        for (i, &(node, mode)) in writes.iter().enumerate() {
            if mode == 2 {
                // Some exchange midway, so later writes see earlier ones.
                deliver_all(&mut reps, &names, &streams, &mut rng, 60);
            }
            let (_, context) = read_at(&mut reps[node], "k");
            let context = if mode == 1 { Context::default() } else { context };
            let out = reps[node].step(i as u64, Input::Write { key: "k".into(), value: json!(i), context: Some(context), entropy: 0 });
            let Some(Record::Entry { change, .. }) = out.persist.first() else { panic!("{out:?}") };
            streams[node].push(change.clone());
            accepted.push(Change::clone(change));
        }
        deliver_all(&mut reps, &names, &streams, &mut rng, 100);
        let mut expected: Vec<serde_json::Value> = accepted
            .iter()
            .filter(|c| !accepted.iter().any(|o| o.dot != c.dot && o.vv.covers(&c.dot)))
            .map(|c| c.value.clone())
            .collect();
        expected.sort_by_key(|v| v.as_u64());
        for r in &mut reps {
            let (mut values, _) = read_at(r, "k");
            values.sort_by_key(|v| v.as_u64());
            prop_assert_eq!(&values, &expected);
        }
    }
}
