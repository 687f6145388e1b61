//! `diverge check`: run the checkers on a stored run directory or on any
//! history file, print the report, and exit like a run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use diverge_checkers::Op;

use super::run::checker_workload;
use crate::cli::{CheckArgs, WorkloadName};
use crate::report;
use crate::results::Results;

pub fn check(args: CheckArgs) -> Result<i32> {
    let (history_path, run_dir) = locate(&args.path)?;
    let history = diverge_checkers::read_history(&history_path)?;
    let workload = match args.workload {
        Some(w) => w,
        None => match run_dir.as_deref().and_then(workload_from_test_json) {
            Some(w) => w,
            None => infer_workload(&history).with_context(|| {
                format!(
                    "cannot tell the workload of {}: pass --workload set|register",
                    history_path.display()
                )
            })?,
        },
    };
    let check = diverge_checkers::check(&history, checker_workload(workload));
    // A stored run keeps its run facts (quiescence, seed) in its results.json.
    let results = match run_dir.as_deref().and_then(stored_run_info) {
        Some(run) => Results::from_run(check, run),
        None => Results::bare(check),
    };
    print!("{}", report::text::render(&results, !args.quiet));
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        report::json::write(&results, &out.join("results.json"))?;
        std::fs::write(out.join("report.txt"), report::text::render(&results, true))?;
        let test = run_dir
            .as_deref()
            .and_then(|d| std::fs::read_to_string(d.join("test.json")).ok())
            .and_then(|t| serde_json::from_str(&t).ok());
        let html = report::html::render(&results, &history_path, test)?;
        std::fs::write(out.join(report::html::FILE), html)?;
    }
    Ok(results.exit_code())
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

fn workload_from_test_json(dir: &Path) -> Option<WorkloadName> {
    let text = std::fs::read_to_string(dir.join("test.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(value.get("workload")?.clone()).ok()
}

fn stored_run_info(dir: &Path) -> Option<crate::results::RunInfo> {
    let text = std::fs::read_to_string(dir.join("results.json")).ok()?;
    let stored: Results = serde_json::from_str(&text).ok()?;
    stored.run
}

/// `add` ops mean a set history, `write` ops a register history.
fn infer_workload(history: &[Op]) -> Option<WorkloadName> {
    history.iter().find_map(|op| match op.f.as_str() {
        "add" => Some(WorkloadName::Set),
        "write" => Some(WorkloadName::Register),
        _ => None,
    })
}
