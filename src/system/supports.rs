//! What a kind of system supports, declared once, and the config checks
//! that follow from it: every refusal names the flag, the system and what
//! it does support, so a user never gets a silent substitute.

use crate::config::{ConfigError, TestConfig, invalid};
use crate::domain::{FaultKind, Named, RoutingMode, Strategy, Topology, Workload};
use crate::workload::{self, Protocol};

/// What a kind of system supports.
#[derive(Debug, Clone)]
pub struct Supports {
    /// The fault kinds it can suffer (`--nemesis all` means these).
    pub faults: Vec<FaultKind>,
    /// The protocol its clients speak: a workload must run over it.
    pub protocol: Protocol,
    pub topologies: Vec<Topology>,
    /// Whether `--strategy` and `--causal-delivery` choose anything (a
    /// database that resolves conflicts its own way takes neither).
    pub strategies: bool,
    /// `--followers`.
    pub followers: bool,
    /// `--down`.
    pub down: bool,
    /// `--routing home-failover`.
    pub failover: bool,
    /// `--node-cmd`.
    pub node_cmd: bool,
    /// Largest `--id-step`.
    pub max_id_step: u64,
}

/// `config` checked against `supports`, its nemesis narrowed to the
/// faults supported.
pub fn check(supports: &Supports, mut config: TestConfig) -> Result<TestConfig, ConfigError> {
    let system = config.db.name.name();
    let unavailable = |what: &str, available: String| {
        format!("{what} is not available with --db {system} ({available})")
    };
    let workloads = workloads_over(supports.protocol);
    if !workloads.contains(&config.workload) {
        let names: Vec<&str> = workloads.iter().map(|w| w.name()).collect();
        return Err(invalid(
            "workload",
            unavailable(config.workload.name(), format!("{} are", names.join(", "))),
        ));
    }
    config.nemesis = config.nemesis.resolve(&supports.faults).map_err(|kind| {
        let names: Vec<&str> = supports.faults.iter().map(|k| k.name()).collect();
        invalid(
            "nemesis",
            unavailable(kind.name(), format!("{} are", names.join(", "))),
        )
    })?;
    if !supports.topologies.contains(&config.topology) {
        let names: Vec<&str> = supports.topologies.iter().map(|t| t.name()).collect();
        return Err(invalid(
            "topology",
            unavailable(
                config.topology.name(),
                format!("{} are", names.join(" and ")),
            ),
        ));
    }
    if !supports.strategies && (config.strategy != Strategy::Lww || config.options.causal_delivery)
    {
        return Err(invalid(
            "strategy",
            format!(
                "{system} resolves conflicts its own way: --strategy and --causal-delivery \
                 apply to the reference node only"
            ),
        ));
    }
    let options = [
        ("followers", supports.followers, config.followers > 0),
        ("down", supports.down, !config.down.is_empty()),
        ("node-cmd", supports.node_cmd, config.node_cmd.is_some()),
        (
            "routing",
            supports.failover,
            config.routing == RoutingMode::HomeFailover,
        ),
    ];
    if let Some((flag, _, _)) = options.iter().find(|(_, ok, used)| *used && !ok) {
        return Err(invalid(
            flag,
            format!("is not available with --db {system}"),
        ));
    }
    if config.id_step > supports.max_id_step {
        return Err(invalid(
            "id-step",
            format!(
                "{} is more than --db {system} takes ({})",
                config.id_step, supports.max_id_step
            ),
        ));
    }
    Ok(config)
}

/// The workloads that run over `protocol`.
pub fn workloads_over(protocol: Protocol) -> Vec<Workload> {
    Workload::ALL
        .iter()
        .copied()
        .filter(|&w| workload::bundle_of(w).protocols().contains(&protocol))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn configure(flags: &[&str]) -> Result<TestConfig, ConfigError> {
        let mut argv = vec!["diverge", "run"];
        argv.extend_from_slice(flags);
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        crate::system::configure(TestConfig::from_args(&args, 1)?)
    }

    #[test]
    fn all_means_every_fault_the_system_supports() {
        let reference = configure(&["--nemesis", "all"]).unwrap();
        let all_but_isolate: Vec<FaultKind> = FaultKind::ALL
            .into_iter()
            .filter(|k| *k != FaultKind::Isolate)
            .collect();
        assert_eq!(reference.nemesis.kinds(), all_but_isolate);
        let mariadb = configure(&["--db", "mariadb", "--nemesis", "all"]).unwrap();
        assert_eq!(
            mariadb.nemesis.kinds(),
            [FaultKind::Partition, FaultKind::Crash, FaultKind::Pause]
        );
    }

    #[test]
    fn a_fault_the_system_lacks_is_refused_naming_both() {
        let err = configure(&["--db", "mariadb", "--nemesis", "crash,clock"]).unwrap_err();
        assert_eq!(err.flag, "nemesis");
        assert_eq!(
            err.problem,
            "clock is not available with --db mariadb (partition, crash, pause are)"
        );
    }

    #[test]
    fn workloads_topologies_and_options_follow_what_the_system_supports() {
        let err = configure(&["--db", "mariadb", "--workload", "list-append"]).unwrap_err();
        assert_eq!(err.flag, "workload");
        assert!(
            err.problem
                .contains("register, counter, unique-ids, constraint"),
            "{}",
            err.problem
        );
        let err = configure(&["--db", "mariadb", "--topology", "star"]).unwrap_err();
        assert!(
            err.problem.contains("ring and all-to-all"),
            "{}",
            err.problem
        );
        for (flags, flag) in [
            (&["--db", "mariadb", "--followers", "1"][..], "followers"),
            (&["--db", "mariadb", "--down", "n2"], "down"),
            (
                &["--db", "mariadb", "--routing", "home-failover"],
                "routing",
            ),
            (&["--db", "mariadb", "--strategy", "crdt"], "strategy"),
            (&["--db", "mariadb", "--id-step", "70000"], "id-step"),
        ] {
            assert_eq!(configure(flags).unwrap_err().flag, flag, "{flags:?}");
        }
        assert!(configure(&["--db", "mariadb", "--workload", "set"]).is_ok());
    }

    #[test]
    fn maelstrom_nodes_take_maelstrom_workloads_and_faults_only() {
        let node = ["--protocol", "maelstrom", "--node-cmd", "./node"];
        let ok =
            configure(&[&node[..], &["--workload", "g-set", "--nemesis", "all"]].concat()).unwrap();
        assert_eq!(ok.db.name, crate::domain::SystemName::Maelstrom);
        assert!(!ok.nemesis.kinds().contains(&FaultKind::Clock));
        let err = configure(&[&node[..], &["--workload", "set"]].concat()).unwrap_err();
        assert_eq!(err.flag, "workload");
        assert!(err.problem.contains("g-set, g-counter"), "{}", err.problem);
        let err = configure(&["--workload", "g-set"]).unwrap_err();
        assert_eq!(err.flag, "workload");
        let err = configure(&["--protocol", "maelstrom", "--workload", "g-set"]).unwrap_err();
        assert_eq!(err.flag, "protocol");
        assert!(err.problem.contains("needs --node-cmd"), "{}", err.problem);
        let err = configure(&["--protocol", "maelstrom", "--db", "mariadb"]).unwrap_err();
        assert_eq!(err.flag, "protocol");
    }
}
