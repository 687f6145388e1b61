//! The index page: every run directory (`<test>/<stamp>/`) and every
//! comparison (`compare/<stamp>/compare.json`) under the results directory,
//! newest first, read from their `results.json`, `test.json` and
//! `compare.json`.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::report::html::escape;

/// One run directory, as listed.
struct Run {
    /// `<test>/<stamp>`, relative to the results directory.
    path: String,
    stamp: String,
    test: Option<Value>,
    results: Option<Value>,
}

struct Comparison {
    path: String,
    stamp: String,
    json: Value,
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn scan(root: &Path) -> (Vec<Run>, Vec<Comparison>) {
    let (mut runs, mut comparisons) = (Vec::new(), Vec::new());
    let Ok(tests) = std::fs::read_dir(root) else {
        return (runs, comparisons);
    };
    for test in tests.flatten() {
        // `latest` links point at runs listed anyway.
        if !test.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let test_name = test.file_name().to_string_lossy().into_owned();
        let Ok(stamps) = std::fs::read_dir(test.path()) else {
            continue;
        };
        for stamp in stamps.flatten() {
            if !stamp.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let dir = stamp.path();
            let stamp = stamp.file_name().to_string_lossy().into_owned();
            let path = format!("{test_name}/{stamp}");
            if let Some(json) = read_json(&dir.join("compare.json")) {
                comparisons.push(Comparison { path, stamp, json });
            } else if dir.join("test.json").is_file() {
                runs.push(Run {
                    path,
                    stamp,
                    test: read_json(&dir.join("test.json")),
                    results: read_json(&dir.join("results.json")),
                });
            }
        }
    }
    runs.sort_by(|a, b| b.stamp.cmp(&a.stamp).then(a.path.cmp(&b.path)));
    comparisons.sort_by(|a, b| b.stamp.cmp(&a.stamp));
    (runs, comparisons)
}

fn field(v: Option<&Value>, key: &str) -> String {
    match v.and_then(|v| v.get(key)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(Value::Array(items)) if items.is_empty() => "none".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or(i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn verdict(results: Option<&Value>) -> (&'static str, &'static str) {
    match results.and_then(|r| r.get("valid")) {
        Some(Value::Bool(true)) => ("valid", "valid"),
        Some(Value::Bool(false)) => ("invalid", "invalid"),
        Some(_) => ("unknown", "unknown"),
        None => ("no results", "none"),
    }
}

/// The index page.
pub fn render(root: &Path) -> String {
    let (runs, comparisons) = scan(root);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>diverge results</title><style>
body{{font:14px/1.45 system-ui,sans-serif;color:#1f2328;max-width:1280px;margin:0 auto;padding:12px 24px}}
table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #d0d7de;padding:3px 8px;text-align:left}}th{{background:#f6f8fa}}
td.valid{{color:#2e9d4a;font-weight:700}}td.invalid{{color:#d64541;font-weight:700}}td.unknown{{color:#b07800;font-weight:700}}td.none{{color:#59636e}}
td a{{margin-right:6px;white-space:nowrap}}td{{vertical-align:top}}</style></head><body>
<h1>diverge results</h1><p>{} &middot; {} runs, {} comparisons, newest first</p>"#,
        escape(&root.display().to_string()),
        runs.len(),
        comparisons.len()
    );
    out.push_str(r#"<h2>Comparisons</h2>"#);
    if comparisons.is_empty() {
        out.push_str("<p>None yet (<code>diverge compare</code>).</p>");
    } else {
        out.push_str(r#"<table id="comparisons"><tr><th>time</th><th>workload</th><th>nemesis</th><th>seed</th><th>configurations</th><th>files</th></tr>"#);
        for c in &comparisons {
            let configurations: Vec<String> = c
                .json
                .get("rows")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| {
                    format!(
                        "{} / {}",
                        field(Some(r), "strategy"),
                        field(Some(r), "topology")
                    )
                })
                .collect();
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/files/{p}/compare.html">compare.html</a><a href="/files/{p}/compare.json">compare.json</a></td></tr>"#,
                escape(&c.stamp),
                escape(&field(Some(&c.json), "workload")),
                escape(&field(Some(&c.json), "nemesis")),
                escape(&field(Some(&c.json), "seed")),
                escape(&configurations.join(", ")),
                p = escape(&c.path)
            );
        }
        out.push_str("</table>");
    }
    out.push_str(r#"<h2>Runs</h2>"#);
    if runs.is_empty() {
        out.push_str("<p>None yet (<code>diverge run</code>).</p>");
    }
    out.push_str(r#"<table id="runs"><tr><th>test</th><th>time</th><th>workload</th><th>strategy</th><th>topology</th><th>nemesis</th><th>verdict</th><th>counts</th><th>files</th></tr>"#);
    for run in &runs {
        let test = run.test.as_ref();
        let results = run.results.as_ref();
        let (word, class) = verdict(results);
        let stats = results.and_then(|r| r.get("stats"));
        let mut counts = format!("{} ops, {} ok", field(stats, "ops"), field(stats, "ok"));
        if let Some(kinds) = results
            .and_then(|r| r.get("anomaly_counts"))
            .and_then(Value::as_object)
        {
            for (kind, n) in kinds {
                if n.as_u64().unwrap_or(0) > 0 {
                    let _ = write!(counts, "; {n} {kind}");
                }
            }
        }
        let p = escape(&run.path);
        let mut files = String::new();
        for name in [
            "report.html",
            "report.txt",
            "results.json",
            "history.jsonl",
            "test.json",
        ] {
            if root.join(&run.path).join(name).is_file() {
                let _ = write!(files, r#"<a href="/files/{p}/{name}">{name}</a>"#);
            }
        }
        let mut logs: Vec<String> = std::fs::read_dir(root.join(&run.path).join("nodes"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".log"))
            .collect();
        logs.sort();
        for log in logs {
            let log = escape(&log);
            let _ = write!(files, r#"<a href="/files/{p}/nodes/{log}">{log}</a>"#);
        }
        let _ = write!(
            out,
            r#"<tr class="run"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{class}">{word}</td><td>{}</td><td>{files}</td></tr>"#,
            escape(&field(test, "test_name")),
            escape(&run.stamp),
            escape(&field(test, "workload")),
            escape(&field(test, "strategy")),
            escape(&field(test, "topology")),
            escape(&field(test, "nemesis")),
            escape(&counts),
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
