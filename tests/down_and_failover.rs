//! End-to-end tests of `--down` (a node held down for the whole run) and
//! `--routing home-failover`: real node processes on ephemeral loopback ports,
//! real HTTP, the run's own results files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn run_in(results: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let mut args = vec!["run", "--results", results.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(&args)
        .output()
        .expect("running diverge");
    let latest = std::fs::canonicalize(results.join("latest")).unwrap_or_else(|_| {
        panic!(
            "no run directory; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, latest)
}

fn results_json(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap()).unwrap()
}

/// The same set workload (CRDT set: conflicts lose nothing, so only the
/// topology can strand a write) with n2 held down, on `topology`.
fn with_n2_down(topology: &str) -> (Output, Value, PathBuf, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let (output, run_dir) = run_in(
        results.path(),
        &[
            "--workload",
            "set",
            "--strategy",
            "crdt",
            "--topology",
            topology,
            "--down",
            "n2",
            "--keys",
            "2",
            "--rate",
            "150",
            "--time-limit",
            "1.5",
            "--seed",
            "5",
        ],
    );
    let json = results_json(&run_dir);
    (output, json, run_dir, results)
}

#[test]
fn a_ring_strands_writes_at_a_down_node_and_all_to_all_does_not() {
    let (ring_out, ring, ring_dir, _keep) = with_n2_down("ring");
    // n1 -> n2 -> n3 -> n1: n1's writes stop at n2 and never reach n3.
    assert_eq!(ring_out.status.code(), Some(1), "divergence is found");
    assert!(ring["never_replicated"]["count"].as_u64().unwrap() > 0);
    assert!(ring["anomaly_counts"]["divergence"].as_u64().unwrap() > 0);
    assert_eq!(ring["anomaly_counts"]["lost-update"], 0);
    assert_eq!(
        ring["run"]["quiesced"], true,
        "backlogs to n2 are not waited for"
    );
    // n2 is not read at the end, and its absence does not make it unknown.
    assert_eq!(ring["inconclusive"], serde_json::json!([]));
    let finals = ring["run"]["final_reads_expected"].as_u64().unwrap();
    assert_eq!(finals, 2 * 2, "two keys on the two live nodes");
    let history = std::fs::read_to_string(ring_dir.join("history.jsonl")).unwrap();
    assert!(
        !history
            .lines()
            .any(|l| l.contains("final-read") && l.contains(r#""node":"n2""#)),
        "n2 was read at the end"
    );
    let down: Vec<&str> = history
        .lines()
        .filter(|l| l.contains("start-down") && l.contains(r#""type":"ok""#))
        .collect();
    assert_eq!(down.len(), 1);
    assert!(down[0].contains(r#"["n2"]"#), "{}", down[0]);
    // Ops sent to n2 failed (connection refused), definitely.
    assert_eq!(ring["availability"]["n2"]["ok"], 0);
    assert!(ring["availability"]["n2"]["fail"].as_u64().unwrap() > 0);

    let (all_out, all, _, _keep) = with_n2_down("all-to-all");
    assert_eq!(all_out.status.code(), Some(0), "{all}");
    assert_eq!(all["never_replicated"]["count"], 0);
    assert_eq!(all["anomaly_counts"]["divergence"], 0);
    assert_eq!(all["valid"], true);
}

#[test]
fn down_names_a_node_of_the_test() {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--results", results.path().to_str().unwrap()])
        .args(["--down", "n7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--down") && stderr.contains("\"n7\" is not a node"),
        "{stderr}"
    );
}

/// Home routing with an offline leader: `home` keeps every key on its home
/// and loses nothing; `home-failover` moves the offline leader's keys to
/// another node and back, so two leaders take writes to one key.
#[test]
fn failover_re_routes_a_home_and_loses_adds_that_home_routing_keeps() {
    let run = |routing: &str| {
        let results = tempfile::tempdir().unwrap();
        let (output, run_dir) = run_in(
            results.path(),
            &[
                "--workload",
                "set",
                "--strategy",
                "lww",
                "--routing",
                routing,
                "--nemesis",
                "offline",
                "--keys",
                "3",
                "--rate",
                "300",
                "--time-limit",
                "2",
                "--seed",
                "4",
            ],
        );
        let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
        (output, results_json(&run_dir), history, results)
    };
    let (home_out, home, home_history, _keep) = run("home");
    assert_eq!(home_out.status.code(), Some(0), "{home}");
    assert_eq!(home["anomaly_counts"]["lost-update"], 0);
    assert!(!home_history.contains("failover"));

    let (out, failover, history, _keep) = run("home-failover");
    assert_eq!(out.status.code(), Some(1));
    assert!(failover["anomaly_counts"]["lost-update"].as_u64().unwrap() > 0);
    // The offline leader's keys moved away while it was cut off, and back.
    let offline = history
        .lines()
        .find(|l| l.contains("start-offline") && l.contains(r#""type":"ok""#))
        .expect("an offline window");
    let node = serde_json::from_str::<Value>(offline).unwrap()["value"][0]
        .as_str()
        .unwrap()
        .to_string();
    let windows: Vec<Value> = history
        .lines()
        .filter(|l| l.contains("-failover") && l.contains(r#""type":"ok""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(windows.len(), 2, "one failover and its end: {windows:?}");
    assert_eq!(windows[0]["f"], "start-failover");
    assert!(windows[0]["value"][&node].is_string(), "{windows:?}");
    assert_eq!(windows[1]["f"], "stop-failover");
    assert_eq!(failover["run"]["faults"].as_array().unwrap().len(), 2);
}
