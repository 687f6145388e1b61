//! Whole runs under the nemesis: the checkers see the faults' consequences.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Run `diverge run` with `flags` into a fresh results dir; returns the exit
/// code, results.json and the run directory.
fn run(flags: &[&str]) -> (i32, Value, PathBuf, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("run")
        .arg("--results")
        .arg(results.path())
        .arg("--quiet")
        .args(flags)
        .output()
        .unwrap();
    let run_dir = std::fs::canonicalize(results.path().join("latest")).unwrap_or_else(|_| {
        panic!(
            "no run directory; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
            .unwrap();
    (output.status.code().unwrap(), json, run_dir, results)
}

fn count(json: &Value, kind: &str) -> u64 {
    json["anomaly_counts"][kind].as_u64().unwrap()
}

fn nemesis_starts(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            l.contains("\"process\":\"nemesis\"")
                && l.contains("\"type\":\"ok\"")
                && l.contains("\"f\":\"start-")
        })
        .count()
}

#[test]
fn without_fsync_crashes_lose_acknowledged_adds_and_with_fsync_they_do_not() {
    // Home routing: no conflicts, so any lost add is the crash's doing.
    let flags = |fsync| {
        vec![
            "--nemesis",
            "crash",
            "--nemesis-interval",
            "1",
            "--routing",
            "home",
            "--keys",
            "3",
            "--rate",
            "0",
            "--time-limit",
            "5",
            "--seed",
            "3",
            "--fsync",
            fsync,
        ]
    };
    let (code, json, _, _dir) = run(&flags("never"));
    assert_eq!(code, 1, "{json}");
    assert!(count(&json, "lost-update") > 0, "{json}");
    let (code, json, _, _dir) = run(&flags("always"));
    assert_eq!(
        count(&json, "lost-update"),
        0,
        "fsync before ack must survive crashes: {json}"
    );
    assert_eq!(count(&json, "divergence"), 0, "{json}");
    assert_eq!(code, 0, "{json}");
}

#[test]
fn five_nodes_under_every_fault_converge_and_report_every_window() {
    let (code, json, run_dir, _dir) = run(&[
        "--nodes",
        "5",
        "--nemesis",
        "all",
        "--nemesis-interval",
        "1",
        "--time-limit",
        "8",
        "--seed",
        "7",
    ]);
    assert_eq!(code, 1, "last-write-wins loses adds: {json}");
    assert!(count(&json, "lost-update") > 0);
    assert_eq!(
        count(&json, "divergence"),
        0,
        "LWW must converge after the heal: {json}"
    );
    assert_eq!(json["run"]["quiesced"], true);
    let windows = json["run"]["faults"].as_array().unwrap();
    assert!(windows.len() >= 4, "{windows:?}");
    assert_eq!(
        windows.len(),
        nemesis_starts(&run_dir),
        "every fault start has a window"
    );
    assert!(
        windows.iter().any(|w| w["fault"] == "offline"),
        "offline is always scheduled: {windows:?}"
    );
    let report = std::fs::read_to_string(run_dir.join("report.txt")).unwrap();
    for window in windows {
        assert!(report.contains(window["fault"].as_str().unwrap()));
    }
    assert!(report.contains("n1->n2"), "link counters in the report");
}

#[test]
fn clock_skew_makes_last_write_wins_lose_more() {
    let flags = |nemesis| {
        vec![
            "--nemesis",
            nemesis,
            "--nemesis-interval",
            "1",
            "--rate",
            "500",
            "--max-clock-skew",
            "10000",
            "--time-limit",
            "5",
            "--seed",
            "11",
        ]
    };
    let (_, calm, _, _d1) = run(&flags("none"));
    let (_, skewed, _, _d2) = run(&flags("clock"));
    let (calm, skewed) = (count(&calm, "lost-update"), count(&skewed, "lost-update"));
    assert!(
        skewed > calm,
        "clock skew lost {skewed} adds, no fault {calm}"
    );
}

#[test]
fn nemesis_all_shows_every_fault_kind_once_there_are_as_many_windows() {
    // 8 s at 0.5 s intervals: 8 windows for the 6 dealt kinds, and
    // offline's own long window.
    let (_, json, run_dir, _dir) = run(&[
        "--nemesis",
        "all",
        "--nemesis-interval",
        "0.5",
        "--time-limit",
        "8",
        "--nodes",
        "5",
        "--seed",
        "3",
    ]);
    let faults: std::collections::BTreeSet<&str> = json["run"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["fault"].as_str().unwrap())
        .collect();
    assert_eq!(
        faults.into_iter().collect::<Vec<_>>(),
        [
            "clock",
            "crash",
            "duplicate",
            "offline",
            "partition",
            "pause",
            "reorder"
        ],
        "{}",
        json["run"]["faults"]
    );
    assert!(nemesis_starts(&run_dir) >= 7);
}
