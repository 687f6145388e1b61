//! The text report: a header, the op counts, the anomaly counts, the
//! anomalies themselves with their witnesses, and the verdict.

use std::fmt::Write;

use diverge_checkers::{AnomalyKind, Expectation, Validity};
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::results::{Results, RunInfo};

/// Anomalies listed per kind before the list is summarised.
const LISTED_PER_KIND: usize = 10;

#[derive(Tabled)]
struct OpRow {
    ops: u64,
    ok: u64,
    fail: u64,
    info: u64,
    #[tabled(rename = "ops/s")]
    ops_per_s: String,
    #[tabled(rename = "final reads")]
    final_reads: u64,
}

#[derive(Tabled)]
struct KindRow {
    anomaly: String,
    count: usize,
    /// Anomalies the run's configuration does not explain: bugs.
    unexpected: usize,
}

/// Render `results`; `detail` lists the anomalies themselves.
pub fn render(results: &Results, detail: bool) -> String {
    let mut out = String::new();
    let check = &results.check;
    if let Some(run) = &results.run {
        let _ = writeln!(
            out,
            "diverge run {}: {} nodes, {}, strategy {}, workload {}, seed {}",
            run.test_name, run.nodes, run.topology, run.strategy, run.workload, run.seed
        );
        let _ = writeln!(
            out,
            "workload {:.1}s; quiescence {} after {:.2}s; final reads {}/{}",
            run.workload_s,
            if run.quiesced {
                "reached"
            } else {
                "NOT reached"
            },
            run.quiesce_s,
            run.final_reads_ok,
            run.final_reads_expected
        );
    }
    let stats = &check.stats;
    let ops = OpRow {
        ops: stats.ops,
        ok: stats.ok,
        fail: stats.fail,
        info: stats.info,
        ops_per_s: format!("{:.0}", stats.ops_per_s),
        final_reads: stats.final_reads,
    };
    let _ = writeln!(out, "\n{}", Table::new([ops]).with(Style::rounded()));
    let kinds: Vec<KindRow> = AnomalyKind::all()
        .iter()
        .map(|kind| KindRow {
            anomaly: kind.name().to_string(),
            count: check.anomaly_counts.get(kind.name()).copied().unwrap_or(0),
            unexpected: check
                .unexpected_counts
                .get(kind.name())
                .copied()
                .unwrap_or(0),
        })
        .filter(|row| row.count > 0)
        .collect();
    if kinds.is_empty() {
        let _ = writeln!(
            out,
            "anomalies: none of {} kinds found",
            AnomalyKind::all().len()
        );
    } else {
        let _ = writeln!(out, "{}", Table::new(kinds).with(Style::rounded()));
    }
    if let Some(lag) = &check.lag {
        let _ = writeln!(
            out,
            "replication lag (ack at origin -> first read elsewhere): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} values ({} never read elsewhere)",
            lag.p50_ms, lag.p99_ms, lag.max_ms, lag.observed, lag.never_observed
        );
    }
    if let Some(n) = check.never_replicated.filter(|n| n.count > 0) {
        let _ = writeln!(
            out,
            "never replicated: {} of {} acknowledged writes are in some live node's final read and missing from another's",
            n.count, n.acknowledged
        );
    }
    if !check.availability.is_empty() {
        let per_node: Vec<String> = check
            .availability
            .iter()
            .map(|(node, c)| {
                let total = (c.ok + c.fail + c.info).max(1);
                format!("{node} {:.1}%", 100.0 * c.ok as f64 / total as f64)
            })
            .collect();
        let _ = writeln!(
            out,
            "availability (ok share per node): {}",
            per_node.join(", ")
        );
    }
    render_staleness_and_windows(&mut out, check);
    if let Some(run) = &results.run {
        render_faults(&mut out, run);
    }
    if let Some(run) = &results.run {
        render_db_findings(&mut out, run);
        render_node_counters(&mut out, run);
    }
    if detail {
        render_anomalies(&mut out, results);
    }
    if let Some(run) = &results.run {
        for note in &run.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    for reason in &check.inconclusive {
        let _ = writeln!(out, "inconclusive: {reason}");
    }
    if !check.ruled_out.is_empty() {
        let _ = writeln!(out, "rules out: {}", check.ruled_out.join(", "));
    }
    let _ = writeln!(out, "{}", verdict_line(results));
    if check.valid != Validity::Valid
        && let Some(run) = &results.run
    {
        let _ = writeln!(out, "replay: {}", run.replay);
    }
    out
}

#[derive(Tabled)]
struct FaultRow {
    fault: String,
    #[tabled(rename = "from s")]
    start: String,
    #[tabled(rename = "to s")]
    end: String,
    targets: String,
}

#[derive(Tabled)]
struct LinkRow {
    link: String,
    passed: u64,
    dropped: u64,
    lost: u64,
    held: u64,
    duplicated: u64,
    #[tabled(rename = "delay p50/p99/max ms")]
    delay: String,
}

#[derive(Tabled)]
struct TcpLinkRow {
    link: String,
    connections: u64,
    refused: u64,
    cut: u64,
    bytes: u64,
    #[tabled(rename = "chunks passed")]
    passed: u64,
    held: u64,
    dropped: u64,
    #[tabled(rename = "delay p50/p99/max ms")]
    delay: String,
}

/// Fault changes the system refused, each with its answer: a reader must
/// not take them for faults the run survived.
fn render_refused_faults(out: &mut String, run: &RunInfo) {
    if run.refused_faults.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "refused faults ({}; the system refused them, so they did not happen):",
        run.refused_faults.len()
    );
    for r in &run.refused_faults {
        let scope = if r.partial {
            ", refused by some targets only (it happened on the others)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {} at {:.2}s{scope}: {}", r.f, r.at_s, r.answer);
    }
}

