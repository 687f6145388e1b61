//! `diverge check` on committed run directories of every workload (and
//! MariaDB's, and bare histories, whose workload is inferred) gives exactly the `results.json` and
//! `report.txt` committed beside each as `expected.json` and
//! `expected.txt`: snapshots of the JSON and text reports, so a
//! refactoring of the pipeline cannot change a single verdict, anomaly,
//! witness, figure or line of the report unnoticed.
//!
//! The fixtures are real runs (`tests/fixtures/histories/<name>/`:
//! `history.jsonl`, `test.json`, the run's own `results.json`); a directory
//! without `test.json` is checked as a bare history file.

use std::path::Path;
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/histories");

fn check_one(dir: &Path) -> Result<(), String> {
    let out = tempfile::tempdir().unwrap();
    let target = if dir.join("test.json").is_file() {
        dir.to_path_buf()
    } else {
        dir.join("history.jsonl")
    };
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--quiet", "--out"])
        .arg(out.path())
        .arg(&target)
        .output()
        .expect("running diverge check");
    for (produced, snapshot) in [
        ("results.json", "expected.json"),
        ("report.txt", "expected.txt"),
    ] {
        let expected = std::fs::read(dir.join(snapshot)).expect("a committed snapshot");
        let actual = std::fs::read(out.path().join(produced)).map_err(|e| {
            format!(
                "no {produced} ({e}); stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        same(produced, snapshot, &actual, &expected)?;
    }
    let expected: Vec<u8> = std::fs::read(dir.join("expected.json")).unwrap();
    let expected_json: serde_json::Value = serde_json::from_slice(&expected).unwrap();
    let want_code = match &expected_json["valid"] {
        serde_json::Value::Bool(true) => 0,
        serde_json::Value::Bool(false) => 1,
        _ => 2,
    };
    match output.status.code() {
        Some(code) if code == want_code => Ok(()),
        other => Err(format!("exit code {other:?}, want {want_code}")),
    }
}

/// `Err` naming the first byte where `actual` leaves `expected`.
fn same(produced: &str, snapshot: &str, actual: &[u8], expected: &[u8]) -> Result<(), String> {
    if actual != expected {
        let first = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        let around = |bytes: &[u8]| {
            String::from_utf8_lossy(
                &bytes[first.saturating_sub(120)..(first + 120).min(bytes.len())],
            )
            .into_owned()
        };
        return Err(format!(
            "{produced} differs from {snapshot} at byte {first}:\n  got: ...{}...\n want: ...{}...",
            around(actual),
            around(expected)
        ));
    }
    Ok(())
}

#[test]
fn check_of_every_committed_run_is_byte_identical_to_its_expected_results() {
    let mut dirs: Vec<_> = std::fs::read_dir(FIXTURES)
        .expect("fixture directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    // Every workload of the reference nodes, MariaDB's, Maelstrom's
    // txn-list-append, and bare histories (a set's, a txn one's).
    assert!(dirs.len() >= 15, "only {} fixtures", dirs.len());
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            check_one(d)
                .err()
                .map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
