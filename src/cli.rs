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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadName {
    /// Shopping carts: unique elements added to per-key sets by read-modify-write.
    Set,
    /// Blind writes of unique values, and reads.
    Register,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Every op goes to a node drawn at random.
    Random,
    /// Every key has one home leader that takes all its ops (conflict avoidance).
    Home,
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
    /// Replication topology.
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
    #[arg(long, value_enum, default_value_t = Routing::Random)]
    pub routing: Routing,
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
    /// The binary nodes are spawned from as `BIN node ...`; default: this diverge.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Do not print the report's anomaly list (the summary tables remain).
    #[arg(long)]
    pub quiet: bool,
}

fn parse_nemesis(s: &str) -> Result<NemesisSet, String> {
    s.parse()
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A run directory (holding history.jsonl and test.json) or a history file.
    pub path: PathBuf,
    /// Workload of the history; read from test.json or inferred from the ops when absent.
    #[arg(long, value_enum)]
    pub workload: Option<WorkloadName>,
    /// Write results.json and report.txt into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not print the report's anomaly list.
    #[arg(long)]
    pub quiet: bool,
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
