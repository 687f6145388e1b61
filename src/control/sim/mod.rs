//! `diverge sim`: the reference cluster simulated in one thread on virtual
//! time, so that a seed decides not only the test's choices but every
//! interleaving, and the same command writes the same history, byte for
//! byte, every time and on any machine.
//!
//! The simulation reuses the whole pipeline of a real run: the config and
//! its checks, the lifecycle (`control::lifecycle`), the workload bundles
//! and their client driver, the nemesis planner and executor, the final
//! reads, the checkers and the reports. What it replaces is below them:
//! the system under test is [`crate::system::sim::Simulated`], whose nodes
//! are the replica cores (`diverge-replica`) with an in-memory disk, whose
//! network decides each message's fate with `net::fate::decide`, and whose
//! time is tokio's paused clock: the runtime is single-threaded and,
//! whenever every task waits, jumps straight to the next timer. No wall
//! clock, no thread and no unseeded randomness decides anything that
//! reaches the history.
//!
//! - [`swarm`]: many seeds on every core, each with its own faults.
//! - [`shrink`]: a failing test reduced while its anomaly kind remains.

pub mod shrink;
pub mod swarm;

use std::sync::Arc;

use anyhow::{Context, Result};

use super::{Executed, Harness};
use crate::cli::{RunArgs, SimArgs};
use crate::config::{ConfigError, TestConfig};
use crate::system::SystemKind;
use crate::system::sim::{Simulated, clock};

/// `diverge sim`: simulate one test, or a swarm of seeds; returns the
/// process exit code.
pub fn run(args: SimArgs) -> Result<i32> {
    if let Some(range) = &args.seeds {
        return run_swarm(&args, range);
    }
    if args.shrink {
        return run_shrink(&args);
    }
    let config = configure(&args.run, rand::random())?;
    crate::say!("seed: {} (replay: {})", config.seed, config.replay);
    // Wall time only for the speed figure: nothing simulated reads it.
    let started = std::time::Instant::now();
    let executed = simulate(&config)?;
    let wall_s = started.elapsed().as_secs_f64();
    crate::say!(
        "\n{}",
        crate::report::text::render(&executed.results, !args.run.quiet)
    );
    crate::say!("{}", speed(&executed.results, config.time_limit_s, wall_s));
    Ok(executed.results.exit_code())
}

/// How fast the simulation ran, over `virtual_s` seconds of simulated
/// workload: client ops (final reads excluded) per second of wall time
/// while the workload ran (clients, nodes, network, nemesis and history
/// recording), and over the whole command (start, settling, final reads,
/// checking and reports too).
fn speed(results: &crate::results::Results, virtual_s: f64, wall_s: f64) -> String {
    let ops = results.check.stats.ops as f64;
    let workload_s = results.run.as_ref().map_or(wall_s, |r| r.workload_s);
    format!(
        "simulated: {ops} client ops in {virtual_s:.1} s of virtual time; workload {workload_s:.2} s of wall time ({:.0} client ops/s), whole command {wall_s:.2} s ({:.0} client ops/s)",
        ops / workload_s.max(1e-9),
        ops / wall_s.max(1e-9)
    )
}

/// The test `args` describe, checked for the simulation: its default name
/// ends in `-sim`, its replay command is `diverge sim`.
pub fn configure(args: &RunArgs, drawn_seed: u64) -> Result<TestConfig, ConfigError> {
    let mut config = super::configure(args, drawn_seed)?;
    Simulated.configure(&config)?;
    if args.test_name.is_none() {
        config.test_name.push_str("-sim");
    }
    config.replay = config.replay.replacen("diverge run", "diverge sim", 1);
    Ok(config)
}

