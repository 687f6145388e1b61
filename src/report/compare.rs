//! The formats of a comparison (`diverge compare`): the table printed at
//! the end and `compare.html`. (`compare.json` is the [`Comparison`] itself.)

use std::fmt::Write;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::html::escape;
use crate::control::compare::{Comparison, Row};
use crate::results::Figures;

/// The columns, in order, as (header, cell) pairs of one row.
fn cells(row: &Row) -> Vec<(&'static str, String)> {
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
    vec![
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
        ("verdict", f.verdict.clone()),
    ]
}

fn convergence(f: &Figures) -> String {
    match (f.convergence_s, f.quiesced) {
        (Some(s), true) => format!("{s:.2}"),
        (Some(s), false) => format!("not within {s:.0}"),
        (None, _) => "-".into(),
    }
}

#[derive(Tabled)]
struct TableRow {
    configuration: String,
    #[tabled(rename = "acked writes")]
    acknowledged: String,
    #[tabled(rename = "lost updates")]
    lost: String,
    #[tabled(rename = "divergent keys")]
    divergent: String,
    #[tabled(rename = "causal violations")]
    causal: String,
    #[tabled(rename = "siblings seen")]
    siblings: String,
    availability: String,
    #[tabled(rename = "p50/p99 ms")]
    latency: String,
    #[tabled(rename = "convergence s")]
    convergence: String,
    verdict: String,
}

/// The table printed at the end of `diverge compare`.
pub fn table(comparison: &Comparison) -> String {
    let rows: Vec<TableRow> = comparison
        .rows
        .iter()
        .map(|row| {
            let c = cells(row);
            let get = |name: &str| {
                c.iter()
                    .find(|(h, _)| *h == name)
                    .map_or("-".to_string(), |(_, v)| v.clone())
            };
            TableRow {
                configuration: get("configuration"),
                acknowledged: get("acknowledged writes"),
                lost: get("lost updates"),
                divergent: get("divergent keys"),
                causal: get("causal violations"),
                siblings: get("siblings seen"),
                availability: get("availability"),
                latency: get("p50/p99 ms"),
                convergence: get("convergence s"),
                verdict: get("verdict"),
            }
        })
        .collect();
    format!(
        "workload {}, nemesis {}, seed {}\n{}",
        comparison.workload,
        comparison.nemesis,
        comparison.seed,
        Table::new(rows).with(Style::rounded())
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
    let headers = [
        "configuration",
        "acknowledged writes",
        "lost updates",
        "divergent keys",
        "causal violations",
        "siblings seen",
        "availability",
        "p50/p99 ms",
        "convergence s",
        "verdict",
        "report",
    ];
    for h in headers {
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
        let c = cells(row);
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
                "lost updates" | "divergent keys" | "causal violations"
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
        r#"</table><p>Lost updates: acknowledged writes no node kept. Siblings seen: the most values one register read returned (- for sets, whose reads return the whole set). Availability: the share of client ops that completed ok. Convergence: seconds for replication to quiesce after the workload.</p><p>First row's command: <code>{}</code></p></body></html>"#,
        escape(&comparison.replay)
    );
    out
}
