//! `diverge compare`: one test (workload, nemesis, rate, seed) run once per
//! system (`--db a,b,...`), strategy and topology, summed up side by side. It shows; it does not
//! judge: the exit code is 0 when every run completed, whatever it found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::interrupt::Interrupt;
use super::{EXIT_HARNESS_ERROR, configure, execute, rundir};
use crate::cli::{CompareArgs, RunArgs};
use crate::config::TestConfig;
use crate::domain::{Named, Resolution, Strategy, StrategyChoice, SystemName, Topology};
use crate::report;
use crate::results::{Comparison, Figures, Row};

/// `diverge compare`; returns the exit code.
pub async fn compare(args: CompareArgs) -> Result<i32> {
    let mut interrupt = Interrupt::install()?;
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
        code = interrupt.recv() => {
            eprintln!("diverge: interrupted; nodes stopped; finished runs stay in {}", results_dir.display());
            return Ok(code);
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

/// One validated config per topology, system and strategy, all with
/// `seed`, so every row sees the same workload and fault schedule.
pub fn plan(args: &CompareArgs, seed: u64) -> Result<Vec<TestConfig>> {
    let systems = &args.run.db;
    let rows = systems
        .iter()
        .map(|&system| Ok((system, strategies(args, system)?)))
        .collect::<Result<Vec<_>>>()?;
    for choice in &args.strategies {
        if !systems.iter().any(|&system| takes(system, *choice)) {
            bail!(
                "invalid --strategies: {} is a strategy of no system of --db {}",
                choice.name(),
                systems
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
    }
    let topologies = topologies(args);
    let base = args
        .run
        .test_name
        .clone()
        .unwrap_or_else(|| format!("compare-{}", args.run.workload.name()));
    let mut configs = Vec::new();
    for &topology in &topologies {
        for (system, strategies) in &rows {
            let system = *system;
            for (strategy, text_crdt) in with_text_crdts(strategies, args) {
                let row = RunArgs {
                    seed: Some(seed),
                    db: vec![system],
                    strategy,
                    text_crdt,
                    topology,
                    pg_bin: args
                        .run
                        .pg_bin
                        .clone()
                        .filter(|_| system == SystemName::Postgres),
                    wsrep_sync_wait: args
                        .run
                        .wsrep_sync_wait
                        .filter(|_| system == SystemName::Galera),
                    ..args.run.clone()
                };
                let mut config = configure(&row, seed)?;
                let label = config.strategy_label();
                config.test_name = if topologies.len() > 1 {
                    format!("{base}-{label}-{}", topology.name())
                } else {
                    format!("{base}-{label}")
                };
                configs.push(config);
            }
        }
    }
    Ok(configs)
}

/// Each row's strategy with its text CRDT library: the nodes' `crdt` once
/// per `--text-crdts` library (else with the run's `--text-crdt`), every
/// other strategy once with none.
fn with_text_crdts(
    strategies: &[Option<StrategyChoice>],
    args: &CompareArgs,
) -> Vec<(Option<StrategyChoice>, Option<String>)> {
    let crdt = Some(StrategyChoice::Nodes(Strategy::Crdt));
    strategies
        .iter()
        .flat_map(|&s| {
            let libs: Vec<Option<String>> = match s {
                s if s != crdt => vec![None],
                _ if args.text_crdts.is_empty() => vec![args.run.text_crdt.clone()],
                _ => args.text_crdts.iter().cloned().map(Some).collect(),
            };
            libs.into_iter().map(move |lib| (s, lib))
        })
        .collect()
}

/// Whether `system` has `choice` to run: the reference nodes their
/// strategies, pglogical its resolutions.
fn takes(system: SystemName, choice: StrategyChoice) -> bool {
    match system {
        SystemName::Reference => choice.for_nodes().is_some(),
        SystemName::Pglogical => choice.for_pglogical().is_some(),
        _ => false,
    }
}

/// `--topologies`, or the run's topology; MariaDB alone compares the two
/// its replication offers.
fn topologies(args: &CompareArgs) -> Vec<Topology> {
    if !args.topologies.is_empty() {
        args.topologies.clone()
    } else if args.run.db == [SystemName::Mariadb] {
        vec![Topology::Ring, Topology::AllToAll]
    } else {
        vec![args.run.topology]
    }
}

/// The `--strategy` of each of `system`'s rows: those of `--strategies` it
/// takes, else its defaults (`None`: the system's own resolution).
fn strategies(args: &CompareArgs, system: SystemName) -> Result<Vec<Option<StrategyChoice>>> {
    let listed: Vec<StrategyChoice> = args
        .strategies
        .iter()
        .copied()
        .filter(|&c| takes(system, c))
        .collect();
    match system {
        SystemName::Reference => node_strategies(args, listed),
        SystemName::Pglogical if listed.is_empty() => Ok(Resolution::all()
            .iter()
            .map(|&r| Some(StrategyChoice::from(r)))
            .collect()),
        SystemName::Pglogical => Ok(listed.into_iter().map(Some).collect()),
        SystemName::Mariadb if args.run.db.len() == 1 && !args.strategies.is_empty() => bail!(
            "invalid --strategies: MariaDB has no conflict strategies to compare (it applies \
             replicated rows as they arrive); compare it over --topologies ring,all-to-all \
             (the default with --db mariadb)"
        ),
        _ => Ok(vec![None]),
    }
}

/// The reference nodes' rows: `listed`, else every strategy when they are
/// compared alone and the run's `--strategy` beside other systems; only
/// the nodes' own when a `--node-cmd` template cannot pass one on.
fn node_strategies(
    args: &CompareArgs,
    listed: Vec<StrategyChoice>,
) -> Result<Vec<Option<StrategyChoice>>> {
    let fixed_nodes = args
        .run
        .node_cmd
        .as_deref()
        .is_some_and(|t| !t.contains("{strategy}"));
    if fixed_nodes {
        // The template does not pass the strategy on: every row would run
        // the same nodes, so there is one strategy, the nodes' own.
        if listed.len() > 1 {
            bail!(
                "invalid --strategies: the --node-cmd template has no {{strategy}}, so every \
                 strategy would run the same nodes; give the nodes' own strategy (e.g. \
                 --strategies lww) and compare --topologies, or pass {{strategy}} to the nodes"
            );
        }
        return Ok(vec![listed.first().copied().or(args.run.strategy)]);
    }
    if !listed.is_empty() {
        return Ok(listed.into_iter().map(Some).collect());
    }
    if args.run.db.len() > 1 {
        return Ok(vec![args.run.strategy]);
    }
    // `custom` needs handler files; it joins the default set only when
    // they are given.
    let handlers = args.run.on_write.is_some() || args.run.on_read.is_some();
    Ok(Strategy::ALL
        .into_iter()
        .filter(|s| *s != Strategy::Custom || handlers)
        .map(|s| Some(StrategyChoice::Nodes(s)))
        .collect())
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
            "--db",
            "reference,mariadb,pglogical,postgres",
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--strategies",
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
            &compare_args(&["--db", "pglogical", "--workload", "set"]),
            1,
        )
        .unwrap();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn strategies_go_to_the_systems_that_take_them_and_one_no_system_takes_is_refused() {
        let args = compare_args(&[
            "--db",
            "reference,pglogical",
            "--strategies",
            "merge,first-wins",
        ]);
        let labels: Vec<String> = plan(&args, 3).unwrap().iter().map(label).collect();
        assert_eq!(
            labels,
            ["merge/all-to-all", "pglogical-first-wins/all-to-all"]
        );

        let err = plan(
            &compare_args(&["--db", "mariadb,postgres", "--strategies", "merge"]),
            3,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("merge is a strategy of no system"),
            "{err}"
        );
        let err = plan(
            &compare_args(&["--db", "reference", "--strategies", "keep-local"]),
            3,
        )
        .unwrap_err();
        assert!(err.to_string().contains("keep-local"), "{err}");
    }

    #[test]
    fn the_reference_nodes_alone_compare_every_strategy_but_custom() {
        let configs = plan(&compare_args(&[]), 5).unwrap();
        assert_eq!(configs.len(), Strategy::ALL.len() - 1);
        assert!(configs.iter().all(|c| c.strategy != Strategy::Custom));
    }
}
