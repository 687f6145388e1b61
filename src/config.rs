//! The validated test configuration: every `run` option resolved and checked
//! once, up front. It is written to `test.json` in the run directory, so a run
//! can be understood (and replayed) from its results alone.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::{
    FsyncMode, LinkMode, OnOff, RoutingMode, RunArgs, StrategyName, Topology, WorkloadName,
};
use crate::nemesis::NemesisSet;

/// Limits that keep a local cluster meaningful on one machine.
const MAX_NODES: usize = 32;
const MAX_CONCURRENCY: usize = 4096;
const MAX_KEYS: usize = 1_000_000;
/// Most read-only followers per node (`--followers`).
const MAX_FOLLOWERS: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestConfig {
    pub test_name: String,
    pub seed: u64,
    /// Leaders (`--nodes`): the nodes that accept writes.
    pub nodes: usize,
    /// Read-only followers per leader (`--followers`).
    #[serde(default)]
    pub followers: usize,
    pub workload: WorkloadName,
    pub strategy: StrategyName,
    pub topology: String,
    /// Strategy and topology options (defaults keep older test.json readable).
    #[serde(default)]
    pub options: NodeOptions,
    pub time_limit_s: f64,
    pub concurrency: usize,
    pub keys: usize,
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
    /// The system under test and, for MariaDB, its settings.
    #[serde(default)]
    pub db: crate::db::DbConfig,
    /// The command line that replays this run.
    pub replay: String,
    /// Nodes held down for the whole run (`--down`), by id: stopped before
    /// the workload, never restarted, not read at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down: Vec<String>,
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
}

/// A flag value that cannot make a meaningful test.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid --{flag}: {problem}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub problem: String,
}

fn invalid(flag: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        problem: problem.into(),
    }
}

fn positive_seconds(flag: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 && value <= 7.0 * 86_400.0 {
        Ok(value)
    } else {
        Err(invalid(
            flag,
            format!("{value} is not a number of seconds between 0 and a week"),
        ))
    }
}

fn count(flag: &'static str, value: usize, max: usize) -> Result<usize, ConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(flag, format!("{value} is not between 1 and {max}")))
    }
}

impl TestConfig {
    /// Validate the raw flags; `seed` is the drawn seed when `--seed` was absent.
    pub fn from_args(args: &RunArgs, drawn_seed: u64) -> Result<Self, ConfigError> {
        let seed = args.seed.unwrap_or(drawn_seed);
        let rate = if args.rate == 0.0 {
            None
        } else if args.rate.is_finite() && args.rate > 0.0 {
            Some(args.rate)
        } else {
            return Err(invalid(
                "rate",
                format!(
                    "{} is not a positive number of ops/s (0 = unlimited)",
                    args.rate
                ),
            ));
        };
        let workload_name = erased::Named::name(&args.workload);
        let strategy_name = erased::Named::name(&args.strategy);
        let id_offset = parse_id_offset(&args.id_offset, args.id_step, args.nodes)?;
        let options = node_options(args)?;
        let test_name = match &args.test_name {
            Some(name) => validate_test_name(name)?,
            None if args.db == crate::db::DbName::Mariadb => format!("{workload_name}-mariadb"),
            None => format!("{workload_name}-{strategy_name}"),
        };
        let config = TestConfig {
            test_name,
            seed,
            nodes: count("nodes", args.nodes, MAX_NODES)?,
            followers: validate_followers(args)?,
            workload: args.workload,
            strategy: args.strategy,
            topology: erased::Named::name(&args.topology),
            options,
            time_limit_s: positive_seconds("time-limit", args.time_limit)?,
            concurrency: count("concurrency", args.concurrency, MAX_CONCURRENCY)?,
            keys: count("keys", args.keys, MAX_KEYS)?,
            rate,
            routing: args.routing,
            fsync: args.fsync,
            quiesce_timeout_s: positive_seconds("quiesce-timeout", args.quiesce_timeout)?,
            ready_timeout_s: positive_seconds("ready-timeout", args.ready_timeout)?,
            op_timeout_s: positive_seconds("op-timeout", args.op_timeout)?,
            nemesis: args.nemesis.clone(),
            nemesis_interval_s: positive_seconds("nemesis-interval", args.nemesis_interval)?,
            max_clock_skew_ms: args.max_clock_skew,
            datacenters: count("datacenters", args.datacenters, args.nodes.max(1))?,
            dc_latency_ms: args.dc_latency,
            links: args.links,
            results_dir: args.results.clone(),
            node_bin: args.node_bin.clone(),
            node_cmd: validate_node_cmd(args.node_cmd.as_deref())?,
            settle_s: positive_seconds("settle", args.settle)?,
            db: crate::db::DbConfig::from_args(args)
                .map_err(|(flag, problem)| invalid(flag, problem))?,
            id_step: args.id_step,
            id_offset,
            replay: String::new(),
            down: validate_down(args)?,
        };
        Ok(TestConfig {
            replay: config.replay_command(),
            ..config
        })
    }

