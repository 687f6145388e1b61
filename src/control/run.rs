//! `diverge run`, and running one test from its config (`compare` and
//! `suite` run theirs through [`execute`] too).

use std::path::PathBuf;

use anyhow::Result;

use super::interrupt::Interrupt;
use super::{lifecycle, rundir};
use crate::cli::RunArgs;
use crate::config::{ConfigError, TestConfig};
use crate::report::{self, RunReport};
use crate::results::Results;

/// A finished test: its results and where they were written.
pub struct Executed {
    pub results: Results,
    pub run_dir: PathBuf,
}

/// The flags of a test, validated for its system; `drawn_seed` is used
/// when `--seed` is absent.
pub fn configure(args: &RunArgs, drawn_seed: u64) -> Result<TestConfig, ConfigError> {
    crate::system::configure(TestConfig::from_args(args, drawn_seed)?)
}

/// `diverge run`: run one test; returns the process exit code.
pub async fn run(args: RunArgs) -> Result<i32> {
    // Take over Ctrl-C (and SIGTERM, SIGHUP) before anything is started, so
    // that from here on a stop signal always stops the nodes instead of
    // killing the controller.
    let mut interrupt = Interrupt::install()?;
    let config = configure(&args, rand::random())?;
    // The seed comes first, so even a run that dies can be replayed.
    crate::say!("seed: {} (replay: {})", config.seed, config.replay);
    let executed = tokio::select! {
        executed = execute(&config) => executed?,
        code = interrupt.recv() => {
            // Dropping execute's future dropped the system: nodes are killed.
            eprintln!("diverge: interrupted; nodes stopped; the history so far stays in {}", config.results_dir.display());
            return Ok(code);
        }
    };
    crate::say!("\n{}", report::text::render(&executed.results, !args.quiet));
    Ok(executed.results.exit_code())
}

/// Run the test `config` describes from start to finish: run directory,
/// the lifecycle, and every report file.
pub async fn execute(config: &TestConfig) -> Result<Executed> {
    execute_with(config, &lifecycle::Harness::real(config)).await
}

/// [`execute`] under `harness` (a simulated cluster on virtual time, say).
pub async fn execute_with(config: &TestConfig, harness: &lifecycle::Harness) -> Result<Executed> {
    let run_dir = rundir::create(&config.results_dir, &config.test_name)?;
    std::fs::write(
        run_dir.join("test.json"),
        serde_json::to_string_pretty(config)? + "\n",
    )?;
    crate::say!("run directory: {}", run_dir.display());
    let results = lifecycle::run_test(config, &run_dir, harness).await?;
    rundir::link_latest(&config.results_dir, &config.test_name, &run_dir)?;
    let history = run_dir.join("history.jsonl");
    let report = RunReport {
        results: &results,
        history: &history,
        test: Some(serde_json::to_value(config)?),
    };
    report::write_run(&report, &run_dir)?;
    Ok(Executed { results, run_dir })
}
