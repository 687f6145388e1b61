//! `diverge check`: run the checkers on a stored run directory or on any
//! history file, print the report, and exit like a run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use diverge_checkers::{CheckOptions, Workload};
use serde_json::Value;

use crate::cli::CheckArgs;
use crate::config::TestConfig;
use crate::report::{self, RunReport};
use crate::results::Results;

/// How many lines of a bare history are read to infer its workload.
const INFER_LINES: usize = 10_000;

pub fn check(args: CheckArgs) -> Result<i32> {
    let (history_path, run_dir) = locate(&args.path)?;
    let test = run_dir
        .as_deref()
        .and_then(stored_test_config)
        .unwrap_or(Value::Null);
    let workload = workload_of(&args, &test, &history_path)?;
    let opts = options_for(&args, workload, &test);
    let (check, torn_tail) = match &args.all_anomalies {
        None => diverge_checkers::check_file(&history_path, &opts)?,
        Some(file) => all_anomalies_to(file, &history_path, &opts)?,
    };
    if torn_tail {
        eprintln!(
            "note: the last line of {} is torn (its writer was killed); it was skipped",
            history_path.display()
        );
    }
    // A stored run keeps its run facts (quiescence, seed) in its results.json.
    let mut results = match run_dir.as_deref().and_then(stored_run_info) {
        Some(run) => Results::from_run(check, run),
        None => Results::bare(check),
    };
    if let Some(dir) = run_dir.as_deref().filter(|d| unfinished(d)) {
        results.doubt(format!(
            "the run did not finish (no results.json in {}): it was killed or interrupted, so \
             its history may end early",
            dir.display()
        ));
    }
    crate::say_raw!("{}", report::text::render(&results, !args.quiet));
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let report = RunReport {
            results: &results,
            history: &history_path,
            test: (!test.is_null()).then_some(test),
        };
        report::write_run(&report, out)?;
    }
    Ok(results.exit_code())
}

/// A stored field of `test.json` that is a string.
fn stored(test: &Value, field: &str) -> Option<String> {
    test.get(field).and_then(Value::as_str).map(str::to_string)
}

/// The workload to judge: `--workload`, else the run's, else inferred from
/// the ops.
fn workload_of(args: &CheckArgs, test: &Value, history_path: &Path) -> Result<Workload> {
    if let Some(w) = args.workload {
        return Ok(w);
    }
    if let Some(w) = stored(test, "workload").and_then(|w| w.parse().ok()) {
        return Ok(w);
    }
    infer_workload(history_path)?.with_context(|| {
        let names: Vec<&str> = Workload::all().iter().map(|w| w.name()).collect();
        format!(
            "cannot tell the workload of {}: pass --workload {}",
            history_path.display(),
            names.join("|")
        )
    })
}

/// How to judge: as the run did, with the flags given here on top.
fn options_for(args: &CheckArgs, workload: Workload, test: &Value) -> CheckOptions {
    match serde_json::from_value::<TestConfig>(test.clone()) {
        // A run directory: judge as the run did (its strategy, MariaDB's
        // own resolution, topology, causal delivery, id offsets, routing).
        Ok(config) => {
            let run = super::check_options(&config);
            CheckOptions {
                workload,
                strategy: args.strategy.clone().or(run.strategy),
                topology: args.topology.clone().or(run.topology),
                ..run
            }
        }
        // A bare history, or a test.json this build cannot read in full.
        Err(_) => CheckOptions {
            workload,
            strategy: args.strategy.clone().or_else(|| stored(test, "strategy")),
            topology: args.topology.clone().or_else(|| stored(test, "topology")),
            causal_delivery: test
                .pointer("/options/causal_delivery")
                .and_then(Value::as_bool),
            // Runs store `id_offset` as "per-node" or {"all": n}.
            id_offsets: test.get("id_offset").map(|o| o == "per-node"),
            routing: stored(test, "routing"),
        },
    }
}

/// Check `history`, writing every anomaly to `file` as JSON lines.
fn all_anomalies_to(
    file: &Path,
    history: &Path,
    opts: &CheckOptions,
) -> Result<(diverge_checkers::CheckResult, bool)> {
    let out = std::fs::File::create(file)
        .with_context(|| format!("--all-anomalies: creating {}", file.display()))?;
    let mut out = std::io::BufWriter::new(out);
    let mut failed: Option<std::io::Error> = None;
    let checked = diverge_checkers::check_file_all(history, opts, &mut |anomaly| {
        if failed.is_none() {
            let written = serde_json::to_writer(&mut out, anomaly)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            failed = written.err();
        }
    })?;
    match failed.map_or_else(|| out.flush(), Err) {
        Ok(()) => Ok(checked),
        Err(e) => Err(e).with_context(|| format!("--all-anomalies: writing {}", file.display())),
    }
}

/// The history file and, for a run directory, the directory.
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    if path.is_dir() {
        let history = path.join("history.jsonl");
        if !history.is_file() {
            bail!("{} is a directory without history.jsonl", path.display());
        }
        Ok((history, Some(path.to_path_buf())))
    } else if path.is_file() {
        Ok((path.to_path_buf(), None))
    } else {
        bail!("{}: no such file or directory", path.display())
    }
}

/// A run directory whose run never wrote its results: the controller was
/// killed or interrupted (`results.json` is written once the run ended).
fn unfinished(dir: &Path) -> bool {
    dir.join("test.json").is_file() && !dir.join("results.json").exists()
}

fn stored_test_config(dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).ok()?).ok()
}

fn stored_run_info(dir: &Path) -> Option<crate::results::RunInfo> {
    let text = std::fs::read_to_string(dir.join("results.json")).ok()?;
    let stored: Results = serde_json::from_str(&text).ok()?;
    stored.run
}

/// Infer a bare history's workload from its first lines: the op names
/// (`append`, `generate`, `txn`, `claim`, `write`, `add`) and, for `add`, whether
/// reads return numbers (a counter) or arrays (a set).
fn infer_workload(path: &Path) -> Result<Option<Workload>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut adds = false;
    for line in BufReader::new(file).lines().take(INFER_LINES) {
        let Ok(op) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let f = op.get("f").and_then(Value::as_str).unwrap_or("");
        let numeric_read =
            matches!(f, "read" | "final-read") && op.get("value").is_some_and(Value::is_number);
        match f {
            "append" => return Ok(Some(Workload::ListAppend)),
            "generate" => return Ok(Some(Workload::UniqueIds)),
            "txn" => return Ok(Some(Workload::TxnListAppend)),
            "claim" => return Ok(Some(Workload::Constraint)),
            "write" => return Ok(Some(Workload::Register)),
            "add" => adds = true,
            _ if numeric_read => return Ok(Some(Workload::Counter)),
            _ => {}
        }
    }
    Ok(adds.then_some(Workload::Set))
}