    /// The command that reruns this test with the same seed.
    fn replay_command(&self) -> String {
        let enum_name = |v: &dyn erased::Named| v.name();
        let rate = self.rate.map_or("0".to_string(), |r| r.to_string());
        let node_cmd = self.node_cmd.as_ref().map_or(String::new(), |t| {
            format!("--node-cmd {} --settle {} ", shell_quote(t), self.settle_s)
        });
        let mut extra = String::new();
        if self.topology != "all-to-all" {
            extra += &format!(" --topology {}", self.topology);
        }
        let o = &self.options;
        if !o.priority.is_empty() {
            extra += &format!(" --priority {}", o.priority.join(","));
        }
        if let Some(root) = &o.root {
            extra += &format!(" --root {root}");
        }
        if let Some(fanout) = o.fanout {
            extra += &format!(" --fanout {fanout}");
        }
        if o.causal_delivery {
            extra += " --causal-delivery on";
        }
        if let Some(f) = &o.on_write {
            extra += &format!(" --on-write {}", f.display());
        }
        if let Some(f) = &o.on_read {
            extra += &format!(" --on-read {}", f.display());
        }
        if self.followers > 0 {
            extra += &format!(" --followers {}", self.followers);
        }
        if !self.down.is_empty() {
            extra += &format!(" --down {}", self.down.join(","));
        }
        if self.links == LinkMode::On {
            extra += " --links on";
        }
        format!(
            "diverge run {node_cmd}{}--nodes {} --workload {} --strategy {}{extra} --time-limit {} --concurrency {} --keys {} --rate {} --routing {} --fsync {} --nemesis {} --nemesis-interval {} --max-clock-skew {} --datacenters {} --dc-latency {} --id-step {} --id-offset {} --seed {}",
            self.db.replay_flags(),
            self.nodes,
            enum_name(&self.workload),
            enum_name(&self.strategy),
            self.time_limit_s,
            self.concurrency,
            self.keys,
            rate,
            enum_name(&self.routing),
            enum_name(&self.fsync),
            self.nemesis.spelling(),
            self.nemesis_interval_s,
            self.max_clock_skew_ms,
            self.datacenters,
            self.dc_latency_ms,
            self.id_step,
            self.id_offset.spelling(),
            self.seed
        )
    }

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

    pub fn nemesis_interval(&self) -> Duration {
        Duration::from_secs_f64(self.nemesis_interval_s)
    }

