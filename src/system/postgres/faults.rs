//! The fault targets of PostgreSQL instances: their processes (SIGKILL of
//! the postmaster's whole process group and a restart from its data dir,
//! SIGSTOP/SIGCONT) and the TCP links their subscriptions pass through (a
//! cut `a->b` stops `b`'s subscription from reading `a`'s changes).
//!
//! An apply worker that lost its provider retries only after up to ~3
//! minutes; so when a cut link heals, or a crashed provider is back, the
//! subscriptions that read through it are restarted at once. The
//! restarts run in the background; [`Targets::restarted`] waits for them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::pglogical;
use super::server::{self, Server};
use crate::nemesis::{CutMode, LinkFaults, ProcessFaults};
use crate::net::tcp::TcpLinks;

pub struct Targets {
    pub servers: Arc<Mutex<Vec<Server>>>,
    pub links: Arc<TcpLinks>,
    pub ready_timeout: Duration,
    /// (provider, subscriber) of every link cut since its last heal.
    pub cut: SyncMutex<BTreeSet<(String, String)>>,
    /// Apply-worker restarts under way.
    pub restarts: SyncMutex<Vec<JoinHandle<()>>>,
    /// Node ids and client ports, by index.
    pub nodes: Vec<(String, u16)>,
    /// Whether apply workers need restarting after a heal (pglogical's;
    /// native ones retry every `wal_retrieve_retry_interval`).
    pub restart_apply: bool,
}

impl Targets {
    /// Restart, in the background, `subscriber`'s apply worker for `provider`.
    fn restart_apply(&self, provider: &str, subscriber: &str) {
        if !self.restart_apply {
            return;
        }
        let Some(&(_, port)) = self.nodes.iter().find(|(id, _)| id == subscriber) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let name = pglogical::subscription(subscriber, provider);
        let task = runtime.spawn(async move {
            if let Err(e) = pglogical::kick(port, &name).await {
                tracing::warn!("restarting apply worker {name}: {e:#}");
            }
        });
        self.restarts.lock().expect("restarts").push(task);
    }

    /// Wait for every apply-worker restart started so far.
    pub async fn restarted(&self) {
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.restarts.lock().expect("restarts"));
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn restart_server(&self, server: &mut Server) -> Result<(), String> {
        server.process.kill_and_wait().await;
        server.remove_leftovers();
        server.process.respawn().map_err(|e| format!("{e:#}"))?;
        server::wait_ready(server, self.ready_timeout)
            .await
            .map_err(|e| format!("{e:#}"))?;
        // Its subscribers lost it: have them reconnect now.
        for (subscriber, _) in &self.nodes {
            if *subscriber != server.id && self.links.get(&server.id, subscriber).is_some() {
                self.restart_apply(&server.id, subscriber);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ProcessFaults for Targets {
    async fn kill(&self, i: usize) {
        self.servers.lock().await[i].process.kill_and_wait().await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        let mut servers = self.servers.lock().await;
        self.restart_server(&mut servers[i]).await
    }

    async fn pause(&self, i: usize) {
        self.servers.lock().await[i].process.pause();
    }

    async fn resume(&self, i: usize) {
        self.servers.lock().await[i].process.resume();
    }

    async fn hold_down(&self, _: usize) -> Result<(), String> {
        Err("PostgreSQL instances are not held down (--down is refused for them)".into())
    }

    async fn recover_all(&self) {
        let mut servers = self.servers.lock().await;
        for server in servers.iter_mut() {
            server.process.resume();
            if !server.process.is_running()
                && let Err(e) = self.restart_server(server).await
            {
                tracing::error!("restarting {}: {e}", server.id);
            }
        }
    }
}

impl LinkFaults for Targets {
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool) {
        let Some(link) = self.links.get(from, to) else {
            return;
        };
        link.update(|b| match mode {
            CutMode::Drop => b.cut = on,
            CutMode::Hold => b.hold = on,
        });
        let pair = (from.to_string(), to.to_string());
        if mode == CutMode::Drop && on {
            self.cut.lock().expect("cut").insert(pair);
        } else if mode == CutMode::Drop && self.cut.lock().expect("cut").remove(&pair) {
            self.restart_apply(from, to);
        }
    }

    fn heal_all(&self) {
        self.links.heal_all();
        let cut = std::mem::take(&mut *self.cut.lock().expect("cut"));
        for (provider, subscriber) in cut {
            self.restart_apply(&provider, &subscriber);
        }
    }
}
