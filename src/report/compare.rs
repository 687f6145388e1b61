//! The formats of a comparison (`diverge compare`): the table printed at
//! the end, `compare.json` (the [`Comparison`] itself) and `compare.html`.

use std::fmt::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::Format;
use super::html::escape;
use crate::results::{Comparison, Figures, Row};

/// `compare.json`.
pub struct Json;
/// `compare.html`, in `results/compare/<stamp>/`.
pub struct Html;

/// Every file a comparison's directory gets.
pub const FORMATS: [&dyn Format<Comparison>; 2] = [&Json, &Html];

impl Format<Comparison> for Json {
    fn file_name(&self) -> &'static str {
        "compare.json"
    }
    fn render(&self, comparison: &Comparison) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(comparison)? + "\n")
    }
}

impl Format<Comparison> for Html {
    fn file_name(&self) -> &'static str {
        "compare.html"
    }
    fn render(&self, comparison: &Comparison) -> anyhow::Result<String> {
        // Run directories are two levels up: results/compare/<stamp>/.
        Ok(html(comparison, "../.."))
    }
}

/// The columns, in order, as (header, cell) pairs of one row; `db` adds
/// the database's findings (MariaDB rows).
fn cells(row: &Row, db: bool) -> Vec<(&'static str, String)> {
    let configuration = format!("{} / {}", row.strategy, row.topology);
    let Some(f) = &row.figures else {
        return vec![
            ("configuration", configuration),
            (
                "verdict",
                format!("error: {}", row.error.as_deref().unwrap_or("-")),
            ),
        ];
    };
    let mut cells = vec![
        ("configuration", configuration),
        ("acknowledged writes", f.acknowledged_writes.to_string()),
        ("lost updates", f.lost_updates.to_string()),
        ("divergent keys", f.divergent_keys.to_string()),
        (
            "causal violations",
            f.causal_violations.map_or("-".into(), |n| n.to_string()),
        ),
        (
            "siblings seen",
            f.siblings_max.map_or("-".into(), |n| n.to_string()),
        ),
        ("availability", format!("{:.1}%", f.availability * 100.0)),
        (
            "p50/p99 ms",
            format!("{:.1}/{:.1}", f.latency_ms_p50, f.latency_ms_p99),
        ),
        ("convergence s", convergence(f)),
    ];
    if let Some(n) = f.interleavings {
        cells.push(("interleavings", n.to_string()));
    }
    if db {
        cells.push((
            "db findings",
            f.db_findings.map_or("-".into(), |n| n.to_string()),
        ));
    }
    cells.push(("verdict", f.verdict.clone()));
    cells
}

/// The column headers: `db findings` only when a row ran a database that
/// reports them.
fn headers(comparison: &Comparison) -> Vec<&'static str> {
    let mut headers = vec![
        "configuration",
        "acknowledged writes",
        "lost updates",
        "divergent keys",
        "causal violations",
        "siblings seen",
        "availability",
        "p50/p99 ms",
        "convergence s",
    ];
    if comparison.rows.iter().any(|r| {
        r.figures
            .as_ref()
            .is_some_and(|f| f.interleavings.is_some())
    }) {
        headers.push("interleavings");
    }
    if has_db(comparison) {
        headers.push("db findings");
    }
    headers.push("verdict");
    headers
}

fn has_db(comparison: &Comparison) -> bool {
    comparison
        .rows
        .iter()
        .any(|r| r.figures.as_ref().is_some_and(|f| f.db_findings.is_some()))
}

fn convergence(f: &Figures) -> String {
    match (f.convergence_s, f.quiesced) {
        (Some(s), true) => format!("{s:.2}"),
        (Some(s), false) => format!("not within {s:.0}"),
        (None, _) => "-".into(),
    }
}

/// The short header of a column in the text table.
fn short(header: &str) -> &str {
    match header {
        "acknowledged writes" => "acked writes",
        other => other,
    }
}