    /// Whether node-to-node traffic must pass through links: `--links on`,
    /// a fault that acts on links, or latency between datacenters. Crash,
    /// pause and clock faults act on the processes, so without the others
    /// nodes peer directly and no proxy hop distorts what is measured.
    pub fn interposes_links(&self) -> bool {
        self.links == LinkMode::On
            || self.datacenters > 1
            || self.nemesis.0.iter().any(|k| k.acts_on_links())
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

fn default_settle_s() -> f64 {
    3.0
}

/// A `--node-cmd` template must be non-empty and use only known placeholders.
fn validate_node_cmd(template: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(template) = template else {
        return Ok(None);
    };
    crate::cluster::template::check(template).map_err(|problem| invalid("node-cmd", problem))?;
    Ok(Some(template.to_string()))
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

/// The auto-increment offset of the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdOffset {
    /// Every node uses this offset.
    All(u64),
    /// Node i (1-based) uses offset i.
    PerNode,
}

impl IdOffset {
    /// The offset of node index `i` (0-based).
    pub fn of(self, i: usize) -> u64 {
        match self {
            IdOffset::All(offset) => offset,
            IdOffset::PerNode => i as u64 + 1,
        }
    }

    pub fn spelling(self) -> String {
        match self {
            IdOffset::All(offset) => offset.to_string(),
            IdOffset::PerNode => "per-node".into(),
        }
    }
}

fn parse_id_offset(value: &str, step: u64, nodes: usize) -> Result<IdOffset, ConfigError> {
    if step == 0 {
        return Err(invalid("id-step", "must be at least 1"));
    }
    let offset = if value == "per-node" {
        if step < nodes as u64 {
            return Err(invalid(
                "id-offset",
                format!("per-node offsets need --id-step >= --nodes ({step} < {nodes})"),
            ));
        }
        IdOffset::PerNode
    } else {
        let n: u64 = value.parse().map_err(|_| {
            invalid(
                "id-offset",
                format!("{value:?} is neither a number nor per-node"),
            )
        })?;
        if n == 0 || n > step {
            return Err(invalid(
                "id-offset",
                format!("{n} is not between 1 and --id-step {step}"),
            ));
        }
        IdOffset::All(n)
    };
    Ok(offset)
}

/// Check the strategy and topology flags against each other.
fn node_options(args: &RunArgs) -> Result<NodeOptions, ConfigError> {
    let ids: Vec<String> = (1..=args.nodes).map(|i| format!("n{i}")).collect();
    let known = |flag, id: &String| {
        if ids.contains(id) {
            Ok(())
        } else {
            Err(invalid(
                flag,
                format!("{id:?} is not a node of this test (n1..n{})", args.nodes),
            ))
        }
    };
    if !args.priority.is_empty() && args.strategy != StrategyName::Priority {
        return Err(invalid("priority", "only applies to --strategy priority"));
    }
    for id in &args.priority {
        known("priority", id)?;
    }
    if (args.on_write.is_some() || args.on_read.is_some()) && args.strategy != StrategyName::Custom
    {
        return Err(invalid(
            "strategy",
            "--on-write and --on-read need --strategy custom",
        ));
    }
    if args.strategy == StrategyName::Custom && args.on_write.is_none() && args.on_read.is_none() {
        return Err(invalid(
            "strategy",
            "custom needs --on-write FILE and/or --on-read FILE",
        ));
    }
    let absolute = |flag, p: &Option<PathBuf>| -> Result<Option<PathBuf>, ConfigError> {
        match p {
            None => Ok(None),
            Some(p) => std::fs::canonicalize(p)
                .map(Some)
                .map_err(|e| invalid(flag, format!("{}: {e}", p.display()))),
        }
    };
    let root = (args.topology == Topology::Star).then(|| args.root.clone());
    if let Some(root) = &root {
        known("root", root)?;
    }
    let fanout = (args.topology == Topology::Tree).then_some(args.fanout);
    if fanout == Some(0) {
        return Err(invalid("fanout", "must be at least 1"));
    }
    Ok(NodeOptions {
        priority: args.priority.clone(),
        on_write: absolute("on-write", &args.on_write)?,
        on_read: absolute("on-read", &args.on_read)?,
        root,
        fanout,
        causal_delivery: args.causal_delivery == OnOff::On,
    })
}

/// `--followers`: at most [`MAX_FOLLOWERS`], and only for nodes diverge
/// starts itself (a `--node-cmd` node has no follower role to start in).
fn validate_followers(args: &RunArgs) -> Result<usize, ConfigError> {
    if args.followers == 0 {
        return Ok(0);
    }
    if args.followers > MAX_FOLLOWERS {
        return Err(invalid(
            "followers",
            format!("{} is more than {MAX_FOLLOWERS}", args.followers),
        ));
    }
    if args.db == crate::db::DbName::Mariadb {
        return Err(invalid(
            "followers",
            "applies to the reference nodes, not --db mariadb",
        ));
    }
    if args.node_cmd.is_some() {
        return Err(invalid(
            "followers",
            "applies to the reference nodes, not --node-cmd nodes",
        ));
    }
    Ok(args.followers)
}

/// `--down`: known node ids, each once, at least one node left up, and only
/// for nodes diverge starts as processes.
fn validate_down(args: &RunArgs) -> Result<Vec<String>, ConfigError> {
    if args.down.is_empty() {
        return Ok(Vec::new());
    }
    if args.db == crate::db::DbName::Mariadb {
        return Err(invalid(
            "down",
            "applies to the reference nodes and --node-cmd nodes, not --db mariadb",
        ));
    }
    let mut down: Vec<String> = Vec::new();
    for id in &args.down {
        let known = id
            .strip_prefix('n')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=args.nodes).contains(&n) && *id == format!("n{n}"));
        if !known {
            return Err(invalid(
                "down",
                format!("{id:?} is not a node of this test (n1..n{})", args.nodes),
            ));
        }
        if !down.contains(id) {
            down.push(id.clone());
        }
    }
    if down.len() >= args.nodes {
        return Err(invalid("down", "at least one node must stay up"));
    }
    Ok(down)
}

