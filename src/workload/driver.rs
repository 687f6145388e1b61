//! The client processes, for every workload and every system: each draws
//! steps from the workload's generator with its own seeded RNG, routes
//! them to a node, paces itself to the target rate, executes each op over
//! the node's connection and records its invocation and completion.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use diverge_checkers::{OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::api::Conn;
use super::bundle::{Bundle, Context, Gen, QueuedRoute, StepRoute};
use super::failover::HomeRoutes;
use super::on_read::OnRead;
use super::{Completion, Invocation, Observer};
use crate::domain::RoutingMode;
use crate::history::HistoryHandle;
use crate::seeds::sub_seed;

/// Observer sessions ([`Observer`]) are numbered from here,
/// above every client process and below the final reads'.
pub const OBSERVER_PROCESS_BASE: u64 = 500_000_000;

/// What the clients run, and against which nodes.
#[derive(Clone)]
pub struct ClientPlan {
    pub bundle: &'static dyn Bundle,
    pub seed: u64,
    pub concurrency: usize,
    /// The key pool: how many keys are in play at once, and their names
    /// (`k0`, `k1`, ...) before they are renewed.
    pub keys: Vec<String>,
    /// For workloads whose values grow: ops a key takes before the clients
    /// move on to a fresh one (`None`: never).
    pub ops_per_key: Option<u64>,
    pub routing: RoutingMode,
    /// Ops per second over all clients; `None` = unlimited.
    pub rate: Option<f64>,
    pub time_limit: Duration,
    /// `--on-read`: the script siblings are resolved with.
    pub on_read: Option<Arc<OnRead>>,
    /// A connection to every node, by index; the first `leaders` take writes.
    pub nodes: Vec<Conn>,
    pub leaders: usize,
    /// By leader index, the indices of its read-only followers, any of which
    /// may serve a plain read instead of it.
    pub followers: Vec<Vec<usize>>,
    /// `--routing home-failover`: where each home's ops go now.
    pub failover: Option<Arc<HomeRoutes>>,
}

/// Totals of what the clients did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientTotals {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Every key an op was invoked on (names are made up as some workloads
    /// go), for the final reads.
    pub keys: BTreeSet<String>,
}

/// Run every client process until the time limit; each finishes the op it
/// has in flight (bounded by the op timeout) before returning.
pub async fn run_clients(plan: ClientPlan, history: HistoryHandle) -> ClientTotals {
    let plan = Arc::new(plan);
    let deadline = Instant::now() + plan.time_limit;
    let tasks: Vec<_> = (0..plan.concurrency)
        .map(|session| {
            let (plan, history) = (plan.clone(), history.clone());
            tokio::spawn(async move { Client::new(session, &plan).run(&history, deadline).await })
        })
        .collect();
    let mut totals = ClientTotals::default();
    for task in tasks {
        if let Ok(t) = task.await {
            totals.ok += t.ok;
            totals.fail += t.fail;
            totals.info += t.info;
            totals.keys.extend(t.keys);
        }
    }
    totals
}

/// One client process.
struct Client<'p> {
    plan: &'p ClientPlan,
    session: usize,
    rng: ChaCha8Rng,
    /// The process id in the history: a process that saw an indeterminate
    /// outcome is retired and replaced by a new id (Jepsen's convention),
    /// as its op may still be pending.
    process: u64,
    serial: u64,
    /// The keys this client draws from now, and their generation.
    pool: Vec<String>,
    generation: u64,
    /// Steps this client has started.
    steps: u64,
    /// The observer session of the probe running now ([`Observer`]).
    observer: Option<u64>,
    /// The nodes the running step has used, first op first.
    step_nodes: Vec<usize>,
    /// Per leader, how many of this client's observer sessions there were
    /// retired (an op with an unknown outcome ends its process).
    observers_retired: Vec<u64>,
    totals: ClientTotals,
}

