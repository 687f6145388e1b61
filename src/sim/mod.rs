//! `diverge sim`: the reference cluster simulated in one thread on virtual
//! time, so that a seed decides not only the test's choices but every
//! interleaving, and the same command writes the same history, byte for
//! byte, every time and on any machine.
//!
//! The simulation reuses the whole pipeline of a real run: the config and
//! its checks, the lifecycle (`control::lifecycle`), the workload bundles
//! and their client driver, the nemesis planner and executor, the final
//! reads, the checkers and the reports. What it replaces is below them:
//! the system under test is [`system::Simulated`], whose nodes are the
//! replica cores (`diverge-replica`) with an in-memory disk, whose network
//! decides each message's fate with `net::fate::decide`, and whose time is
//! tokio's paused clock: the runtime is single-threaded and, whenever every
//! task waits, jumps straight to the next timer. No wall clock, no thread
//! and no unseeded randomness decides anything that reaches the history.
//!
//! - [`system`]: the simulated cluster as a [`crate::system::SystemKind`].
//! - [`cluster`]: nodes and links behind one lock, replication traffic.
//! - [`node`]: one node: core, disk, process state; crash and restart.
//! - [`conn`]: the clients' connection to a node (`KvApi`).
//! - [`faults`]: the cluster as the nemesis's fault targets.
//! - [`clock`]: the history's virtual clock.

pub mod clock;
pub mod cluster;
pub mod conn;
pub mod faults;
pub mod node;
pub mod system;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::{RunArgs, SimArgs};
use crate::config::{ConfigError, TestConfig};
use crate::control::{Executed, Harness};
use crate::system::SystemKind;

/// `diverge sim`: simulate one test; returns the process exit code.
pub fn run(args: SimArgs) -> Result<i32> {
    let config = configure(&args.run, rand::random())?;
    crate::say!("seed: {} (replay: {})", config.seed, config.replay);
    let executed = simulate(&config)?;
    crate::say!(
        "\n{}",
        crate::report::text::render(&executed.results, !args.run.quiet)
    );
    Ok(executed.results.exit_code())
}

/// The test `args` describe, checked for the simulation: its default name
/// ends in `-sim`, its replay command is `diverge sim`.
pub fn configure(args: &RunArgs, drawn_seed: u64) -> Result<TestConfig, ConfigError> {
    let mut config = crate::control::configure(args, drawn_seed)?;
    system::Simulated.configure(&config)?;
    if args.test_name.is_none() {
        config.test_name.push_str("-sim");
    }
    config.replay = config.replay.replacen("diverge run", "diverge sim", 1);
    Ok(config)
}

/// Run `config` simulated: its run directory, history and reports, as
/// `diverge run` writes them.
pub fn simulate(config: &TestConfig) -> Result<Executed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .context("building the simulation's runtime")?;
    let harness = Harness {
        kind: &system::Simulated,
        clock: || Arc::new(clock::Virtual::now()),
        display: false,
    };
    runtime.block_on(crate::control::execute_with(config, &harness))
}
