//! Faults on MariaDB instances, on the same seeded schedule shape as the
//! reference nodes' nemesis: every `--nemesis-interval` a fault starts or the
//! one in effect is undone, each recorded as `start-<fault>`/`stop-<fault>`;
//! at the time limit everything is healed (`heal`).
//!
//! - partition: the drawn shape's cut links (a cut `a->b` stops `b`'s
//!   replica from reading `a`'s binlog: its TCP link is closed and refuses);
//! - crash: SIGKILL `mariadbd`, restart it later from its datadir;
//! - pause: SIGSTOP / SIGCONT.

use crate::nemesis::faults::draw_victims;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diverge_checkers::{OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::server::{self, Server};
use crate::history::HistoryHandle;
use crate::nemesis::FaultKind;
use crate::nemesis::partition::{Shape, grudge};
use crate::net::tcp::TcpLinks;
use crate::seeds::sub_seed;

/// What the faults act on.
pub struct Targets {
    pub servers: Arc<Mutex<Vec<Server>>>,
    pub links: Arc<TcpLinks>,
    pub ids: Vec<String>,
    pub ready_timeout: Duration,
}

enum Active {
    Partition(Vec<(String, String)>),
    Crash(Vec<usize>),
    Pause(Vec<usize>),
}

impl Targets {
    fn names(&self, nodes: &[usize]) -> Value {
        json!(
            nodes
                .iter()
                .map(|&i| self.ids[i].clone())
                .collect::<Vec<_>>()
        )
    }

    async fn start(&self, kind: FaultKind, rng: &mut ChaCha8Rng) -> (Active, Value) {
        let n = self.ids.len();
        match kind {
            FaultKind::Crash => {
                let nodes = draw_victims(n, rng);
                let mut servers = self.servers.lock().await;
                for &i in &nodes {
                    servers[i].process.kill_and_wait().await;
                }
                let value = self.names(&nodes);
                (Active::Crash(nodes), value)
            }
            FaultKind::Pause => {
                let nodes = draw_victims(n, rng);
                let servers = self.servers.lock().await;
                for &i in &nodes {
                    servers[i].process.pause();
                }
                let value = self.names(&nodes);
                (Active::Pause(nodes), value)
            }
            // Validation allows only partition, crash and pause.
            _ => {
                let shape = Shape::ALL[rng.random_range(0..Shape::ALL.len())];
                let cut: Vec<(String, String)> = grudge(shape, n, rng)
                    .iter()
                    .map(|&(a, b)| (self.ids[a].clone(), self.ids[b].clone()))
                    .collect();
                for (from, to) in &cut {
                    if let Some(link) = self.links.get(from, to) {
                        link.update(|b| b.cut = true);
                    }
                }
                let value = json!({
                    "shape": shape.name(),
                    "cut": cut.iter().map(|(a, b)| format!("{a}->{b}")).collect::<Vec<_>>(),
                });
                (Active::Partition(cut), value)
            }
        }
    }

    async fn stop(&self, fault: Active) -> Value {
        match fault {
            Active::Partition(cut) => {
                for (from, to) in &cut {
                    if let Some(link) = self.links.get(from, to) {
                        link.update(|b| b.cut = false);
                    }
                }
                json!(
                    cut.iter()
                        .map(|(a, b)| format!("{a}->{b}"))
                        .collect::<Vec<_>>()
                )
            }
            Active::Crash(nodes) => {
                self.restart(&nodes).await;
                self.names(&nodes)
            }
            Active::Pause(nodes) => {
                let servers = self.servers.lock().await;
                for &i in &nodes {
                    servers[i].process.resume();
                }
                self.names(&nodes)
            }
        }
    }

    async fn restart(&self, nodes: &[usize]) {
        let mut servers = self.servers.lock().await;
        for &i in nodes {
            let server = &mut servers[i];
            server.process.kill_and_wait().await;
            server.remove_leftovers();
            let started = match server.process.respawn() {
                Ok(()) => server::wait_ready(server, self.ready_timeout).await,
                Err(e) => Err(e),
            };
            if let Err(e) = started {
                tracing::error!("restarting {}: {e:#}", self.ids[i]);
            }
        }
    }

    /// Heal every link, resume every instance, restart the crashed ones.
    pub async fn heal_everything(&self) {
        self.links.heal_all();
        let down: Vec<usize> = {
            let mut servers = self.servers.lock().await;
            servers.iter().for_each(|s| s.process.resume());
            (0..servers.len())
                .filter(|&i| !servers[i].process.is_running())
                .collect()
        };
        self.restart(&down).await;
    }
}

/// Run the schedule until `time_limit`, then heal everything.
pub async fn run(
    faults: Vec<FaultKind>,
    interval: Duration,
    time_limit: Duration,
    seed: u64,
    targets: Arc<Targets>,
    history: HistoryHandle,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, "nemesis", 0));
    let deadline = Instant::now() + time_limit;
    let mut active: Option<(FaultKind, Active)> = None;
    let record = |kind: OpType, f: &str, value: Value| {
        history.record(Process::Nemesis, kind, f, None, value, None, None);
    };
    loop {
        let wake = (Instant::now() + interval).min(deadline);
        tokio::time::sleep_until(wake.into()).await;
        if Instant::now() >= deadline {
            break;
        }
        match active.take() {
            Some((kind, fault)) => {
                let f = format!("stop-{}", kind.name());
                record(OpType::Invoke, &f, Value::Null);
                let value = targets.stop(fault).await;
                record(OpType::Ok, &f, value);
            }
            None if !faults.is_empty() => {
                let kind = faults[rng.random_range(0..faults.len())];
                let f = format!("start-{}", kind.name());
                record(OpType::Invoke, &f, Value::Null);
                let (fault, value) = targets.start(kind, &mut rng).await;
                record(OpType::Ok, &f, value);
                active = Some((kind, fault));
            }
            None => {}
        }
    }
    if let Some((kind, fault)) = active.take() {
        let f = format!("stop-{}", kind.name());
        record(OpType::Invoke, &f, Value::Null);
        let value = targets.stop(fault).await;
        record(OpType::Ok, &f, value);
    }
    record(OpType::Invoke, "heal", Value::Null);
    targets.heal_everything().await;
    record(OpType::Ok, "heal", Value::Null);
}
