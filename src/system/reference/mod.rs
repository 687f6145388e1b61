//! The reference system: diverge's own leader nodes (`diverge node`), or
//! nodes a `--node-cmd` template starts, peered through the controller's
//! HTTP links when the run needs them.
//!
//! - [`testbed`]: the link layer and the node processes wired together.
//! - [`client`]: the node API over HTTP, as the workloads' `KvApi`.
//! - [`faults`]: processes, links, messages and clocks as fault targets.
//! - [`quiesce`]: waiting until every replication backlog has drained.
//! - [`status`]: counters read from the nodes' status at the end.

pub mod client;
pub mod faults;
pub mod quiesce;
pub mod status;
pub mod testbed;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;

pub use client::NodeClient;
pub use testbed::Testbed;

use super::{Settled, Supports, System, SystemKind, SystemReport};
use crate::config::{ConfigError, TestConfig, invalid};
use crate::domain::{FaultKind, SystemName, Topology};
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::workload::{Conn, Protocol};

/// The reference nodes as a kind of system.
pub struct Reference;

#[async_trait]
impl SystemKind for Reference {
    fn name(&self) -> SystemName {
        SystemName::Reference
    }

    fn supports(&self) -> Supports {
        Supports {
            // Every kind but isolation, which a database does from inside.
            faults: FaultKind::ALL
                .into_iter()
                .filter(|k| *k != FaultKind::Isolate)
                .collect(),
            protocol: Protocol::Kv,
            topologies: vec![
                Topology::AllToAll,
                Topology::Ring,
                Topology::Star,
                Topology::Tree,
                Topology::SingleLeader,
            ],
            strategies: true,
            followers: true,
            down: true,
            failover: true,
            node_cmd: true,
            max_id_step: u64::MAX,
        }
    }

    fn configure(&self, config: &TestConfig) -> Result<(), ConfigError> {
        let Some(template) = &config.node_cmd else {
            return Ok(());
        };
        crate::cluster::template::check(template).map_err(|p| invalid("node-cmd", p))?;
        if config.followers > 0 {
            return Err(invalid(
                "followers",
                "applies to the reference nodes, not --node-cmd nodes",
            ));
        }
        Ok(())
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency.max(16))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        let testbed = Testbed::start(config, run_dir, http.clone()).await?;
        let conns = testbed
            .ids
            .iter()
            .zip(&testbed.urls)
            .map(|(id, url)| {
                let client = NodeClient::new(id.clone(), url, config.op_timeout())?;
                Ok(Conn::Kv(Arc::new(client)))
            })
            .collect::<Result<Vec<Conn>>>()?;
        let followers = (0..config.nodes)
            .map(|l| {
                (config.nodes..testbed.ids.len())
                    .filter(|&f| config.leader_of(f) == l)
                    .collect()
            })
            .collect();
        Ok(Box::new(ReferenceSystem {
            testbed,
            http,
            conns,
            followers,
            leaders: config.nodes,
            per_leader: config.followers,
            settle: Duration::from_secs_f64(config.settle_s),
            interposed: config.interposes_links(),
        }))
    }
}

/// Started reference nodes.
struct ReferenceSystem {
    testbed: Testbed,
    http: reqwest::Client,
    conns: Vec<Conn>,
    followers: Vec<Vec<usize>>,
    leaders: usize,
    /// Read-only followers per leader.
    per_leader: usize,
    /// The fixed wait of nodes that cannot report quiescence (`--settle`).
    settle: Duration,
    interposed: bool,
}

impl ReferenceSystem {
    fn urls_of(&self, nodes: &[usize]) -> Vec<String> {
        nodes
            .iter()
            .map(|&i| self.testbed.urls[i].clone())
            .collect()
    }
}

#[async_trait]
impl System for ReferenceSystem {
    fn describe(&self) -> String {
        match self.per_leader {
            0 => String::new(),
            k => format!(
                " ({} nodes with {k} read-only followers each)",
                self.leaders
            ),
        }
    }

    fn ids(&self) -> &[String] {
        &self.testbed.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.clone()
    }

    fn followers(&self) -> Vec<Vec<usize>> {
        self.followers.clone()
    }

    fn fault_targets(&self) -> FaultTargets {
        let targets = Arc::new(self.testbed.targets(self.http.clone()));
        FaultTargets {
            ids: self.testbed.ids.clone(),
            processes: Some(targets.clone()),
            links: Some(targets.clone()),
            messages: Some(targets.clone()),
            clock: Some(targets),
            isolation: None,
        }
    }

    async fn settle(&self, timeout: Duration, down: &[String]) -> Settled {
        let live: Vec<usize> = (0..self.testbed.ids.len())
            .filter(|&i| !down.contains(&self.testbed.ids[i]))
            .collect();
        let ids: Vec<String> = live.iter().map(|&i| self.testbed.ids[i].clone()).collect();
        let (quiescence, note) = quiesce::wait_quiescent_or_settle(
            &self.http,
            &ids,
            &self.urls_of(&live),
            down,
            timeout,
            self.settle,
        )
        .await;
        Settled {
            quiesced: quiescence.quiesced,
            waited: quiescence.waited,
            notes: note.into_iter().collect(),
        }
    }

    async fn report(&self, live: &[usize]) -> SystemReport {
        let urls = self.urls_of(live);
        let skipped_updates = status::sum_status_field(&self.http, &urls, "skipped_updates").await;
        let notes = (!self.interposed).then(|| {
            "nodes peered directly: no fault of this run acts on the network, so no links were interposed (--links on routes and counts every message)".to_string()
        });
        SystemReport {
            findings: Vec::new(),
            notes: notes.into_iter().collect(),
            skipped_updates,
        }
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        let Testbed { cluster, links, .. } = self.testbed;
        cluster.lock().await.stop().await;
        let counters = links.counters();
        if let Ok(links) = Arc::try_unwrap(links) {
            links.shutdown().await;
        }
        counters
    }
}
