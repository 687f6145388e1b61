//! The simulated cluster the convergence properties drive: replicas on a
//! network of messages delivered in a seeded random order, dropped,
//! duplicated or failed, with restarts from each replica's records (and its
//! checkpoint when the in-memory log is bounded), and a seeded generator.

use std::sync::Arc;

use diverge_replica::*;

use super::*;

/// A tiny deterministic generator (splitmix64) so that one proptest-chosen
/// seed drives a whole schedule.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

pub(crate) fn others(names: &[String], id: &str) -> Vec<String> {
    names.iter().filter(|n| *n != id).cloned().collect()
}

/// Messages on the simulated network.
#[derive(Debug)]
pub(crate) enum Msg {
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
    /// A node asked to read back old log entries (its own disk answers).
    Load { to: usize, range: LoadRange },
}

pub(crate) struct Sim {
    pub(crate) names: Vec<String>,
    pub(crate) configs: Vec<Config>,
    pub(crate) reps: Vec<Replica>,
    /// Each replica's durable records.
    pub(crate) disks: Vec<Vec<Record>>,
    pub(crate) net: Vec<Msg>,
    pub(crate) now: Nanos,
    pub(crate) rng: Rng,
    pub(crate) accepted: Vec<Change>,
    pub(crate) failures: bool,
    /// Each replica's latest checkpoint and how many of its records it
    /// covers (bounded mode: restarts load it and replay the rest).
    pub(crate) checkpoints: Vec<Option<(Checkpoint, usize)>>,
    pub(crate) bounded: bool,
}

impl Sim {
    pub(crate) fn new(n: usize, ring: bool, window: usize, batch_max: usize, seed: u64) -> Self {
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
            checkpoints: vec![None; n],
            bounded: false,
        }
    }

    /// Keep at most two log entries in memory (and none every peer
    /// acknowledged), take checkpoints and restart from them: old ranges
    /// reach peers only through loads from the disk.
    pub(crate) fn bound_memory(&mut self) {
        self.bounded = true;
        for c in &mut self.configs {
            c.log_window_max = 2;
            c.drop_acked = true;
        }
        self.reps = self.configs.iter().cloned().map(Replica::new).collect();
    }

    pub(crate) fn restart(&mut self, i: usize) {
        let config = self.configs[i].clone();
        self.reps[i] = match &self.checkpoints[i] {
            Some((c, n)) if self.bounded => {
                Replica::recover_from(config, Some(c.clone()), self.disks[i][*n..].to_vec())
            }
            _ => Replica::recover(config, self.disks[i].clone()),
        };
    }

    /// Entries `(after, upto]` of node `i`'s disk, maybe cut short, maybe
    /// failing (as a file read can).
    pub(crate) fn read_back(
        &mut self,
        i: usize,
        range: &LoadRange,
    ) -> Result<Vec<(LogSeq, Arc<Change>)>, String> {
        if self.failures && self.rng.chance(10) {
            return Err("read failed".into());
        }
        let most = 1 + self.rng.below(4) as usize;
        Ok(self.disks[i]
            .iter()
            .filter_map(|r| match r {
                Record::Entry { seq, change } | Record::Skipped { seq, change } => {
                    Some((*seq, change.clone()))
                }
                _ => None,
            })
            .filter(|(seq, _)| range.after < *seq && *seq <= range.upto)
            .take(most)
            .collect())
    }

    /// Use strategy `kind` (and causal delivery) on every replica.
    pub(crate) fn reconfigure(&mut self, kind: StrategyKind, causal: bool) {
        for c in &mut self.configs {
            let fresh = strategy_config(&c.id, c.peers.clone(), kind, causal);
            c.strategy = fresh.strategy;
            c.strategy_options = fresh.strategy_options;
            c.causal_delivery = causal;
        }
        self.reps = self.configs.iter().cloned().map(Replica::new).collect();
    }

    pub(crate) fn index(&self, id: &str) -> usize {
        self.names.iter().position(|n| n == id).expect("known node")
    }

    /// Apply an output of node `i`: persist its records (synchronously, so
    /// they survive crashes), maybe report them durable, queue its sends.
    pub(crate) fn absorb(&mut self, i: usize, out: Output) {
        if !out.persist.is_empty() {
            self.disks[i].extend(out.persist);
            if !self.failures || self.rng.chance(50) {
                self.flush(i);
            }
        }
        for range in out.load {
            self.net.push(Msg::Load { to: i, range });
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

    pub(crate) fn flush(&mut self, i: usize) {
        let upto = self.reps[i].status().log_end;
        let out = self.reps[i].step(self.now, Input::Persisted { upto });
        self.absorb(i, out);
    }

    pub(crate) fn deliver(&mut self, k: usize) {
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
            Msg::Load { to, range } => {
                let result = self.read_back(to, &range);
                let input = Input::Loaded {
                    peer: range.peer,
                    after: range.after,
                    result,
                };
                let out = self.reps[to].step(self.now, input);
                self.absorb(to, out);
            }
        }
    }

    pub(crate) fn random_step(&mut self) {
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
                    self.accepted.push(Change::clone(change));
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
                self.restart(i);
            }
            9 if self.bounded => {
                // The disk is synchronous here: every record is durable.
                self.checkpoints[i] = Some((self.reps[i].checkpoint(), self.disks[i].len()));
            }
            _ => {}
        }
    }

    pub(crate) fn quiet(&self) -> bool {
        self.net.is_empty()
            && self.reps.iter().all(|r| {
                let st = r.status();
                st.durable == st.log_end
                    && st.buffered == 0
                    && st.peers.iter().all(|p| p.backlog == 0 && p.inflight == 0)
            })
    }

    /// No more failures: tick, flush and deliver in FIFO order until every
    /// peer has acknowledged everything.
    pub(crate) fn quiesce(&mut self) {
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