impl<'p> Client<'p> {
    fn new(session: usize, plan: &'p ClientPlan) -> Self {
        Client {
            plan,
            session,
            rng: ChaCha8Rng::seed_from_u64(sub_seed(plan.seed, "client", session as u64)),
            process: session as u64,
            serial: 0,
            pool: plan.keys.clone(),
            generation: 0,
            steps: 0,
            observer: None,
            observers_retired: vec![0; plan.leaders],
            step_nodes: Vec::new(),
            totals: ClientTotals::default(),
        }
    }

    async fn run(mut self, history: &HistoryHandle, deadline: Instant) -> ClientTotals {
        let plan = self.plan;
        let period = plan
            .rate
            .map(|rate| Duration::from_secs_f64(plan.concurrency as f64 / rate));
        // Spread the clients' first ops over one period so they do not move in lockstep.
        let mut next_start =
            Instant::now() + period.map_or(Duration::ZERO, |p| p.mul_f64(self.rng.random::<f64>()));
        // The later ops of a step, sent after its first.
        let mut pending: VecDeque<Invocation> = VecDeque::new();
        let mut node = 0;
        loop {
            if let Some(period) = period {
                // A step's later ops go out back to back (a probe must run
                // while what it probes is in flight); the next step waits
                // for them, so the rate holds on average.
                if pending.is_empty() {
                    tokio::time::sleep_until(next_start).await;
                }
                next_start = next_start.max(Instant::now()) + period;
            }
            if Instant::now() >= deadline {
                break;
            }
            let (op, queued) = match pending.pop_front() {
                Some(op) if op.observer != Observer::No => {
                    node = self.observer_node(op.observer, node);
                    (op, true)
                }
                Some(op) => {
                    node = self.queued_node(node);
                    (op, true)
                }
                None => {
                    let mut steps = self.next_step().into_iter();
                    let first = steps.next().expect("a step has an op");
                    pending.extend(steps);
                    node = self.first_node(&first);
                    self.step_nodes = vec![node];
                    (first, false)
                }
            };
            if op.observer == Observer::No {
                self.observer = None;
            }
            if !self.totals.keys.contains(&op.key) {
                self.totals.keys.insert(op.key.clone());
            }
            let process = self.observer.unwrap_or(self.process);
            let (kind, saw_value) = self.invoke(&op, node, process, queued, history).await;
            // What follows an op goes out only if it saw or wrote a value.
            if saw_value && let Some(next) = op.then {
                pending.push_front(*next);
            }
            match kind {
                OpType::Ok => self.totals.ok += 1,
                OpType::Fail => self.totals.fail += 1,
                _ if self.observer.is_some() => {
                    self.totals.info += 1;
                    self.observer = None;
                    self.observers_retired[node] += 1;
                }
                _ => {
                    self.totals.info += 1;
                    self.process += plan.concurrency as u64;
                }
            }
        }
        self.totals
    }

    fn next_step(&mut self) -> Vec<Invocation> {
        self.renew_keys();
        self.steps += 1;
        let (session, sessions) = (self.session, self.plan.concurrency);
        let serial = &mut self.serial;
        // Unique across the test: every process has its own residue class.
        let mut unique = move || {
            *serial += 1;
            (*serial - 1) * sessions as u64 + session as u64 + 1
        };
        self.plan.bundle.next_step(&mut Gen {
            rng: &mut self.rng,
            keys: &self.pool,
            session,
            sessions,
            unique: &mut unique,
        })
    }

    /// Jepsen's independent keys, for workloads whose values grow: once the
    /// clients have spent `ops_per_key` ops on each key of the pool, they
    /// move on to fresh keys (`k3` -> `k3.1` -> `k3.2` ...), so no read or
    /// read-modify-write carries an ever larger value. Each client counts
    /// its own steps (its share of a key's ops), so which key an op uses is
    /// decided by the seed alone, not by the timing of other clients.
    fn renew_keys(&mut self) {
        let plan = self.plan;
        let Some(per_key) = plan.ops_per_key.filter(|_| plan.bundle.values_grow()) else {
            return;
        };
        let share = (per_key * plan.keys.len() as u64 / plan.concurrency as u64).max(1);
        let generation = self.steps / share;
        if generation != self.generation {
            self.generation = generation;
            self.pool = plan
                .keys
                .iter()
                .map(|k| format!("{k}.{generation}"))
                .collect();
        }
    }