/// The table printed at the end of `diverge compare`.
pub fn table(comparison: &Comparison) -> String {
    let headers = headers(comparison);
    let db = has_db(comparison);
    let mut builder = Builder::default();
    builder.push_record(headers.iter().map(|h| short(h)));
    for row in &comparison.rows {
        let c = cells(row, db);
        builder.push_record(headers.iter().map(|name| {
            c.iter()
                .find(|(h, _)| h == name)
                .map_or("-".to_string(), |(_, v)| v.clone())
        }));
    }
    format!(
        "workload {}, nemesis {}, seed {}\n{}",
        comparison.workload,
        comparison.nemesis,
        comparison.seed,
        builder.build().with(Style::rounded())
    )
}

/// `compare.html`; `to_results` is the path from the page's directory to
/// the results directory (run directories are linked through it).
pub fn html(comparison: &Comparison, to_results: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>diverge compare: {workload}, nemesis {nemesis}</title><style>
body{{font:14px/1.45 system-ui,sans-serif;color:#1f2328;max-width:1180px;margin:0 auto;padding:12px 24px}}
table{{border-collapse:collapse}}th,td{{border:1px solid #d0d7de;padding:4px 10px;text-align:right}}th{{background:#f6f8fa}}
td:first-child,th:first-child{{text-align:left}}td.valid{{color:#2e9d4a;font-weight:700}}td.invalid{{color:#d64541;font-weight:700}}td.unknown{{color:#b07800;font-weight:700}}
td.bad{{background:#fde8e6}}.bar{{display:inline-block;height:8px;background:#d64541;margin-left:6px;vertical-align:middle}}
code{{font:12px ui-monospace,monospace}}</style></head><body>
<h1>Comparison: workload {workload}, nemesis {nemesis}, seed {seed}</h1>
<p>Every row ran the same workload, faults, rate and seed; only the strategy or topology differs. Started {started}.</p>
<table id="comparison"><tr>"#,
        workload = escape(&comparison.workload),
        nemesis = escape(&comparison.nemesis),
        seed = comparison.seed,
        started = escape(&comparison.started_at),
    );
    let db = has_db(comparison);
    let mut headers = headers(comparison);
    headers.push("report");
    for h in &headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>");
    let max_lost = comparison
        .rows
        .iter()
        .filter_map(|r| r.figures.as_ref().map(|f| f.lost_updates))
        .max()
        .unwrap_or(0)
        .max(1);
    for row in &comparison.rows {
        out.push_str("<tr>");
        let c = cells(row, db);
        if row.figures.is_none() {
            let _ = write!(
                out,
                r#"<td>{}</td><td colspan="{}" class="invalid">{}</td></tr>"#,
                escape(&c[0].1),
                headers.len() - 1,
                escape(&c[1].1)
            );
            continue;
        }
        for (header, value) in &c {
            let class = match *header {
                "verdict" => value.clone(),
                "lost updates" | "divergent keys" | "causal violations" | "db findings"
                    if value != "0" && value != "-" =>
                {
                    "bad".into()
                }
                _ => String::new(),
            };
            let bar = if *header == "lost updates" {
                let n: u64 = value.parse().unwrap_or(0);
                format!(
                    r#"<span class="bar" style="width:{}px"></span>"#,
                    (n * 120 / max_lost).min(120)
                )
            } else {
                String::new()
            };
            let _ = write!(out, r#"<td class="{class}">{}{bar}</td>"#, escape(value));
        }
        match &row.run_dir {
            Some(dir) => {
                let _ = write!(
                    out,
                    r#"<td><a href="{to_results}/{0}/report.html">report</a> <a href="{to_results}/{0}/results.json">json</a></td>"#,
                    escape(dir)
                );
            }
            None => out.push_str("<td>-</td>"),
        }
        out.push_str("</tr>");
    }
    let _ = writeln!(
        out,
        r#"</table><p>Lost updates: acknowledged writes no node kept. Siblings seen: the most values one register read returned (- for sets, whose reads return the whole set). Availability: the share of client ops that completed ok. Convergence: seconds for replication to quiesce after the workload.{}</p><p>First row's command: <code>{}</code></p></body></html>"#,
        if db {
            " Db findings: problems the database reported about itself (stopped replication appliers), in each run's report."
        } else {
            ""
        },
        escape(&comparison.replay)
    );
    out
}
