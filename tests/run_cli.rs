//! End-to-end tests of `diverge run` and `diverge check`: real node
//! processes on ephemeral loopback ports, real HTTP, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn diverge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(args)
        .output()
        .expect("running diverge")
}

fn run_in(results: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let mut args = vec!["run", "--results", results.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let output = diverge(&args);
    let latest =
        std::fs::canonicalize(results.join("latest")).expect("results/latest points at the run");
    (output, latest)
}

fn results_json(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap()).unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// No process started for this results folder is still running.
fn assert_no_node_left(results: &Path) {
    let needle = results.to_str().unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !(cmdline.contains(" node ") && cmdline.contains(needle)),
            "a node outlived its run: {cmdline}"
        );
    }
}

#[test]
fn lww_loses_acknowledged_adds_under_concurrent_writes() {
    let results = tempfile::tempdir().unwrap();
    // One hot key, unlimited rate: leaders certainly accept concurrent adds.
    let (output, run_dir) = run_in(
        results.path(),
        &[
            "--time-limit",
            "3",
            "--seed",
            "1",
            "--keys",
            "1",
            "--rate",
            "0",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).starts_with("seed: 1 "),
        "the seed is printed first"
    );
    let results_json = results_json(&run_dir);
    assert_eq!(results_json["valid"], Value::Bool(false));
    let lost = results_json["anomaly_counts"]["lost-update"]
        .as_u64()
        .unwrap();
    assert!(lost > 0, "LWW lost nothing: {results_json}");
    for anomaly in results_json["anomalies"].as_array().unwrap() {
        assert!(
            !anomaly["witnesses"].as_array().unwrap().is_empty(),
            "{anomaly}"
        );
        assert!(
            !anomaly["explanation"].as_str().unwrap().is_empty(),
            "{anomaly}"
        );
    }
    assert_eq!(
        results_json["anomaly_counts"]["divergence"], 0,
        "LWW converges"
    );
    for file in ["test.json", "history.jsonl", "report.txt", "nodes/n1.log"] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    assert_eq!(results_json["run"]["seed"], 1);
    assert_no_node_left(results.path());

    // Checking the stored run gives the run's verdict.
    let check = diverge(&["check", run_dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains(&format!("{lost} ")),
        "{}",
        stdout(&check)
    );
}

#[test]
fn home_routing_avoids_conflicts() {
    let results = tempfile::tempdir().unwrap();
    let (output, run_dir) = run_in(
        results.path(),
        &[
            "--time-limit",
            "3",
            "--seed",
            "1",
            "--keys",
            "2",
            "--rate",
            "0",
            "--routing",
            "home",
        ],
    );
    let results_json = results_json(&run_dir);
    assert_eq!(output.status.code(), Some(0), "{results_json}");
    assert_eq!(results_json["valid"], Value::Bool(true));
    assert!(
        results_json["stats"]["ok"].as_u64().unwrap() > 100,
        "the workload ran: {results_json}"
    );
    assert_no_node_left(results.path());
}

#[test]
fn register_workload_without_clock_skew_is_valid_under_lww() {
    let results = tempfile::tempdir().unwrap();
    let (output, run_dir) = run_in(
        results.path(),
        &[
            "--workload",
            "register",
            "--time-limit",
            "2",
            "--seed",
            "3",
            "--rate",
            "0",
            "--nodes",
            "5",
        ],
    );
    let results_json = results_json(&run_dir);
    assert_eq!(output.status.code(), Some(0), "{results_json}");
    assert_eq!(results_json["run"]["nodes"], 5);
    assert_eq!(results_json["run"]["final_reads_expected"], 5 * 8);
    assert_eq!(results_json["run"]["final_reads_ok"], 5 * 8);
    // No fault acts on the network, so the nodes peered directly: no link
    // was interposed, and the report says so.
    assert_eq!(results_json["run"]["links"], Value::Array(Vec::new()));
    assert!(
        results_json["run"]["notes"]
            .to_string()
            .contains("nodes peered directly"),
        "{results_json}"
    );
}

#[test]
fn links_on_routes_and_counts_every_message_without_faults() {
    let results = tempfile::tempdir().unwrap();
    let (output, run_dir) = run_in(
        results.path(),
        &[
            "--workload",
            "register",
            "--time-limit",
            "1",
            "--seed",
            "3",
            "--links",
            "on",
        ],
    );
    let results_json = results_json(&run_dir);
    assert_eq!(output.status.code(), Some(0), "{results_json}");
    let links = results_json["run"]["links"].as_array().unwrap();
    assert_eq!(
        links.len(),
        3 * 2,
        "one link per directed pair: {results_json}"
    );
    for link in links {
        assert!(link["passed"].as_u64().unwrap() > 0, "{link}");
    }
    assert!(
        results_json["run"]["replay"]
            .as_str()
            .unwrap()
            .contains("--links on"),
        "{results_json}"
    );
    assert!(
        !results_json["run"]["notes"]
            .to_string()
            .contains("peered directly"),
        "{results_json}"
    );
}

#[test]
fn bad_flags_are_one_line_errors_with_exit_3() {
    let output = diverge(&["run", "--nodes", "0"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--nodes"), "{stderr}");
    let output = diverge(&["run", "--workload", "bogus"]);
    assert_eq!(output.status.code(), Some(3));
    let output = diverge(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/history.jsonl"));
}

/// Issue 20's small ones: a negative number names its flag, an empty or
/// self-contradicting fault list is refused (not run as none, or as all),
/// and a flag that means nothing with the chosen topology is refused.
#[test]
fn negative_numbers_empty_fault_lists_and_meaningless_flags_are_refused() {
    for (args, flag) in [
        (vec!["--nodes", "-1"], "--nodes"),
        (vec!["--concurrency", "-3"], "--concurrency"),
        (vec!["--nemesis", ""], "--nemesis"),
        (vec!["--nemesis", "all,none"], "--nemesis"),
        (vec!["--root", "n1"], "--root"),
    ] {
        let output = diverge(&[&["run"], args.as_slice()].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("unexpected argument"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn check_reports_exactly_the_lost_add_of_a_hand_written_history() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("checkers/tests/fixtures/lost-add.jsonl");
    let out = tempfile::tempdir().unwrap();
    let output = diverge(&[
        "check",
        fixture.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let results_json = results_json(out.path());
    assert_eq!(results_json["anomaly_counts"]["lost-update"], 1);
    assert_eq!(results_json["anomalies"].as_array().unwrap().len(), 1);
    assert!(out.path().join("report.txt").is_file());
}

#[test]
fn a_node_that_cannot_start_is_named_with_its_log_and_leaves_nothing_behind() {
    let results = tempfile::tempdir().unwrap();
    // A node binary that exits at once: the error names the node and its log.
    let output = diverge(&[
        "run",
        "--results",
        results.path().to_str().unwrap(),
        "--time-limit",
        "1",
        "--node-bin",
        "/bin/false",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("node n1 exited during startup"), "{stderr}");
    assert!(
        stderr.contains("n1.log"),
        "the error points at the node's log: {stderr}"
    );
    assert_no_node_left(results.path());
}

/// `diverge run | head -1`: stdout closes early. The controller ignores
/// SIGPIPE (it writes to sockets), so its writes to stdout fail with EPIPE;
/// the run must go on quietly, store its results and exit as usual.
#[test]
fn a_reader_that_stops_reading_does_not_stop_the_run() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--time-limit", "1", "--nodes", "2", "--seed", "4"])
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the pipe's read end is closed.
    assert!(first.starts_with("seed: 4"), "{first}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let run_dir = std::fs::canonicalize(results.path().join("latest")).unwrap();
    let json = results_json(&run_dir);
    assert!(run_dir.join("report.html").is_file());
    let expected = if json["valid"] == true { 0 } else { 1 };
    assert_eq!(output.status.code(), Some(expected), "{stderr}");
    assert_no_node_left(results.path());
}
