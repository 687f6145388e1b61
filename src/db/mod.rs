//! Systems under test other than diverge's own nodes.
//!
//! - [`DbName`]: `--db reference` (the reference node, or `--node-cmd`
//!   nodes: `src/cluster/`) or `--db mariadb`.
//! - [`DbConfig`]: the validated MariaDB settings (topology from `--topology`;
//!   auto-increment from the run's `--id-step`/`--id-offset`).
//! - [`mariadb`]: local `mariadbd` instances replicating through TCP links,
//!   driven over SQL.
//! - [`findings`]: stopped appliers tied to the anomaly they stopped on
//!   (an id handed out twice, a name granted twice), so each problem is
//!   reported once.

pub mod findings;
pub mod mariadb;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::cli::{OnOff, RunArgs, StrategyName, Topology, WorkloadName};
use crate::nemesis::FaultKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbName {
    /// diverge's reference nodes, or the nodes `--node-cmd` starts.
    #[default]
    Reference,
    /// Local MariaDB instances (`mariadbd`), replicating to each other.
    Mariadb,
}

/// The replication topologies `--db mariadb` builds, from `--topology`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbTopology {
    /// Each instance replicates from the previous one (n1 -> n2 -> ... -> n1),
    /// passing changes on (`log_slave_updates`).
    Ring,
    /// Each instance replicates from every other (multi-source,
    /// `gtid_ignore_duplicates`).
    #[default]
    AllToAll,
}

/// The validated settings of the system under test. The auto-increment
/// step and offset are the run's `--id-step`/`--id-offset`
/// ([`crate::config::TestConfig`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    pub name: DbName,
    /// MariaDB's replication topology (`--topology ring|all-to-all`).
    #[serde(default)]
    pub topology: DbTopology,
}

/// The faults `--db mariadb` can inject.
pub const MARIADB_FAULTS: [FaultKind; 3] =
    [FaultKind::Partition, FaultKind::Crash, FaultKind::Pause];

impl DbConfig {
    /// Validate the database flags; `Err((flag, problem))`.
    pub fn from_args(args: &RunArgs) -> Result<DbConfig, (&'static str, String)> {
        let mut config = DbConfig {
            name: args.db,
            topology: DbTopology::AllToAll,
        };
        if args.db == DbName::Reference {
            return Ok(config);
        }
        config.topology = match args.topology {
            Topology::Ring => DbTopology::Ring,
            Topology::AllToAll => DbTopology::AllToAll,
            other => {
                return Err((
                    "topology",
                    format!(
                        "{} is not available with --db mariadb (ring and all-to-all are)",
                        crate::control::name_of(&other)
                    ),
                ));
            }
        };
        if args.node_cmd.is_some() {
            return Err(("node-cmd", "cannot be combined with --db mariadb".into()));
        }
        if args.routing == crate::cli::RoutingMode::HomeFailover {
            return Err((
                "routing",
                "home-failover needs the reference nodes or --node-cmd nodes".into(),
            ));
        }
        if !matches!(
            args.workload,
            WorkloadName::Register
                | WorkloadName::Set
                | WorkloadName::UniqueIds
                | WorkloadName::Constraint
        ) {
            return Err((
                "workload",
                format!(
                    "{} is not available with --db mariadb (register, set, unique-ids, constraint are)",
                    crate::control::name_of(&args.workload)
                ),
            ));
        }
        if args.strategy != StrategyName::Lww || args.causal_delivery == OnOff::On {
            return Err((
                "strategy",
                "MariaDB applies replicated rows as they arrive: --strategy and \
                 --causal-delivery apply to the reference node only"
                    .into(),
            ));
        }
        if !(1..=65535).contains(&args.id_step) {
            return Err((
                "id-step",
                format!("{} is not between 1 and 65535", args.id_step),
            ));
        }
        if let Some(bad) = args.nemesis.0.iter().find(|k| !MARIADB_FAULTS.contains(k)) {
            return Err((
                "nemesis",
                format!(
                    "{} is not available with --db mariadb (partition, crash, pause are)",
                    bad.name()
                ),
            ));
        }
        Ok(config)
    }

    /// The flags that reproduce these settings, each followed by a space
    /// (`--topology` and the auto-increment flags are the run's own).
    pub fn replay_flags(&self) -> String {
        match self.name {
            DbName::Reference => String::new(),
            DbName::Mariadb => "--db mariadb ".into(),
        }
    }
}
