//! Flags to config: every value range-checked and every pair of flags that
//! must agree checked together, each error naming its flag. What depends
//! on the system under test (which faults, workloads, topologies it takes)
//! is checked by the system (`crate::system::configure`).

use std::path::PathBuf;

use super::{DbConfig, NodeOptions, TestConfig, replay};
use crate::cli::RunArgs;
use crate::domain::{
    IdOffset, Named, NodeProtocol, Resolution, Strategy, StrategyChoice, SystemName, Topology,
};

/// Limits that keep a local cluster meaningful on one machine.
const MAX_NODES: usize = 32;
const MAX_CONCURRENCY: usize = 4096;
const MAX_KEYS: usize = 1_000_000;
/// Most read-only followers per node (`--followers`).
const MAX_FOLLOWERS: usize = 8;

/// A flag value that cannot make a meaningful test.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid --{flag}: {problem}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub problem: String,
}

pub fn invalid(flag: &'static str, problem: impl Into<String>) -> ConfigError {
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
    /// Validate the raw flags; `drawn_seed` is used when `--seed` was absent.
    pub fn from_args(args: &RunArgs, drawn_seed: u64) -> Result<Self, ConfigError> {
        let seed = args.seed.unwrap_or(drawn_seed);
        let db = system(args)?;
        let (strategy, resolution) = strategy(args, db)?;
        let options = node_options(args, strategy)?;
        let mut config = TestConfig {
            test_name: String::new(),
            seed,
            nodes: count("nodes", args.nodes, MAX_NODES)?,
            followers: followers(args)?,
            workload: args.workload,
            strategy,
            topology: args.topology,
            options,
            time_limit_s: positive_seconds("time-limit", args.time_limit)?,
            concurrency: count("concurrency", args.concurrency, MAX_CONCURRENCY)?,
            keys: count("keys", args.keys, MAX_KEYS)?,
            ops_per_key: (args.ops_per_key > 0).then_some(args.ops_per_key),
            rate: rate(args.rate)?,
            routing: args.routing,
            fsync: args.fsync,
            quiesce_timeout_s: positive_seconds("quiesce-timeout", args.quiesce_timeout)?,
            ready_timeout_s: positive_seconds("ready-timeout", args.ready_timeout)?,
            op_timeout_s: positive_seconds("op-timeout", args.op_timeout)?,
            nemesis: args.nemesis.clone(),
            nemesis_interval_s: positive_seconds("nemesis-interval", args.nemesis_interval)?,
            max_clock_skew_ms: clock_skew(args.max_clock_skew)?,
            datacenters: count("datacenters", args.datacenters, args.nodes.max(1))?,
            dc_latency_ms: args.dc_latency,
            links: args.links,
            results_dir: args.results.clone(),
            node_bin: args.node_bin.clone(),
            node_cmd: node_cmd(args.node_cmd.as_deref())?,
            settle_s: positive_seconds("settle", args.settle)?,
            db: DbConfig {
                name: db,
                resolution,
                pg_bin: pg_bin(args, db)?,
                wsrep_sync_wait: wsrep_sync_wait(args, db)?,
            },
            id_step: args.id_step,
            id_offset: id_offset(&args.id_offset, args.id_step, args.nodes)?,
            replay: String::new(),
            down: down(args)?,
        };
        config.test_name = match &args.test_name {
            Some(name) => test_name(name)?,
            None => format!("{}-{}", config.workload.name(), config.strategy_label()),
        };
        config.replay = replay::command(&replayed(args, seed, &config.options));
        Ok(config)
    }
}

/// The flags as they replay this test: the seed drawn, handler files by
/// their absolute paths.
fn replayed(args: &RunArgs, seed: u64, options: &NodeOptions) -> RunArgs {
    RunArgs {
        seed: Some(seed),
        on_write: options.on_write.clone(),
        on_read: options.on_read.clone(),
        ..args.clone()
    }
}

fn rate(rate: f64) -> Result<Option<f64>, ConfigError> {
    if rate == 0.0 {
        Ok(None)
    } else if rate.is_finite() && rate > 0.0 {
        Ok(Some(rate))
    } else {
        Err(invalid(
            "rate",
            format!("{rate} is not a positive number of ops/s (0 = unlimited)"),
        ))
    }
}

/// Clock offsets are signed 64-bit milliseconds at the nodes (and a year
/// at most): a larger skew could only be refused there.
fn clock_skew(ms: u64) -> Result<u64, ConfigError> {
    const YEAR_MS: u64 = 365 * 86_400_000;
    if ms <= YEAR_MS {
        Ok(ms)
    } else {
        Err(invalid(
            "max-clock-skew",
            format!("{ms} ms is more than a year ({YEAR_MS} ms)"),
        ))
    }
}

