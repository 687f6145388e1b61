//! Helpers shared by the integration tests that run `diverge run` and judge
//! it by exit code and results file.

pub mod outside;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Run `diverge run` with `flags` into `results`; returns (exit code,
/// results.json of the run).
pub fn run(results: &Path, flags: &[&str]) -> (i32, Value) {
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
pub fn count(results: &Value, kind: &str) -> u64 {
    results["anomaly_counts"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no anomaly count {kind} in {results}"))
}
