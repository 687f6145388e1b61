//! The results model written to `results.json`: the checkers' result plus
//! what the run itself observed (seed, quiescence, timings). Every report
//! format renders from this one value.

mod comparison;
mod faults;
mod figures;

use diverge_checkers::{CheckResult, Validity};
use serde::{Deserialize, Serialize};

pub use comparison::{Comparison, Row};
pub use faults::{FaultWindow, RefusedFault, fault_refusals, fault_windows, nemesis_ops_in};
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
    /// Fault changes the system refused: they did not happen (or, when
    /// `partial`, only on the targets that accepted them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_faults: Vec<RefusedFault>,
    /// Per-link message counters.
    #[serde(default)]
    pub links: Vec<LinkCounters>,
    /// What the reader should know about how the run was observed (e.g. a
    /// node without `/admin/status`, so quiescence was a fixed wait).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Problems the database under test reported about itself (e.g. a
    /// MariaDB replication applier stopped with an error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db_findings: Vec<DbFinding>,
    /// Replicated updates the nodes skipped because their insert had not
    /// arrived (summed `skipped_updates` of `/admin/status` at the end);
    /// `None` when no node reports the figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_updates: Option<u64>,
    /// Sibling sets the workload clients resolved with the `--on-read`
    /// script and wrote back; `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<u64>,
}

/// One problem a database reported about itself during or after the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbFinding {
    /// The instance that reported it (node id).
    pub node: String,
    /// What kind: e.g. `replication-stopped`, `duplicate-id`.
    pub kind: String,
    /// The connection or channel it concerns (e.g. `from n2`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The database's error number, if it gave one (e.g. 1062).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<u32>,
    /// The database's own words.
    pub message: String,
    /// The checkers' anomaly this finding stems from (e.g. an applier that
    /// stopped on a name granted twice: `constraint-violation: name k3`);
    /// the anomaly, with its witnesses, is the report of that problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<String>,
}

impl Results {
    /// Fold the run's own observations into the verdict: a run that did not
    /// quiesce, or whose final reads are incomplete, is unknown (its
    /// anomalies are still listed); a database that reported
    /// a problem of its own (a stopped applier) fails the run. `diverge
    /// check` folds a stored run's facts in the same way.
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
            check.valid = Validity::Unknown;
            check.inconclusive.extend(doubts);
        }
        if !run.db_findings.is_empty() {
            check.valid = Validity::Invalid;
        }
        Results {
            check,
            run: Some(run),
        }
    }

    pub fn bare(check: CheckResult) -> Self {
        Results { check, run: None }
    }

    /// Something the history alone does not show makes the verdict
    /// inconclusive: unknown, with `reason` among the others.
    pub fn doubt(&mut self, reason: String) {
        self.check.valid = Validity::Unknown;
        self.check.inconclusive.push(reason);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run_info(db_findings: Vec<DbFinding>) -> RunInfo {
        RunInfo {
            test_name: "t".into(),
            seed: 1,
            workload: "unique-ids".into(),
            strategy: "mariadb".into(),
            topology: "ring".into(),
            nodes: 2,
            started_at: String::new(),
            workload_s: 1.0,
            quiesced: true,
            quiesce_s: 0.1,
            final_reads_ok: 2,
            final_reads_expected: 2,
            replay: String::new(),
            faults: Vec::new(),
            refused_faults: Vec::new(),
            links: Vec::new(),
            notes: Vec::new(),
            db_findings,
            skipped_updates: None,
            resolutions: None,
        }
    }

    /// The run and `diverge check` of its directory both fold the stored
    /// findings in here, so both give the same verdict.
    #[test]
    fn a_database_finding_fails_a_run_the_checkers_found_clean() {
        let history = diverge_checkers::parse_history(
            concat!(
                r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"generate","node":"n1"}"#,
                "\n",
                r#"{"index":1,"time":2,"process":0,"type":"ok","f":"generate","value":1,"node":"n1"}"#,
                "\n",
            ),
            "test",
        )
        .unwrap();
        let clean = || diverge_checkers::check(&history, diverge_checkers::Workload::UniqueIds);
        assert_eq!(clean().valid, Validity::Valid);
        let results = Results::from_run(clean(), run_info(Vec::new()));
        assert_eq!(results.exit_code(), 0);
        let stopped = DbFinding {
            node: "n2".into(),
            kind: "replication-stopped".into(),
            channel: Some("replicating from n1".into()),
            errno: Some(1236),
            message: "IO (receiver) thread stopped: ...".into(),
            anomaly: None,
        };
        let results = Results::from_run(clean(), run_info(vec![stopped]));
        assert_eq!(results.check.valid, Validity::Invalid);
        assert_eq!(results.exit_code(), 1);
    }
}
