//! The fault targets of the reference nodes (and `--node-cmd` nodes):
//! their processes, the HTTP links between them (cut, hold, per-message
//! faults) and the strategy clock each node serves at `POST /admin/clock`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Mutex;

use crate::cluster::Cluster;
use crate::nemesis::{ClockFaults, CutMode, LinkFaults, MessageFaults, ProcessFaults};
use crate::net::LinkLayer;

/// What faults act on.
pub struct Targets {
    pub cluster: Arc<Mutex<Cluster>>,
    pub links: Arc<LinkLayer>,
    /// Client URL of each node, by index.
    pub urls: Vec<String>,
    pub http: reqwest::Client,
}

#[async_trait]
impl ProcessFaults for Targets {
    async fn kill(&self, i: usize) {
        self.cluster.lock().await.crash(i).await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        let mut cluster = self.cluster.lock().await;
        cluster.restart(i).await.map_err(|e| format!("{e:#}"))
    }

    async fn pause(&self, i: usize) {
        self.cluster.lock().await.pause(i);
    }

    async fn resume(&self, i: usize) {
        self.cluster.lock().await.resume(i);
    }

    async fn hold_down(&self, i: usize) -> Result<(), String> {
        self.cluster.lock().await.hold_down(i).await;
        Ok(())
    }

    async fn recover_all(&self) {
        let mut cluster = self.cluster.lock().await;
        for i in 0..self.urls.len() {
            cluster.resume(i);
            if cluster.is_down(i)
                && !cluster.is_held_down(i)
                && let Err(e) = cluster.restart(i).await
            {
                tracing::error!("restarting node {i}: {e:#}");
            }
        }
    }
}

impl LinkFaults for Targets {
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool) {
        // Faults compose: a cut keeps the link's latency, and clearing
        // `hold` releases what the link kept.
        self.links.update(from, to, |b| match mode {
            CutMode::Drop => b.drop = on,
            CutMode::Hold => b.hold = on,
        });
    }

    fn heal_all(&self) {
        self.links.heal_all();
    }
}

impl MessageFaults for Targets {
    fn reorder(&self, max_ms: u64) {
        self.links.update_all(|_, _, b| {
            b.reorder = max_ms > 0;
            b.reorder_ms = max_ms;
        });
    }

    fn duplicate(&self, fraction: f64, loss: f64) {
        self.links.update_all(|_, _, b| {
            b.duplicate = fraction;
            b.loss = loss;
        });
    }
}

#[async_trait]
impl ClockFaults for Targets {
    async fn set_offset(&self, i: usize, offset_ms: i64) -> Result<(), String> {
        let reply = self
            .http
            .post(format!("{}/admin/clock", self.urls[i]))
            .json(&json!({ "offset_ms": offset_ms }))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| format!("POST /admin/clock: {e}"))?;
        let status = reply.status();
        if status.is_success() {
            return Ok(());
        }
        let body = reply.text().await.unwrap_or_default();
        let body = &body[..body.floor_char_boundary(200)];
        Err(format!("POST /admin/clock answered HTTP {status}: {body}"))
    }
}
