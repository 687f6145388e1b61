//! Swarm search: `diverge sim --seeds 1..1000` simulates one test per seed
//! on every core, each seed with its own draw of fault kinds and nemesis
//! interval (swarm testing: a run with fewer kinds of faults reaches states
//! that a run with all of them crowds out), and tabulates the seeds that
//! failed by anomaly kind, each with the command that replays it.
//!
//! A seed's draw is made on its flags, so its replay command is an
//! ordinary `diverge sim` command naming the drawn faults. Seeds run
//! without report files, each worker reusing one scratch directory; the
//! replay command writes a seed's full run directory. The swarm's own
//! directory holds `swarm.txt` (the table) and `seeds.jsonl` (every seed's
//! outcome and replay command, one JSON object a line).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cli::RunArgs;
use crate::domain::{FaultKind, NemesisSet};
pub use crate::seeds::SeedRange;
use crate::seeds::sub_seed;

/// Nemesis intervals a seed draws from (seconds).
const INTERVALS: [f64; 4] = [0.25, 0.5, 1.0, 2.0];

/// The flags of `seed`'s run: `args` with the seed, a drawn non-empty
/// subset of the fault kinds (`--nemesis`, or every kind when it names
/// none) and a drawn nemesis interval that fits the time limit.
pub fn draw(args: &RunArgs, seed: u64) -> RunArgs {
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, "swarm", 0));
    let pool = if args.nemesis.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        args.nemesis.kinds().to_vec()
    };
    let mut kinds: Vec<FaultKind> = pool
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    if kinds.is_empty() {
        kinds.push(*pool.choose(&mut rng).expect("a fault kind"));
    }
    let fitting: Vec<f64> = INTERVALS
        .into_iter()
        .filter(|i| *i * 2.0 <= args.time_limit)
        .collect();
    let mut drawn = args.clone();
    drawn.seed = Some(seed);
    drawn.nemesis = NemesisSet::of(&kinds);
    if let Some(interval) = fitting.choose(&mut rng) {
        drawn.nemesis_interval = *interval;
    }
    drawn
}

/// What one seed's run found (one line of the swarm's `seeds.jsonl`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub seed: u64,
    /// 0 valid, 1 anomalies, 2 unknown, 3 the run failed.
    pub code: i32,
    /// Anomaly kind -> (count, of which unexpected).
    pub kinds: BTreeMap<String, (usize, usize)>,
    pub replay: String,
    /// Why the run failed (code 3), or why its verdict is unknown.
    pub error: Option<String>,
    /// Client ops.
    pub ops: u64,
}

/// Run every seed of `seeds` on `threads` workers, scratch directories
/// under `scratch`; outcomes in seed order.
pub fn search(
    args: &RunArgs,
    seeds: &[u64],
    threads: usize,
    scratch: &Path,
) -> Result<Vec<Outcome>> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(seeds.len()));
    let bar = indicatif::ProgressBar::new(seeds.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed:>4} [{bar:30}] {pos}/{len} seeds, {per_sec} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let failed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..threads.max(1) {
            let (next, outcomes, bar, failed) = (&next, &outcomes, &bar, &failed);
            let dir = scratch.join(format!("worker-{worker}"));
            scope.spawn(move || {
                crate::stdout::silence_this_thread(true);
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = run_seed(args, seed, &dir);
                    if outcome.code != 0 {
                        let n = failed.fetch_add(1, Ordering::Relaxed) + 1;
                        bar.set_message(format!("{n} not valid"));
                    }
                    outcomes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(outcome);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|o| o.seed);
    Ok(outcomes)
}

/// One seed, judged without report files in `dir`.
pub fn run_seed(args: &RunArgs, seed: u64, dir: &Path) -> Outcome {
    let drawn = draw(args, seed);
    let failed = |replay: String, error: String| Outcome {
        seed,
        code: 3,
        kinds: BTreeMap::new(),
        replay,
        error: Some(error),
        ops: 0,
    };
    let config = match super::configure(&drawn, seed) {
        Ok(config) => config,
        Err(e) => return failed(String::new(), e.to_string()),
    };
    let judged = std::fs::create_dir_all(dir)
        .context("creating the scratch directory")
        .and_then(|()| super::judge_in(&config, dir));
    let results = match judged {
        Ok(results) => results,
        Err(e) => return failed(config.replay, format!("{e:#}")),
    };
    let check = &results.check;
    let kinds = check
        .anomaly_counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| {
            let unexpected = check.unexpected_counts.get(kind).copied().unwrap_or(0);
            (kind.clone(), (*n, unexpected))
        })
        .collect();
    Outcome {
        seed,
        code: results.exit_code(),
        kinds,
        replay: config.replay,
        error: check.inconclusive.first().cloned(),
        ops: check.stats.ops,
    }
}

/// One row of the failures table.
#[derive(tabled::Tabled)]
struct Row {
    kind: String,
    seeds: usize,
    #[tabled(rename = "with unexpected")]
    unexpected: usize,
    #[tabled(rename = "first seeds")]
    first: String,
    #[tabled(rename = "replay the first")]
    replay: String,
}

/// The failing seeds grouped by anomaly kind (unknown verdicts and failed
/// runs as their own rows).
pub fn table(outcomes: &[Outcome]) -> String {
    let mut groups: BTreeMap<String, Vec<(&Outcome, bool)>> = BTreeMap::new();
    for o in outcomes {
        for (kind, (_, unexpected)) in &o.kinds {
            groups
                .entry(kind.clone())
                .or_default()
                .push((o, *unexpected > 0));
        }
        match o.code {
            2 => groups
                .entry("(unknown verdict)".into())
                .or_default()
                .push((o, true)),
            3 => groups
                .entry("(run failed)".into())
                .or_default()
                .push((o, true)),
            _ => {}
        }
    }
    if groups.is_empty() {
        return "no seed failed".into();
    }
    let rows = groups.into_iter().map(|(kind, seeds)| {
        let first: Vec<String> = seeds
            .iter()
            .take(5)
            .map(|(o, _)| o.seed.to_string())
            .collect();
        Row {
            unexpected: seeds.iter().filter(|(_, u)| *u).count(),
            seeds: seeds.len(),
            first: first.join(" "),
            replay: seeds[0].0.replay.clone(),
            kind,
        }
    });
    tabled::Table::new(rows)
        .with(tabled::settings::Style::rounded())
        .to_string()
}
