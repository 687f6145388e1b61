//! The link faults of PostgreSQL instances (their processes are
//! [`crate::system::instance::Instances`], with [`Targets`] as hooks): the
//! TCP links their subscriptions pass through (a cut `a->b` stops `b`'s
//! subscription from reading `a`'s changes).
//!
//! An apply worker that lost its provider retries only after up to ~3
//! minutes; so when a cut link heals, or a crashed provider is back, the
//! subscriptions that read through it are restarted at once. The
//! restarts run in the background; [`Targets::restarted`] waits for them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as SyncMutex};

use tokio::task::JoinHandle;

use super::pglogical;
use crate::nemesis::{CutMode, LinkFaults};
use crate::net::tcp::TcpLinks;
use crate::system::instance::Hooks;

pub struct Targets {
    pub links: Arc<TcpLinks>,
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
}

impl Hooks for Targets {
    /// A restarted provider's subscribers lost it: have them reconnect now.
    fn restarted(&self, id: &str) {
        for (subscriber, _) in &self.nodes {
            if subscriber != id && self.links.get(id, subscriber).is_some() {
                self.restart_apply(id, subscriber);
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
