//! Systems under test other than diverge's own nodes.
//!
//! - [`DbName`]: `--db reference` (the reference node, or `--node-cmd`
//!   nodes: `src/cluster/`) or `--db mariadb`.
//! - [`DbConfig`]: the validated MariaDB settings (topology, auto-increment).
//! - [`mariadb`]: local `mariadbd` instances replicating through TCP links,
//!   driven over SQL.
//! - [`findings`]: what the history shows that the checkers do not judge
//!   yet for these workloads (ids handed out twice, names claimed twice).

pub mod findings;
pub mod mariadb;

use std::str::FromStr;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::cli::{RunArgs, WorkloadName};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbTopology {
    /// Each instance replicates from the previous one (n1 -> n2 -> ... -> n1),
    /// passing changes on (`log_slave_updates`).
    #[default]
    Ring,
    /// Each instance replicates from every other (multi-source,
    /// `gtid_ignore_duplicates`).
    AllToAll,
}

/// `--id-offset`: auto_increment_offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdOffset {
    /// Instance i (1-based) gets offset i.
    PerNode,
    /// Every instance gets this offset.
    All(u64),
}

impl FromStr for IdOffset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "per-node" {
            return Ok(IdOffset::PerNode);
        }
        s.parse::<u64>()
            .ok()
            .filter(|n| (1..=65535).contains(n))
            .map(IdOffset::All)
            .ok_or_else(|| format!("{s:?} is neither per-node nor a number from 1 to 65535"))
    }
}

/// The validated settings of the system under test.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    pub name: DbName,
    pub topology: DbTopology,
    /// auto_increment_increment.
    pub id_step: u64,
    /// auto_increment_offset; `None` = the server's default (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_offset: Option<IdOffset>,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            name: DbName::Reference,
            topology: DbTopology::Ring,
            id_step: 1,
            id_offset: None,
        }
    }
}

/// The faults `--db mariadb` can inject.
pub const MARIADB_FAULTS: [FaultKind; 3] =
    [FaultKind::Partition, FaultKind::Crash, FaultKind::Pause];

impl DbConfig {
    /// Validate the database flags; `Err((flag, problem))`.
    pub fn from_args(args: &RunArgs) -> Result<DbConfig, (&'static str, String)> {
        let config = DbConfig {
            name: args.db,
            topology: args.db_topology,
            id_step: args.id_step,
            id_offset: args.id_offset,
        };
        match args.db {
            DbName::Reference => {
                if matches!(
                    args.workload,
                    WorkloadName::UniqueIds | WorkloadName::Constraint
                ) {
                    return Err((
                        "workload",
                        "unique-ids and constraint run against --db mariadb only".into(),
                    ));
                }
                if args.db_topology != DbTopology::Ring
                    || args.id_step != 1
                    || args.id_offset.is_some()
                {
                    return Err((
                        "db",
                        "--topology, --id-step and --id-offset need --db mariadb".into(),
                    ));
                }
            }
            DbName::Mariadb => {
                if args.node_cmd.is_some() {
                    return Err(("node-cmd", "cannot be combined with --db mariadb".into()));
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
            }
        }
        Ok(config)
    }

    /// The topology's name for the results (`all-to-all` for reference nodes).
    pub fn topology_name(args: &RunArgs) -> String {
        match (args.db, args.db_topology) {
            (DbName::Mariadb, DbTopology::Ring) => "ring".into(),
            _ => "all-to-all".into(),
        }
    }

    /// The flags that reproduce these settings, each followed by a space.
    pub fn replay_flags(&self) -> String {
        if self.name == DbName::Reference {
            return String::new();
        }
        let topology = match self.topology {
            DbTopology::Ring => "ring",
            DbTopology::AllToAll => "all-to-all",
        };
        let offset = match self.id_offset {
            None => String::new(),
            Some(IdOffset::PerNode) => "--id-offset per-node ".into(),
            Some(IdOffset::All(n)) => format!("--id-offset {n} "),
        };
        format!(
            "--db mariadb --topology {topology} --id-step {} {offset}",
            self.id_step
        )
    }

    /// auto_increment_offset of instance `i` (0-based).
    pub fn offset_of(&self, i: usize) -> u64 {
        match self.id_offset {
            None => 1,
            Some(IdOffset::PerNode) => i as u64 + 1,
            Some(IdOffset::All(n)) => n,
        }
    }
}
