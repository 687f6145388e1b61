//! Command-line parsing. Raw flags live here only: `run` arguments are turned
//! into a validated [`crate::config::TestConfig`] before anything starts, so
//! nothing past this module sees an unchecked flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::nemesis::NemesisSet;
use crate::node::NodeArgs;

/// diverge: consistency testing for multi-leader replication.
#[derive(Debug, Parser)]
#[command(name = "diverge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a local multi-leader cluster, drive a workload against it, check the history.
    Run(RunArgs),
    /// Check a stored run directory or any history file.
    Check(CheckArgs),
    /// Run one reference leader node (spawned by `diverge run`).
    Node(NodeArgs),
    /// Run the same test across strategies and/or topologies and tabulate them side by side.
    Compare(CompareArgs),
    /// Run every scenario file of a directory and check each against its expected outcome.
    Suite(SuiteArgs),
    /// Browse the results directory in a web browser (runs, reports, comparisons).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadName {
    /// Shopping carts: unique elements added to per-key sets by read-modify-write.
    Set,
    /// Blind writes of unique values, and reads.
    Register,
    /// Increments by random amounts (read-modify-write), and reads.
    Counter,
    /// Unique values appended to per-key lists, and reads of whole lists.
    ListAppend,
    /// Dependent writes in chains, and reads of the effect then its cause.
    Causal,
    /// Auto-increment ids handed out by the nodes.
    UniqueIds,
    /// Unique names claimed by insert-if-absent.
    Constraint,
    /// Rows inserted at one node, then updated (possibly at another): can an update overtake its insert?
    InsertUpdate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Every op goes to a node drawn at random.
    Random,
    /// Every key has one home leader that takes all its ops (conflict avoidance).
    Home,
}

/// The `--routing` flag: how the clients route ops. The client driver
/// knows [`Routing`] only; `home-failover` drives it as `home` and moves a
/// faulted home's traffic below it (see `workload::failover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingMode {
    /// Every op goes to a node drawn at random.
    Random,
    /// Every key has one home leader that takes all its ops (conflict avoidance).
    Home,
    /// As home, but while a key's home is faulted (crashed, paused, offline,
    /// down) its ops go to the next live node, and back when it recovers.
    HomeFailover,
}

