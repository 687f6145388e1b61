//! `--node-cmd`: diverge tests nodes it did not write. The Python example
//! node (examples/python-node) passes a partitioned register run; its broken
//! variant and nodes that break the protocol are caught, with errors that
//! name the node, the request and the problem.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[path = "common/output.rs"]
mod output;
use output::{describe, results_json};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn python_node(extra: &str) -> String {
    format!(
        "python3 {} --id {{id}} --listen {{listen}} --data-dir {{data_dir}} --peers {{peers}}{extra}",
        repo("examples/python-node/node.py").display()
    )
}

/// `diverge run --node-cmd TEMPLATE flags...` into a fresh results dir.
fn run(template: &str, flags: &[&str]) -> (Output, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("run")
        .arg("--results")
        .arg(results.path())
        .args(["--node-cmd", template, "--quiet"])
        .args(flags)
        .output()
        .unwrap();
    (output, results)
}

const PARTITIONED_REGISTER: [&str; 12] = [
    "--workload",
    "register",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "1.5",
    "--time-limit",
    "6",
    "--keys",
    "30",
    "--seed",
    "2",
];

#[test]
fn the_python_node_passes_a_partitioned_register_run() {
    let (output, results) = run(&python_node(""), &PARTITIONED_REGISTER);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let json = results_json(results.path());
    assert_eq!(json["valid"], true, "{json}");
    assert_eq!(json["run"]["quiesced"], true, "{json}");
    let cut: u64 = json["run"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["dropped"].as_u64().unwrap())
        .sum();
    assert!(
        cut > 0,
        "the partition never cut a replication request: {json}"
    );
}

#[test]
fn the_python_node_that_drops_replicated_changes_is_caught() {
    let (output, results) = run(&python_node(" --drop-every 5"), &PARTITIONED_REGISTER);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let json = results_json(results.path());
    let counts = &json["anomaly_counts"];
    let found = counts["divergence"].as_u64().unwrap() + counts["lost-update"].as_u64().unwrap();
    assert!(found > 0, "{json}");
}

