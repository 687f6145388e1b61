//! Command-line parsing: the raw flags, and nothing else. `run` arguments
//! become a validated [`crate::config::TestConfig`] before anything starts
//! (`TestConfig::from_args`), so no module past the config sees a flag; the
//! values are the domain's own types ([`crate::domain`]), parsed by their
//! one spelling.
//!
//! `RunArgs` serializes with its flags' names: the replay command of a run
//! is rendered from it (`crate::config::replay`), so a new flag replays
//! without a line of code.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::domain::{
    FsyncMode, LinkMode, NemesisSet, NodeProtocol, OnOff, RoutingMode, StrategyChoice, SystemName,
    Topology, Workload, parser,
};
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
    /// Simulate the reference cluster in one thread on virtual time: `run`'s
    /// test, replayed exactly by its seed (docs/sim.md).
    Sim(SimArgs),
    /// Browse the results directory in a web browser (runs, reports, comparisons).
    Serve(ServeArgs),
}

/// The flags of one test. Field order is the order of the replay command.
#[derive(Debug, Clone, Args, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunArgs {
    /// The system under test: diverge's reference nodes (or `--node-cmd`
    /// nodes) or local database instances replicating to each other;
    /// `diverge compare` takes a comma-separated list (one row per system).
    #[arg(long, value_parser = parser::<SystemName>(), value_delimiter = ',', default_value = "reference")]
    pub db: Vec<SystemName>,
    /// Test nodes started by this shell command template instead of the
    /// reference node; placeholders {id} {port} {listen} {data_dir} {peers}
    /// {peer_args} {strategy} {fsync} (see docs/node-protocol.md).
    #[arg(long, value_name = "TEMPLATE")]
    pub node_cmd: Option<String>,
    /// What --node-cmd nodes speak: diverge's HTTP node protocol, or
    /// Maelstrom's JSON lines on stdin/stdout (docs/maelstrom.md).
    #[arg(long, value_parser = parser::<NodeProtocol>(), default_value = "http")]
    pub protocol: NodeProtocol,
    /// Seconds to let replication settle before the final reads when a node
    /// does not serve GET /admin/status (so quiescence cannot be observed).
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
    pub settle: f64,
    /// Number of leader nodes.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    pub nodes: usize,
    /// Workload to run.
    #[arg(long, value_parser = parser::<Workload>(), default_value = "set")]
    pub workload: Workload,
    /// Conflict strategy: the nodes' (default lww), or with --db pglogical
    /// its pglogical.conflict_resolution: lww, first-wins, keep-local,
    /// apply-remote (default, pglogical's own) or error.
    #[arg(long, value_parser = parser::<StrategyChoice>())]
    pub strategy: Option<StrategyChoice>,
    /// --db postgres: the directory of PostgreSQL's initdb and postgres
    /// (>= 16); default: PATH, then the usual install directories.
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// --db galera: wsrep_sync_wait (0-15; 1: reads wait until the node
    /// applied every write committed before them); default: the server's 0.
    #[arg(long, value_name = "MASK", value_parser = clap::value_parser!(u8).range(0..=15))]
    pub wsrep_sync_wait: Option<u8>,
    /// --strategy crdt: the text CRDT library behind text documents
    /// (automerge, yrs, loro; default automerge).
    #[arg(long, value_name = "LIB")]
    pub text_crdt: Option<String>,
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
    #[arg(long, value_parser = parser::<Topology>(), default_value = "all-to-all")]
    pub topology: Topology,
    /// The root node of --topology star (default n1).
    #[arg(long)]
    pub root: Option<String>,
    /// Children per node of --topology tree (default 2).
    #[arg(long, allow_negative_numbers = true)]
    pub fanout: Option<usize>,
    /// Nodes apply a change only after everything it causally depends on.
    #[arg(long, value_parser = parser::<OnOff>(), default_value = "off")]
    pub causal_delivery: OnOff,
    /// Read-only followers per node (ids n1f1, n1f2, ...; at most 8): each
    /// receives every change its node applies and serves reads; writes sent
    /// to it are refused with 421.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub followers: usize,
    /// Seconds the workload runs.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub time_limit: f64,
    /// Client processes running ops concurrently.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub concurrency: usize,
    /// Size of the key pool (small, so leaders accept concurrent writes to one key).
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    pub keys: usize,
    /// Workloads whose values grow (set, list-append): ops a key takes
    /// before the clients move on to fresh keys (Jepsen's independent
    /// keys), so values stay bounded over long runs; 0 = never.
    #[arg(long, default_value_t = 500)]
    pub ops_per_key: u64,
    /// Target ops per second over all clients; 0 means unlimited.
    #[arg(long, default_value_t = 200.0, allow_negative_numbers = true)]
    pub rate: f64,
    /// How ops pick their node.
    #[arg(long, value_parser = parser::<RoutingMode>(), default_value = "random")]
    pub routing: RoutingMode,
    /// Whether nodes fsync their log before acknowledging.
    #[arg(long, value_parser = parser::<FsyncMode>(), default_value = "always")]
    pub fsync: FsyncMode,
    /// Faults to inject: a comma-separated list of partition, crash, pause,
    /// clock, reorder, duplicate, offline; or all (every fault the system
    /// under test supports); or none.
    #[arg(long, default_value = "none", value_parser = parse_nemesis)]
    pub nemesis: NemesisSet,
    /// Seconds between nemesis changes (a fault starts, then is undone, in turn).
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
    pub nemesis_interval: f64,
    /// Largest clock shift the clock fault applies, in milliseconds.
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    pub max_clock_skew: u64,
    /// Group the nodes into K datacenters: links between groups get --dc-latency.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub datacenters: usize,
    /// Latency between datacenters in milliseconds (with +-20% jitter).
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub dc_latency: u64,
    /// Route node-to-node traffic through the controller's links: `auto`
    /// when a network fault or datacenter latency needs them, `on` always.
    #[arg(long, value_parser = parser::<LinkMode>(), default_value = "auto")]
    pub links: LinkMode,
    /// Auto-increment step of every node (`--db mariadb`: auto_increment_increment).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub id_step: u64,
    /// Auto-increment offset: a number for every node, or `per-node` (node i
    /// gets offset i; needs --id-step >= --nodes); `--db mariadb`:
    /// auto_increment_offset.
    #[arg(long, default_value = "1")]
    pub id_offset: String,
    /// Nodes held down for the whole run (e.g. n2,n3): stopped before the
    /// workload starts and never restarted, so no peer can relay through them.
    #[arg(long, value_delimiter = ',')]
    pub down: Vec<String>,
    /// Seconds to wait for every replication backlog to drain after the workload.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub quiesce_timeout: f64,
    /// Seconds to wait for a node to become ready.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub ready_timeout: f64,
    /// Seconds before a client request times out (its outcome is then unknown).
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
    pub op_timeout: f64,
    /// The binary nodes are spawned from as `BIN node ...`; default: this diverge.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Seed for every random choice; drawn and printed when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run directories are written.
    #[arg(long, default_value = "results")]
    #[serde(skip)]
    pub results: PathBuf,
    /// Name of the test (the run directory's parent); default `<workload>-<strategy>`.
    #[arg(long)]
    #[serde(skip)]
    pub test_name: Option<String>,
    /// Do not print the report's anomaly list (the summary tables remain).
    #[arg(long)]
    #[serde(skip)]
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
    #[arg(long, value_parser = parser::<Workload>())]
    pub workload: Option<Workload>,
    /// The conflict strategy the history was recorded under, for judging
    /// anomalies inherent or unexpected; read from test.json when absent.
    #[arg(long)]
    pub strategy: Option<String>,
    /// The topology the history was recorded under; read from test.json when absent.
    #[arg(long)]
    pub topology: Option<String>,
    /// Write results.json, report.txt and report.html into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not print the report's anomaly list.
    #[arg(long)]
    pub quiet: bool,
    /// Write every anomaly to FILE, one JSON object a line (results.json
    /// lists at most 100 of each kind per key).
    #[arg(long, value_name = "FILE")]
    pub all_anomalies: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// The simulated test: `run`'s flags (the reference nodes only).
    #[command(flatten)]
    pub run: RunArgs,
    /// Swarm search: run these seeds (`A..B`, `A..=B`, or a count from
    /// --seed), each with its own draw of fault kinds (from --nemesis, or
    /// all) and nemesis interval, on every core; tabulate the failures.
    #[arg(long, value_name = "RANGE", value_parser = parse_seeds)]
    pub seeds: Option<crate::seeds::SeedRange>,
    /// Worker threads of a swarm (default: every core).
    #[arg(long, requires = "seeds")]
    pub threads: Option<usize>,
    /// Shrink the failing test: reduce its ops, clients, keys, nodes and
    /// faults while the same anomaly kind remains; write the smallest as
    /// a run directory `<test>-shrunk` with its replay command.
    #[arg(long, conflicts_with = "seeds")]
    pub shrink: bool,
    /// The anomaly kind --shrink keeps (default: the run's first listed).
    #[arg(long, value_name = "KIND", requires = "shrink")]
    pub shrink_kind: Option<String>,
}