impl RoutingMode {
    /// How the client driver picks a node under this mode.
    pub fn driver_routing(self) -> Routing {
        match self {
            RoutingMode::Random => Routing::Random,
            RoutingMode::Home | RoutingMode::HomeFailover => Routing::Home,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncMode {
    /// fsync the log before acknowledging (concurrent writes share one fsync).
    Always,
    /// Acknowledge at once, write the log every few ms: a crash loses acknowledged writes.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyName {
    /// Last write wins: node-local wall-clock timestamps, node id breaks ties.
    Lww,
    /// Each write gets a random 64-bit id; among concurrent writes the highest id wins.
    UniqueId,
    /// Among concurrent writes, the one from the higher-priority node wins (--priority).
    Priority,
    /// Concurrent values are merged: arrays unioned, strings sorted and joined, others collected.
    Merge,
    /// Dotted version vectors: every concurrent write kept and returned as a sibling.
    Siblings,
    /// User handlers from files: --on-write (in the node) and/or --on-read (in the clients).
    Custom,
    /// CRDTs in the node: observed-remove sets for arrays, PN-counters for integers.
    Crdt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Every leader sends its own writes to every other leader.
    AllToAll,
    /// n_i sends to n_(i+1) (circular), forwarding what it applies.
    Ring,
    /// The root (--root) sends to everyone and relays; the others send to the root.
    Star,
    /// A --fanout-ary tree rooted at n1; each node sends to parent and children and relays.
    Tree,
    /// n1 accepts every write and sends it to the others, which refuse writes (421).
    SingleLeader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnOff {
    On,
    Off,
}

/// Whether node-to-node traffic passes through the controller's links.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum LinkMode {
    /// Only when the run needs them: a network fault (partition, reorder,
    /// duplicate, offline) or latency between datacenters. Otherwise nodes
    /// peer directly, so the harness adds no hop to what it measures.
    #[default]
    Auto,
    /// Always, so every message is counted even when no fault touches it.
    On,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Number of leader nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Workload to run.
    #[arg(long, value_enum, default_value_t = WorkloadName::Set)]
    pub workload: WorkloadName,
    /// Conflict strategy of the nodes.
    #[arg(long, value_enum, default_value_t = StrategyName::Lww)]
    pub strategy: StrategyName,
    /// Node priority for --strategy priority, highest first (e.g. n3,n1,n2);
    /// default: higher node number wins.
    #[arg(long, value_delimiter = ',')]
    pub priority: Vec<String>,
    /// --strategy custom: a rhai script with `on_write(key, versions)`, run by
    /// the nodes when changes conflict.
    #[arg(long, value_name = "FILE")]
    pub on_write: Option<PathBuf>,
    /// --strategy custom: a rhai script with `on_read(key, values)`, run by the
    /// workload clients to resolve siblings before writing back.
    #[arg(long, value_name = "FILE")]
    pub on_read: Option<PathBuf>,
    /// Replication topology (`--db mariadb`: ring or all-to-all).
    #[arg(long, value_enum, default_value_t = Topology::AllToAll)]
    pub topology: Topology,
    /// The root node of --topology star.
    #[arg(long, default_value = "n1")]
    pub root: String,
    /// Children per node of --topology tree.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
    /// Nodes apply a change only after everything it causally depends on.
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    pub causal_delivery: OnOff,
    /// Read-only followers per node (ids n1f1, n1f2, ...; at most 8): each
    /// receives every change its node applies and serves reads; writes sent
    /// to it are refused with 421.
    #[arg(long, default_value_t = 0)]
    pub followers: usize,
    /// Seconds the workload runs.
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Client processes running ops concurrently.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Size of the key pool (small, so leaders accept concurrent writes to one key).
    #[arg(long, default_value_t = 8)]
    pub keys: usize,
    /// Target ops per second over all clients; 0 means unlimited.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// How ops pick their node.
    #[arg(long, value_enum, default_value_t = RoutingMode::Random)]
    pub routing: RoutingMode,
    /// Seed for every random choice; drawn and printed when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run directories are written.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Name of the test (the run directory's parent); default `<workload>-<strategy>`.
    #[arg(long)]
    pub test_name: Option<String>,
    /// Seconds to wait for every replication backlog to drain after the workload.
    #[arg(long, default_value_t = 10.0)]
    pub quiesce_timeout: f64,
    /// Seconds to wait for a node to become ready.
    #[arg(long, default_value_t = 10.0)]
    pub ready_timeout: f64,
    /// Seconds before a client request times out (its outcome is then unknown).
    #[arg(long, default_value_t = 2.0)]
    pub op_timeout: f64,
    /// Whether nodes fsync their log before acknowledging.
    #[arg(long, value_enum, default_value_t = FsyncMode::Always)]
    pub fsync: FsyncMode,
    /// Faults to inject: a comma-separated list of partition, crash, pause,
    /// clock, reorder, duplicate, offline; or all; or none.
    #[arg(long, default_value = "none", value_parser = parse_nemesis)]
    pub nemesis: NemesisSet,
    /// Seconds between nemesis changes (a fault starts, then is undone, in turn).
    #[arg(long, default_value_t = 3.0)]
    pub nemesis_interval: f64,
    /// Largest clock shift the clock fault applies, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub max_clock_skew: u64,
    /// Group the nodes into K datacenters: links between groups get --dc-latency.
    #[arg(long, default_value_t = 1)]
    pub datacenters: usize,
    /// Latency between datacenters in milliseconds (with +-20% jitter).
    #[arg(long, default_value_t = 50)]
    pub dc_latency: u64,
    /// Route node-to-node traffic through the controller's links: `auto`
    /// when a network fault or datacenter latency needs them, `on` always.
    #[arg(long, value_enum, default_value_t = LinkMode::Auto)]
    pub links: LinkMode,
    /// Auto-increment step of every node (`--db mariadb`: auto_increment_increment).
    #[arg(long, default_value_t = 1)]
    pub id_step: u64,
    /// Auto-increment offset: a number for every node, or `per-node` (node i
    /// gets offset i; needs --id-step >= --nodes); `--db mariadb`:
    /// auto_increment_offset.
    #[arg(long, default_value = "1")]
    pub id_offset: String,
    /// The binary nodes are spawned from as `BIN node ...`; default: this diverge.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Test nodes started by this shell command template instead of the
    /// reference node; placeholders {id} {port} {listen} {data_dir} {peers}
    /// {peer_args} {strategy} {fsync} (see docs/node-protocol.md).
    #[arg(long, value_name = "TEMPLATE")]
    pub node_cmd: Option<String>,
    /// Seconds to let replication settle before the final reads when a node
    /// does not serve GET /admin/status (so quiescence cannot be observed).
    #[arg(long, default_value_t = 3.0)]
    pub settle: f64,
    /// The system under test: diverge's reference nodes (or `--node-cmd`
    /// nodes), or local MariaDB instances replicating to each other.
    #[arg(long, value_enum, default_value_t = crate::db::DbName::Reference)]
    pub db: crate::db::DbName,
    /// Do not print the report's anomaly list (the summary tables remain).
    #[arg(long)]
    pub quiet: bool,
    /// Nodes held down for the whole run (e.g. n2,n3): stopped before the
    /// workload starts and never restarted, so no peer can relay through them.
    #[arg(long, value_delimiter = ',')]
    pub down: Vec<String>,
}

fn parse_checker_workload(s: &str) -> Result<diverge_checkers::Workload, String> {
    s.parse()
        .map_err(|e: diverge_checkers::UnknownWorkload| e.to_string())
}

fn parse_nemesis(s: &str) -> Result<NemesisSet, String> {
    s.parse()
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A run directory (holding history.jsonl and test.json) or a history file.
    pub path: PathBuf,
    /// Workload of the history (set, register, counter, list-append, causal,
    /// unique-ids, constraint); read from test.json or inferred from the ops when absent.
    #[arg(long, value_parser = parse_checker_workload)]
    pub workload: Option<diverge_checkers::Workload>,
    /// The conflict strategy the history was recorded under, for judging
    /// anomalies inherent or unexpected; read from test.json when absent.
    #[arg(long)]
    pub strategy: Option<String>,
    /// The topology the history was recorded under; read from test.json when absent.
    #[arg(long)]
    pub topology: Option<String>,
    /// Write results.json and report.txt into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not print the report's anomaly list.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The test every row runs; `--strategy` is replaced per row.
    #[command(flatten)]
    pub run: RunArgs,
    /// Strategies to compare, comma-separated; default: every strategy.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub strategies: Vec<StrategyName>,
    /// Topologies to compare, comma-separated; default: the run's topology.
    #[arg(long, value_delimiter = ',')]
    pub topologies: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SuiteArgs {
    /// Directory of scenario files (`*.toml`).
    #[arg(default_value = "workloads")]
    pub dir: PathBuf,
    /// Where run directories are written (a scenario's own `results` wins).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Also write the outcome as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Run only the scenarios whose file name contains this text.
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The results directory to browse.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