    /// The node of a step's first op: its leader by routing (or the
    /// session's own), or one of that leader's followers for a plain read.
    fn first_node(&mut self, op: &Invocation) -> usize {
        let plan = self.plan;
        let leaders = plan.leaders;
        let leader = match (plan.bundle.step_route(), plan.routing) {
            (StepRoute::Session, _) => self.session % leaders,
            (_, RoutingMode::Random) => self.rng.random_range(0..leaders),
            (_, RoutingMode::Home | RoutingMode::HomeFailover) => {
                // A renewed key keeps its slot's home.
                let home = self.pool.iter().position(|k| *k == op.key);
                home.unwrap_or(self.session) % leaders
            }
        };
        self.reader(op, leader).unwrap_or(leader)
    }

    /// The node of an observer's op: the node of the observer running now,
    /// or, for a new one, a leader the step has not used yet (drawn), else
    /// any other than `node`; the observer is this client's session there.
    fn observer_node(&mut self, observer: Observer, node: usize) -> usize {
        if observer == Observer::Same && self.observer.is_some() {
            return node;
        }
        let plan = self.plan;
        let unused: Vec<usize> = (0..plan.leaders)
            .filter(|n| !self.step_nodes.contains(n))
            .collect();
        let chosen = match unused.len() {
            0 if plan.leaders > 1 => {
                (node + 1 + self.rng.random_range(0..plan.leaders - 1)) % plan.leaders
            }
            0 => node,
            n => unused[self.rng.random_range(0..n)],
        };
        self.step_nodes.push(chosen);
        // One observer session per client and leader (a new one only when
        // an unknown outcome retires it): the checker's work grows with
        // the number of sessions that write, so it must stay bounded.
        let (leaders, clients) = (plan.leaders as u64, plan.concurrency as u64);
        let slot = self.session as u64 * leaders + chosen as u64;
        let session = self.observers_retired[chosen] * clients * leaders + slot;
        self.observer = Some(OBSERVER_PROCESS_BASE + session);
        chosen
    }

    /// The node of a step's later op.
    fn queued_node(&mut self, node: usize) -> usize {
        let plan = self.plan;
        match (plan.bundle.queued_route(), plan.routing) {
            (QueuedRoute::Redrawn, RoutingMode::Random) => self.rng.random_range(0..plan.leaders),
            _ => node,
        }
    }

    /// A follower of `leader` to send `op` to instead, or `None` for the
    /// leader: a plain read (no write follows it) of a workload whose reads
    /// spread goes to the leader or one of its followers, evenly. No random
    /// draw without followers, so runs without them replay unchanged.
    fn reader(&mut self, op: &Invocation, leader: usize) -> Option<usize> {
        let followers = self.plan.followers.get(leader).filter(|f| !f.is_empty())?;
        if !self.plan.bundle.reads_spread() || op.f != "read" || op.then.is_some() {
            return None;
        }
        match self.rng.random_range(0..=followers.len()) {
            0 => None,
            f => Some(followers[f - 1]),
        }
    }

