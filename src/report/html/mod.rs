//! `report.html`: one self-contained page per run (inline style, SVG and a
//! few lines of script; nothing fetched from the network).
//!
//! - [`scan`]: one streaming pass over the history, keeping only bins,
//!   nemesis ops and the witness lines the page quotes.
//! - [`bins`]: time bins that coarsen as the run grows, with latency
//!   histograms per bin, so a history of any length draws in full.
//! - [`charts`]: the SVG timeline, latency and throughput charts.
//! - [`page`]: everything around them (verdict, summary, anomalies, ...).
//! - [`system`]: sections about the system under test (database findings,
//!   per-instance final values, TCP links).

mod bins;
mod charts;
mod page;
mod scan;
mod system;
mod text;

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use diverge_checkers::AnomalyKind;

use crate::results::Results;

/// The file name inside the run directory.
pub const FILE: &str = "report.html";

/// The page for `results` of the history at `history`; `test` is the run's
/// test.json, if any.
pub fn render(
    results: &Results,
    history: &Path,
    test: Option<serde_json::Value>,
) -> Result<String> {
    let witnesses = listed_witnesses(results);
    let rows = test
        .as_ref()
        .and_then(|t| t.get("concurrency"))
        .and_then(serde_json::Value::as_u64);
    // MariaDB runs show every instance's final values (few keys, and the
    // state a stopped applier left behind is the point).
    let mariadb = results
        .run
        .as_ref()
        .is_some_and(|r| r.strategy == "mariadb");
    let digest = scan::scan(history, rows, &witnesses, mariadb)?;
    let page = page::Page {
        results,
        json: serde_json::to_value(results)?,
        test,
        digest: &digest,
    };
    Ok(page.render())
}

/// The witness ops of the anomalies the page lists.
fn listed_witnesses(results: &Results) -> HashSet<u64> {
    let mut set = HashSet::new();
    let mut per_kind: std::collections::HashMap<AnomalyKind, usize> = Default::default();
    for a in &results.check.anomalies {
        let n = per_kind.entry(a.kind).or_default();
        *n += 1;
        if *n <= page::LISTED_PER_KIND {
            set.extend(a.witnesses.iter().copied());
        }
    }
    set
}

/// Escape text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
