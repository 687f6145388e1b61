//! The sections about the system under test that only some runs have: the
//! database's own findings (a MariaDB applier that stopped, with its error),
//! the notes on how the run was observed, every instance's final values,
//! and the counters of TCP links (MariaDB's replication connections).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::escape;
use super::page::value_text;
use super::scan::{FINAL_KEYS, FinalValues};
use crate::net::LinkCounters;
use crate::results::RunInfo;

/// Whether `run` tested MariaDB (its findings section is shown even when
/// empty, to say the database reported nothing).
fn is_mariadb(run: &RunInfo) -> bool {
    run.strategy == "mariadb"
}

/// Database findings and notes.
pub fn findings(out: &mut String, run: &RunInfo) {
    if !run.db_findings.is_empty() || is_mariadb(run) {
        let _ = write!(
            out,
            r#"<section id="db-findings"><h2>Database findings ({})</h2>"#,
            run.db_findings.len()
        );
        if run.db_findings.is_empty() {
            out.push_str(r#"<p class="none">The database reported no problem of its own (every replication connection was running at the end).</p>"#);
        } else {
            out.push_str(r#"<p class="meaning">Problems the database reported about itself; any makes the verdict INVALID. A finding that stems from an anomaly names it: the anomaly, with its witness ops, is the report of that problem.</p><table class="findings"><tr><th>instance</th><th>kind</th><th>connection</th><th>error</th><th>message</th><th>anomaly</th></tr>"#);
            for f in &run.db_findings {
                let _ = write!(
                    out,
                    r#"<tr class="finding"><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
                    escape(&f.node),
                    escape(&f.kind),
                    escape(f.channel.as_deref().unwrap_or("-")),
                    f.errno.map_or("-".to_string(), |e| e.to_string()),
                    escape(&f.message),
                    escape(f.anomaly.as_deref().unwrap_or("-"))
                );
            }
            out.push_str("</table>");
        }
        out.push_str("</section>");
    }
    if !run.notes.is_empty() {
        out.push_str(r#"<section id="notes"><h2>Notes</h2><ul class="notes">"#);
        for note in &run.notes {
            let _ = write!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul></section>");
    }
}

/// Every instance's final value of each key (the first [`FINAL_KEYS`]),
/// rows where instances disagree marked.
pub fn final_values(out: &mut String, values: &FinalValues) {
    let nodes: BTreeSet<&String> = values.by_key.values().flat_map(|m| m.keys()).collect();
    let _ = write!(
        out,
        r#"<section id="final-values"><h2>Final values per instance ({} keys)</h2><p class="binned">What each instance held after the run, read by the final reads; rows where instances disagree are marked.</p><table class="final-values"><tr><th>key</th>"#,
        values.by_key.len()
    );
    for node in &nodes {
        let _ = write!(out, "<th>{}</th>", escape(node));
    }
    out.push_str("</tr>");
    for (key, by_node) in &values.by_key {
        let first = by_node.values().next();
        let differs = by_node.values().any(|v| Some(v) != first) || by_node.len() < nodes.len();
        let _ = write!(
            out,
            r#"<tr class="{}"><td>{}</td>"#,
            if differs { "differs" } else { "same" },
            escape(key)
        );
        for node in &nodes {
            let cell = by_node
                .get(*node)
                .map_or("-".to_string(), |v| value_text(Some(v)));
            let _ = write!(out, "<td><code>{}</code></td>", escape(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    if values.more_reads > 0 {
        let _ = write!(
            out,
            r#"<p class="more">The first {FINAL_KEYS} keys are shown; {} more final reads are in <a href="history.jsonl">history.jsonl</a>.</p>"#,
            values.more_reads
        );
    }
    out.push_str("</section>");
}

/// The TCP links' table: connections and bytes, and their chunks counted as
/// the HTTP links count messages.
pub fn tcp_links(out: &mut String, links: &[&LinkCounters]) {
    out.push_str(r#"<h3>TCP links</h3><p class="binned">One per replication connection (the replica reads its master's binlog through it; both directions count). A chunk is one read from either side, forwarded as one write. Refused: connections closed at once while cut; cut: open connections a partition closed; forward errors: connections the target did not accept (instance down).</p><table class="links tcp"><tr><th>link</th><th>connections</th><th>refused</th><th>cut</th><th>bytes</th><th>chunks passed</th><th>held</th><th>dropped</th><th>forward errors</th><th>delay p50/p99/max ms</th></tr>"#);
    for l in links {
        let tcp = l.tcp.clone().unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr><td>{}&rarr;{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}/{}/{}</td></tr>"#,
            escape(&l.from),
            escape(&l.to),
            tcp.connections,
            tcp.refused,
            tcp.cut,
            tcp.bytes,
            l.passed,
            l.held,
            l.dropped,
            l.forward_errors,
            l.delay_ms_p50,
            l.delay_ms_p99,
            l.delay_ms_max
        );
    }
    out.push_str("</table>");
}
