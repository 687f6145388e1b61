//! `diverge compare`: one test (workload, nemesis, rate, seed) run once per
//! strategy and topology, summed up side by side. It shows; it does not
//! judge: the exit code is 0 when every run completed, whatever it found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::{EXIT_HARNESS_ERROR, EXIT_INTERRUPTED, execute, rundir};
use crate::cli::{CompareArgs, RunArgs, StrategyName};
use crate::config::TestConfig;
use crate::report;
use crate::results::Figures;

/// The topologies this build can run. When `RunArgs` gains `--topology`,
/// list its values here and assign it in [`set_topology`].
pub const TOPOLOGIES: [&str; 5] = ["all-to-all", "ring", "star", "tree", "single-leader"];

/// `compare.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub started_at: String,
    pub seed: u64,
    pub workload: String,
    pub nemesis: String,
    /// The command line of the first row, for reference (each row's own
    /// replay line is in its run directory).
    pub replay: String,
    pub rows: Vec<Row>,
}

/// One configuration's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub strategy: String,
    pub topology: String,
    pub test_name: String,
    /// The run directory, relative to the results directory.
    pub run_dir: Option<String>,
    /// Set when the run could not complete (a harness error).
    pub error: Option<String>,
    pub figures: Option<Figures>,
}

/// `diverge compare`; returns the exit code.
pub async fn compare(args: CompareArgs) -> Result<i32> {
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    let configs = plan(&args, seed)?;
    println!(
        "seed: {seed}; comparing {} configurations: {}",
        configs.len(),
        configs.iter().map(label).collect::<Vec<_>>().join(", ")
    );
    let results_dir = args.run.results.clone();
    let comparison = tokio::select! {
        comparison = run_all(&configs, seed) => comparison?,
        _ = interrupt.recv() => {
            eprintln!("diverge: interrupted; nodes stopped; finished runs stay in {}", results_dir.display());
            return Ok(EXIT_INTERRUPTED);
        }
    };
    let dir = write(&comparison, &results_dir)?;
    println!("\n{}", report::compare::table(&comparison));
    println!("comparison: {}", dir.join("compare.html").display());
    Ok(if comparison.rows.iter().any(|r| r.error.is_some()) {
        EXIT_HARNESS_ERROR
    } else {
        0
    })
}

/// One validated config per strategy and topology, all with `seed`.
pub fn plan(args: &CompareArgs, seed: u64) -> Result<Vec<TestConfig>> {
    let strategies: Vec<StrategyName> = if args.strategies.is_empty() {
        // `custom` needs handler files; it joins the default set only when
        // they are given.
        let handlers = args.run.on_write.is_some() || args.run.on_read.is_some();
        StrategyName::value_variants()
            .iter()
            .copied()
            .filter(|s| *s != StrategyName::Custom || handlers)
            .collect()
    } else {
        args.strategies.clone()
    };
    let topologies: Vec<String> = if args.topologies.is_empty() {
        vec![TOPOLOGIES[0].to_string()]
    } else {
        args.topologies.clone()
    };
    let mut configs = Vec::new();
    for topology in &topologies {
        for strategy in &strategies {
            let mut row = args.run.clone();
            row.seed = Some(seed);
            row.strategy = *strategy;
            set_topology(&mut row, topology)?;
            let strategy_name = value_name(strategy);
            let base = args
                .run
                .test_name
                .clone()
                .unwrap_or_else(|| format!("compare-{}", value_name(&args.run.workload)));
            row.test_name = Some(if topologies.len() > 1 {
                format!("{base}-{strategy_name}-{topology}")
            } else {
                format!("{base}-{strategy_name}")
            });
            configs.push(TestConfig::from_args(&row, seed)?);
        }
    }
    Ok(configs)
}

/// Give a row its topology.
fn set_topology(args: &mut RunArgs, topology: &str) -> Result<()> {
    match crate::cli::Topology::from_str(topology, false) {
        Ok(t) => {
            args.topology = t;
            Ok(())
        }
        Err(_) => bail!(
            "invalid --topologies: unknown topology {topology:?}; expected {}",
            TOPOLOGIES.join(", ")
        ),
    }
}

fn value_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

fn label(config: &TestConfig) -> String {
    format!("{}/{}", value_name(&config.strategy), config.topology)
}

async fn run_all(configs: &[TestConfig], seed: u64) -> Result<Comparison> {
    let first = configs.first().context("nothing to compare")?;
    let mut comparison = Comparison {
        started_at: chrono::Local::now().to_rfc3339(),
        seed,
        workload: value_name(&first.workload),
        nemesis: first.nemesis.spelling(),
        replay: first.replay.clone(),
        rows: Vec::new(),
    };
    for (i, config) in configs.iter().enumerate() {
        println!("\n[{}/{}] {}", i + 1, configs.len(), label(config));
        let mut row = Row {
            strategy: value_name(&config.strategy),
            topology: config.topology.clone(),
            test_name: config.test_name.clone(),
            run_dir: None,
            error: None,
            figures: None,
        };
        match execute(config).await {
            Ok(executed) => {
                row.run_dir = executed
                    .run_dir
                    .strip_prefix(&config.results_dir)
                    .ok()
                    .map(|p| p.display().to_string());
                match Figures::of(&executed.results, &executed.run_dir.join("history.jsonl")) {
                    Ok(figures) => {
                        println!(
                            "{}: {} ({} lost updates, {} divergent keys)",
                            label(config),
                            figures.verdict,
                            figures.lost_updates,
                            figures.divergent_keys
                        );
                        row.figures = Some(figures);
                    }
                    Err(e) => row.error = Some(format!("{e:#}")),
                }
            }
            Err(e) => {
                eprintln!("diverge: {}: {e:#}", label(config));
                row.error = Some(format!("{e:#}"));
            }
        }
        comparison.rows.push(row);
    }
    Ok(comparison)
}

/// Write `compare.json` and `compare.html` into `results/compare/<stamp>/`
/// and point `results/latest-compare` at it.
fn write(comparison: &Comparison, results: &Path) -> Result<PathBuf> {
    let dir = rundir::create_plain(&results.join("compare"))?;
    std::fs::write(
        dir.join("compare.json"),
        serde_json::to_string_pretty(comparison)? + "\n",
    )?;
    std::fs::write(
        dir.join("compare.html"),
        report::compare::html(comparison, "../.."),
    )?;
    let stamp = dir
        .file_name()
        .context("comparison directory has no name")?;
    rundir::replace_link(
        &results.join("latest-compare"),
        &Path::new("compare").join(stamp),
    )?;
    Ok(dir)
}
