//! The figures that sum a run up in one row: what `diverge compare` tabulates
//! and what `diverge suite` scenarios set expectations on. Most come from the
//! results; the rest from one streaming pass over the history.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use diverge_checkers::{OpType, Validity};
use serde::{Deserialize, Serialize};

use super::Results;

/// One run, summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// `valid`, `invalid` or `unknown`.
    pub verdict: String,
    /// Client ops completed (final reads excluded).
    pub ops: u64,
    /// Writes and adds acknowledged `ok`.
    pub acknowledged_writes: u64,
    pub lost_updates: u64,
    pub divergent_keys: u64,
    /// Causal anomalies (every kind whose name mentions "causal"); `None`
    /// when no such checker ran.
    pub causal_violations: Option<u64>,
    /// The most values one `ok` read returned (siblings kept side by side);
    /// `None` unless the workload writes registers (a set read returns the
    /// whole set, which is not siblings).
    pub siblings_max: Option<u64>,
    /// Share of client ops that completed `ok`, 0..=1.
    pub availability: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    /// Seconds until replication quiesced after the workload; `None` for a
    /// bare history.
    pub convergence_s: Option<f64>,
    pub quiesced: bool,
    /// Problems the database reported about itself (stopped appliers);
    /// `None` for the reference nodes, which report none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_findings: Option<u64>,
    /// Updates the nodes skipped because their insert had not arrived;
    /// `None` when the nodes do not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_updates: Option<u64>,
    /// Sibling sets resolved by the `--on-read` script; `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<u64>,
    /// Interleavings in the final texts (`text` workload; `None` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleavings: Option<u64>,
    /// Every anomaly kind's count, by name.
    pub anomaly_counts: std::collections::BTreeMap<String, usize>,
    /// Acknowledged writes that some live node's final read holds and another
    /// lacks (set and list-append workloads; `None` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_replicated: Option<u64>,
    /// The same as a percentage of the acknowledged writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_replicated_pct: Option<f64>,
}

#[derive(Deserialize)]
struct Line<'a> {
    time: u64,
    process: serde_json::Value,
    #[serde(rename = "type")]
    kind: OpType,
    #[serde(borrow)]
    f: std::borrow::Cow<'a, str>,
    #[serde(default)]
    value: serde_json::Value,
}

impl Figures {
    /// Sum up `results` and the history at `history`.
    pub fn of(results: &Results, history: &Path) -> Result<Figures> {
        let file = File::open(history).with_context(|| format!("opening {}", history.display()))?;
        let reader = BufReader::with_capacity(1 << 16, file);
        let mut open: HashMap<u64, u64> = HashMap::new();
        let mut latencies_us: Vec<u32> = Vec::new();
        let (mut acknowledged, mut siblings, mut registers) = (0u64, 0u64, false);
        // A text workload's run: its table shows interleavings.
        let mut texts = false;
        for line in reader.lines() {
            let line = line.with_context(|| format!("reading {}", history.display()))?;
            let Ok(op) = serde_json::from_str::<Line>(&line) else {
                continue;
            };
            let Some(process) = op.process.as_u64() else {
                continue;
            };
            if op.f == "final-read" {
                continue;
            }
            if op.kind == OpType::Invoke {
                open.insert(process, op.time);
                continue;
            }
            if let Some(start) = open.remove(&process) {
                latencies_us
                    .push((op.time.saturating_sub(start) / 1000).min(u32::MAX as u64) as u32);
            }
            if op.kind == OpType::Ok {
                match op.f.as_ref() {
                    "add" => acknowledged += 1,
                    "insert" | "delete" => {
                        acknowledged += 1;
                        texts = true;
                    }
                    "write" => {
                        acknowledged += 1;
                        registers = true;
                    }
                    "read" => {
                        let n = op.value.as_array().map_or(0, Vec::len) as u64;
                        siblings = siblings.max(n);
                    }
                    _ => {}
                }
            }
        }
        latencies_us.sort_unstable();
        let quantile = |q: f64| {
            if latencies_us.is_empty() {
                return 0.0;
            }
            let i = ((latencies_us.len() - 1) as f64 * q).round() as usize;
            latencies_us[i] as f64 / 1000.0
        };
        let check = &results.check;
        let count = |kind: &str| check.anomaly_counts.get(kind).copied().unwrap_or(0) as u64;
        let causal: Vec<u64> = check
            .anomaly_counts
            .iter()
            .filter(|(k, _)| k.contains("causal"))
            .map(|(_, &n)| n as u64)
            .collect();
        let stats = &check.stats;
        Ok(Figures {
            verdict: verdict_name(check.valid).to_string(),
            ops: stats.ops,
            acknowledged_writes: acknowledged,
            lost_updates: count("lost-update"),
            divergent_keys: count("divergence"),
            causal_violations: (!causal.is_empty()).then(|| causal.iter().sum()),
            siblings_max: registers.then_some(siblings),
            availability: if stats.ops == 0 {
                0.0
            } else {
                stats.ok as f64 / stats.ops as f64
            },
            latency_ms_p50: quantile(0.5),
            latency_ms_p99: quantile(0.99),
            convergence_s: results.run.as_ref().map(|r| r.quiesce_s),
            quiesced: results.run.as_ref().is_some_and(|r| r.quiesced),
            db_findings: results
                .run
                .as_ref()
                // A database's run (labelled by the system, not by one
                // of the reference nodes' strategies) reports findings.
                .filter(|r| {
                    let name = r.strategy.split(':').next().unwrap_or_default();
                    <crate::domain::Strategy as crate::domain::Named>::from_name(name).is_none()
                })
                .map(|r| r.db_findings.len() as u64),
            skipped_updates: results.run.as_ref().and_then(|r| r.skipped_updates),
            resolutions: results.run.as_ref().and_then(|r| r.resolutions),
            interleavings: texts.then(|| count("interleaving")),
            anomaly_counts: check.anomaly_counts.clone(),
            never_replicated: check.never_replicated.map(|n| n.count),
            never_replicated_pct: check
                .never_replicated
                .map(|n| 100.0 * n.count as f64 / n.acknowledged.max(1) as f64),
        })
    }
}

pub fn verdict_name(valid: Validity) -> &'static str {
    match valid {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}
