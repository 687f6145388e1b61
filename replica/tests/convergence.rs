//! Property tests: replicas converge whatever the delivery order, duplicates,
//! failures and restarts, and recovery from any prefix of the log's records
//! reproduces the replica.

use std::collections::BTreeMap;

use diverge_replica::*;
use proptest::prelude::*;
use serde_json::json;

/// A tiny deterministic generator (splitmix64) so that one proptest-chosen
/// seed drives a whole schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

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
        let logs: Vec<Vec<Change>> = reps.iter().map(|r| r.log().to_vec()).collect();
        let accepted: Vec<Change> = logs.iter().flatten().cloned().collect();

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
    ) {
        let mut sim = Sim::new(3, ring, window, batch_max, seed);
        for _ in 0..steps {
            sim.random_step();
        }
        sim.quiesce();
        let first = keys(&sim.reps[0]);
        for r in &sim.reps {
            prop_assert_eq!(keys(r), first.clone());
            check_lww_outcome(r, &sim.accepted);
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
                    r.step(now, Input::Write { key: format!("k{key}"), value: json!(i), context: Some(ctx) })
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
                        key: format!("k{key}"), value: json!(i), dot, ts: now, vv, path: vec![origin.clone()],
                    });
                    let end = remote[p].len() as u64;
                    let after = end.saturating_sub(1 + x / 2);
                    let changes = remote[p][after as usize..].to_vec();
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
            let entries: Vec<Change> = records[..n].iter().filter_map(|rec| match rec {
                Record::Entry { change, .. } => Some(change.clone()),
                Record::Cursor { .. } => None,
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

fn others(names: &[String], id: &str) -> Vec<String> {
    names.iter().filter(|n| *n != id).cloned().collect()
}

/// Messages on the simulated network.
#[derive(Debug)]
enum Msg {
    Request {
        to: usize,
        from: usize,
        batch: Batch,
    },
    Response {
        to: usize,
        peer: String,
        after: LogSeq,
        upto: LogSeq,
        result: Result<LogSeq, String>,
    },
}

struct Sim {
    names: Vec<String>,
    configs: Vec<Config>,
    reps: Vec<Replica>,
    /// Each replica's durable records.
    disks: Vec<Vec<Record>>,
    net: Vec<Msg>,
    now: Nanos,
    rng: Rng,
    accepted: Vec<Change>,
    failures: bool,
}

impl Sim {
    fn new(n: usize, ring: bool, window: usize, batch_max: usize, seed: u64) -> Self {
        let names = ids(n);
        let configs: Vec<Config> = names
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let peers = if ring {
                    vec![names[(i + 1) % n].clone()]
                } else {
                    others(&names, id)
                };
                let mut c = Config::new(id.clone(), peers, StrategyKind::Lww);
                c.forward_remote = ring;
                c.window = window;
                c.batch_max = batch_max;
                c.retry_base_ns = 10;
                c.retry_max_ns = 80;
                c
            })
            .collect();
        Sim {
            reps: configs.iter().cloned().map(Replica::new).collect(),
            disks: vec![Vec::new(); n],
            names,
            configs,
            net: Vec::new(),
            now: 0,
            rng: Rng(seed),
            accepted: Vec::new(),
            failures: true,
        }
    }

    fn index(&self, id: &str) -> usize {
        self.names.iter().position(|n| n == id).expect("known node")
    }

    /// Apply an output of node `i`: persist its records (synchronously, so
    /// they survive crashes), maybe report them durable, queue its sends.
    fn absorb(&mut self, i: usize, out: Output) {
        if !out.persist.is_empty() {
            self.disks[i].extend(out.persist);
            if !self.failures || self.rng.chance(50) {
                self.flush(i);
            }
        }
        for o in out.send {
            let to = self.index(&o.peer);
            self.net.push(Msg::Request {
                to,
                from: i,
                batch: o.batch,
            });
        }
    }

    fn flush(&mut self, i: usize) {
        let upto = self.reps[i].status().log_end;
        let out = self.reps[i].step(self.now, Input::Persisted { upto });
        self.absorb(i, out);
    }

    fn deliver(&mut self, k: usize) {
        match self.net.remove(k) {
            Msg::Request { to, from, batch } => {
                let (after, upto) = (batch.after, batch.upto);
                let peer = self.names[to].clone();
                let result = if self.failures && self.rng.chance(15) {
                    Err("request lost".to_string())
                } else {
                    let out = self.reps[to].step(self.now, Input::Receive(batch));
                    let Some(Reply::Received { acked }) = out.reply else {
                        panic!("{out:?}")
                    };
                    self.absorb(to, out);
                    if self.failures && self.rng.chance(10) {
                        Err("response lost".to_string())
                    } else {
                        Ok(acked)
                    }
                };
                self.net.push(Msg::Response {
                    to: from,
                    peer,
                    after,
                    upto,
                    result,
                });
            }
            Msg::Response {
                to,
                peer,
                after,
                upto,
                result,
            } => {
                let out = self.reps[to].step(
                    self.now,
                    Input::Delivered {
                        peer,
                        after,
                        upto,
                        result,
                    },
                );
                self.absorb(to, out);
            }
        }
    }

    fn random_step(&mut self) {
        self.now += self.rng.below(30);
        let i = self.rng.below(self.reps.len() as u64) as usize;
        match self.rng.below(10) {
            0..=2 => {
                let key = self.rng.below(KEYS);
                let value = self.rng.next() % 1000;
                // Skewed clocks: each node reads the time a little off.
                let now = self.now + 7 * i as u64;
                let out = write(&mut self.reps[i], now, key, value);
                if let Some(Record::Entry { change, .. }) = out.persist.first() {
                    self.accepted.push(change.clone());
                }
                self.absorb(i, out);
            }
            3..=6 if !self.net.is_empty() => {
                let k = self.rng.below(self.net.len() as u64) as usize;
                self.deliver(k);
            }
            7 => {
                let out = self.reps[i].step(self.now, Input::Tick);
                self.absorb(i, out);
            }
            8 => self.flush(i),
            9 if self.rng.chance(50) => {
                // Crash and restart from the disk: in-flight messages from
                // and to the old incarnation stay on the network.
                self.reps[i] = Replica::recover(self.configs[i].clone(), self.disks[i].clone());
            }
            _ => {}
        }
    }

    fn quiet(&self) -> bool {
        self.net.is_empty()
            && self.reps.iter().all(|r| {
                let st = r.status();
                st.durable == st.log_end
                    && st.peers.iter().all(|p| p.backlog == 0 && p.inflight == 0)
            })
    }

    /// No more failures: tick, flush and deliver in FIFO order until every
    /// peer has acknowledged everything.
    fn quiesce(&mut self) {
        self.failures = false;
        for _ in 0..500 {
            if self.quiet() {
                return;
            }
            self.now += 100;
            for i in 0..self.reps.len() {
                self.flush(i);
                let out = self.reps[i].step(self.now, Input::Tick);
                self.absorb(i, out);
            }
            while !self.net.is_empty() {
                self.deliver(0);
            }
        }
        panic!(
            "did not quiesce: {:?}",
            self.reps.iter().map(Replica::status).collect::<Vec<_>>()
        );
    }
}