/// The swarm: every seed of `range`, on every core; the table of failures.
fn run_swarm(args: &SimArgs, range: &swarm::SeedRange) -> Result<i32> {
    // Checked once here, so a bad flag is one error rather than one a seed.
    configure(&args.run, 0)?;
    let seeds = range.seeds(args.run.seed.unwrap_or(1));
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let name = args.run.test_name.clone().unwrap_or_else(|| "swarm".into());
    let dir = super::rundir::create_plain(&args.run.results.join(name))?;
    let scratch = dir.join("scratch");
    crate::say!(
        "swarm: {} seeds on {threads} threads, into {}",
        seeds.len(),
        dir.display()
    );
    let started = std::time::Instant::now();
    let outcomes = swarm::search(&args.run, &seeds, threads, &scratch)?;
    let wall_s = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&scratch);
    let ops: u64 = outcomes.iter().map(|o| o.ops).sum();
    let summary = format!(
        "{}\n{} seeds in {wall_s:.1} s: {:.1} seeds/s, {:.0} client ops/s; {} valid, {} with anomalies, {} unknown, {} failed to run",
        swarm::table(&outcomes),
        seeds.len(),
        seeds.len() as f64 / wall_s.max(1e-9),
        ops as f64 / wall_s.max(1e-9),
        outcomes.iter().filter(|o| o.code == 0).count(),
        outcomes.iter().filter(|o| o.code == 1).count(),
        outcomes.iter().filter(|o| o.code == 2).count(),
        outcomes.iter().filter(|o| o.code == 3).count(),
    );
    std::fs::write(dir.join("swarm.txt"), format!("{summary}\n"))?;
    let lines: Vec<String> = outcomes
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    std::fs::write(dir.join("seeds.jsonl"), lines.join("\n") + "\n")?;
    crate::say!("{summary}");
    let code = |c| outcomes.iter().any(|o| o.code == c);
    Ok(if code(3) {
        3
    } else if code(1) {
        1
    } else if code(2) {
        2
    } else {
        0
    })
}

/// `--shrink`: the test, then the smallest test found that shows the same
/// anomaly kind, written as an ordinary run directory (`<test>-shrunk`).
fn run_shrink(args: &SimArgs) -> Result<i32> {
    let config = configure(&args.run, rand::random())?;
    let scratch = std::env::temp_dir().join(format!("diverge-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    crate::stdout::silence_this_thread(true);
    let original = judge_in(&config, &scratch);
    crate::stdout::silence_this_thread(false);
    let original = original?;
    let kind = match args
        .shrink_kind
        .clone()
        .or_else(|| shrink::target_kind(&original))
    {
        Some(kind) => kind,
        None => anyhow::bail!("seed {} shows no anomaly: nothing to shrink", config.seed),
    };
    crate::say!(
        "shrinking {} (seed {}, {} client ops) while {kind} remains",
        config.test_name,
        config.seed,
        original.check.stats.ops
    );
    let seeded = RunArgs {
        seed: Some(config.seed),
        ..args.run.clone()
    };
    // Each trial is a whole test, which would print its stages.
    crate::stdout::silence_this_thread(true);
    let shrunk = shrink::shrink(&seeded, &kind, &scratch);
    crate::stdout::silence_this_thread(false);
    let _ = std::fs::remove_dir_all(&scratch);
    let shrunk = shrunk?;
    let final_args = RunArgs {
        test_name: Some(format!("{}-shrunk", config.test_name)),
        ..shrunk.args
    };
    let final_config = configure(&final_args, 0)?;
    let executed = simulate(&final_config)?;
    crate::say!(
        "\n{}",
        crate::report::text::render(&executed.results, !args.run.quiet)
    );
    crate::say!(
        "shrunk in {} trials: {} -> {} client ops, {} fault window(s), {kind} kept\nrun directory: {}\nreplay: {}",
        shrunk.trials,
        original.check.stats.ops,
        executed.results.check.stats.ops,
        executed.results.run.as_ref().map_or(0, |r| r.faults.len()),
        executed.run_dir.display(),
        final_config.replay
    );
    Ok(executed.results.exit_code())
}

/// The simulation's runtime: one thread, tokio's clock paused (it jumps
/// to the next timer whenever every task waits).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .context("building the simulation's runtime")
}

/// The lifecycle's harness for the simulated cluster.
fn harness() -> Harness {
    Harness {
        kind: &Simulated,
        clock: || Arc::new(clock::Virtual::now()),
        display: false,
    }
}

/// Run `config` simulated: its run directory, history and reports, as
/// `diverge run` writes them.
pub fn simulate(config: &TestConfig) -> Result<Executed> {
    runtime()?.block_on(super::execute_with(config, &harness()))
}

/// Run `config` simulated in `dir` (which exists) and judge it, writing
/// the history there but no report.
pub fn judge_in(config: &TestConfig, dir: &std::path::Path) -> Result<crate::results::Results> {
    runtime()?.block_on(super::lifecycle::run_test(config, dir, &harness()))
}
