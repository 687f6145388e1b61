//! The page around the charts: header and verdict, the per-checker summary,
//! fault windows, anomalies with their witness ops, the final values of
//! divergent keys, link counters, and the style and script, all inline.
//! Sections only some runs have (database findings, per-instance final
//! values, TCP links) are in [`super::system`].

use std::collections::HashMap;
use std::fmt::Write;

use diverge_checkers::{AnomalyKind, Validity};
use serde_json::Value;

use super::charts::{self, XScale, fault_colour};
use super::escape;
use super::scan::Digest;
use crate::results::Results;

/// Anomalies listed per kind; the rest are counted and left to results.json.
pub const LISTED_PER_KIND: usize = 100;
/// Characters of a quoted op value shown before it is cut (with a note).
const VALUE_CHARS: usize = 400;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// Everything the page is rendered from.
pub struct Page<'a> {
    pub results: &'a Results,
    /// `results` as JSON: fields newer checkers add are read from here.
    pub json: Value,
    /// test.json, when the history came from a run directory.
    pub test: Option<Value>,
    pub digest: &'a Digest,
}

pub fn verdict_word(valid: Validity) -> (&'static str, &'static str) {
    match valid {
        Validity::Valid => ("VALID", "valid"),
        Validity::Invalid => ("INVALID", "invalid"),
        Validity::Unknown => ("UNKNOWN", "unknown"),
    }
}

