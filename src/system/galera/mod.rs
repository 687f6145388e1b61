//! `--db galera`: MariaDB Galera, the synchronous multi-master baseline.
//! Every commit is certified cluster-wide, so no acknowledged write should
//! be lost and no node diverge; the price is aborted transactions (1213)
//! and unavailability, which this system reports per fault window.
//!
//! `--nodes` local nodes ([`node`]): node 1 bootstraps, the others join by
//! state transfer; the cluster is ready when every node is synced in a
//! primary component of all of them ([`status`]). Workloads reach the
//! nodes over SQL ([`client`]: Galera's errors mapped to outcomes, every
//! call counted); faults are pause, crash and isolation ([`faults`]);
//! [`availability`] turns the counts and the fault spans into the report.

pub mod availability;
pub mod client;
pub mod faults;
pub mod node;
pub mod status;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;

use super::instance::{self, Instance, Instances};
use super::leftovers::Leftovers;
use super::mariadb::client::SqlClient;
use super::mariadb::server::{self, Layout};
use super::{Settled, Supports, System, SystemKind, SystemReport};
use crate::config::{ConfigError, TestConfig, invalid};
use crate::domain::{FaultKind, SystemName, Topology};
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::workload::{Conn, Protocol};
use availability::{Spans, Tally};
use client::Counted;
use node::{Node, Ports};

/// Galera as a kind of system.
pub struct Galera;

/// The least time a node is given to become ready: a joiner's state
/// transfer (mariabackup) alone takes ~15 s.
const MIN_READY: Duration = Duration::from_secs(90);

#[async_trait]
impl SystemKind for Galera {
    fn name(&self) -> SystemName {
        SystemName::Galera
    }

    fn supports(&self) -> Supports {
        Supports {
            faults: vec![FaultKind::Crash, FaultKind::Pause, FaultKind::Isolate],
            protocol: Protocol::Sql,
            // Every node has every write: there is no replication topology.
            topologies: vec![Topology::AllToAll],
            strategies: false,
            followers: false,
            down: false,
            failover: false,
            node_cmd: false,
            max_id_step: 65535,
        }
    }

    fn configure(&self, config: &TestConfig) -> Result<(), ConfigError> {
        if config.nodes < 3 {
            return Err(invalid(
                "nodes",
                format!(
                    "{} is too few for --db galera: it needs at least 3 (a primary component \
                     outlives one node's fault only with a majority left)",
                    config.nodes
                ),
            ));
        }
        Ok(())
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        node::require_installed()?;
        Ok(Box::new(start(config, run_dir).await?))
    }
}

/// A started cluster.
struct GaleraSystem {
    ids: Vec<String>,
    ports: Vec<u16>,
    faults: Arc<faults::Faults>,
    clients: Vec<Arc<Counted>>,
    tally: Arc<Tally>,
    sync_wait: Option<u8>,
    /// Last, so it runs after the nodes' own cleanup.
    _leftovers: Leftovers,
}