fn parse_seeds(s: &str) -> Result<crate::seeds::SeedRange, String> {
    s.parse()
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The test every row runs; `--db` lists the systems to compare
    /// (e.g. reference,mariadb,pglogical,postgres), one row per system and
    /// strategy, same workload, seed and fault schedule.
    #[command(flatten)]
    pub run: RunArgs,
    /// Strategies to compare, comma-separated; each system runs those it
    /// takes (the reference nodes their strategies, pglogical its
    /// resolutions). Default: with --db reference alone every strategy,
    /// beside other systems the run's --strategy; pglogical all five.
    #[arg(long, value_parser = parser::<StrategyChoice>(), value_delimiter = ',')]
    pub strategies: Vec<StrategyChoice>,
    /// With `crdt` among the reference nodes' strategies: one `crdt` row
    /// per text CRDT library (automerge,yrs,loro), labelled `crdt:<lib>`.
    #[arg(long, value_delimiter = ',', value_name = "LIBS")]
    pub text_crdts: Vec<String>,
    /// Topologies to compare, comma-separated; default: the run's topology.
    #[arg(long, value_parser = parser::<Topology>(), value_delimiter = ',')]
    pub topologies: Vec<Topology>,
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
    /// Simulate every scenario (`diverge sim`: the reference nodes' cores
    /// on virtual time) instead of running real nodes, so sim and real
    /// verdicts can be compared on one catalogue.
    #[arg(long)]
    pub sim: bool,
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

    #[test]
    fn a_negative_count_is_an_error_naming_its_flag_not_an_unknown_argument() {
        for flag in [
            "--nodes",
            "--keys",
            "--concurrency",
            "--followers",
            "--id-step",
        ] {
            let err = Cli::try_parse_from(["diverge", "run", flag, "-1"]).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("invalid value '-1' for '{flag}")),
                "{flag}: {text}"
            );
        }
    }
}