    /// Record the invocation, execute the op, record the completion.
    /// Returns the outcome and whether it was `ok` with at least one value.
    async fn invoke(
        &self,
        op: &Invocation,
        node: usize,
        process: u64,
        queued: bool,
        history: &HistoryHandle,
    ) -> (OpType, bool) {
        let plan = self.plan;
        // Under home failover a home's op goes to (and is recorded at) the
        // node serving that home now.
        let node = match &plan.failover {
            Some(routes) if node < plan.leaders => routes.target(node),
            _ => node,
        };
        let conn = &plan.nodes[node];
        let pending = history
            .op(Process::Client(process), op.f)
            .key(&op.key)
            .node(conn.node())
            .invoke(op.value.clone());
        let cx = Context {
            queued,
            on_read: plan.on_read.as_deref(),
        };
        let done: Completion = plan.bundle.execute(conn, op, cx).await;
        let saw_value = done.kind == OpType::Ok
            && !done.value.is_null()
            && done.value.as_array().is_none_or(|a| !a.is_empty());
        let kind = done.kind;
        match done.kind {
            OpType::Ok => pending.ok(done.value),
            // A failed or unknown op keeps the value it was invoked with.
            other => pending.end(other, op.value.clone(), done.error),
        }
        (kind, saw_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Workload;
    use crate::workload::registry::of as bundle;

    fn plan(workload: Workload, routing: RoutingMode) -> ClientPlan {
        ClientPlan {
            bundle: bundle(workload),
            seed: 5,
            concurrency: 4,
            keys: (0..6).map(|i| format!("k{i}")).collect(),
            ops_per_key: Some(20),
            routing,
            rate: None,
            time_limit: Duration::from_secs(1),
            on_read: None,
            nodes: Vec::new(),
            leaders: 3,
            followers: vec![vec![3, 4], vec![], vec![]],
            failover: None,
        }
    }

    #[test]
    fn home_routing_sends_every_op_of_a_key_to_its_home() {
        let plan = plan(Workload::Register, RoutingMode::Home);
        let mut client = Client::new(1, &plan);
        for _ in 0..200 {
            let op = client.next_step().remove(0);
            let home = plan.keys.iter().position(|k| *k == op.key).unwrap() % 3;
            let node = client.first_node(&op);
            // A plain read of k0/k3 may go to n1's followers (3, 4).
            let followers = &plan.followers[home];
            assert!(
                node == home || followers.contains(&node),
                "{op:?} -> {node}"
            );
            if op.f == "write" {
                assert_eq!(node, home, "writes never go to followers");
            }
        }
    }

    #[test]
    fn growing_values_move_to_fresh_keys_and_keep_their_home() {
        let plan = plan(Workload::Set, RoutingMode::Home);
        let mut client = Client::new(1, &plan);
        // 20 ops per key over 6 keys and 4 clients: 30 steps per client
        // per generation.
        let keys: Vec<String> = (0..90).map(|_| client.next_step().remove(0).key).collect();
        assert!(keys[..30].iter().all(|k| !k.contains('.')), "{keys:?}");
        assert!(keys[30..60].iter().all(|k| k.ends_with(".1")), "{keys:?}");
        assert!(keys[60..].iter().all(|k| k.ends_with(".2")), "{keys:?}");
        let op = Invocation::new("add", "k4.2".into(), 1.into());
        assert_eq!(client.first_node(&op), 4 % 3);
        // Registers do not grow: their keys stay.
        let registers = ClientPlan {
            bundle: bundle(Workload::Register),
            ..plan.clone()
        };
        let mut client = Client::new(1, &registers);
        assert!((0..90).all(|_| !client.next_step().remove(0).key.contains('.')));
    }

    #[test]
    fn unique_values_never_repeat_across_sessions() {
        let plan = plan(Workload::Set, RoutingMode::Random);
        let mut seen = BTreeSet::new();
        for session in 0..4 {
            let mut client = Client::new(session, &plan);
            for _ in 0..500 {
                let op = client.next_step().remove(0);
                if op.f == "add" {
                    assert!(seen.insert(op.value.as_u64().unwrap()), "{op:?} repeated");
                }
            }
        }
        assert!(seen.len() > 1000);
    }

    #[test]
    fn sessions_of_the_causal_workload_stay_on_their_node() {
        let plan = plan(Workload::Causal, RoutingMode::Random);
        let mut client = Client::new(2, &plan);
        for _ in 0..100 {
            let op = client.next_step().remove(0);
            assert_eq!(client.first_node(&op), 2);
        }
    }

    #[test]
    fn an_update_is_redrawn_under_random_routing_only() {
        let random = plan(Workload::InsertUpdate, RoutingMode::Random);
        let mut client = Client::new(0, &random);
        let redrawn: BTreeSet<usize> = (0..100).map(|_| client.queued_node(0)).collect();
        assert_eq!(redrawn, BTreeSet::from([0, 1, 2]));
        let home = plan(Workload::InsertUpdate, RoutingMode::Home);
        let mut client = Client::new(0, &home);
        assert!((0..100).all(|_| client.queued_node(1) == 1));
    }
}