fn validate_test_name(name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(name.to_string())
    } else {
        Err(invalid(
            "test-name",
            format!("{name:?} must be 1-100 characters of [A-Za-z0-9._-], not starting with '.'"),
        ))
    }
}

/// Names of clap value enums as they are typed on the command line.
mod erased {
    use clap::ValueEnum;

    pub trait Named {
        fn name(&self) -> String;
    }

    impl<T: ValueEnum> Named for T {
        fn name(&self) -> String {
            self.to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["diverge", "run"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Command::Run(args) => args,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn links_are_interposed_only_when_a_fault_or_datacenters_need_them() {
        let interposed = |flags: &[&str]| {
            TestConfig::from_args(&parse(flags), 1)
                .unwrap()
                .interposes_links()
        };
        assert!(!interposed(&[]));
        assert!(!interposed(&["--nemesis", "crash,pause,clock"]));
        for network in ["partition", "reorder", "duplicate", "offline", "all"] {
            assert!(interposed(&["--nemesis", network]), "{network}");
        }
        assert!(interposed(&["--datacenters", "2"]));
        assert!(interposed(&["--links", "on"]));
    }

    #[test]
    fn defaults_resolve_with_the_drawn_seed() {
        let config = TestConfig::from_args(&parse(&[]), 42).unwrap();
        assert_eq!(config.seed, 42);
        assert_eq!(config.nodes, 3);
        assert_eq!(config.test_name, "set-lww");
        assert_eq!(config.node_ids(), vec!["n1", "n2", "n3"]);
        assert_eq!(config.key_names().len(), 8);
    }

    #[test]
    fn explicit_seed_wins_and_appears_in_the_replay_line() {
        let config = TestConfig::from_args(&parse(&["--seed", "7", "--rate", "0"]), 42).unwrap();
        assert_eq!(config.seed, 7);
        assert_eq!(config.rate, None);
        assert!(config.replay.ends_with("--seed 7"), "{}", config.replay);
        assert!(config.replay.contains("--rate 0 "), "{}", config.replay);
    }

    #[test]
    fn out_of_range_values_name_their_flag() {
        let err = TestConfig::from_args(&parse(&["--nodes", "0"]), 1).unwrap_err();
        assert_eq!(err.flag, "nodes");
        let err = TestConfig::from_args(&parse(&["--time-limit=-1"]), 1).unwrap_err();
        assert_eq!(err.flag, "time-limit");
        let err = TestConfig::from_args(&parse(&["--rate=-5"]), 1).unwrap_err();
        assert_eq!(err.flag, "rate");
        let err = TestConfig::from_args(&parse(&["--test-name", "../x"]), 1).unwrap_err();
        assert_eq!(err.flag, "test-name");
    }

    #[test]
    fn down_nodes_are_checked_and_replayed() {
        let config = TestConfig::from_args(&parse(&["--down", "n2,n2", "--seed", "3"]), 1).unwrap();
        assert_eq!(config.down, vec!["n2"]);
        assert!(config.is_down(1) && !config.is_down(0));
        assert!(config.replay.contains(" --down n2 "), "{}", config.replay);
        let err = TestConfig::from_args(&parse(&["--down", "n4"]), 1).unwrap_err();
        assert_eq!(err.flag, "down");
        assert!(
            err.problem.contains("\"n4\" is not a node"),
            "{}",
            err.problem
        );
        let err = TestConfig::from_args(&parse(&["--down", "n1,n2,n3"]), 1).unwrap_err();
        assert_eq!(err.problem, "at least one node must stay up");
        let err = TestConfig::from_args(&parse(&["--down", "n01"]), 1).unwrap_err();
        assert_eq!(err.flag, "down");
    }
}