/// The system under test: `--protocol maelstrom` makes the `--node-cmd`
/// nodes Maelstrom nodes (the `maelstrom` system).
fn system(args: &RunArgs) -> Result<SystemName, ConfigError> {
    let &[db] = args.db.as_slice() else {
        return Err(invalid(
            "db",
            format!(
                "a run tests one system, not {} (diverge compare --db takes a list)",
                args.db.len()
            ),
        ));
    };
    match (args.protocol, db) {
        (NodeProtocol::Http, db) => Ok(db),
        (NodeProtocol::Maelstrom, SystemName::Reference | SystemName::Maelstrom) => {
            Ok(SystemName::Maelstrom)
        }
        (NodeProtocol::Maelstrom, db) => Err(invalid(
            "protocol",
            format!("maelstrom is for --node-cmd nodes, not --db {}", db.name()),
        )),
    }
}

/// A `--node-cmd` template must not be blank (its placeholders are the
/// system's to check).
fn node_cmd(template: Option<&str>) -> Result<Option<String>, ConfigError> {
    match template {
        Some(t) if t.trim().is_empty() => Err(invalid("node-cmd", "the template is empty")),
        other => Ok(other.map(str::to_string)),
    }
}

fn id_offset(value: &str, step: u64, nodes: usize) -> Result<IdOffset, ConfigError> {
    if step == 0 {
        return Err(invalid("id-step", "must be at least 1"));
    }
    if value == "per-node" {
        if step < nodes as u64 {
            return Err(invalid(
                "id-offset",
                format!("per-node offsets need --id-step >= --nodes ({step} < {nodes})"),
            ));
        }
        return Ok(IdOffset::PerNode);
    }
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
    Ok(IdOffset::All(n))
}

/// `--strategy` as the system under test takes it: the nodes' strategy
/// (`lww` for a system that resolves conflicts its own way, which
/// `crate::system::configure` checks) and pglogical's resolution (`None`:
/// pglogical's own default).
fn strategy(args: &RunArgs, db: SystemName) -> Result<(Strategy, Option<Resolution>), ConfigError> {
    let Some(choice) = args.strategy else {
        return Ok((Strategy::Lww, None));
    };
    if db == SystemName::Pglogical {
        return match choice.for_pglogical() {
            Some(resolution) => Ok((Strategy::Lww, Some(resolution))),
            None => Err(invalid(
                "strategy",
                format!(
                    "{} is not one of pglogical's conflict resolutions ({})",
                    choice.name(),
                    StrategyChoice::pglogical_spellings()
                ),
            )),
        };
    }
    match choice.for_nodes() {
        Some(strategy) => Ok((strategy, None)),
        None => Err(invalid(
            "strategy",
            format!(
                "{} is one of pglogical's conflict resolutions (--db pglogical); the nodes take {}",
                choice.name(),
                StrategyChoice::node_spellings()
            ),
        )),
    }
}

/// `--wsrep-sync-wait`, which only Galera takes.
fn wsrep_sync_wait(args: &RunArgs, db: SystemName) -> Result<Option<u8>, ConfigError> {
    if args.wsrep_sync_wait.is_some() && db != SystemName::Galera {
        return Err(invalid("wsrep-sync-wait", "only applies to --db galera"));
    }
    Ok(args.wsrep_sync_wait)
}

/// `--pg-bin`, which only native PostgreSQL takes (what it holds is
/// checked when the system starts, naming what was found).
fn pg_bin(args: &RunArgs, db: SystemName) -> Result<Option<PathBuf>, ConfigError> {
    if args.pg_bin.is_some() && db != SystemName::Postgres {
        return Err(invalid("pg-bin", "only applies to --db postgres"));
    }
    Ok(args.pg_bin.clone())
}

/// Check the strategy and topology flags against each other.
fn node_options(args: &RunArgs, strategy: Strategy) -> Result<NodeOptions, ConfigError> {
    let known = |flag, id: &String| {
        let is_leader = id
            .strip_prefix('n')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=args.nodes).contains(&n) && *id == format!("n{n}"));
        if is_leader {
            Ok(())
        } else {
            Err(invalid(
                flag,
                format!("{id:?} is not a node of this test (n1..n{})", args.nodes),
            ))
        }
    };
    if let Some(lib) = &args.text_crdt {
        if strategy != Strategy::Crdt {
            return Err(invalid("text-crdt", "only applies to --strategy crdt"));
        }
        if diverge_replica::TextLib::from_name(lib).is_none() {
            return Err(invalid(
                "text-crdt",
                format!("unknown library {lib:?} (known: automerge, yrs, loro)"),
            ));
        }
    }
    if !args.priority.is_empty() && strategy != Strategy::Priority {
        return Err(invalid("priority", "only applies to --strategy priority"));
    }
    for id in &args.priority {
        known("priority", id)?;
    }
    let handlers = args.on_write.is_some() || args.on_read.is_some();
    if handlers && strategy != Strategy::Custom {
        return Err(invalid(
            "strategy",
            "--on-write and --on-read need --strategy custom",
        ));
    }
    if strategy == Strategy::Custom && !handlers {
        return Err(invalid(
            "strategy",
            "custom needs --on-write FILE and/or --on-read FILE",
        ));
    }
    if args.root.is_some() && args.topology != Topology::Star {
        return Err(invalid("root", "only applies to --topology star"));
    }
    if args.fanout.is_some() && args.topology != Topology::Tree {
        return Err(invalid("fanout", "only applies to --topology tree"));
    }
    let root =
        (args.topology == Topology::Star).then(|| args.root.clone().unwrap_or_else(|| "n1".into()));
    if let Some(root) = &root {
        known("root", root)?;
    }
    let fanout = (args.topology == Topology::Tree).then(|| args.fanout.unwrap_or(2));
    if fanout == Some(0) {
        return Err(invalid("fanout", "must be at least 1"));
    }
    Ok(NodeOptions {
        priority: args.priority.clone(),
        on_write: absolute("on-write", &args.on_write)?,
        on_read: absolute("on-read", &args.on_read)?,
        root,
        fanout,
        causal_delivery: args.causal_delivery.is_on(),
        text_crdt: args.text_crdt.clone(),
    })
}

