//! The `text` workload end to end: real reference nodes under partitions,
//! whole documents under `lww` against the text CRDT libraries.

use std::process::Command;

use serde_json::Value;

/// A 4-second `text` run under partitions, 4 clients on 2 documents.
fn run(strategy: &[&str]) -> (i32, Value) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--quiet", "--time-limit", "4", "--results"])
        .arg(results.path())
        .args(["--workload", "text", "--keys", "2", "--concurrency", "4"])
        .args([
            "--rate",
            "100",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ])
        .args(["--seed", "3", "--strategy"])
        .args(strategy)
        .output()
        .unwrap();
    let run_dir = std::fs::canonicalize(results.path().join("latest"))
        .unwrap_or_else(|_| panic!("no run: {}", String::from_utf8_lossy(&output.stderr)));
    let json =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
            .unwrap();
    (output.status.code().unwrap(), json)
}

fn count(json: &Value, kind: &str) -> u64 {
    json["anomaly_counts"][kind].as_u64().unwrap()
}

#[test]
fn lww_loses_inserts_under_partitions_while_every_text_crdt_keeps_them_and_converges() {
    let (code, json) = run(&["lww"]);
    assert_eq!(code, 1, "{json}");
    assert!(count(&json, "lost-update") > 0, "{json}");
    assert_eq!(
        json["unexpected_counts"]["lost-update"], 0,
        "inherent under lww"
    );
    for lib in ["automerge", "yrs", "loro"] {
        let (_, json) = run(&["crdt", "--text-crdt", lib]);
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
    for label in ["lww", "crdt:automerge", "crdt:yrs", "crdt:loro"] {
        assert!(stdout.contains(label), "row {label} missing:\n{stdout}");
    }
    assert!(stdout.contains("interleavings"), "{stdout}");
}
