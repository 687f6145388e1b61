//! The `text` workload end to end: real reference nodes under partitions,
//! whole documents under `lww` against the text CRDT libraries.

mod common;

use std::process::Command;

use common::{count, run};
use serde_json::Value;

/// A 4-second `text` run under partitions, 4 clients on 2 documents.
fn text_run(strategy: &[&str]) -> (i32, Value) {
    let results = tempfile::tempdir().unwrap();
    let mut flags = vec![
        "--time-limit",
        "4",
        "--workload",
        "text",
        "--keys",
        "2",
        "--concurrency",
        "4",
        "--rate",
        "100",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--seed",
        "3",
        "--strategy",
    ];
    flags.extend(strategy);
    run(results.path(), &flags)
}

#[test]
fn lww_loses_inserts_under_partitions_while_every_text_crdt_keeps_them_and_converges() {
    let (code, json) = text_run(&["lww"]);
    assert_eq!(code, 1, "{json}");
    assert!(count(&json, "lost-update") > 0, "{json}");
    assert_eq!(
        json["unexpected_counts"]["lost-update"], 0,
        "inherent under lww"
    );
    for lib in ["automerge", "yrs", "loro"] {
        let (_, json) = text_run(&["crdt", "--text-crdt", lib]);
        assert!(json["stats"]["ok"].as_u64().unwrap() > 50, "{lib}: {json}");
        assert_eq!(
            json["stats"]["final_reads"], 6,
            "{lib}: 2 documents x 3 nodes"
        );
        assert_eq!(count(&json, "lost-update"), 0, "{lib}: {json}");
        assert_eq!(count(&json, "divergence"), 0, "{lib}: {json}");
        assert_eq!(count(&json, "intention-violation"), 0, "{lib}: {json}");
    }
}

/// Every client types at the ends of one document under partitions; the
/// table has one row per library, each with an interleaving count (which
/// it reports, whatever it is).
#[test]
fn compare_tabulates_interleavings_per_text_crdt_library() {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["compare", "--quiet", "--time-limit", "3", "--results"])
        .arg(results.path())
        .args(["--workload", "text", "--keys", "1", "--concurrency", "4"])
        .args([
            "--rate",
            "100",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ])
        .args(["--seed", "5", "--strategies", "lww,crdt"])
        .args(["--text-crdts", "automerge,yrs,loro"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("interleavings"), "{stdout}");
    let dir = std::fs::read_dir(results.path().join("compare"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(dir.join("compare.json")).unwrap();
    let comparison: Value = serde_json::from_str(&text).unwrap();
    let rows = comparison["rows"].as_array().unwrap();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| r["strategy"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        labels,
        ["lww", "crdt:automerge", "crdt:yrs", "crdt:loro"],
        "{text}"
    );
    for row in &rows[1..] {
        let figures = &row["figures"];
        assert!(figures["interleavings"].is_u64(), "{row}");
        assert_eq!(figures["lost_updates"], 0, "{row}");
        assert_eq!(figures["divergent_keys"], 0, "{row}");
    }
    assert!(
        rows[0]["figures"]["lost_updates"].as_u64().unwrap() > 0,
        "{}",
        rows[0]
    );
}
