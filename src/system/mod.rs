//! Systems under test. Each is one implementation of [`SystemKind`] (what
//! it supports, checked before anything starts, and how to start it) and
//! of [`System`] (a started system: connections for the workload, the
//! fault targets it offers, quiescence, its own findings, stopping all it
//! started). The lifecycle (`crate::control`) runs every system the same
//! way, stage by stage.
//!
//! - [`reference`]: diverge's reference nodes, or nodes `--node-cmd` starts.
//! - [`mariadb`]: local MariaDB instances replicating through TCP links.
//! - [`maelstrom`]: nodes written for Jepsen's Maelstrom (`--protocol
//!   maelstrom`), their messages routed through the controller.
//! - [`postgres`]: local PostgreSQL instances replicating with pglogical
//!   through TCP links.
//! - [`galera`]: local MariaDB Galera nodes, synchronous multi-master.
//! - [`instance`]: a local database instance, and the process faults
//!   every database system's instances share.
//! - [`sim`]: the reference nodes' cores simulated in one thread on
//!   virtual time (`diverge sim`).
//! - [`leftovers`]: what a database's instances may leave behind, removed
//!   on every path.
//! - [`supports`]: what each kind declares, and the config checks that
//!   follow from it (a fault, workload or topology it lacks is a config
//!   error naming both).

pub mod galera;
pub mod instance;
pub mod leftovers;
pub mod maelstrom;
pub mod mariadb;
pub mod postgres;
pub mod reference;
pub mod sim;
pub mod supports;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use diverge_checkers::Anomaly;

use crate::config::{ConfigError, TestConfig};
use crate::domain::SystemName;
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::results::DbFinding;
use crate::workload::Conn;
pub use supports::Supports;

/// A kind of system: what it supports and how it starts.
#[async_trait]
pub trait SystemKind: Sync {
    fn name(&self) -> SystemName;
    /// What it supports (faults, protocol, topologies, options).
    fn supports(&self) -> Supports;
    /// Checks of the config beyond what [`Supports`] says.
    fn configure(&self, config: &TestConfig) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }
    /// Start every node under `run_dir` and wait until all are ready.
    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>>;
    /// Tie the system's findings to the checkers' anomalies they stem from
    /// (an applier that stopped on a duplicate key names the anomaly).
    fn relate(&self, findings: &mut [DbFinding], anomalies: &[Anomaly]) {
        let _ = (findings, anomalies);
    }
}

/// A started system.
#[async_trait]
pub trait System: Send + Sync {
    /// One line saying what started (printed and kept in the run's notes).
    fn describe(&self) -> String;
    /// Node ids by index: the leaders first (`--nodes`), then any others.
    fn ids(&self) -> &[String];
    /// A connection to every node, by index.
    fn conns(&self) -> Vec<Conn>;
    /// By leader index, the indices of the read-only nodes that serve its
    /// reads.
    fn followers(&self) -> Vec<Vec<usize>> {
        Vec::new()
    }
    /// What the nemesis can act on.
    fn fault_targets(&self) -> FaultTargets;
    /// Wait (at most `timeout`) until replication has settled among the
    /// nodes not in `down`.
    async fn settle(&self, timeout: Duration, down: &[String]) -> Settled;
    /// What the system reports about itself, asked before it stops.
    async fn report(&self, live: &[usize]) -> SystemReport;
    /// Stop every process the system started; the link counters of the run.
    async fn stop(self: Box<Self>) -> Vec<LinkCounters>;
}

/// How waiting for replication to settle ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// Every backlog drained (or, where that cannot be observed, the fixed
    /// wait passed: see `notes`).
    pub quiesced: bool,
    pub waited: Duration,
    pub notes: Vec<String>,
}

/// What a system says about itself at the end of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemReport {
    /// Problems it reported (a stopped applier, ...).
    pub findings: Vec<DbFinding>,
    /// What a reader should know about how it ran.
    pub notes: Vec<String>,
    /// Replicated updates skipped because their insert had not arrived.
    pub skipped_updates: Option<u64>,
}

/// The kind of system `name` is.
pub fn kind(name: SystemName) -> &'static dyn SystemKind {
    match name {
        SystemName::Reference => &reference::Reference,
        SystemName::Mariadb => &mariadb::Mariadb,
        SystemName::Maelstrom => &maelstrom::Maelstrom,
        SystemName::Pglogical => &postgres::Pglogical,
        SystemName::Postgres => &postgres::Postgres,
        SystemName::Galera => &galera::Galera,
    }
}

/// The config checked against what its system supports: `--nemesis all`
/// narrowed to the system's faults, anything it cannot do refused.
pub fn configure(config: TestConfig) -> Result<TestConfig, ConfigError> {
    let kind = kind(config.db.name);
    let config = supports::check(&kind.supports(), config)?;
    kind.configure(&config)?;
    Ok(config)
}
