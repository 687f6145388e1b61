//! The simulated cluster: every node and every directed link, behind one
//! lock (one thread runs the simulation: the lock is never contended), and
//! the replication traffic between the nodes.
//!
//! Each batch a core asks to send becomes a task that plays out its fate
//! (`net::fate::decide` on the link's behaviour with the link's own seeded
//! RNG): refused or blackholed by a partition, lost, or delivered after the
//! hop plus the link's latency and reorder delay, perhaps held until the
//! link releases it, perhaps twice, perhaps with its answer lost. The
//! outcome goes back into the sender as `Delivered`, unless the sender
//! crashed meanwhile. A tick task per node steps `Tick` every
//! [`TICK_INTERVAL`], as the node's ticker does.
//!
//! Every state change that a waiting task may care about (a link healed, a
//! node resumed or restarted) is announced on [`Cluster::changed`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use diverge_replica::{Batch, Input, LogSeq, Nanos, Outgoing, Reply};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::node::SimNode;
use crate::net::fate::{self, Fate};
use crate::net::{DropMode, LinkBehaviour};
use crate::node::replicator::{SEND_TIMEOUT, TICK_INTERVAL};
use crate::seeds::sub_seed;

/// One way of any message (client to node, node to node) before a link's
/// own delay: the virtual clock's resolution.
pub const HOP: Duration = Duration::from_millis(1);

/// The strategy clock's reading at virtual time zero (the nodes' clocks
/// read nanoseconds since the UNIX epoch): 2025-01-01, so that timestamps
/// look like real ones and do not depend on when the simulation runs.
const EPOCH_NS: Nanos = 1_735_689_600_000_000_000;

/// One directed link: what it does now, what healing restores, its dice.
pub struct SimLink {
    pub behaviour: LinkBehaviour,
    pub base: LinkBehaviour,
    rng: ChaCha8Rng,
}

pub struct State {
    pub nodes: Vec<SimNode>,
    /// (from, to) by node index.
    pub links: BTreeMap<(usize, usize), SimLink>,
}

/// The cluster as every task of the simulation shares it.
pub struct Cluster {
    state: Mutex<State>,
    /// Node index by id.
    index: BTreeMap<String, usize>,
    pub changed: Notify,
    start: Instant,
}