#[test]
fn a_node_that_forgets_acknowledged_writes_under_home_routing_is_unexpected() {
    // One writer per key: no conflict strategy loses a write, so every
    // lost update is a bug, whatever strategy the run names.
    // The set workload: a forgotten add is never written back, so no
    // final read holds it (a register's next write would hide it).
    let flags = [
        "--workload",
        "set",
        "--routing",
        "home",
        "--time-limit",
        "4",
        "--keys",
        "6",
        "--seed",
        "5",
    ];
    let (output, results) = run(&python_node(" --lose-every 40"), &flags);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let json = results_json(results.path());
    let lost: Vec<&Value> = json["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "lost-update")
        .collect();
    assert!(!lost.is_empty(), "{json}");
    for anomaly in json["anomalies"].as_array().unwrap() {
        assert_eq!(anomaly["expectation"], "unexpected", "{anomaly}");
    }
    assert_eq!(
        json["unexpected_counts"]["lost-update"],
        json["anomaly_counts"]["lost-update"]
    );
}

#[test]
fn a_node_without_the_workloads_endpoint_acknowledges_nothing_and_proves_nothing() {
    // The Python node has no /ids and no /claim: every op fails.
    for workload in ["unique-ids", "constraint"] {
        let flags = ["--workload", workload, "--time-limit", "2", "--seed", "3"];
        let (output, results) = run(&python_node(""), &flags);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let json = results_json(results.path());
        assert_eq!(json["valid"], "unknown", "{json}");
        assert_eq!(json["stats"]["ok"], 0, "{json}");
        assert!(json["stats"]["fail"].as_u64().unwrap() > 0, "{json}");
        let reasons = json["inconclusive"].to_string();
        assert!(
            reasons.contains("acknowledged nothing proves nothing"),
            "{json}"
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            report.contains("acknowledged nothing proves nothing"),
            "{report}"
        );
    }
}

#[test]
fn a_node_that_never_gets_ready_is_named_with_its_request() {
    let (output, _results) = run(
        "sleep 30 # {id} {listen}",
        &["--ready-timeout", "1", "--time-limit", "1"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("node n1 was not ready after 1.0s: GET http://127.0.0.1:")
            && stderr.contains("/health connection refused"),
        "{stderr}"
    );
}

/// A 1 s register run of two `tests/fixtures/bad_node.py` nodes (replies
/// that are not JSON, no `/admin/*` routes), with `extra` flags.
fn run_bad_node(extra: &[&str]) -> (Output, tempfile::TempDir) {
    let template = format!(
        "python3 {} --listen {{listen}}",
        repo("tests/fixtures/bad_node.py").display()
    );
    let mut flags = vec!["--workload", "register", "--time-limit", "1"];
    flags.extend(["--settle", "0.2", "--nodes", "2"]);
    flags.extend(extra);
    run(&template, &flags)
}

#[test]
fn a_node_that_sends_bad_json_is_named_and_status_falls_back_to_settling() {
    let (output, results) = run_bad_node(&[]);
    // Every read and final read fails: inconclusive.
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let history = std::fs::read_to_string(results.path().join("latest/history.jsonl")).unwrap();
    assert!(
        history.contains("node n1 GET /kv/k") && history.contains("malformed read reply"),
        "{history}"
    );
    let json = results_json(results.path());
    let notes = json["run"]["notes"].to_string();
    assert!(
        notes.contains("does not serve GET /admin/status") && notes.contains("--settle"),
        "{json}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("note: node n1 does not serve GET /admin/status"),
        "{stdout}"
    );
}

/// Issue 20: a fault the nodes refused is recorded as refused (a `fail`
/// with their answer), opens no fault window, and the reports say it did
/// not happen.
#[test]
fn a_clock_fault_the_nodes_refuse_is_recorded_and_reported_as_not_happening() {
    let (output, results) = run_bad_node(&["--nemesis", "clock", "--nemesis-interval", "0.3"]);
    let history = std::fs::read_to_string(results.path().join("latest/history.jsonl")).unwrap();
    let clock_ops: Vec<Value> = history
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|op| op["process"] == "nemesis" && op["f"] == "start-clock")
        .filter(|op| op["type"] != "invoke")
        .collect();
    assert!(!clock_ops.is_empty(), "{}", describe(&output));
    for op in &clock_ops {
        assert_eq!(op["type"], "fail", "{op}");
        assert!(op["error"].as_str().unwrap().contains("404"), "{op}");
    }
    let json = results_json(results.path());
    let faults = json["run"]["faults"].as_array().unwrap();
    assert!(faults.iter().all(|w| w["fault"] != "clock"), "{json}");
    let refused = json["run"]["refused_faults"].as_array().unwrap();
    assert_eq!(refused.len(), clock_ops.len(), "{json}");
    assert!(
        refused
            .iter()
            .all(|r| r["partial"] == false && r["f"] == "start-clock")
    );
    let report = std::fs::read_to_string(results.path().join("latest/report.txt")).unwrap();
    assert!(
        report.contains("refused faults") && report.contains("did not happen"),
        "{report}"
    );
    let html = std::fs::read_to_string(results.path().join("latest/report.html")).unwrap();
    assert!(html.contains("did not happen") && html.contains("No fault took effect."));
}

#[test]
fn an_unknown_placeholder_is_a_usage_error() {
    let (output, _results) = run("node --id {node}", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid --node-cmd: unknown placeholder {node}"),
        "{stderr}"
    );
}

/// `diverge compare --node-cmd ...` with flags, into a fresh results dir.
fn compare(template: &str, flags: &[&str]) -> (Output, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("compare")
        .arg("--results")
        .arg(results.path())
        .args(["--node-cmd", template, "--quiet"])
        .args(flags)
        .output()
        .unwrap();
    (output, results)
}

#[test]
fn compare_runs_a_node_without_strategy_choice_once_and_reports_like_a_run() {
    // The template has no {strategy}: one row, the nodes' own (lww).
    let (output, results) = compare(
        &python_node(""),
        &["--workload", "register", "--time-limit", "2", "--seed", "5"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let dir = results.path().join("latest-compare");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["strategy"], "lww");
    assert_eq!(rows[0]["topology"], "all-to-all");
    let figures = &rows[0]["figures"];
    assert_eq!(figures["verdict"], "valid", "{json}");
    assert!(
        figures["acknowledged_writes"].as_u64().unwrap() > 0,
        "{json}"
    );
    assert!(figures.get("db_findings").is_none(), "{json}");
    let run_dir = results.path().join(rows[0]["run_dir"].as_str().unwrap());
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    // No fault acts on the network: the nodes peered directly, and the
    // run's report says so where the links would be.
    assert!(
        html.contains(r#"id="notes""#) && html.contains("nodes peered directly"),
        "the run's report says how its nodes were connected"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("lww / all-to-all"), "{stdout}");
    assert!(!stdout.contains("db findings"), "{stdout}");
}

#[test]
fn compare_refuses_several_strategies_the_template_does_not_pass_on() {
    let (output, _results) = compare(&python_node(""), &["--strategies", "lww,merge"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid --strategies") && stderr.contains("{strategy}"),
        "{stderr}"
    );
}
