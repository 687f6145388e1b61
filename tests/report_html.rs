//! `report.html` for a history of a million ops: every op drawn (binned),
//! small enough to ship, and fast for a browser. The browser half runs only
//! where Debian's `chromium` is installed (CI installs it).

mod browser;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A register history of `ops` client ops (each an invoke and a
/// completion) from 40 processes over ~500 s, with partition windows, some
/// failed and indeterminate ops, and final reads where node n3 kept stale
/// values of a few keys (so there are lost updates and divergence).
pub fn synth_register_history(path: &Path, ops: u64) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let processes = 40u64;
    let keys = 100u64;
    let nodes = ["n1", "n2", "n3"];
    let mut index = 0u64;
    let mut line = String::with_capacity(256);
    let mut last_write = vec![None::<u64>; keys as usize];
    let mut previous_write = vec![None::<u64>; keys as usize];
    let emit = |line: &str, out: &mut std::io::BufWriter<std::fs::File>| {
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    };
    let step_ns = 500_000u64; // one op every 0.5 ms
    for i in 0..ops {
        let t = i * step_ns;
        // Nemesis: a partition for 20 s out of every 100 s.
        if t % 100_000_000_000 == 30_000_000_000 || t % 100_000_000_000 == 50_000_000_000 {
            let f = if t % 100_000_000_000 == 30_000_000_000 {
                "start-partition"
            } else {
                "stop-partition"
            };
            line.clear();
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{t},"process":"nemesis","type":"ok","f":"{f}","value":{{"shape":"isolate-one","cut":["n3->n1"]}}}}"#
            );
            emit(&line, &mut out);
            index += 1;
        }
        let process = i % processes;
        let key = ((i / 2) * 13 + (i % 2) * 26) % keys;
        let node = nodes[(i % 3) as usize];
        let latency = 300_000 + (i * 104_729) % 4_000_000;
        let write = i % 2 == 0;
        line.clear();
        if write {
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{t},"process":{process},"type":"invoke","f":"write","key":"k{key}","value":{i},"node":"{node}"}}"#
            );
        } else {
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{t},"process":{process},"type":"invoke","f":"read","key":"k{key}","node":"{node}"}}"#
            );
        }
        emit(&line, &mut out);
        index += 1;
        let outcome = match i % 997 {
            0 => "fail",
            1 => "info",
            _ => "ok",
        };
        line.clear();
        let done = t + latency;
        if write {
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{done},"process":{process},"type":"{outcome}","f":"write","key":"k{key}","value":{i},"node":"{node}"}}"#
            );
            if outcome == "ok" {
                previous_write[key as usize] = last_write[key as usize];
                last_write[key as usize] = Some(i);
            }
        } else {
            let value = last_write[key as usize].map_or("[]".to_string(), |v| format!("[{v}]"));
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{done},"process":{process},"type":"{outcome}","f":"read","key":"k{key}","value":{},"node":"{node}"}}"#,
                if outcome == "ok" {
                    value.as_str()
                } else {
                    "null"
                }
            );
        }
        emit(&line, &mut out);
        index += 1;
    }
    // Final reads, after the ops: n3 holds the previous value of every 10th key.
    let mut t = ops * step_ns + 1_000_000_000;
    for key in 0..keys {
        for node in nodes {
            let value = if node == "n3" && key % 10 == 0 {
                previous_write[key as usize]
            } else {
                last_write[key as usize]
            };
            let value = value.map_or("[]".to_string(), |v| format!("[{v}]"));
            line.clear();
            let _ = write!(
                line,
                r#"{{"index":{index},"time":{t},"process":1000000,"type":"invoke","f":"final-read","key":"k{key}","node":"{node}"}}"#
            );
            emit(&line, &mut out);
            line.clear();
            let _ = write!(
                line,
                r#"{{"index":{},"time":{},"process":1000000,"type":"ok","f":"final-read","key":"k{key}","value":{value},"node":"{node}"}}"#,
                index + 1,
                t + 100_000
            );
            emit(&line, &mut out);
            index += 2;
            t += 200_000;
        }
    }
    out.flush().unwrap();
}

#[test]
fn a_million_op_report_is_complete_small_and_fast_to_render() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    synth_register_history(&history, 1_000_000);
    let out = dir.path().join("out");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", history.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let check_s = started.elapsed().as_secs_f64();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let size = html.len();
    eprintln!(
        "1,000,000-op history: diverge check + report {check_s:.1}s; report.html {:.2} MB",
        size as f64 / 1e6
    );
    assert!(size < 10_000_000, "report.html is {size} bytes");
    // Every op is drawn: the binning note counts all of them.
    assert!(
        html.contains("Binned: all 1000000 client ops are drawn"),
        "the binning note is missing"
    );
    assert!(html.contains(r#"id="verdict" class="verdict invalid""#));
    assert!(html.contains("divergence (10)"), "divergent keys listed");
    assert!(html.contains("lost-update (10)"), "lost updates listed");
    assert!(html.contains("partition"));
    // Replication lag over time: binned by the checkers, drawn with the faults.
    let lag = html
        .split(r#"aria-label="replication lag over time""#)
        .nth(1)
        .expect("the replication lag chart is in the page")
        .split("</svg>")
        .next()
        .unwrap();
    assert!(lag.contains(r#"<polyline class="p99" points=""#));
    assert!(!lag.contains(r#"points="""#), "every lag line has points");
    assert!(
        lag.contains(r#"<rect class="fault"#),
        "fault windows shaded"
    );
    assert!(html.contains(r#"<h2 id="lag">Replication lag</h2><p class="binned">"#));
    assert!(
        html.contains("<td>1 values</td>"),
        "the largest read is counted"
    );

    let Some(chromium) = browser::chromium() else {
        return;
    };
    let timing = browser::render(&chromium, &report, dir.path());
    eprintln!(
        "1,000,000-op report.html in headless Chromium: load event at {} ms, screenshot run {:.2}s (browser start included)",
        timing.load_ms, timing.wall_s
    );
    assert!(
        timing.load_ms < 3000,
        "the page took {} ms to load",
        timing.load_ms
    );
    assert!(timing.dom.contains("<svg"), "charts rendered");
}