impl Page<'_> {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(256 * 1024);
        let title = self
            .results
            .run
            .as_ref()
            .map_or("history".to_string(), |r| r.test_name.clone());
        let (word, class) = verdict_word(self.results.check.valid);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} {word}: diverge report</title><style>{STYLE}</style></head><body>",
            escape(&title)
        );
        let _ = write!(
            out,
            r#"<header><h1>{}</h1><div id="verdict" class="verdict {class}">{word}</div></header>"#,
            escape(&title)
        );
        self.facts(&mut out);
        self.verdict_detail(&mut out);
        self.summary(&mut out);
        self.charts(&mut out);
        self.faults(&mut out);
        if let Some(run) = &self.results.run {
            super::system::findings(&mut out, run);
        }
        self.anomalies(&mut out);
        self.divergent(&mut out);
        super::text::documents(&mut out, &self.results.check.anomalies);
        if let Some(values) = &self.digest.final_values {
            super::system::final_values(&mut out, values);
        }
        self.links(&mut out);
        self.files(&mut out);
        let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
        out
    }

    fn facts(&self, out: &mut String) {
        let mut facts: Vec<(&str, String)> = Vec::new();
        if let Some(run) = &self.results.run {
            facts.push(("started", run.started_at.clone()));
            facts.push(("seed", run.seed.to_string()));
            facts.push(("nodes", run.nodes.to_string()));
            facts.push(("workload", run.workload.clone()));
            facts.push(("strategy", run.strategy.clone()));
            facts.push(("topology", run.topology.clone()));
        }
        if let Some(test) = &self.test {
            for (label, field) in [
                ("nemesis", "nemesis"),
                ("routing", "routing"),
                ("fsync", "fsync"),
                ("time limit s", "time_limit_s"),
                ("concurrency", "concurrency"),
                ("keys", "keys"),
                ("rate ops/s", "rate"),
            ] {
                match (field, test.get(field)) {
                    ("rate", Some(Value::Null)) => facts.push((label, "unlimited".into())),
                    ("nemesis", Some(Value::Array(a))) if a.is_empty() => {
                        facts.push((label, "none".into()))
                    }
                    (_, Some(v)) => facts.push((label, plain(v))),
                    _ => {}
                }
            }
        }
        if let Some(run) = &self.results.run {
            facts.push((
                "quiescence",
                format!(
                    "{} after {:.2}s",
                    if run.quiesced {
                        "reached"
                    } else {
                        "NOT reached"
                    },
                    run.quiesce_s
                ),
            ));
            facts.push((
                "final reads",
                format!("{}/{}", run.final_reads_ok, run.final_reads_expected),
            ));
        }
        out.push_str(r#"<section id="facts"><dl class="facts">"#);
        for (k, v) in facts {
            let _ = write!(out, "<div><dt>{k}</dt><dd>{}</dd></div>", escape(&v));
        }
        out.push_str("</dl>");
        if let Some(run) = &self.results.run {
            let _ = write!(
                out,
                r#"<p class="replay">replay: <code>{}</code></p>"#,
                escape(&run.replay)
            );
        }
        out.push_str("</section>");
    }

    fn verdict_detail(&self, out: &mut String) {
        let check = &self.results.check;
        let found: Vec<String> = self
            .kinds()
            .iter()
            .filter_map(|k| {
                let n = self.count(k);
                (n > 0).then(|| format!("{n} {k}"))
            })
            .collect();
        let sentence = match check.valid {
            Validity::Valid => "No anomaly found.".to_string(),
            Validity::Invalid => format!("Anomalies found: {}.", found.join(", ")),
            Validity::Unknown => {
                if found.is_empty() {
                    "Inconclusive: the checkers could not judge this history.".to_string()
                } else {
                    format!(
                        "Inconclusive, though the checkers report {}.",
                        found.join(", ")
                    )
                }
            }
        };
        let _ = write!(out, r#"<p class="sentence">{}</p>"#, escape(&sentence));
        if !check.ruled_out.is_empty() {
            let models = check.ruled_out.join(", ");
            let _ = write!(
                out,
                r#"<p class="ruled-out">Rules out: {}.</p>"#,
                escape(&models)
            );
        }
        if !check.inconclusive.is_empty() {
            out.push_str(r#"<ul class="inconclusive">"#);
            for reason in &check.inconclusive {
                let _ = write!(out, "<li>inconclusive: {}</li>", escape(reason));
            }
            out.push_str("</ul>");
        }
    }

    /// Anomaly kind names: every kind this build knows, then any other kind
    /// the results count.
    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = AnomalyKind::all()
            .iter()
            .map(|k| k.name().to_string())
            .collect();
        for k in self.results.check.anomaly_counts.keys() {
            if !kinds.contains(k) {
                kinds.push(k.clone());
            }
        }
        kinds
    }

    fn count(&self, kind: &str) -> usize {
        self.results
            .check
            .anomaly_counts
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    fn summary(&self, out: &mut String) {
        let s = &self.results.check.stats;
        let share = |n: u64| {
            if s.ops == 0 {
                "-".to_string()
            } else {
                format!("{:.1}%", 100.0 * n as f64 / s.ops as f64)
            }
        };
        let _ = write!(
            out,
            r#"<section id="summary"><h2>Summary</h2><table class="ops"><tr><th>ops</th><th>ok</th><th>fail</th><th>info</th><th>ops/s</th><th>availability (ok share)</th><th>final reads</th><th>largest read</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{} values</td></tr></table>"#,
            s.ops,
            s.ok,
            s.fail,
            s.info,
            s.ops_per_s,
            share(s.ok),
            s.final_reads,
            self.digest.max_read_values
        );
        let unexpected = self
            .json
            .get("unexpected_counts")
            .and_then(Value::as_object);
        out.push_str(
            r#"<h3>Checkers</h3><table class="checkers"><tr><th>anomaly</th><th>found</th>"#,
        );
        if unexpected.is_some() {
            out.push_str("<th>unexpected</th>");
        }
        out.push_str("<th>what it means</th></tr>");
        for kind in self.kinds() {
            let n = self.count(&kind);
            let _ = write!(
                out,
                r#"<tr class="{}"><td>{}</td><td class="num">{n}</td>"#,
                if n > 0 { "bad" } else { "good" },
                escape(&kind)
            );
            if let Some(u) = unexpected {
                let _ = write!(
                    out,
                    r#"<td class="num">{}</td>"#,
                    u.get(&kind).and_then(Value::as_u64).unwrap_or(0)
                );
            }
            let _ = write!(out, "<td>{}</td></tr>", meaning(&kind));
        }
        out.push_str("</table>");
        if let Some(lag) = self.json.get("lag").filter(|v| v.is_object()) {
            out.push_str(r#"<h3>Replication lag</h3><table class="lag"><tr>"#);
            let fields: Vec<(&String, &Value)> = lag.as_object().into_iter().flatten().collect();
            for (k, _) in &fields {
                let _ = write!(out, "<th>{}</th>", escape(&k.replace('_', " ")));
            }
            out.push_str("</tr><tr>");
            for (_, v) in &fields {
                let _ = write!(out, r#"<td class="num">{}</td>"#, escape(&number(v)));
            }
            out.push_str("</tr></table>");
        }
        if let Some(nodes) = self
            .json
            .get("availability")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
        {
            out.push_str(r#"<h3>Availability per node</h3><table class="availability"><tr><th>node</th><th>ok</th><th>fail</th><th>info</th><th>ok share</th></tr>"#);
            for (node, c) in nodes {
                let get = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
                let total = get("ok") + get("fail") + get("info");
                let _ = write!(
                    out,
                    r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                    escape(node),
                    get("ok"),
                    get("fail"),
                    get("info"),
                    if total == 0 {
                        "-".into()
                    } else {
                        format!("{:.1}%", 100.0 * get("ok") as f64 / total as f64)
                    }
                );
            }
            out.push_str("</table>");
        }
        out.push_str("</section>");
    }

    fn windows(&self) -> Vec<crate::results::FaultWindow> {
        match &self.results.run {
            Some(run) if !run.faults.is_empty() => run.faults.clone(),
            _ => crate::results::fault_windows(&self.digest.nemesis),
        }
    }

    fn fault_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = Vec::new();
        for w in self.windows() {
            if !kinds.contains(&w.fault) {
                kinds.push(w.fault);
            }
        }
        kinds
    }

    fn charts(&self, out: &mut String) {
        let tl = &self.digest.timeline;
        let windows = self.windows();
        let kinds = self.fault_kinds();
        let end_s = windows
            .iter()
            .filter_map(|w| w.end_s.or(Some(w.start_s)))
            .fold(tl.bins.len() as f64 * tl.width_s(), f64::max)
            .max(0.001);
        let x = XScale { end_s };
        let groups = charts::row_groups(tl);
        let processes = tl.rows.len();
        let bin = format_seconds(tl.width_s());
        let ops = self.digest.ok + self.digest.fail + self.digest.info;
        out.push_str(r#"<section id="charts"><h2>Timeline</h2>"#);
        let legend = r#"<span class="key ok"></span>ok <span class="key fail"></span>fail <span class="key info"></span>info (unknown outcome)"#;
        let grouping = if groups.len() < processes {
            format!(
                " {processes} process rows are grouped into {} rows of up to {} each.",
                groups.len(),
                processes.div_ceil(groups.len().max(1))
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<p class="binned" id="binning">Binned: all {ops} client ops are drawn, counted into {} bins of {bin} per process row (processes that replace a retired one share its row); a cell's colour mixes its ok/fail/info share and its opacity grows with its op count (at most {} ops in one cell).{grouping} Hover a cell for its counts. {legend}</p>"#,
            tl.bins.len(),
            tl.row_bin_max,
        );
        if ops == 0 {
            out.push_str(r#"<p class="empty">No client ops in the history.</p></section>"#);
            return;
        }
        out.push_str(&charts::timeline(tl, x, &windows, &kinds, &groups));
        let _ = write!(
            out,
            r#"<h2>Latency</h2><p class="binned">Per {bin} bin: <span class="key p50"></span>p50 <span class="key p99"></span>p99 <span class="key max"></span>max, log scale; quantiles from a log histogram per bin (within about 6%), max exact. Ops that never completed are not included.</p>"#
        );
        out.push_str(&charts::latency(tl, x, &windows, &kinds));
        let _ = write!(
            out,
            r#"<h2>Throughput</h2><p class="binned">Completed ops per second per {bin} bin, stacked by outcome. {legend}</p>"#
        );
        out.push_str(&charts::throughput(tl, x, &windows, &kinds));
        self.lag_chart(out, x, &windows, &kinds);
        out.push_str("</section>");
    }

    /// Replication lag over time, from the checkers' binned series.
    fn lag_chart(
        &self,
        out: &mut String,
        x: XScale,
        windows: &[crate::results::FaultWindow],
        kinds: &[String],
    ) {
        let bins = &self.results.check.lag_over_time;
        let Some(first) = bins.first() else {
            out.push_str(r#"<h2 id="lag">Replication lag</h2><p class="empty">No acknowledged value was read on another node: no replication lag to draw (counter and unique-ids runs do not measure it).</p>"#);
            return;
        };
        let _ = write!(
            out,
            r#"<h2 id="lag">Replication lag</h2><p class="binned">From a value's <code>ok</code> at its origin to the first read on another node that returned it, per {} bin of ack time: <span class="key p50"></span>p50 <span class="key p99"></span>p99 <span class="key max"></span>max, log scale, exact; {} values. Values never read elsewhere are not drawn.</p>"#,
            format_seconds(first.width_s),
            bins.iter().map(|b| b.values).sum::<u64>(),
        );
        out.push_str(&charts::lag(bins, x, windows, kinds));
    }

    fn faults(&self, out: &mut String) {
        let windows = self.windows();
        let kinds = self.fault_kinds();
        out.push_str(r#"<section id="faults"><h2>Faults</h2>"#);
        self.refused_faults(out);
        if windows.is_empty() {
            let refused = self
                .results
                .run
                .as_ref()
                .is_some_and(|r| !r.refused_faults.is_empty());
            let none = if refused {
                "No fault took effect."
            } else {
                "No faults were injected."
            };
            let _ = write!(out, "<p>{none}</p></section>");
            return;
        }
        out.push_str(r#"<table class="faults"><tr><th>fault</th><th>from s</th><th>to s</th><th>targets</th></tr>"#);
        for (i, w) in windows.iter().enumerate() {
            let _ = write!(
                out,
                r#"<tr class="faultrow" data-fw="fw{i}"><td><span class="swatch" style="background:{}"></span>{}</td><td class="num">{:.2}</td><td class="num">{}</td><td><code>{}</code></td></tr>"#,
                fault_colour(&kinds, &w.fault),
                escape(&w.fault),
                w.start_s,
                w.end_s.map_or("-".to_string(), |e| format!("{e:.2}")),
                escape(&cut(&w.value.to_string()))
            );
        }
        out.push_str("</table></section>");
    }

    /// Fault changes the system refused: said before the windows, so no
    /// reader takes them for faults the run survived.
    fn refused_faults(&self, out: &mut String) {
        let Some(run) = &self.results.run else { return };
        if run.refused_faults.is_empty() {
            return;
        }
        let _ = write!(
            out,
            r#"<p class="refused">{} fault changes were refused by the system, so they did not happen:</p><ul class="refused">"#,
            run.refused_faults.len()
        );
        for r in &run.refused_faults {
            let scope = if r.partial {
                " (refused by some targets only; it happened on the others)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<li><code>{}</code> at {:.2} s{scope}: {}</li>",
                escape(&r.f),
                r.at_s,
                escape(&cut(&r.answer))
            );
        }
        out.push_str("</ul>");
    }

    fn anomalies(&self, out: &mut String) {
        let all = &self.results.check.anomalies;
        let json_anomalies = self.json.get("anomalies").and_then(Value::as_array);
        let check = &self.results.check;
        let omitted = |kind: &str| check.anomalies_omitted.get(kind).copied().unwrap_or(0);
        let _ = write!(
            out,
            r#"<section id="anomalies"><h2>Anomalies ({})</h2>"#,
            all.len() + check.anomalies_omitted.values().sum::<usize>()
        );
        if all.is_empty() {
            out.push_str(r#"<p class="none">None found.</p></section>"#);
            return;
        }
        for kind in self.kinds() {
            let of_kind: Vec<(usize, &diverge_checkers::Anomaly)> = all
                .iter()
                .enumerate()
                .filter(|(_, a)| a.kind.name() == kind)
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r#"<h3 class="kind">{} ({})</h3><p class="meaning">{}</p><ol class="anomalies">"#,
                escape(&kind),
                of_kind.len() + omitted(&kind),
                meaning(&kind)
            );
            for (i, a) in of_kind.iter().take(LISTED_PER_KIND) {
                let expectation = json_anomalies
                    .and_then(|list| list.get(*i))
                    .and_then(|v| v.get("expectation"))
                    .and_then(Value::as_str);
                let _ = write!(
                    out,
                    r#"<li class="anomaly"><details><summary><b>key {}</b>{} {}</summary>"#,
                    escape(a.key.as_deref().unwrap_or("-")),
                    expectation.map_or(String::new(), |e| format!(
                        r#" <span class="badge {0}">{0}</span>"#,
                        escape(e)
                    )),
                    escape(&a.explanation)
                );
                self.witness_table(out, &a.witnesses);
                out.push_str("</details></li>");
            }
            out.push_str("</ol>");
            if omitted(&kind) > 0 {
                let _ = write!(
                    out,
                    r#"<p class="more">The first {} of {} are listed; <a href="results.json">results.json</a> has {} (at most {} per key); <code>diverge check --all-anomalies FILE</code> writes every one.</p>"#,
                    LISTED_PER_KIND.min(of_kind.len()),
                    of_kind.len() + omitted(&kind),
                    of_kind.len(),
                    diverge_checkers::result::KEPT_PER_KIND_AND_KEY
                );
            } else if of_kind.len() > LISTED_PER_KIND {
                let _ = write!(
                    out,
                    r#"<p class="more">The first {LISTED_PER_KIND} of {} are listed; every one is in <a href="results.json">results.json</a>.</p>"#,
                    of_kind.len()
                );
            }
        }
        out.push_str("</section>");
    }

    fn witness_table(&self, out: &mut String, witnesses: &[u64]) {
        out.push_str(r#"<table class="witnesses"><tr><th>index</th><th>time s</th><th>process</th><th>type</th><th>f</th><th>key</th><th>node</th><th>value</th><th>error</th></tr>"#);
        for w in witnesses {
            let Some(line) = self.digest.witness_lines.get(w) else {
                let _ = write!(
                    out,
                    r#"<tr><td class="num">{w}</td><td colspan="8">not found in the history</td></tr>"#
                );
                continue;
            };
            let op: HashMap<String, Value> = serde_json::from_str(line).unwrap_or_default();
            let field = |k: &str| op.get(k).map(plain).unwrap_or_default();
            let time = op
                .get("time")
                .and_then(Value::as_u64)
                .map_or(String::new(), |t| format!("{:.3}", t as f64 / 1e9));
            let kind = field("type");
            let _ = write!(
                out,
                r#"<tr class="op {}"><td class="num">{w}</td><td class="num">{time}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
                escape(&kind),
                escape(&field("process")),
                escape(&kind),
                escape(&field("f")),
                escape(&field("key")),
                escape(&field("node")),
                escape(&value_text(op.get("value"))),
                escape(&field("error"))
            );
        }
        out.push_str("</table>");
    }

    fn divergent(&self, out: &mut String) {
        let divergent: Vec<&diverge_checkers::Anomaly> = self
            .results
            .check
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::Divergence && !a.nodes.is_empty())
            .collect();
        if divergent.is_empty() {
            return;
        }
        let _ = write!(
            out,
            r#"<section id="divergent"><h2>Final values of divergent keys ({})</h2><table class="divergent"><tr><th>key</th><th>node</th><th>final value</th></tr>"#,
            divergent.len()
        );
        for a in divergent.iter().take(LISTED_PER_KIND) {
            let rows = a.nodes.len();
            for (j, (node, value)) in a.nodes.iter().enumerate() {
                out.push_str("<tr>");
                if j == 0 {
                    let _ = write!(
                        out,
                        r#"<td rowspan="{rows}">{}</td>"#,
                        escape(a.key.as_deref().unwrap_or("-"))
                    );
                }
                let _ = write!(
                    out,
                    "<td>{}</td><td><code>{}</code></td></tr>",
                    escape(node),
                    escape(&value_text(Some(value)))
                );
            }
        }
        out.push_str("</table>");
        if divergent.len() > LISTED_PER_KIND {
            let _ = write!(
                out,
                r#"<p class="more">The first {LISTED_PER_KIND} keys are shown; all are in <a href="results.json">results.json</a>.</p>"#
            );
        }
        out.push_str("</section>");
    }

    fn links(&self, out: &mut String) {
        let Some(run) = &self.results.run else {
            return;
        };
        if run.links.is_empty() {
            return;
        }
        out.push_str(r#"<section id="links"><h2>Links</h2>"#);
        let (tcp, http): (Vec<_>, Vec<_>) = run.links.iter().partition(|l| l.tcp.is_some());
        if !tcp.is_empty() {
            super::system::tcp_links(out, &tcp);
        }
        if http.is_empty() {
            out.push_str("</section>");
            return;
        }
        out.push_str(r#"<table class="links"><tr><th>link</th><th>received</th><th>passed</th><th>dropped</th><th>lost</th><th>lost replies</th><th>held</th><th>duplicated</th><th>forward errors</th><th>delay p50/p99/max ms</th></tr>"#);
        for l in http {
            let _ = write!(
                out,
                r#"<tr><td>{}&rarr;{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}/{}/{}</td></tr>"#,
                escape(&l.from),
                escape(&l.to),
                l.received,
                l.passed,
                l.dropped,
                l.lost,
                l.lost_replies,
                l.held,
                l.duplicated,
                l.forward_errors,
                l.delay_ms_p50,
                l.delay_ms_p99,
                l.delay_ms_max
            );
        }
        out.push_str("</table></section>");
    }

    fn files(&self, out: &mut String) {
        if self.results.run.is_none() {
            return;
        }
        let nodes = self.results.run.as_ref().map_or(0, |r| r.nodes);
        out.push_str(r#"<footer id="files">Files: <a href="history.jsonl">history.jsonl</a> <a href="results.json">results.json</a> <a href="test.json">test.json</a> <a href="report.txt">report.txt</a>"#);
        for i in 1..=nodes {
            let _ = write!(out, r#" <a href="nodes/n{i}.log">n{i}.log</a>"#);
        }
        out.push_str("</footer>");
    }
}

/// One sentence per known anomaly kind (docs/anomalies.md has the rest).
fn meaning(kind: &str) -> &'static str {
    match kind {
        "lost-update" => "an acknowledged write that no node's final state holds",
        "divergence" => "nodes that still disagree on a key after healing and quiescing",
        "impossible-read" => "a read of a value nobody ever tried to write",
        "aborted-read" => "a read of a value whose write definitely failed",
        _ => "see docs/anomalies.md",
    }
}

/// A JSON value as a person reads it: strings without quotes.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() != 0.0 => format!("{f:.1}"),
        _ => plain(v),
    }
}

fn cut(text: &str) -> String {
    if text.len() <= VALUE_CHARS {
        return text.to_string();
    }
    let mut end = VALUE_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} characters in all)", &text[..end], text.len())
}

/// An op's value, cut to [`VALUE_CHARS`] with a note giving its full size.
pub(super) fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Array(items)) => {
            let text = Value::Array(items.clone()).to_string();
            if text.len() <= VALUE_CHARS {
                text
            } else {
                format!(
                    "{} [{} values; the whole line is in history.jsonl]",
                    cut(&text),
                    items.len()
                )
            }
        }
        Some(other) => cut(&other.to_string()),
    }
}

fn format_seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}