/// Bootstrap node 1, then have the others join; ready when every node is
/// synced in a primary component of all.
async fn start(config: &TestConfig, run_dir: &Path) -> Result<GaleraSystem> {
    let ids = config.node_ids();
    let ready_timeout = config.ready_timeout().max(MIN_READY);
    let nodes_dir = run_dir.join("nodes");
    std::fs::create_dir_all(&nodes_dir)?;
    let template = server::install_template(&nodes_dir).await?;
    let ports = Ports::draw(ids.len())?;
    let layout = Layout {
        run_dir,
        template: &template,
        config,
    };
    let sync_wait = config.db.wsrep_sync_wait;
    let mut nodes: Vec<Node> = Vec::with_capacity(ids.len());
    let mut leftovers = Leftovers::default();
    for (i, id) in ids.iter().enumerate() {
        let node = node::spawn(&layout, i, id, &ports, sync_wait).await?;
        leftovers.pid_files.push(node.pid_file().to_path_buf());
        leftovers.files.push(node.socket().to_path_buf());
        leftovers.files.push(node.pid_file().to_path_buf());
        nodes.push(node);
        if i == 0 {
            nodes[0].wait_synced_of(ready_timeout, 1).await?;
            nodes[0].join_from_now();
        }
    }
    instance::wait_all(&mut nodes, ready_timeout).await?;
    let _ = std::fs::remove_dir_all(&template);
    let start = Instant::now();
    let tally = Arc::new(Tally::new(start));
    let clients = ids
        .iter()
        .zip(&ports)
        .enumerate()
        .map(|(i, (id, p))| {
            let inner = SqlClient::new(
                id.clone(),
                p.client,
                config.concurrency,
                config.op_timeout(),
            )
            .with_indefinite(client::INDEFINITE);
            Arc::new(Counted {
                inner,
                node: i,
                tally: tally.clone(),
            })
        })
        .collect();
    let client_ports: Vec<u16> = ports.iter().map(|p| p.client).collect();
    let instances =
        Instances::new(nodes, ready_timeout, "Galera").with_hooks(Arc::new(faults::Rejoin));
    Ok(GaleraSystem {
        ids,
        faults: Arc::new(faults::Faults {
            instances,
            spans: Arc::new(Spans::new(start)),
            ports: client_ports.clone(),
        }),
        ports: client_ports,
        clients,
        tally,
        sync_wait,
        _leftovers: leftovers,
    })
}

#[async_trait]
impl System for GaleraSystem {
    fn describe(&self) -> String {
        let sync_wait = self
            .sync_wait
            .map(|m| format!(", wsrep_sync_wait={m}"))
            .unwrap_or_default();
        format!(" (MariaDB Galera, synchronous multi-master{sync_wait})")
    }

    fn ids(&self) -> &[String] {
        &self.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.clients
            .iter()
            .map(|c| Conn::Sql(c.clone() as Arc<dyn crate::workload::SqlApi>))
            .collect()
    }

    fn fault_targets(&self) -> FaultTargets {
        FaultTargets {
            processes: Some(self.faults.clone()),
            isolation: Some(self.faults.clone()),
            ..FaultTargets::new(self.ids.clone())
        }
    }

    /// Every node synced in a primary component of all, with nothing left
    /// to apply (a write set received but not applied would make a final
    /// read stale).
    async fn settle(&self, timeout: Duration, _: &[String]) -> Settled {
        let started = Instant::now();
        let mut last = Vec::new();
        loop {
            last.clear();
            for (id, &port) in self.ids.iter().zip(&self.ports) {
                match status::of(port).await {
                    Ok(s) if s.synced(self.ids.len()) => {}
                    Ok(s) => last.push(format!("{id}: {}", s.describe())),
                    Err(e) => last.push(format!("{id}: {e:#}")),
                }
            }
            if last.is_empty() || started.elapsed() >= timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Settled {
            quiesced: last.is_empty(),
            waited: started.elapsed(),
            notes: if last.is_empty() {
                Vec::new()
            } else {
                vec![format!("not every node synced: {}", last.join("; "))]
            },
        }
    }

    async fn report(&self, _: &[usize]) -> SystemReport {
        let mut notes =
            availability::report(&self.tally.calls(), &self.faults.spans.spans(), &self.ids);
        let mut counters = Vec::new();
        for (id, &port) in self.ids.iter().zip(&self.ports) {
            if let Ok(s) = status::of(port).await {
                counters.push(format!(
                    "{id} cert failures {} bf aborts {}",
                    s.cert_failures, s.bf_aborts
                ));
            }
        }
        notes.push(format!(
            "local transactions aborted (1213), since each node's last start: {}",
            counters.join("; ")
        ));
        SystemReport {
            findings: Vec::new(),
            notes,
            skipped_updates: None,
        }
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        for client in &self.clients {
            client.inner.clone().disconnect().await;
        }
        // Gracefully (SIGTERM: it leaves the cluster, removes its socket and
        // pid file), killing any node that takes longer than 30 s.
        let mut nodes = self.faults.instances.servers.lock().await;
        instance::stop_all(&mut nodes, libc::SIGTERM).await;
        for node in nodes.iter() {
            node.remove_leftovers();
        }
        Vec::new()
    }
}
