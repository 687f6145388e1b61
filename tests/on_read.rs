//! `--strategy custom --on-read FILE` end to end: the nodes keep siblings,
//! the workload clients resolve them with the rhai script from the file and
//! write the result back with the context.

use std::process::Command;

use serde_json::Value;

#[test]
fn the_union_cart_resolver_loses_no_add_under_partitions() {
    let results = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/handlers/union_cart.rhai"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--quiet", "--results"])
        .arg(results.path())
        .args(["--nodes", "3", "--workload", "set", "--strategy", "custom"])
        .args(["--on-read", script, "--nemesis", "partition"])
        .args([
            "--nemesis-interval",
            "1",
            "--time-limit",
            "4",
            "--seed",
            "11",
        ])
        .output()
        .unwrap();
    let run_dir = std::fs::canonicalize(results.path().join("latest")).unwrap();
    let json = std::fs::read_to_string(run_dir.join("results.json")).unwrap();
    let results: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(output.status.code(), Some(0), "{results}");
    assert_eq!(results["anomaly_counts"]["lost-update"], 0, "{results}");
    assert_eq!(results["anomaly_counts"]["divergence"], 0, "{results}");
    // Partitions made siblings, and the clients resolved them with the
    // script, every time (a failed call would leave a note).
    let resolutions = results["run"]["resolutions"].as_u64().unwrap_or(0);
    assert!(resolutions > 0, "no sibling set was resolved: {results}");
    assert!(
        results["run"]
            .get("notes")
            .is_none_or(|n| !n.to_string().contains("on-read")),
        "{results}"
    );
}

#[test]
fn a_script_that_does_not_compile_stops_the_run_before_it_starts() {
    let results = tempfile::tempdir().unwrap();
    let script = results.path().join("broken.rhai");
    std::fs::write(&script, "fn on_read(key, values) { ").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--quiet", "--results"])
        .arg(results.path())
        .args([
            "--workload",
            "register",
            "--strategy",
            "custom",
            "--on-read",
        ])
        .arg(&script)
        .args(["--time-limit", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(stderr.contains("broken.rhai"), "{stderr}");
}
