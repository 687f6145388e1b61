//! Starting and undoing each fault. A started fault is an [`ActiveFault`]
//! that knows exactly how to undo itself.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::kind::FaultKind;
use super::partition::{self, Shape};
use crate::cluster::Cluster;
use crate::net::LinkLayer;

/// Everything faults act on.
pub struct Targets {
    pub cluster: Arc<Mutex<Cluster>>,
    pub links: Arc<LinkLayer>,
    pub ids: Vec<String>,
    pub http: reqwest::Client,
    pub max_clock_skew_ms: i64,
}

/// A fault in effect, with what is needed to undo it.
pub enum ActiveFault {
    Partition {
        cut: Vec<(String, String)>,
        /// Messages on cut links were held (delivered late at the heal)
        /// rather than dropped.
        held: bool,
    },
    Crash {
        nodes: Vec<usize>,
    },
    Pause {
        nodes: Vec<usize>,
    },
    Clock {
        nodes: Vec<usize>,
        strobe: Option<JoinHandle<()>>,
    },
    Reorder,
    Duplicate,
    Offline {
        node: usize,
    },
}

impl ActiveFault {
    /// The nodes this fault takes away from their clients (crashed, paused,
    /// cut off), which `--routing home-failover` routes around.
    pub fn faulted_nodes(&self) -> Vec<usize> {
        match self {
            ActiveFault::Crash { nodes } | ActiveFault::Pause { nodes } => nodes.clone(),
            ActiveFault::Offline { node } => vec![*node],
            ActiveFault::Partition { .. }
            | ActiveFault::Clock { .. }
            | ActiveFault::Reorder
            | ActiveFault::Duplicate => Vec::new(),
        }
    }
}

