//! `--db mariadb`: a real multi-leader database under test.
//!
//! Local `mariadbd` instances ([`server`]), each with its own datadir, port,
//! socket and pid file under the run directory, replicate as a ring or
//! all-to-all ([`replication`]) with every replication connection passing
//! through a TCP link ([`crate::net::tcp`]) so that partitions cut it. The
//! workloads reach them over SQL ([`client`]); faults act on their
//! processes and links ([`faults`]). Settling waits (bounded) until every
//! applier caught up or stopped; stopped appliers are findings
//! ([`findings`] ties each to the anomaly it stopped on).

pub mod client;
pub mod faults;
pub mod findings;
pub mod replication;
pub mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use diverge_checkers::Anomaly;

use super::instance::{self, Instances};
use super::leftovers::Leftovers;
use super::{Settled, Supports, System, SystemKind, SystemReport};
use crate::config::TestConfig;
use crate::domain::{FaultKind, Named, SystemName, Topology};
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::net::tcp::TcpLinks;
use crate::results::DbFinding;
use crate::workload::{Conn, Protocol};
use client::SqlClient;
use server::{Layout, Server};

/// MariaDB as a kind of system.
pub struct Mariadb;

#[async_trait]
impl SystemKind for Mariadb {
    fn name(&self) -> SystemName {
        SystemName::Mariadb
    }

    fn supports(&self) -> Supports {
        Supports {
            faults: vec![FaultKind::Partition, FaultKind::Crash, FaultKind::Pause],
            protocol: Protocol::Sql,
            topologies: vec![Topology::Ring, Topology::AllToAll],
            strategies: false,
            followers: false,
            down: false,
            failover: false,
            node_cmd: false,
            max_id_step: 65535,
        }
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        server::require_installed()?;
        let system = start(config, run_dir).await?;
        Ok(Box::new(system))
    }

    fn relate(&self, findings: &mut [DbFinding], anomalies: &[Anomaly]) {
        findings::relate(findings, anomalies);
    }
}

/// Started instances.
struct MariadbSystem {
    ids: Vec<String>,
    ports: Vec<u16>,
    topology: Topology,
    instances: Arc<Instances<Server>>,
    links: Arc<TcpLinks>,
    clients: Vec<SqlClient>,
    /// Last, so it runs after the servers' own cleanup.
    _leftovers: Leftovers,
}

/// Install a template datadir, spawn every instance from it, wait until
/// each accepts connections, and wire replication through TCP links.
async fn start(config: &TestConfig, run_dir: &Path) -> Result<MariadbSystem> {
    let ids = config.node_ids();
    let ready_timeout = config.ready_timeout().max(Duration::from_secs(30));
    let nodes_dir = run_dir.join("nodes");
    std::fs::create_dir_all(&nodes_dir)?;
    let template = server::install_template(&nodes_dir).await?;
    let ports = instance::ports(ids.len())?;
    let layout = Layout {
        run_dir,
        template: &template,
        config,
    };
    let mut servers: Vec<Server> = Vec::with_capacity(ids.len());
    let mut leftovers = Leftovers::default();
    for (i, id) in ids.iter().enumerate() {
        let server = layout.spawn(i, id, ports[i]).await?;
        leftovers.pid_files.push(server.pid_file.clone());
        leftovers.files.push(server.socket.clone());
        leftovers.files.push(server.pid_file.clone());
        servers.push(server);
    }
    instance::wait_all(&mut servers, ready_timeout).await?;
    let _ = std::fs::remove_dir_all(&template);
    let links = Arc::new(connect(config.topology, &ids, &ports).await?);
    let clients = ids
        .iter()
        .zip(&ports)
        .map(|(id, port)| {
            SqlClient::new(id.clone(), *port, config.concurrency, config.op_timeout())
        })
        .collect();
    Ok(MariadbSystem {
        ids,
        ports,
        topology: config.topology,
        instances: Arc::new(Instances::new(servers, ready_timeout, "MariaDB")),
        links,
        clients,
        _leftovers: leftovers,
    })
}

/// One TCP link per replication connection (replica r reads master m's
/// binlog through link m->r), each replica pointed at its masters' links.
async fn connect(topology: Topology, ids: &[String], ports: &[u16]) -> Result<TcpLinks> {
    let n = ids.len();
    let mut routes = Vec::new();
    for r in 0..n {
        for m in replication::masters_of(topology, n, r) {
            let master = SocketAddr::from(([127, 0, 0, 1], ports[m]));
            routes.push((ids[m].clone(), ids[r].clone(), master));
        }
    }
    let links = TcpLinks::start(&routes).await?;
    for (r, id) in ids.iter().enumerate() {
        for m in replication::masters_of(topology, n, r) {
            let link = links.get(&ids[m], id).context("missing replication link")?;
            replication::connect(ports[r], &ids[m], link.addr().port())
                .await
                .with_context(|| format!("configuring {id} to replicate from {}", ids[m]))?;
        }
    }
    Ok(links)
}

#[async_trait]
impl System for MariadbSystem {
    fn describe(&self) -> String {
        format!(" (MariaDB, {})", self.topology.name())
    }

    fn ids(&self) -> &[String] {
        &self.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.clients
            .iter()
            .map(|c| Conn::Sql(Arc::new(c.clone())))
            .collect()
    }

    fn fault_targets(&self) -> FaultTargets {
        let links = Arc::new(faults::Targets {
            links: self.links.clone(),
        });
        FaultTargets {
            processes: Some(self.instances.clone()),
            links: Some(links),
            ..FaultTargets::new(self.ids.clone())
        }
    }

    async fn settle(&self, timeout: Duration, _: &[String]) -> Settled {
        let addrs: Vec<(String, u16)> = self.ids.iter().cloned().zip(self.ports.clone()).collect();
        let catch_up = replication::wait_caught_up(&addrs, timeout).await;
        Settled {
            quiesced: catch_up.settled,
            waited: catch_up.waited,
            notes: Vec::new(),
        }
    }

    async fn report(&self, _: &[usize]) -> SystemReport {
        let mut states = Vec::new();
        for (id, port) in self.ids.iter().zip(&self.ports) {
            if let Ok(state) = replication::state(*port).await {
                states.push((id.clone(), state));
            }
        }
        let positions: Vec<String> = states
            .iter()
            .map(|(id, s)| format!("{id}=[{}]", s.gtid_binlog_pos))
            .collect();
        SystemReport {
            findings: replication::stopped_appliers(&states),
            notes: vec![format!(
                "replication positions (gtid_binlog_pos) at the end: {}",
                positions.join(" ")
            )],
            skipped_updates: None,
        }
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        for client in self.clients.iter().cloned() {
            client.disconnect().await;
        }
        // Gracefully (SIGTERM: it removes its socket and pid file).
        let mut servers = self.instances.servers.lock().await;
        instance::stop_all(&mut servers, libc::SIGTERM).await;
        self.links.counters()
    }
}
