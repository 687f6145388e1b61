//! The last stage of a run: check the history as the run's configuration
//! says to judge it, tie the system's findings to the anomalies, and fold
//! what the run itself observed into the results. `diverge check` of a run
//! directory judges with the same [`check_options`].

use std::path::Path;

use anyhow::Result;

use crate::config::TestConfig;
use crate::domain::{IdOffset, Named, SystemName};
use crate::net::LinkCounters;
use crate::results::{Results, RunInfo, fault_refusals, fault_windows, nemesis_ops_in};
use crate::system::{Settled, SystemKind, SystemReport};
use crate::workload::on_read::OnRead;

/// What the run observed, besides its history.
pub struct RunFacts {
    pub workload_s: f64,
    pub settled: Settled,
    pub final_reads_ok: usize,
    pub final_reads_expected: usize,
    pub report: SystemReport,
    pub links: Vec<LinkCounters>,
}

/// What the checkers need to know of the run to judge its anomalies.
pub fn check_options(config: &TestConfig) -> diverge_checkers::CheckOptions {
    diverge_checkers::CheckOptions {
        workload: config.workload,
        // A system that resolves conflicts its own way is named for it,
        // which makes no anomaly inherent to a strategy of diverge's.
        strategy: Some(config.strategy_label()),
        topology: Some(config.topology.name().to_string()),
        causal_delivery: Some(config.options.causal_delivery),
        // Maelstrom nodes make their ids their own way: no duplicate is
        // inherent to a setting of diverge's.
        id_offsets: (config.db.name != SystemName::Maelstrom)
            .then_some(config.id_offset == IdOffset::PerNode),
        routing: Some(config.routing.name().to_string()),
    }
}

/// Check the history at `history` and build the run's results.
pub fn judge(
    config: &TestConfig,
    kind: &dyn SystemKind,
    history: &Path,
    facts: RunFacts,
    started_at: String,
    on_read: Option<&OnRead>,
) -> Result<Results> {
    let (check, _) = diverge_checkers::check_file(history, &check_options(config))?;
    let mut db_findings = facts.report.findings;
    kind.relate(&mut db_findings, &check.anomalies);
    let resolver_failed = on_read.filter(|r| r.failures() > 0).map(|r| {
        format!(
            "the on-read resolver failed {} times (see the log); the clients merged those siblings themselves",
            r.failures()
        )
    });
    let notes = facts
        .settled
        .notes
        .into_iter()
        .chain(facts.report.notes)
        .chain(resolver_failed)
        .collect();
    let nemesis = nemesis_ops_in(history)?;
    let run = RunInfo {
        test_name: config.test_name.clone(),
        seed: config.seed,
        workload: config.workload.name().to_string(),
        strategy: config.strategy_label(),
        topology: config.topology.name().to_string(),
        nodes: config.nodes,
        started_at,
        workload_s: facts.workload_s,
        quiesced: facts.settled.quiesced,
        quiesce_s: facts.settled.waited.as_secs_f64(),
        final_reads_ok: facts.final_reads_ok,
        final_reads_expected: facts.final_reads_expected,
        replay: config.replay.clone(),
        faults: fault_windows(&nemesis),
        refused_faults: fault_refusals(&nemesis),
        links: facts.links,
        notes,
        db_findings,
        skipped_updates: facts.report.skipped_updates,
        resolutions: on_read.map(|r| r.resolutions()),
    };
    Ok(Results::from_run(check, run))
}
