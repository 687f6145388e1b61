//! Every conflict strategy and topology end to end: `diverge run` with real
//! node processes under a partition nemesis, same seed, judged by exit code
//! and the results file.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Run `diverge run` with `flags`; returns (exit code, results.json).
fn run(results: &Path, flags: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--results", results.to_str().unwrap(), "--quiet"])
        .args(flags)
        .output()
        .expect("running diverge");
    let run_dir = std::fs::canonicalize(results.join("latest")).unwrap_or_else(|e| {
        panic!(
            "no run directory ({e}); stdout: {} stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let json = std::fs::read_to_string(run_dir.join("results.json")).expect("results.json");
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&json).unwrap(),
    )
}

/// The count of anomalies of `kind` in a results file.
fn count(results: &Value, kind: &str) -> u64 {
    results["anomaly_counts"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no anomaly count {kind} in {results}"))
}

const PARTITIONED_SET: [&str; 12] = [
    "--nodes",
    "3",
    "--workload",
    "set",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "1",
    "--time-limit",
    "4",
    "--seed",
    "11",
];

#[test]
fn under_partitions_only_the_keeping_strategies_lose_no_acknowledged_add() {
    let handles: Vec<_> = ["lww", "unique-id", "priority", "siblings", "merge", "crdt"]
        .into_iter()
        .map(|strategy| {
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut flags = PARTITIONED_SET.to_vec();
                flags.extend(["--strategy", strategy]);
                let (code, results) = run(dir.path(), &flags);
                (strategy, code, results)
            })
        })
        .collect();
    for handle in handles {
        let (strategy, code, results) = handle.join().unwrap();
        let keeps = matches!(strategy, "siblings" | "merge" | "crdt");
        assert_eq!(
            code,
            if keeps { 0 } else { 1 },
            "{strategy}: unexpected exit code; results: {results}"
        );
        assert_eq!(
            count(&results, "impossible-read"),
            0,
            "{strategy}: {results}"
        );
        assert_eq!(count(&results, "divergence"), 0, "{strategy}: {results}");
        assert_eq!(
            count(&results, "lost-update") > 0,
            !keeps,
            "{strategy}: {results}"
        );
    }
}

#[test]
fn single_leader_loses_nothing_and_refuses_writes_at_followers() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = PARTITIONED_SET.to_vec();
    flags.extend(["--strategy", "lww", "--topology", "single-leader"]);
    let (code, results) = run(dir.path(), &flags);
    assert_eq!(code, 0, "{results}");
    assert_eq!(results["run"]["topology"], "single-leader");
    assert_eq!(count(&results, "lost-update"), 0);
    assert_eq!(count(&results, "divergence"), 0);
    // Writes sent to followers are refused (421, a definite failure): the
    // price in availability.
    let fail = results["stats"]["fail"].as_u64().unwrap();
    let ok = results["stats"]["ok"].as_u64().unwrap();
    assert!(
        fail * 4 > ok,
        "too few refused writes: {fail} fail, {ok} ok"
    );
}
