//! The reference nodes simulated (`diverge sim`): their replica cores in one
//! thread on virtual time, as a kind of system the lifecycle runs exactly
//! as it runs real nodes (start, clients and nemesis, settle, final reads,
//! report, stop). Time is tokio's paused clock: the runtime (one thread,
//! see `control::sim`) jumps to the next timer whenever every task waits.
//!
//! Each node's configuration is the one `diverge node` would run with: the
//! run's node specs (`cluster::NodeSpec::for_test`) rendered as `diverge
//! node` arguments, parsed and validated by the node's own code.
//!
//! - [`cluster`]: nodes and links behind one lock, replication traffic.
//! - [`node`]: one node: core, in-memory disk, process state; crash and
//!   restart from the records.
//! - [`conn`]: the clients' connection to a node (`KvApi`).
//! - [`faults`]: the cluster as the nemesis's fault targets.
//! - [`clock`]: the history's virtual clock.

pub mod clock;
pub mod cluster;
pub mod conn;
pub mod faults;
pub mod node;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use clap::Parser;

use crate::node::NodeArgs;
use tokio::time::Instant;

use crate::cluster::NodeSpec;
use crate::config::{ConfigError, TestConfig, invalid};
use crate::nemesis::FaultTargets;
use crate::net::{LinkBehaviour, LinkCounters};
use crate::system::reference::Reference;
use crate::system::{Settled, Supports, System, SystemKind, SystemReport};
use crate::workload::Conn;
use cluster::Cluster;
use conn::SimConn;
use faults::Targets;
use node::SimNode;

/// The reference nodes, simulated.
pub struct Simulated;

#[async_trait]
impl SystemKind for Simulated {
    fn name(&self) -> crate::domain::SystemName {
        crate::domain::SystemName::Reference
    }

    fn supports(&self) -> Supports {
        Supports {
            node_cmd: false,
            ..Reference.supports()
        }
    }

    fn configure(&self, config: &TestConfig) -> Result<(), ConfigError> {
        if config.db.name != crate::domain::SystemName::Reference {
            return Err(invalid(
                "db",
                "diverge sim simulates the reference nodes only (--db reference)",
            ));
        }
        if config.node_cmd.is_some() {
            return Err(invalid(
                "node-cmd",
                "diverge sim runs the reference node's core, not external nodes",
            ));
        }
        Ok(())
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        let ids = config.node_ids();
        let nodes = node_configs(config, run_dir)?;
        let dc_latency = |from: usize, to: usize| {
            if config.datacenter_of(from) == config.datacenter_of(to) {
                return LinkBehaviour::default();
            }
            let ms = config.dc_latency_ms;
            LinkBehaviour {
                latency: crate::net::Latency::Uniform {
                    min_ms: ms * 4 / 5,
                    max_ms: ms * 6 / 5,
                },
                ..LinkBehaviour::default()
            }
        };
        let cluster = Cluster::new(nodes, config.seed, dc_latency);
        let conns = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let conn = SimConn::new(
                    cluster.clone(),
                    i,
                    id.clone(),
                    config.op_timeout(),
                    config.seed,
                );
                Conn::Kv(Arc::new(conn))
            })
            .collect();
        let followers = (0..config.nodes)
            .map(|l| {
                (config.nodes..ids.len())
                    .filter(|&f| config.leader_of(f) == l)
                    .collect()
            })
            .collect();
        let ticks = cluster.start_ticks();
        Ok(Box::new(SimSystem {
            cluster,
            ids,
            conns,
            followers,
            ticks,
        }))
    }
}

/// Every node's core configuration, as `diverge node` would validate it
/// from the arguments the run would start it with.
fn node_configs(config: &TestConfig, run_dir: &Path) -> Result<Vec<SimNode>> {
    let n = config.node_ids().len();
    // Addresses only name the peers here; nothing listens on them.
    let ports: Vec<u16> = (0..n).map(|i| 20_000 + i as u16).collect();
    let addr = |_: &str, to: &str| {
        let i = config
            .node_ids()
            .iter()
            .position(|id| id == to)
            .unwrap_or(0);
        format!("127.0.0.1:{}", ports[i])
    };
    let specs = NodeSpec::for_test(config, run_dir, Path::new("diverge"), &ports, addr)?;
    specs
        .iter()
        .map(|spec| {
            // `spec.args()` starts with the `node` subcommand: the binary's name here.
            let parsed = NodeCommand::try_parse_from(spec.args())
                .with_context(|| format!("the node arguments of {}", spec.id))?;
            let node = parsed.args.validate()?;
            Ok(SimNode::new(node.replica, node.ids))
        })
        .collect()
}

/// `diverge node`'s flags alone.
#[derive(Parser)]
struct NodeCommand {
    #[command(flatten)]
    args: NodeArgs,
}

/// The started simulation.
struct SimSystem {
    cluster: Arc<Cluster>,
    ids: Vec<String>,
    conns: Vec<Conn>,
    followers: Vec<Vec<usize>>,
    ticks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimSystem {
    /// Whether every live node's log is durable, every backlog towards a
    /// live node drained and nothing in flight or held back; with the log
    /// ends, which must not move between two such rounds.
    fn idle(&self, down: &[String]) -> Option<Vec<u64>> {
        let state = self.cluster.lock();
        let mut ends = Vec::new();
        for node in state.nodes.iter().filter(|n| !down.contains(&n.id)) {
            let status = node.status()?;
            let drained = status
                .peers
                .iter()
                .filter(|p| !down.contains(&p.peer))
                .all(|p| p.backlog == 0 && p.inflight == 0);
            if !drained || status.durable != status.log_end || status.buffered > 0 {
                return None;
            }
            ends.push(status.log_end);
        }
        Some(ends)
    }
}

/// How often settling looks at the cluster (virtual time).
const SETTLE_POLL: Duration = Duration::from_millis(25);

#[async_trait]
impl System for SimSystem {
    fn describe(&self) -> String {
        " (simulated: one thread, virtual time)".into()
    }

    fn ids(&self) -> &[String] {
        &self.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.clone()
    }

    fn followers(&self) -> Vec<Vec<usize>> {
        self.followers.clone()
    }

    fn fault_targets(&self) -> FaultTargets {
        Targets::all(self.cluster.clone(), self.ids.clone())
    }

    async fn settle(&self, timeout: Duration, down: &[String]) -> Settled {
        let start = Instant::now();
        let mut previous = None;
        loop {
            let round = self.idle(down);
            if round.is_some() && round == previous {
                return Settled {
                    quiesced: true,
                    waited: start.elapsed(),
                    notes: Vec::new(),
                };
            }
            previous = round;
            if start.elapsed() >= timeout {
                return Settled {
                    quiesced: false,
                    waited: start.elapsed(),
                    notes: Vec::new(),
                };
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    async fn report(&self, live: &[usize]) -> SystemReport {
        let state = self.cluster.lock();
        let skipped = live
            .iter()
            .filter_map(|&i| state.nodes[i].status())
            .map(|s| s.skipped_updates)
            .sum();
        SystemReport {
            findings: Vec::new(),
            notes: vec![
                "simulated: the reference nodes' cores in one thread on virtual time (diverge sim); \
                 the same command replays this history exactly"
                    .into(),
            ],
            skipped_updates: Some(skipped),
        }
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        for tick in &self.ticks {
            tick.abort();
        }
        Vec::new()
    }
}
