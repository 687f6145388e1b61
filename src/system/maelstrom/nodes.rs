//! The started nodes as fault targets: processes (crash wipes a node's
//! memory: it restarts as a new process, initialised afresh; pause is
//! SIGSTOP), links (partitions and offline drop) and messages (reorder,
//! duplicate), all through the [`Router`]. Counts what each node suffered,
//! for the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Mutex;

use super::router::Router;
use super::supervisor::{CONTROL_CLIENT, Supervisor};
use super::topology;
use crate::domain::Workload;
use crate::nemesis::{CutMode, LinkFaults, MessageFaults, ProcessFaults};
use crate::net::LinkBehaviour;

pub struct Nodes {
    pub router: Arc<Router>,
    pub supervisors: Vec<Mutex<Supervisor>>,
    pub workload: Workload,
    /// Bound on a node's answer to init (and topology).
    pub init_timeout: Duration,
    /// By node: restarts after a crash (each wiped its memory), pauses.
    pub crashes: Vec<AtomicU64>,
    pub pauses: Vec<AtomicU64>,
}

impl Nodes {
    /// Start node `i` (again): init, and the topology for broadcast.
    pub async fn start(&self, i: usize) -> Result<()> {
        self.supervisors[i]
            .lock()
            .await
            .start(&self.router, self.init_timeout)
            .await?;
        if self.workload == Workload::Broadcast {
            let body = json!({ "type": "topology", "topology": topology::grid(self.router.ids()) });
            self.router
                .request(i, CONTROL_CLIENT, body, self.init_timeout)
                .await
                .map_err(|e| anyhow::anyhow!("topology: {}", e.message()))?;
        }
        Ok(())
    }

    /// Kill every node (the run is over, or failed).
    pub async fn stop_all(&self) {
        for s in &self.supervisors {
            s.lock().await.kill(&self.router).await;
        }
    }
}

#[async_trait]
impl ProcessFaults for Nodes {
    async fn kill(&self, i: usize) {
        self.supervisors[i].lock().await.kill(&self.router).await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        self.crashes[i].fetch_add(1, Ordering::Relaxed);
        self.start(i).await.map_err(|e| format!("{e:#}"))
    }

    async fn pause(&self, i: usize) {
        self.pauses[i].fetch_add(1, Ordering::Relaxed);
        self.supervisors[i].lock().await.signal(libc::SIGSTOP);
    }

    async fn resume(&self, i: usize) {
        self.supervisors[i].lock().await.signal(libc::SIGCONT);
    }

    async fn hold_down(&self, i: usize) -> Result<(), String> {
        self.kill(i).await;
        Ok(())
    }

    async fn recover_all(&self) {
        for i in 0..self.supervisors.len() {
            let running = {
                let s = self.supervisors[i].lock().await;
                s.signal(libc::SIGCONT);
                s.is_running()
            };
            if !running && let Err(e) = self.restart(i).await {
                tracing::error!("restarting node {i}: {e}");
            }
        }
    }
}

impl LinkFaults for Nodes {
    /// Maelstrom's partitions drop messages, and its nodes are written
    /// for that: a cut drops whatever its mode (a held backlog delivered at
    /// the heal would be a fault Maelstrom never shows).
    fn cut(&self, from: &str, to: &str, _: CutMode, on: bool) {
        self.router.update(from, to, |b| b.drop = on);
    }

    fn heal_all(&self) {
        self.router.update_all(|b| *b = LinkBehaviour::pass());
    }
}

impl MessageFaults for Nodes {
    fn reorder(&self, max_ms: u64) {
        self.router.update_all(|b| {
            b.reorder = max_ms > 0;
            b.reorder_ms = max_ms;
        });
    }

    fn duplicate(&self, fraction: f64, loss: f64) {
        self.router.update_all(|b| {
            b.duplicate = fraction;
            b.loss = loss;
        });
    }
}