/// The nodes a process fault hits: one, a minority, a majority or all.
pub fn draw_victims(n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let count = match rng.random_range(0..4) {
        0 => 1,
        1 => (n - 1) / 2,
        2 => n / 2 + 1,
        _ => n,
    }
    .clamp(1, n);
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(rng);
    all.truncate(count);
    all.sort();
    all
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

    /// Start a fault of `kind`; returns it and the value recorded in the history.
    pub async fn start(&self, kind: FaultKind, rng: &mut impl Rng) -> (ActiveFault, Value) {
        let n = self.ids.len();
        match kind {
            FaultKind::Partition => {
                let shape = Shape::ALL[rng.random_range(0..Shape::ALL.len())];
                let grudge = partition::grudge(shape, n, rng);
                let cut: Vec<(String, String)> = grudge
                    .iter()
                    .map(|&(a, b)| (self.ids[a].clone(), self.ids[b].clone()))
                    .collect();
                // Some partitions hold messages instead of dropping them:
                // at the heal, stale batches arrive late, after their resends.
                let held = rng.random_bool(0.3);
                for (from, to) in &cut {
                    self.links.update(from, to, |b| {
                        if held {
                            b.hold = true;
                        } else {
                            b.drop = true;
                        }
                    });
                }
                let value = json!({
                    "shape": shape.name(),
                    "mode": if held { "hold" } else { "drop" },
                    "cut": cut.iter().map(|(a, b)| format!("{a}->{b}")).collect::<Vec<_>>(),
                });
                (ActiveFault::Partition { cut, held }, value)
            }
            FaultKind::Offline => {
                let node = rng.random_range(0..n);
                self.isolate(node, true);
                (ActiveFault::Offline { node }, self.names(&[node]))
            }
            FaultKind::Crash => {
                let nodes = draw_victims(n, rng);
                let mut cluster = self.cluster.lock().await;
                for &i in &nodes {
                    cluster.crash(i).await;
                }
                (
                    ActiveFault::Crash {
                        nodes: nodes.clone(),
                    },
                    self.names(&nodes),
                )
            }
            FaultKind::Pause => {
                let nodes = draw_victims(n, rng);
                let cluster = self.cluster.lock().await;
                for &i in &nodes {
                    cluster.pause(i);
                }
                (
                    ActiveFault::Pause {
                        nodes: nodes.clone(),
                    },
                    self.names(&nodes),
                )
            }
            FaultKind::Clock => {
                let nodes = draw_victims(n, rng);
                let skew = self.max_clock_skew_ms.max(1);
                let strobe = rng.random_bool(0.3);
                let mut offsets = serde_json::Map::new();
                if strobe {
                    let handle = self.spawn_strobe(nodes.clone(), skew);
                    let value = json!({ "strobe_ms": skew, "nodes": self.names(&nodes) });
                    return (
                        ActiveFault::Clock {
                            nodes,
                            strobe: Some(handle),
                        },
                        value,
                    );
                }
                for &i in &nodes {
                    let offset = rng.random_range(-skew..=skew);
                    self.set_clock(i, offset).await;
                    offsets.insert(self.ids[i].clone(), json!(offset));
                }
                (
                    ActiveFault::Clock {
                        nodes,
                        strobe: None,
                    },
                    json!({ "offsets_ms": offsets }),
                )
            }
            FaultKind::Reorder => {
                self.links.update_all(|_, _, b| {
                    b.reorder = true;
                    b.reorder_ms = 50;
                });
                (ActiveFault::Reorder, json!({ "reorder_ms": 50 }))
            }
            FaultKind::Duplicate => {
                self.links.update_all(|_, _, b| {
                    b.duplicate = 0.3;
                    b.loss = 0.05;
                });
                (
                    ActiveFault::Duplicate,
                    json!({ "duplicate": 0.3, "loss": 0.05 }),
                )
            }
        }
    }

    /// Undo `fault`; returns the value recorded in the history.
    pub async fn stop(&self, fault: ActiveFault) -> Value {
        match fault {
            ActiveFault::Partition { cut, held } => {
                for (from, to) in &cut {
                    // Clearing hold releases what the link kept.
                    self.links.update(from, to, |b| {
                        if held {
                            b.hold = false;
                        } else {
                            b.drop = false;
                        }
                    });
                }
                json!(
                    cut.iter()
                        .map(|(a, b)| format!("{a}->{b}"))
                        .collect::<Vec<_>>()
                )
            }
            ActiveFault::Offline { node } => {
                self.isolate(node, false);
                self.names(&[node])
            }
            ActiveFault::Crash { nodes } => {
                let mut cluster = self.cluster.lock().await;
                for &i in &nodes {
                    if let Err(e) = cluster.restart(i).await {
                        tracing::error!("restarting {}: {e:#}", self.ids[i]);
                    }
                }
                self.names(&nodes)
            }
            ActiveFault::Pause { nodes } => {
                let cluster = self.cluster.lock().await;
                for &i in &nodes {
                    cluster.resume(i);
                }
                self.names(&nodes)
            }
            ActiveFault::Clock { nodes, strobe } => {
                if let Some(handle) = strobe {
                    handle.abort();
                    let _ = handle.await;
                }
                for &i in &nodes {
                    self.set_clock(i, 0).await;
                }
                self.names(&nodes)
            }
            ActiveFault::Reorder => {
                self.links.update_all(|_, _, b| {
                    b.reorder = false;
                    b.reorder_ms = 0;
                });
                Value::Null
            }
            ActiveFault::Duplicate => {
                self.links.update_all(|_, _, b| {
                    b.duplicate = 0.0;
                    b.loss = 0.0;
                });
                Value::Null
            }
        }
    }

    fn isolate(&self, node: usize, cut: bool) {
        let id = &self.ids[node];
        for other in self.ids.iter().filter(|o| *o != id) {
            self.links.update(id, other, |b| b.drop = cut);
            self.links.update(other, id, |b| b.drop = cut);
        }
    }

    /// Shift node `i`'s strategy clock by `offset_ms` (0 resets it).
    pub async fn set_clock(&self, i: usize, offset_ms: i64) {
        let url = { self.cluster.lock().await.nodes()[i].spec.url() };
        let result = self
            .http
            .post(format!("{url}/admin/clock"))
            .json(&json!({ "offset_ms": offset_ms }))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        match result {
            // A crashed or paused node cannot be skewed; its restart resets the clock anyway.
            Err(e) => tracing::warn!("clock fault on {}: {e}", self.ids[i]),
            // The clock call is optional in the node protocol: skip the fault.
            Ok(reply) if !reply.status().is_success() => tracing::warn!(
                "clock fault on {} skipped: POST /admin/clock answered HTTP {} (the node does not support clock faults)",
                self.ids[i],
                reply.status()
            ),
            Ok(_) => {}
        }
    }

    /// Jump the clocks of `nodes` back and forth by `skew_ms` every 20 ms.
    fn spawn_strobe(&self, nodes: Vec<usize>, skew_ms: i64) -> JoinHandle<()> {
        let targets = Targets {
            cluster: self.cluster.clone(),
            links: self.links.clone(),
            ids: self.ids.clone(),
            http: self.http.clone(),
            max_clock_skew_ms: self.max_clock_skew_ms,
        };
        tokio::spawn(async move {
            let mut ahead = true;
            loop {
                for &i in &nodes {
                    targets
                        .set_clock(i, if ahead { skew_ms } else { -skew_ms })
                        .await;
                }
                ahead = !ahead;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    /// Undo everything that could be in effect: heal links, restart crashed
    /// nodes, resume paused ones, reset clocks.
    pub async fn heal_everything(&self) {
        self.links.heal_all();
        let mut cluster = self.cluster.lock().await;
        for i in 0..self.ids.len() {
            cluster.resume(i);
            if cluster.is_down(i)
                && let Err(e) = cluster.restart(i).await
            {
                tracing::error!("restarting {}: {e:#}", self.ids[i]);
            }
        }
        drop(cluster);
        for i in 0..self.ids.len() {
            self.set_clock(i, 0).await;
        }
    }
}