impl Cluster {
    /// `nodes` by index; links between every pair, healthy unless `base`
    /// says otherwise (datacenter latency), each with its own RNG from `seed`.
    pub fn new(
        nodes: Vec<SimNode>,
        seed: u64,
        base: impl Fn(usize, usize) -> LinkBehaviour,
    ) -> Arc<Cluster> {
        let n = nodes.len();
        let mut links = BTreeMap::new();
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                let index = (from * n + to) as u64;
                links.insert(
                    (from, to),
                    SimLink {
                        behaviour: base(from, to),
                        base: base(from, to),
                        rng: ChaCha8Rng::seed_from_u64(sub_seed(seed, "sim-link", index)),
                    },
                );
            }
        }
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.id.clone(), i))
            .collect();
        Arc::new(Cluster {
            state: Mutex::new(State { nodes, links }),
            index,
            changed: Notify::new(),
            start: Instant::now(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it but a bug, which ends the run.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the nodes' clocks read now (before any clock fault).
    pub fn now_ns(&self) -> Nanos {
        EPOCH_NS + self.start.elapsed().as_nanos() as Nanos
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Change the state and tell every waiting task.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    /// Wait until `ready` holds (checked now and after every change).
    pub async fn wait_until(&self, ready: impl Fn(&State) -> bool) {
        // Usually it holds already: no waiter to register.
        if ready(&self.lock()) {
            return;
        }
        loop {
            let changed = self.changed.notified();
            if ready(&self.lock()) {
                return;
            }
            changed.await;
        }
    }

    /// [`Cluster::wait_until`], at most `timeout`; whether it held.
    pub async fn wait_for(&self, timeout: Duration, ready: impl Fn(&State) -> bool) -> bool {
        if ready(&self.lock()) {
            return true;
        }
        tokio::time::timeout(timeout, self.wait_until(ready))
            .await
            .is_ok()
    }

    /// Step node `i` (which must be up) and send what it asks to send.
    pub fn step(self: &Arc<Self>, i: usize, input: Input) -> Option<Reply> {
        let now = self.now_ns();
        let (reply, send, incarnation) = {
            let mut state = self.lock();
            let node = &mut state.nodes[i];
            let (reply, send) = node.step(now, input);
            (reply, send, node.incarnation)
        };
        self.send_all(i, incarnation, send);
        reply
    }

    /// Send every batch from node `i` in its incarnation `incarnation`.
    pub fn send_all(self: &Arc<Self>, i: usize, incarnation: u64, send: Vec<Outgoing>) {
        for outgoing in send {
            let cluster = self.clone();
            tokio::spawn(async move { cluster.send(i, incarnation, outgoing).await });
        }
    }

    /// Start the tick task of every node.
    pub fn start_ticks(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let n = self.lock().nodes.len();
        (0..n)
            .map(|i| {
                let cluster = self.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(TICK_INTERVAL).await;
                        if cluster.lock().nodes[i].is_running() {
                            cluster.step(i, Input::Tick);
                        }
                    }
                })
            })
            .collect()
    }

    /// One batch's journey and its outcome fed back to the sender.
    async fn send(self: Arc<Self>, from: usize, incarnation: u64, outgoing: Outgoing) {
        let Outgoing { peer, batch } = outgoing;
        let (after, upto) = (batch.after, batch.upto);
        let result = match self.index_of(&peer) {
            Some(to) => tokio::time::timeout(SEND_TIMEOUT, self.travel(from, to, batch))
                .await
                .unwrap_or_else(|_| Err("timeout".into())),
            None => Err(format!("no address for peer {peer}")),
        };
        let input = Input::Delivered {
            peer,
            after,
            upto,
            result,
        };
        // A paused sender takes the answer when it resumes; a crashed one
        // never does (its connection died with it).
        let same = |s: &State| s.nodes[from].incarnation == incarnation;
        self.wait_until(|s| !same(s) || !s.nodes[from].paused).await;
        if same(&self.lock()) {
            self.step(from, input);
        }
    }

    /// The batch on the link `from` -> `to`: the receiver's ack, or why
    /// there is none.
    async fn travel(
        self: &Arc<Self>,
        from: usize,
        to: usize,
        batch: Batch,
    ) -> Result<LogSeq, String> {
        let fate = {
            let mut state = self.lock();
            let link = state.links.get_mut(&(from, to)).expect("a link per pair");
            fate::decide(&link.behaviour, &mut link.rng)
        };
        let delivery = match fate {
            Fate::Drop(DropMode::Refuse) => {
                tokio::time::sleep(HOP).await;
                return Err("partitioned: refused".into());
            }
            Fate::Drop(DropMode::Blackhole) => {
                // Unanswered until the partition lifts (then refused) or the
                // sender's timeout.
                self.wait_for(SEND_TIMEOUT, |s| !s.links[&(from, to)].behaviour.drop)
                    .await;
                return Err("partitioned: blackholed".into());
            }
            Fate::Lose => {
                tokio::time::sleep(HOP).await;
                return Err("lost on the way".into());
            }
            Fate::Deliver(delivery) => delivery,
        };
        tokio::time::sleep(HOP + delivery.delay).await;
        if delivery.held {
            self.wait_until(|s| !s.links[&(from, to)].behaviour.hold)
                .await;
        }
        if let Some(after) = delivery.duplicate_after {
            let (cluster, copy) = (self.clone(), batch.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                // The copy's answer goes nowhere.
                let _ = cluster.receive(to, copy).await;
            });
        }
        let acked = self.receive(to, batch).await?;
        tokio::time::sleep(HOP).await;
        if delivery.reply_lost {
            return Err("reply lost".into());
        }
        Ok(acked)
    }

    /// Node `to` receives `batch`: waits while it is paused; refused while
    /// it is down.
    async fn receive(self: &Arc<Self>, to: usize, batch: Batch) -> Result<LogSeq, String> {
        self.wait_until(|s| !s.nodes[to].paused).await;
        if !self.lock().nodes[to].is_up() {
            return Err("connection refused".into());
        }
        match self.step(to, Input::Receive(batch)) {
            Some(Reply::Received { acked }) => Ok(acked),
            other => Err(format!("unexpected reply {other:?}")),
        }
    }
}
