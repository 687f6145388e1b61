//! For the `insert-update` runs over databases: how many updates went to
//! another instance than their insert (the race was on), and which
//! updates each PostgreSQL instance's log says its apply workers skipped
//! because the row was not there yet, to set against the lost updates the
//! checkers found.
#![allow(dead_code, reason = "each test binary uses only part of it")]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The flags of a short `insert-update` run where updates race their
/// inserts: two datacenters, so an update written next to its insert
/// reaches the far instance over another link than the insert.
pub const RACED: [&str; 16] = [
    "--workload",
    "insert-update",
    "--nodes",
    "3",
    "--datacenters",
    "2",
    "--dc-latency",
    "50",
    "--rate",
    "200",
    "--concurrency",
    "10",
    // Whether an update overtakes its insert depends on the links' jitter:
    // a 3 s run had none about one time in five (native PostgreSQL, 1-10
    // lost updates per run otherwise); 8 s makes a run without any
    // vanishingly rare.
    "--time-limit",
    "8",
    "--seed",
    "7",
];

/// How many updates were acknowledged by another instance than their
/// insert, from the run's history: a step's insert writes the number its
/// key ends with, its update any other value.
pub fn updates_elsewhere(run_dir: &Path) -> usize {
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    let mut inserted_at = std::collections::BTreeMap::new();
    let mut elsewhere = 0;
    for line in history.lines() {
        let op: Value = serde_json::from_str(line).unwrap();
        if op["type"] != "ok" || op["f"] != "write" {
            continue;
        }
        let key = op["key"].as_str().unwrap();
        let node = op["node"].as_str().unwrap().to_string();
        if key == format!("row-{}", op["value"]) {
            inserted_at.insert(key.to_string(), node);
        } else if inserted_at.get(key).is_some_and(|at| *at != node) {
            elsewhere += 1;
        }
    }
    elsewhere
}

/// `(node, key)` of every lost update the checkers found.
pub fn lost_updates(json: &Value) -> BTreeSet<(String, String)> {
    let anomalies = json["anomalies"].as_array().expect("anomalies");
    anomalies
        .iter()
        .filter(|a| a["kind"] == "lost-update")
        .map(|a| {
            let text = a["explanation"].as_str().unwrap();
            let node = text.split("yet node ").nth(1).unwrap()[..2].to_string();
            (node, a["key"].as_str().unwrap().to_string())
        })
        .collect()
}

/// How a PostgreSQL log records an update skipped for want of its row:
/// after each `marker`, the key follows the next `key_before`, up to
/// `key_after`.
pub struct SkipLog {
    pub marker: &'static str,
    pub key_before: &'static str,
    pub key_after: char,
}

/// A run of [`RACED`] that exited `code` with `json` in `run_dir`: the
/// race was on (updates went to other instances), updates were lost, and
/// the lost updates are exactly the skips the logs record, node by node
/// and key by key.
pub fn assert_lost_updates_are_the_logged_skips(
    code: i32,
    json: &Value,
    run_dir: &Path,
    log: &SkipLog,
) {
    let lost = lost_updates(json);
    assert_eq!(code, 1, "{json}");
    assert!(updates_elsewhere(run_dir) > 0, "{json}");
    assert!(!lost.is_empty(), "no update overtook its insert: {json}");
    assert_eq!(lost, skipped_updates(run_dir, log), "{json}");
    // The run counts the same skips (every marker line of every log).
    let logged: usize = ["n1", "n2", "n3"]
        .iter()
        .map(|node| {
            std::fs::read_to_string(run_dir.join(format!("nodes/{node}.log")))
                .unwrap()
                .matches(log.marker)
                .count()
        })
        .sum();
    assert_eq!(json["run"]["skipped_updates"], logged, "{json}");
}

/// `(node, key)` of every update skipped for want of its row, from the
/// logs in `run_dir/nodes/`.
pub fn skipped_updates(run_dir: &Path, how: &SkipLog) -> BTreeSet<(String, String)> {
    let mut skipped = BTreeSet::new();
    for node in ["n1", "n2", "n3"] {
        let log = std::fs::read_to_string(run_dir.join(format!("nodes/{node}.log"))).unwrap();
        for after in log.split(how.marker).skip(1) {
            let key = after.split(how.key_before).nth(1).unwrap();
            let key = &key[..key.find(how.key_after).unwrap()];
            skipped.insert((node.to_string(), key.to_string()));
        }
    }
    skipped
}