/// The fault windows and, when any fault touched the links, the link
/// counters (TCP links, which carry MariaDB's replication, in their own
/// table: connections and bytes, chunks as messages).
fn render_faults(out: &mut String, run: &RunInfo) {
    render_refused_faults(out, run);
    if !run.faults.is_empty() {
        let rows: Vec<FaultRow> = run
            .faults
            .iter()
            .map(|w| FaultRow {
                fault: w.fault.clone(),
                start: format!("{:.2}", w.start_s),
                end: w.end_s.map_or("-".into(), |e| format!("{e:.2}")),
                targets: w.value.to_string(),
            })
            .collect();
        let _ = writeln!(
            out,
            "faults ({}):\n{}",
            rows.len(),
            Table::new(rows).with(Style::rounded())
        );
    }
    let (tcp, http): (Vec<_>, Vec<_>) = run.links.iter().partition(|l| l.tcp.is_some());
    if !tcp.is_empty() {
        let rows: Vec<TcpLinkRow> = tcp
            .iter()
            .map(|l| {
                let t = l.tcp.clone().unwrap_or_default();
                TcpLinkRow {
                    link: format!("{}->{}", l.from, l.to),
                    connections: t.connections,
                    refused: t.refused,
                    cut: t.cut,
                    bytes: t.bytes,
                    passed: l.passed,
                    held: l.held,
                    dropped: l.dropped,
                    delay: format!("{}/{}/{}", l.delay_ms_p50, l.delay_ms_p99, l.delay_ms_max),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "tcp links:\n{}",
            Table::new(rows).with(Style::rounded())
        );
    }
    let busy = http
        .iter()
        .any(|l| l.passed + l.dropped + l.lost + l.held + l.duplicated > 0);
    if busy {
        let rows: Vec<LinkRow> = http
            .iter()
            .map(|l| LinkRow {
                link: format!("{}->{}", l.from, l.to),
                passed: l.passed,
                dropped: l.dropped,
                lost: l.lost,
                held: l.held,
                duplicated: l.duplicated,
                delay: format!(
                    "{:.1}/{:.1}/{:.1}",
                    l.delay_ms_p50, l.delay_ms_p99, l.delay_ms_max
                ),
            })
            .collect();
        let _ = writeln!(out, "links:\n{}", Table::new(rows).with(Style::rounded()));
    }
}

fn render_anomalies(out: &mut String, results: &Results) {
    for kind in AnomalyKind::all() {
        let of_kind: Vec<_> = results
            .check
            .anomalies
            .iter()
            .filter(|a| a.kind == kind)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        // Every one is counted; results.json lists a bounded number.
        let total = results
            .check
            .anomaly_counts
            .get(kind.name())
            .copied()
            .unwrap_or(of_kind.len());
        let _ = writeln!(out, "{} ({total}):", kind.name());
        for anomaly in of_kind.iter().take(LISTED_PER_KIND) {
            let witnesses: Vec<String> = anomaly.witnesses.iter().map(u64::to_string).collect();
            let expectation = match anomaly.expectation {
                Expectation::Unexpected => "UNEXPECTED",
                Expectation::Inherent => "inherent",
            };
            let _ = writeln!(
                out,
                "  - [{expectation}] key {}: {} [ops {}]",
                anomaly.key.as_deref().unwrap_or("-"),
                anomaly.explanation,
                witnesses.join(", ")
            );
        }
        let shown = LISTED_PER_KIND.min(of_kind.len());
        let where_ = if total == of_kind.len() {
            "all in results.json".to_owned()
        } else {
            format!(
                "{} listed in results.json; `diverge check --all-anomalies FILE` writes every one",
                of_kind.len()
            )
        };
        if total > shown {
            let _ = writeln!(out, "  ... and {} more ({where_})", total - shown);
        }
    }
    if !results.check.anomalies.is_empty() {
        out.push('\n');
    }
}

fn verdict_line(results: &Results) -> String {
    let check = &results.check;
    match check.valid {
        Validity::Valid => "verdict: VALID (no anomaly found)".to_string(),
        Validity::Unknown => "verdict: UNKNOWN (inconclusive, see above)".to_string(),
        Validity::Invalid => {
            let found: Vec<String> = AnomalyKind::all()
                .iter()
                .filter_map(|k| {
                    let n = check.anomaly_counts.get(k.name()).copied().unwrap_or(0);
                    (n > 0).then(|| format!("{n} {}", k.name()))
                })
                .collect();
            let unexpected: usize = check.unexpected_counts.values().sum();
            let judged = match (unexpected, &results.run) {
                (0, Some(run)) => format!("; all inherent to {} on {}", run.strategy, run.topology),
                (0, None) => String::new(),
                (n, _) => format!("; {n} UNEXPECTED for this configuration"),
            };
            format!("verdict: INVALID ({}{judged})", found.join(", "))
        }
    }
}

/// What the nodes and clients counted about conflicts and overtaking.
fn render_node_counters(out: &mut String, run: &RunInfo) {
    if let Some(n) = run.skipped_updates {
        let _ = writeln!(
            out,
            "skipped updates: {n} (replicated updates of a key whose insert had not arrived; lost at that node)"
        );
    }
    if let Some(n) = run.resolutions {
        let _ = writeln!(
            out,
            "on-read resolutions: {n} (sibling sets the clients resolved with the script and wrote back)"
        );
    }
}

fn render_db_findings(out: &mut String, run: &RunInfo) {
    if run.db_findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "database findings ({}):", run.db_findings.len());
    for f in &run.db_findings {
        let channel = f
            .channel
            .as_deref()
            .map_or(String::new(), |c| format!(" ({c})"));
        let errno = f.errno.map_or(String::new(), |e| format!(" error {e}:"));
        let anomaly = f
            .anomaly
            .as_deref()
            .map_or(String::new(), |a| format!(" [stems from the anomaly {a}]"));
        let _ = writeln!(
            out,
            "  - {} {}{channel}:{errno} {}{anomaly}",
            f.node, f.kind, f.message
        );
    }
    out.push('\n');
}

/// The staleness figure and availability per fault window, one line each.
fn render_staleness_and_windows(out: &mut String, check: &diverge_checkers::CheckResult) {
    if let Some(s) = &check.staleness {
        let _ = writeln!(
            out,
            "stale reads (missed a write acknowledged before they began): {} of {} reads ({} on the acknowledging node); behind p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            s.stale, s.reads, s.same_node, s.p50_ms, s.p99_ms, s.max_ms
        );
    }
    for w in &check.availability_windows {
        let share = |c: &diverge_checkers::OutcomeCounts| {
            100.0 * c.ok as f64 / (c.ok + c.fail + c.info).max(1) as f64
        };
        let span = match (w.fault.as_str(), w.end_s) {
            ("none", _) => "outside faults".to_owned(),
            (_, Some(end)) => format!("{:.1}-{:.1} s", w.start_s, end),
            (_, None) => format!("{:.1} s-end", w.start_s),
        };
        let nodes: Vec<String> = w
            .nodes
            .iter()
            .map(|(n, c)| format!("{n} {:.0}%", share(c)))
            .collect();
        let _ = writeln!(
            out,
            "availability {} {span}: ok {} fail {} info {} ({:.1}% ok; {})",
            w.fault,
            w.total.ok,
            w.total.fail,
            w.total.info,
            share(&w.total),
            nodes.join(", ")
        );
    }
}