/// A handler file by its absolute path (nodes run in their own directories).
fn absolute(flag: &'static str, path: &Option<PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
    match path {
        None => Ok(None),
        Some(p) => std::fs::canonicalize(p)
            .map(Some)
            .map_err(|e| invalid(flag, format!("{}: {e}", p.display()))),
    }
}

/// `--followers`: at most [`MAX_FOLLOWERS`].
fn followers(args: &RunArgs) -> Result<usize, ConfigError> {
    if args.followers > MAX_FOLLOWERS {
        return Err(invalid(
            "followers",
            format!("{} is more than {MAX_FOLLOWERS}", args.followers),
        ));
    }
    Ok(args.followers)
}

/// `--down`: known node ids, each once, at least one node left up.
fn down(args: &RunArgs) -> Result<Vec<String>, ConfigError> {
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
    if !down.is_empty() && down.len() >= args.nodes {
        return Err(invalid("down", "at least one node must stay up"));
    }
    Ok(down)
}

fn test_name(name: &str) -> Result<String, ConfigError> {
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

    fn config(flags: &[&str]) -> Result<TestConfig, ConfigError> {
        TestConfig::from_args(&parse(flags), 1)
    }

    #[test]
    fn links_are_interposed_only_when_a_fault_or_datacenters_need_them() {
        let interposed = |flags: &[&str]| config(flags).unwrap().interposes_links();
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
        assert_eq!(config.topology, Topology::AllToAll);
    }

    #[test]
    fn out_of_range_values_name_their_flag() {
        for (flags, flag) in [
            (&["--nodes", "0"][..], "nodes"),
            (&["--time-limit=-1"], "time-limit"),
            (&["--rate=-5"], "rate"),
            (&["--test-name", "../x"], "test-name"),
            (&["--max-clock-skew", "99999999999999"], "max-clock-skew"),
            (&["--followers", "9"], "followers"),
            (&["--node-cmd", " "], "node-cmd"),
        ] {
            assert_eq!(config(flags).unwrap_err().flag, flag, "{flags:?}");
        }
    }

    #[test]
    fn topology_options_only_with_their_topology() {
        assert_eq!(config(&["--root", "n2"]).unwrap_err().flag, "root");
        assert_eq!(config(&["--fanout", "3"]).unwrap_err().flag, "fanout");
        let star = config(&["--topology", "star", "--root", "n2"]).unwrap();
        assert_eq!(star.options.root.as_deref(), Some("n2"));
        let star = config(&["--topology", "star"]).unwrap();
        assert_eq!(star.options.root.as_deref(), Some("n1"));
        let err = config(&["--topology", "star", "--root", "n9"]).unwrap_err();
        assert_eq!(err.flag, "root");
    }

    #[test]
    fn down_nodes_are_checked_and_replayed() {
        let config = TestConfig::from_args(&parse(&["--down", "n2,n2", "--seed", "3"]), 1).unwrap();
        assert_eq!(config.down, vec!["n2"]);
        assert!(config.is_down(1) && !config.is_down(0));
        assert!(
            config.replay.contains(" --down n2,n2 "),
            "{}",
            config.replay
        );
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

    #[test]
    fn test_json_round_trips_and_older_files_still_read() {
        let config = config(&["--nemesis", "partition,crash", "--topology", "ring"]).unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["topology"], "ring");
        assert_eq!(json["nemesis"], "partition,crash");
        let back: TestConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.nemesis, config.nemesis);
        // A test.json written before the domain types moved out of the CLI.
        let old = include_str!("../../tests/fixtures/histories/mariadb-register/test.json");
        let old: TestConfig = serde_json::from_str(old).unwrap();
        assert_eq!(old.db.name, crate::domain::SystemName::Mariadb);
        assert_eq!(old.nemesis.spelling(), "partition");
    }
}
