//! `diverge compare`: one test (workload, nemesis, rate, seed) run once per
//! strategy and topology, summed up side by side. It shows; it does not
//! judge: the exit code is 0 when every run completed, whatever it found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{EXIT_HARNESS_ERROR, EXIT_INTERRUPTED, configure, execute, rundir};
use crate::cli::{CompareArgs, RunArgs};
use crate::config::TestConfig;
use crate::domain::{Named, Resolution, Strategy, SystemName};
use crate::report;
use crate::results::{Comparison, Figures, Row};

/// `diverge compare`; returns the exit code.
pub async fn compare(args: CompareArgs) -> Result<i32> {
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    let configs = plan(&args, seed)?;
    crate::say!(
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
    crate::say!("\n{}", report::compare::table(&comparison));
    crate::say!("comparison: {}", dir.join("compare.html").display());
    Ok(if comparison.rows.iter().any(|r| r.error.is_some()) {
        EXIT_HARNESS_ERROR
    } else {
        0
    })
}

/// One validated config per strategy and topology, all with `seed`.
pub fn plan(args: &CompareArgs, seed: u64) -> Result<Vec<TestConfig>> {
    if !args.systems.is_empty() {
        return plan_systems(args, seed);
    }
    let strategies = strategies(args)?;
    let topologies = if !args.topologies.is_empty() {
        args.topologies.clone()
    } else if args.run.db == SystemName::Mariadb {
        // The one choice MariaDB's replication offers here.
        vec![
            crate::domain::Topology::Ring,
            crate::domain::Topology::AllToAll,
        ]
    } else {
        vec![args.run.topology]
    };
    let mut configs = Vec::new();
    for &topology in &topologies {
        for (strategy, text_crdt) in with_text_crdts(&strategies, args) {
            let mut row = args.run.clone();
            row.seed = Some(seed);
            row.strategy = strategy;
            row.topology = topology;
            row.text_crdt = match strategy {
                Strategy::Crdt => text_crdt.or(row.text_crdt),
                _ => None,
            };
            let mut config = configure(&row, seed)?;
            let base = args
                .run
                .test_name
                .clone()
                .unwrap_or_else(|| format!("compare-{}", args.run.workload.name()));
            let label = config.strategy_label();
            config.test_name = if topologies.len() > 1 {
                format!("{base}-{label}-{}", topology.name())
            } else {
                format!("{base}-{label}")
            };
            configs.push(config);
        }
    }
    Ok(configs)
}

/// `--systems`: one config per system (and per reference strategy and
/// pglogical resolution), each on the run's topology with `seed`, so every
/// row sees the same workload and fault schedule.
fn plan_systems(args: &CompareArgs, seed: u64) -> Result<Vec<TestConfig>> {
    let base = args
        .run
        .test_name
        .clone()
        .unwrap_or_else(|| format!("compare-{}", args.run.workload.name()));
    let mut rows = Vec::new();
    for &system in &args.systems {
        let mut row = args.run.clone();
        row.seed = Some(seed);
        row.db = system;
        row.resolution = None;
        row.pg_bin = args
            .run
            .pg_bin
            .clone()
            .filter(|_| system == SystemName::Postgres);
        match system {
            SystemName::Reference => {
                let strategies = if args.strategies.is_empty() {
                    vec![args.run.strategy]
                } else {
                    args.strategies.clone()
                };
                rows.extend(strategies.into_iter().map(|strategy| RunArgs {
                    strategy,
                    ..row.clone()
                }));
            }
            SystemName::Pglogical => {
                row.strategy = Strategy::Lww;
                let resolutions = if args.resolutions.is_empty() {
                    Resolution::all().to_vec()
                } else {
                    args.resolutions.clone()
                };
                rows.extend(resolutions.into_iter().map(|r| RunArgs {
                    resolution: Some(r),
                    ..row.clone()
                }));
            }
            _ => {
                row.strategy = Strategy::Lww;
                rows.push(row);
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut config = configure(row, seed)?;
            config.test_name = format!("{base}-{}", config.strategy_label());
            Ok(config)
        })
        .collect()
}

/// Each strategy with its text CRDT library: `crdt` once per
/// `--text-crdts` library, every other strategy once with none.
fn with_text_crdts(strategies: &[Strategy], args: &CompareArgs) -> Vec<(Strategy, Option<String>)> {
    strategies
        .iter()
        .flat_map(|&s| {
            let libs: Vec<Option<String>> = if s == Strategy::Crdt && !args.text_crdts.is_empty() {
                args.text_crdts.iter().cloned().map(Some).collect()
            } else {
                vec![None]
            };
            libs.into_iter().map(move |lib| (s, lib))
        })
        .collect()
}

/// The strategies to run: `--strategies`, or every strategy; only the
/// nodes' own when the system under test has no strategy to choose.
fn strategies(args: &CompareArgs) -> Result<Vec<Strategy>> {
    if args.run.db == SystemName::Mariadb {
        if !args.strategies.is_empty() {
            bail!(
                "invalid --strategies: MariaDB has no conflict strategies to compare (it applies \
                 replicated rows as they arrive); compare it over --topologies ring,all-to-all \
                 (the default with --db mariadb)"
            );
        }
        // A placeholder: rows are labelled `mariadb` (`strategy_label`).
        return Ok(vec![Strategy::Lww]);
    }
    let fixed_nodes = args
        .run
        .node_cmd
        .as_deref()
        .is_some_and(|t| !t.contains("{strategy}"));
    if fixed_nodes {
        // The template does not pass the strategy on: every row would run
        // the same nodes, so there is one strategy, the nodes' own.
        if args.strategies.len() > 1 {
            bail!(
                "invalid --strategies: the --node-cmd template has no {{strategy}}, so every \
                 strategy would run the same nodes; give the nodes' own strategy (e.g. \
                 --strategies lww) and compare --topologies, or pass {{strategy}} to the nodes"
            );
        }
        return Ok(vec![
            args.strategies
                .first()
                .copied()
                .unwrap_or(args.run.strategy),
        ]);
    }
    Ok(if args.strategies.is_empty() {
        // `custom` needs handler files; it joins the default set only when
        // they are given.
        let handlers = args.run.on_write.is_some() || args.run.on_read.is_some();
        Strategy::ALL
            .into_iter()
            .filter(|s| *s != Strategy::Custom || handlers)
            .collect()
    } else {
        args.strategies.clone()
    })
}

fn label(config: &TestConfig) -> String {
    format!("{}/{}", config.strategy_label(), config.topology.name())
}

async fn run_all(configs: &[TestConfig], seed: u64) -> Result<Comparison> {
    let first = configs.first().context("nothing to compare")?;
    let mut comparison = Comparison {
        started_at: chrono::Local::now().to_rfc3339(),
        seed,
        workload: first.workload.name().to_string(),
        nemesis: first.nemesis.spelling(),
        replay: first.replay.clone(),
        rows: Vec::new(),
    };
    for (i, config) in configs.iter().enumerate() {
        crate::say!("\n[{}/{}] {}", i + 1, configs.len(), label(config));
        let mut row = Row {
            strategy: config.strategy_label(),
            topology: config.topology.name().to_string(),
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
                        crate::say!(
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

/// Write every format of the comparison into `results/compare/<stamp>/`
/// and point `results/latest-compare` at it.
fn write(comparison: &Comparison, results: &Path) -> Result<PathBuf> {
    let dir = rundir::create_plain(&results.join("compare"))?;
    report::write_all(&report::compare::FORMATS, comparison, &dir)?;
    let stamp = dir
        .file_name()
        .context("comparison directory has no name")?;
    rundir::replace_link(
        &results.join("latest-compare"),
        &Path::new("compare").join(stamp),
    )?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn compare_args(flags: &[&str]) -> CompareArgs {
        let mut argv = vec!["diverge", "compare"];
        argv.extend_from_slice(flags);
        let Command::Compare(args) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        args
    }

    #[test]
    fn systems_give_one_row_each_and_pglogical_one_per_resolution_all_with_one_seed() {
        let args = compare_args(&[
            "--systems",
            "reference,mariadb,pglogical,postgres",
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--resolutions",
            "lww,keep-local",
        ]);
        let configs = plan(&args, 11).unwrap();
        let labels: Vec<String> = configs.iter().map(label).collect();
        assert_eq!(
            labels,
            [
                "lww/all-to-all",
                "mariadb/all-to-all",
                "pglogical-lww/all-to-all",
                "pglogical-keep-local/all-to-all",
                "postgres/all-to-all"
            ]
        );
        assert!(configs.iter().all(|c| c.seed == 11
            && c.nemesis.spelling() == "partition"
            && c.workload.name() == "register"));
        let all = plan(
            &compare_args(&["--systems", "pglogical", "--workload", "set"]),
            1,
        )
        .unwrap();
        assert_eq!(all.len(), 5);
    }
}
