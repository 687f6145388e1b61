//! `diverge suite [DIR]`: run every scenario file (`*.toml`) of a directory
//! and check each run against the scenario's expected outcome; print a
//! pass/fail table, optionally write JUnit XML, and exit 1 on any mismatch.
//!
//! - [`scenario`]: reading and validating a scenario file.
//! - [`expect`]: figures, rules, and checking a run against them.
//! - [`junit`]: the JUnit XML file.
//!
//! Every scenario is read and validated before the first one runs, so a
//! typo fails the suite at once (exit 3) instead of after minutes of runs.

pub mod expect;
mod junit;
pub mod scenario;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::interrupt::Interrupt;
use super::{EXIT_HARNESS_ERROR, execute};
use crate::cli::SuiteArgs;
use crate::results::Figures;
use scenario::Scenario;

/// What one scenario did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub file: String,
    /// One sentence per unmet expectation (figure, actual, expected).
    pub failures: Vec<String>,
    /// The met expectations, as `figure = actual`.
    pub passed: Vec<String>,
    /// The run could not complete.
    pub error: Option<String>,
    pub elapsed_s: f64,
    pub run_dir: Option<String>,
    pub replay: String,
}

/// `diverge suite`; returns the exit code.
pub async fn suite(args: SuiteArgs) -> Result<i32> {
    let mut interrupt = Interrupt::install()?;
    let scenarios = load_all(&args.dir, &args.results, args.only.as_deref())?;
    crate::say!(
        "suite {}: {} scenarios",
        args.dir.display(),
        scenarios.len()
    );
    let started = Instant::now();
    let outcomes = tokio::select! {
        outcomes = run_all(&scenarios, args.sim) => outcomes,
        code = interrupt.recv() => {
            eprintln!("diverge: interrupted; nodes stopped");
            return Ok(code);
        }
    };
    crate::say!("\n{}", table(&outcomes));
    if let Some(path) = &args.junit {
        std::fs::write(
            path,
            junit::render(&outcomes, started.elapsed().as_secs_f64()),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        crate::say!("JUnit XML: {}", path.display());
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.failures.is_empty()).collect();
    for o in &failed {
        crate::say!("FAILED {}: {}", o.name, o.failures.join("; "));
        crate::say!("  replay: {}", o.replay);
    }
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    crate::say!(
        "suite: {} passed, {} failed, {} errors",
        outcomes.len() - failed.len() - errors,
        failed.len(),
        errors
    );
    Ok(if errors > 0 {
        EXIT_HARNESS_ERROR
    } else if !failed.is_empty() {
        1
    } else {
        0
    })
}

/// Every `*.toml` in `dir`, sorted by name, each validated; `dir` may also
/// name one scenario file, which is then the only one.
pub fn load_all(dir: &Path, results: &Path, only: Option<&str>) -> Result<Vec<Scenario>> {
    if dir.is_file() {
        return Ok(vec![scenario::load(dir, results)?]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading scenario directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| {
            only.is_none_or(|o| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(o))
            })
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        anyhow::bail!("no scenario files (*.toml) in {}", dir.display());
    }
    let mut scenarios = Vec::new();
    for path in paths {
        scenarios.push(scenario::load(&path, results)?);
    }
    Ok(scenarios)
}

async fn run_all(scenarios: &[Scenario], sim: bool) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        crate::say!(
            "\n[{}/{}] {}{}",
            i + 1,
            scenarios.len(),
            s.name,
            s.description
                .as_deref()
                .map_or(String::new(), |d| format!(": {d}"))
        );
        let outcome = run_one(s, sim).await;
        match (&outcome.error, outcome.failures.is_empty()) {
            (Some(e), _) => crate::say!("{}: ERROR {e}", s.name),
            (None, true) => crate::say!("{}: pass ({})", s.name, outcome.passed.join(", ")),
            (None, false) => crate::say!("{}: FAIL ({})", s.name, outcome.failures.join("; ")),
        }
        outcomes.push(outcome);
    }
    outcomes
}

/// Run scenario `s`, with real nodes or (`sim`) simulated (`diverge sim`).
async fn run_one(s: &Scenario, sim: bool) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        name: s.name.clone(),
        file: s.path.display().to_string(),
        failures: Vec::new(),
        passed: Vec::new(),
        error: None,
        elapsed_s: 0.0,
        run_dir: None,
        replay: String::new(),
    };
    let figures = async {
        let executed = if sim {
            let config = super::sim::configure(&s.args, rand::random())?;
            outcome.replay = config.replay.clone();
            // The simulation has its own runtime and thread (it must not
            // share this one's clock), and holds this task until it ends.
            std::thread::scope(|scope| scope.spawn(|| super::sim::simulate(&config)).join())
                .map_err(|_| anyhow::anyhow!("the simulation panicked"))??
        } else {
            let config = super::configure(&s.args, rand::random())?;
            outcome.replay = config.replay.clone();
            execute(&config).await?
        };
        outcome.run_dir = Some(executed.run_dir.display().to_string());
        Figures::of(&executed.results, &executed.run_dir.join("history.jsonl"))
    }
    .await;
    match figures {
        Ok(figures) => {
            for e in &s.expect {
                match e.check(&figures) {
                    Ok(shown) => outcome.passed.push(shown),
                    Err(why) => outcome.failures.push(why),
                }
            }
        }
        Err(e) => outcome.error = Some(format!("{e:#}")),
    }
    outcome.elapsed_s = started.elapsed().as_secs_f64();
    outcome
}

#[derive(Tabled)]
struct Row {
    scenario: String,
    result: String,
    figures: String,
    #[tabled(rename = "time s")]
    time: String,
}

fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<Row> = outcomes
        .iter()
        .map(|o| Row {
            scenario: o.name.clone(),
            result: if o.error.is_some() {
                "ERROR".into()
            } else if o.failures.is_empty() {
                "pass".into()
            } else {
                "FAIL".into()
            },
            figures: match &o.error {
                Some(e) => e.clone(),
                None => o
                    .failures
                    .iter()
                    .chain(&o.passed)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
            },
            time: format!("{:.1}", o.elapsed_s),
        })
        .collect();
    Table::new(rows).with(Style::rounded()).to_string()
}
