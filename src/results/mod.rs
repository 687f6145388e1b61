//! The results model written to `results.json`: the checkers' result plus
//! what the run itself observed (seed, quiescence, timings). Every report
//! format renders from this one value.

mod faults;
mod figures;

use diverge_checkers::{AnomalyKind, CheckResult, Validity};
use serde::{Deserialize, Serialize};

pub use faults::{FaultWindow, fault_windows, fault_windows_in};
pub use figures::{Figures, verdict_name};

use crate::net::LinkCounters;

/// What `results.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    #[serde(flatten)]
    pub check: CheckResult,
    /// Absent when a bare history was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
}

/// Facts about the run that produced the history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub test_name: String,
    pub seed: u64,
    pub workload: String,
    pub strategy: String,
    pub topology: String,
    pub nodes: usize,
    pub started_at: String,
    pub workload_s: f64,
    pub quiesced: bool,
    pub quiesce_s: f64,
    pub final_reads_ok: usize,
    pub final_reads_expected: usize,
    pub replay: String,
    /// Every fault's window, from the nemesis ops of the history.
    #[serde(default)]
    pub faults: Vec<FaultWindow>,
    /// Per-link message counters.
    #[serde(default)]
    pub links: Vec<LinkCounters>,
}

impl Results {
    /// Fold the run's own observations into the verdict: a run that did not
    /// quiesce, or whose final reads are incomplete, cannot vouch for
    /// anomalies that depend on the final state.
    pub fn from_run(mut check: CheckResult, run: RunInfo) -> Self {
        let mut doubts = Vec::new();
        if !run.quiesced {
            doubts.push(format!(
                "replication did not quiesce within {:.1}s: final reads may predate delivery",
                run.quiesce_s
            ));
        }
        if run.final_reads_ok < run.final_reads_expected {
            doubts.push(format!(
                "only {} of {} final reads succeeded",
                run.final_reads_ok, run.final_reads_expected
            ));
        }
        if !doubts.is_empty() {
            let only_final_state = check
                .anomalies
                .iter()
                .all(|a| matches!(a.kind, AnomalyKind::LostUpdate | AnomalyKind::Divergence));
            if check.valid == Validity::Valid
                || (check.valid == Validity::Invalid && only_final_state)
            {
                check.valid = Validity::Unknown;
            }
            check.inconclusive.extend(doubts);
        }
        Results {
            check,
            run: Some(run),
        }
    }

    pub fn bare(check: CheckResult) -> Self {
        Results { check, run: None }
    }

    /// 0 valid, 1 anomalies found, 2 inconclusive.
    pub fn exit_code(&self) -> i32 {
        match self.check.valid {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }
}
