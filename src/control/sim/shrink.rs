//! Shrinking: `diverge sim --seed N --shrink` reduces a failing simulated
//! test while the same kind of anomaly remains: a shorter run, a lower
//! rate (fewer ops), fewer clients, keys and nodes, fewer kinds of faults,
//! fewer and shorter fault windows. Every candidate is a whole test (its
//! flags and a seed), so the smallest one found replays with an ordinary
//! `diverge sim` command.
//!
//! The search is greedy: candidates are tried in order, each under the
//! current seed and a few next ones (a smaller test draws a different
//! schedule, and one of a few seeds usually still hits the anomaly); the
//! first that still fails is taken and the search starts over from it,
//! until no candidate fails or the trial budget is spent.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::RunArgs;
use crate::domain::NemesisSet;
use crate::results::Results;

/// Seeds tried per candidate: the current one and the next ones.
const SEEDS_PER_CANDIDATE: u64 = 6;
/// Most candidate runs in one shrink.
const TRIAL_BUDGET: usize = 600;

/// What shrinking found.
pub struct Shrunk {
    pub args: RunArgs,
    pub kind: String,
    pub trials: usize,
}

/// The anomaly kind a run's shrink keeps: the first anomaly the checkers
/// list (unexpected ones come first).
pub fn target_kind(results: &Results) -> Option<String> {
    let first = results.check.anomalies.first()?;
    Some(first.kind.name().to_string())
}

fn fails_with(results: &Results, kind: &str) -> bool {
    results
        .check
        .anomaly_counts
        .get(kind)
        .is_some_and(|n| *n > 0)
}

/// Shrink the test `args` (with its seed) while `kind` remains, running
/// candidates in `scratch`.
pub fn shrink(args: &RunArgs, kind: &str, scratch: &Path) -> Result<Shrunk> {
    std::fs::create_dir_all(scratch)?;
    let trials = std::cell::Cell::new(0);
    let trial = |candidate: &RunArgs| -> Result<bool> {
        trials.set(trials.get() + 1);
        let config = super::configure(candidate, 0)?;
        Ok(fails_with(&super::judge_in(&config, scratch)?, kind))
    };
    if !trial(args)? {
        bail!("the run does not show {kind}: nothing to shrink");
    }
    let mut current = args.clone();
    'search: loop {
        for candidate in candidates(&current) {
            let seed = candidate.seed.unwrap_or(0);
            for s in seed..seed + SEEDS_PER_CANDIDATE {
                if trials.get() >= TRIAL_BUDGET {
                    break 'search;
                }
                let seeded = RunArgs {
                    seed: Some(s),
                    ..candidate.clone()
                };
                // A candidate the config refuses is no smaller test.
                if trial(&seeded).unwrap_or(false) {
                    current = seeded;
                    continue 'search;
                }
            }
        }
        break;
    }
    Ok(Shrunk {
        args: current,
        kind: kind.to_string(),
        trials: trials.get(),
    })
}

/// Smaller tests than `a`, the biggest cuts first.
fn candidates(a: &RunArgs) -> Vec<RunArgs> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut RunArgs)| {
        let mut c = a.clone();
        f(&mut c);
        out.push(c);
    };
    let interval = a.nemesis_interval;
    if !a.nemesis.is_empty() && a.time_limit > 3.0 * interval {
        // Room for one fault window only: it starts at one interval and
        // ends at two (nemesis::plan).
        push(&|c| c.time_limit = 3.0 * interval);
    }
    if a.time_limit > 0.2 {
        push(&|c| c.time_limit = (c.time_limit / 2.0).max(0.2));
    }
    if a.rate == 0.0 {
        push(&|c| c.rate = 200.0);
    } else if a.rate > 2.0 {
        push(&|c| c.rate = (c.rate / 2.0).max(2.0).floor());
    }
    if a.nemesis_interval > 0.1 {
        push(&|c| c.nemesis_interval = (c.nemesis_interval / 2.0).max(0.1));
    }
    for kind in a.nemesis.kinds() {
        if a.nemesis.kinds().len() > 1 {
            let fewer: Vec<_> = a
                .nemesis
                .kinds()
                .iter()
                .copied()
                .filter(|k| k != kind)
                .collect();
            push(&|c| c.nemesis = NemesisSet::of(&fewer));
        }
    }
    if a.concurrency > 1 {
        push(&|c| c.concurrency = (c.concurrency / 2).max(1));
        push(&|c| c.concurrency -= 1);
    }
    if a.keys > 1 {
        push(&|c| c.keys = (c.keys / 2).max(1));
    }
    if a.nodes > 2 {
        push(&|c| c.nodes -= 1);
    }
    if a.time_limit > 0.2 {
        push(&|c| c.time_limit = (c.time_limit * 0.75).max(0.2));
    }
    out
}
