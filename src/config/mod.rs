//! The validated test configuration: every `run` option resolved and checked
//! once, up front. It is written to `test.json` in the run directory, so a run
//! can be understood (and replayed) from its results alone.
//!
//! - [`build`]: flags to config ([`TestConfig::from_args`]), with the checks
//!   that need no knowledge of the system under test (the systems add
//!   theirs: `crate::system::configure`).
//! - [`replay`]: the command line that reruns a test, rendered from its
//!   flags.

mod build;
pub mod replay;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use build::{ConfigError, invalid};

use crate::domain::{
    FsyncMode, IdOffset, LinkMode, Named, NemesisSet, Resolution, RoutingMode, Strategy,
    SystemName, Topology, Workload,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestConfig {
    pub test_name: String,
    pub seed: u64,
    /// Leaders (`--nodes`): the nodes that accept writes.
    pub nodes: usize,
    /// Read-only followers per leader (`--followers`).
    #[serde(default)]
    pub followers: usize,
    pub workload: Workload,
    pub strategy: Strategy,
    pub topology: Topology,
    /// Strategy and topology options (defaults keep older test.json readable).
    #[serde(default)]
    pub options: NodeOptions,
    pub time_limit_s: f64,
    pub concurrency: usize,
    pub keys: usize,
    /// Ops a key of a growing workload takes before fresh keys replace
    /// the pool (`--ops-per-key`); `None`: never (older test.json too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_key: Option<u64>,
    /// Ops per second over all clients; `None` = unlimited.
    pub rate: Option<f64>,
    pub routing: RoutingMode,
    pub fsync: FsyncMode,
    pub quiesce_timeout_s: f64,
    pub ready_timeout_s: f64,
    pub op_timeout_s: f64,
    pub nemesis: NemesisSet,
    pub nemesis_interval_s: f64,
    pub max_clock_skew_ms: u64,
    pub datacenters: usize,
    pub dc_latency_ms: u64,
    /// Whether node traffic goes through links (`--links`; older test.json: auto).
    #[serde(default)]
    pub links: LinkMode,
    pub results_dir: PathBuf,
    /// Auto-increment step and offset of the nodes.
    pub id_step: u64,
    pub id_offset: IdOffset,
    /// The binary nodes are spawned from; `None` = this executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_bin: Option<PathBuf>,
    /// Shell command template that starts a node under test (`--node-cmd`);
    /// `None` = the reference node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_cmd: Option<String>,
    /// Fixed wait before final reads when nodes cannot report quiescence.
    #[serde(default = "default_settle_s")]
    pub settle_s: f64,
    /// The system under test.
    #[serde(default)]
    pub db: DbConfig,
    /// The command line that replays this run.
    pub replay: String,
    /// Nodes held down for the whole run (`--down`), by id: stopped before
    /// the workload, never restarted, not read at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down: Vec<String>,
}

/// The system under test (`--db`). Older `test.json` files also stored a
/// `topology` here; the run's own `topology` is the one that counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    pub name: SystemName,
    /// `--strategy` with `--db pglogical` (pglogical's conflict resolution; `None`: its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// `--pg-bin` (native PostgreSQL's binaries; `None`: searched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_bin: Option<PathBuf>,
    /// `--wsrep-sync-wait` (Galera's causality checks; `None`: its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wsrep_sync_wait: Option<u8>,
}

/// Options of the strategy, topology and delivery that the nodes (and, for
/// `on_read`, the clients) are started with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeOptions {
    /// `priority`: node ids, highest first (empty: higher number wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_write: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_read: Option<PathBuf>,
    /// Star root (`star` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Children per node (`tree` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<usize>,
    #[serde(default)]
    pub causal_delivery: bool,
    /// `crdt`: the text CRDT library (`None`: the nodes' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_crdt: Option<String>,
}

fn default_settle_s() -> f64 {
    3.0
}

impl TestConfig {
    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(self.time_limit_s)
    }

    pub fn quiesce_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.quiesce_timeout_s)
    }

    pub fn ready_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ready_timeout_s)
    }

    pub fn op_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.op_timeout_s)
    }

    pub fn nemesis_interval(&self) -> Duration {
        Duration::from_secs_f64(self.nemesis_interval_s)
    }

    /// How the run's conflict resolution is named: the nodes' strategy, or
    /// the system's name when the system resolves conflicts its own way.
    pub fn strategy_label(&self) -> String {
        match self.db.name {
            SystemName::Reference => match &self.options.text_crdt {
                Some(lib) => format!("{}:{lib}", self.strategy.name()),
                None => self.strategy.name().to_string(),
            },
            SystemName::Pglogical => format!(
                "pglogical-{}",
                self.db.resolution.unwrap_or_default().name()
            ),
            other => other.name().to_string(),
        }
    }

    /// Node ids: the leaders `n1..nN`, then each leader's followers
    /// (`n1f1..n1fK`, `n2f1`, ...). A follower's index is above every
    /// leader's; [`TestConfig::leader_of`] maps it back.
    pub fn node_ids(&self) -> Vec<String> {
        let leaders = (1..=self.nodes).map(|i| format!("n{i}"));
        let followers =
            (1..=self.nodes).flat_map(|i| (1..=self.followers).map(move |f| format!("n{i}f{f}")));
        leaders.chain(followers).collect()
    }

    /// The leader index of node index `i` (a leader is its own).
    pub fn leader_of(&self, i: usize) -> usize {
        if i < self.nodes {
            i
        } else {
            (i - self.nodes) / self.followers.max(1)
        }
    }

    /// Whether node-to-node traffic must pass through links: `--links on`,
    /// a fault that acts on links, or latency between datacenters. Crash,
    /// pause and clock faults act on the processes, so without the others
    /// nodes peer directly and no proxy hop distorts what is measured.
    pub fn interposes_links(&self) -> bool {
        self.links == LinkMode::On
            || self.datacenters > 1
            || self.nemesis.kinds().iter().any(|k| k.acts_on_links())
    }

    /// The datacenter (0-based) of node index `i`: nodes are dealt out in
    /// contiguous groups; a follower sits in its leader's.
    pub fn datacenter_of(&self, i: usize) -> usize {
        self.leader_of(i) * self.datacenters / self.nodes
    }

    /// Whether node index `i` is held down for the whole run (`--down`).
    pub fn is_down(&self, i: usize) -> bool {
        i < self.nodes && self.down.contains(&format!("n{}", i + 1))
    }

    /// The key pool `k0..k(keys-1)`.
    pub fn key_names(&self) -> Vec<String> {
        (0..self.keys).map(|i| format!("k{i}")).collect()
    }
}

/// `s` quoted for a POSIX shell (unchanged when it needs no quoting).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
