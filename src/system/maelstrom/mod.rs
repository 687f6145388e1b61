//! Nodes written for Jepsen's Maelstrom, run unchanged (`--protocol
//! maelstrom`, docs/maelstrom.md): each a process speaking JSON lines on
//! stdin and stdout, every message between them routed through the
//! controller, so diverge's faults (Maelstrom's partitions, and crashes,
//! pauses, duplicates it never injects) reach them.
//!
//! - [`supervisor`]: one node process, its pipes, init.
//! - [`router`]: every message by its `dest`: node links (per-message
//!   fates), services, clients' replies.
//! - [`services`]: `seq-kv`, `lin-kv`, `lww-kv`, `lin-tso`.
//! - [`client`]: the workloads' [`crate::workload::MaelstromApi`].
//! - [`nodes`]: the started nodes as fault targets.
//! - [`topology`]: the broadcast workload's grid.
//! - [`settle`]: waiting until the nodes' answers agree before final reads.
//! - [`findings`]: what the report says about the nodes.

pub mod client;
pub mod findings;
pub mod nodes;
pub mod router;
pub mod services;
pub mod settle;
pub mod supervisor;
pub mod topology;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{Settled, Supports, System, SystemKind, SystemReport};
use crate::config::{ConfigError, TestConfig, invalid};
use crate::domain::{FaultKind, SystemName, Topology, Workload};
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::workload::{Conn, Protocol};
use client::MaelstromClient;
use nodes::Nodes;
use router::Router;
use supervisor::Supervisor;

/// Maelstrom nodes as a kind of system.
pub struct Maelstrom;

#[async_trait]
impl SystemKind for Maelstrom {
    fn name(&self) -> SystemName {
        SystemName::Maelstrom
    }

    fn supports(&self) -> Supports {
        use FaultKind::*;
        Supports {
            // No clock: a Maelstrom node reads its machine's clock, which
            // the controller cannot shift for one process.
            faults: vec![Partition, Crash, Pause, Reorder, Duplicate, Offline],
            protocol: Protocol::Maelstrom,
            topologies: vec![Topology::AllToAll],
            strategies: false,
            followers: false,
            down: false,
            failover: false,
            node_cmd: true,
            max_id_step: 1,
        }
    }

    fn configure(&self, config: &TestConfig) -> Result<(), ConfigError> {
        if config.node_cmd.is_none() {
            return Err(invalid(
                "protocol",
                "maelstrom needs --node-cmd: the command that starts your node (docs/maelstrom.md)",
            ));
        }
        Ok(())
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        let template = config.node_cmd.clone().context("--node-cmd")?;
        let ids = config.node_ids();
        let logs = run_dir.join("nodes");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let router = Router::new(ids.clone(), config.seed);
        let supervisors = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let log = logs.join(format!("{id}.log"));
                Mutex::new(Supervisor::new(i, id, &template, log))
            })
            .collect();
        let zero = || ids.iter().map(|_| AtomicU64::new(0)).collect();
        let nodes = Arc::new(Nodes {
            router: router.clone(),
            supervisors,
            workload: config.workload,
            init_timeout: config.ready_timeout(),
            crashes: zero(),
            pauses: zero(),
        });
        for i in 0..ids.len() {
            if let Err(e) = nodes.start(i).await {
                nodes.stop_all().await;
                return Err(e);
            }
        }
        let conns = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                Conn::Maelstrom(Arc::new(MaelstromClient {
                    router: router.clone(),
                    index: i,
                    node: id.clone(),
                    name: format!("c{}", i + 1),
                    timeout: config.op_timeout(),
                }))
            })
            .collect();
        Ok(Box::new(MaelstromSystem {
            ids,
            nodes,
            conns,
            workload: config.workload,
        }))
    }
}

struct MaelstromSystem {
    ids: Vec<String>,
    nodes: Arc<Nodes>,
    conns: Vec<Conn>,
    workload: Workload,
}

#[async_trait]
impl System for MaelstromSystem {
    fn describe(&self) -> String {
        " (Maelstrom nodes: JSON lines on stdin/stdout, every message routed)".into()
    }

    fn ids(&self) -> &[String] {
        &self.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.clone()
    }

    fn fault_targets(&self) -> FaultTargets {
        FaultTargets {
            ids: self.ids.clone(),
            processes: Some(self.nodes.clone()),
            links: Some(self.nodes.clone()),
            messages: Some(self.nodes.clone()),
            clock: None,
            isolation: None,
        }
    }

    async fn settle(&self, timeout: Duration, down: &[String]) -> Settled {
        let gossips = crate::workload::bundle_of(self.workload)
            .over_maelstrom()
            .is_none_or(|m| m.converges_by_gossip());
        if !gossips {
            return Settled {
                quiesced: true,
                waited: Duration::ZERO,
                notes: vec![format!(
                    "{}: final reads taken at once (no gossip to wait for)",
                    self.workload
                )],
            };
        }
        let live: Vec<usize> = (0..self.ids.len())
            .filter(|&i| !down.contains(&self.ids[i]))
            .collect();
        settle::settle(&self.nodes.router, &live, timeout).await
    }

    async fn report(&self, _live: &[usize]) -> SystemReport {
        let links = self.nodes.router.counters();
        let mut notes = vec![findings::rules(self.workload)];
        notes.extend(findings::beyond_maelstrom(&self.nodes, &links));
        SystemReport {
            findings: findings::protocol_errors(&self.nodes),
            notes,
            skipped_updates: None,
        }
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        self.nodes.stop_all().await;
        self.nodes.router.counters()
    }
}
