//! `diverge sim`: the simulated reference cluster replays exactly, and it
//! reaches the verdicts real nodes reach (issue 18's "Must show"): the
//! strategy matrix under partitions, causal delivery, every topology
//! converging without faults, crashes restarting from the records.

#[path = "common/output.rs"]
mod output;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Run `diverge sim` with `flags` into `results`: exit code, results.json,
/// and the run directory.
fn sim(results: &Path, flags: &[&str]) -> (i32, Value, PathBuf) {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["sim", "--quiet", "--results", results.to_str().unwrap()])
        .args(flags)
        .output()
        .expect("running diverge sim");
    let run_dir = std::fs::canonicalize(results.join("latest"))
        .unwrap_or_else(|e| panic!("no run directory ({e}): {}", output::describe(&output)));
    let code = output.status.code().unwrap_or(-1);
    (code, output::results_json(results), run_dir)
}

/// The count of anomalies of `kind` in a results file.
fn count(results: &Value, kind: &str) -> u64 {
    results["anomaly_counts"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no anomaly count {kind} in {results}"))
}

/// Every fault the simulation offers, short windows, 4 s of virtual time.
const EVERY_FAULT: [&str; 8] = [
    "--nemesis",
    "partition,crash,pause,clock,reorder,duplicate,offline",
    "--nemesis-interval",
    "0.25",
    "--time-limit",
    "4",
    "--rate",
    "0",
];

#[test]
fn the_same_command_writes_the_same_history_and_another_seed_another() {
    let dir = tempfile::tempdir().unwrap();
    let history = |name: &str, seed: &str| {
        let results = dir.path().join(name);
        let mut flags = EVERY_FAULT.to_vec();
        flags.extend(["--seed", seed]);
        let (code, json, run_dir) = sim(&results, &flags);
        assert!(matches!(code, 0 | 1), "exit {code}: {json}");
        assert!(json["stats"]["ok"].as_u64().unwrap() > 1000, "{json}");
        std::fs::read(run_dir.join("history.jsonl")).unwrap()
    };
    let first = history("a", "7");
    let again = history("b", "7");
    assert!(
        first == again,
        "the same seed wrote two different histories"
    );
    let other = history("c", "8");
    assert!(first != other, "seeds 7 and 8 wrote the same history");
    // Every kind of fault happened (crashes restart from the records).
    let text = String::from_utf8(first).unwrap();
    let kinds = [
        "partition",
        "crash",
        "pause",
        "clock",
        "reorder",
        "duplicate",
        "offline",
    ];
    for f in kinds
        .iter()
        .flat_map(|k| [format!("start-{k}"), format!("stop-{k}")])
    {
        assert!(
            text.contains(&format!("\"f\":\"{f}\"")),
            "no {f} in the history"
        );
    }
}

const PARTITIONED_SET: [&str; 10] = [
    "--workload",
    "set",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "1",
    "--time-limit",
    "5",
    "--seed",
    "11",
];

#[test]
fn under_partitions_only_the_keeping_strategies_lose_no_acknowledged_add() {
    for strategy in ["lww", "unique-id", "priority", "siblings", "merge", "crdt"] {
        let dir = tempfile::tempdir().unwrap();
        let mut flags = PARTITIONED_SET.to_vec();
        flags.extend(["--strategy", strategy]);
        let (code, results, _) = sim(dir.path(), &flags);
        let keeps = matches!(strategy, "siblings" | "merge" | "crdt");
        assert_eq!(code, if keeps { 0 } else { 1 }, "{strategy}: {results}");
        assert_eq!(count(&results, "divergence"), 0, "{strategy}: {results}");
        assert_eq!(
            count(&results, "lost-update") > 0,
            !keeps,
            "{strategy}: {results}"
        );
    }
}

#[test]
fn causal_violations_without_causal_delivery_and_none_with_it() {
    let run = |delivery| {
        let dir = tempfile::tempdir().unwrap();
        let flags = [
            "--workload",
            "causal",
            "--nemesis",
            "reorder",
            "--time-limit",
            "10",
            "--seed",
            "5",
            "--causal-delivery",
            delivery,
        ];
        sim(dir.path(), &flags)
    };
    let (code, off, _) = run("off");
    assert!(count(&off, "causal-violation") > 0, "{off}");
    assert_eq!(code, 1, "{off}");
    let (code, on, _) = run("on");
    for kind in ["causal-violation", "causal-cycle", "session-violation"] {
        assert_eq!(count(&on, kind), 0, "{kind}: {on}");
    }
    assert_eq!(code, 0, "{on}");
}

#[test]
fn every_topology_converges_without_faults() {
    for topology in ["all-to-all", "ring", "star", "tree", "single-leader"] {
        let dir = tempfile::tempdir().unwrap();
        let flags = [
            "--nodes",
            "5",
            "--topology",
            topology,
            "--strategy",
            "merge",
            "--time-limit",
            "3",
            "--seed",
            "3",
        ];
        let (code, results, _) = sim(dir.path(), &flags);
        assert_eq!(code, 0, "{topology}: {results}");
        assert_eq!(count(&results, "divergence"), 0, "{topology}: {results}");
        assert_eq!(count(&results, "lost-update"), 0, "{topology}: {results}");
        assert!(
            results["stats"]["ok"].as_u64().unwrap() > 150,
            "{topology}: {results}"
        );
    }
}

/// `diverge sim` with `flags`: exit code and stdout.
fn sim_output(flags: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("sim")
        .args(flags)
        .output()
        .expect("running diverge sim");
    let code = output.status.code().unwrap_or(-1);
    assert!(matches!(code, 0..=2), "{}", output::describe(&output));
    (code, String::from_utf8(output.stdout).unwrap())
}

/// Shrink the failing test `flags` while `kind` remains; the shrunk run's
/// results, after asserting that `diverge check` finds `kind` in it too.
fn shrunk(results: &Path, flags: &[&str], kind: &str) -> Value {
    let mut all = vec!["--quiet", "--results", results.to_str().unwrap()];
    all.extend(flags);
    all.extend(["--shrink", "--shrink-kind", kind]);
    let (code, stdout) = sim_output(&all);
    assert_eq!(code, 1, "{stdout}");
    let run_dir = std::fs::canonicalize(results.join("latest")).unwrap();
    assert!(
        run_dir.parent().unwrap().ends_with("set-custom-sim-shrunk")
            || run_dir.parent().unwrap().ends_with("set-lww-sim-shrunk"),
        "{run_dir:?}"
    );
    let json = output::results_json(results);
    // The shrunk history fails `diverge check` the same way.
    let checked = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--quiet"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(
        checked.status.code(),
        Some(1),
        "{}",
        output::describe(&checked)
    );
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(text.contains(kind), "diverge check lost {kind}: {text}");
    json
}

#[test]
fn an_lww_lost_add_shrinks_to_a_handful_of_ops_and_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--nemesis",
        "partition",
        "--time-limit",
        "10",
        "--seed",
        "1",
    ];
    let json = shrunk(dir.path(), &flags, "lost-update");
    assert!(count(&json, "lost-update") > 0, "{json}");
    let ops = json["stats"]["ops"].as_u64().unwrap();
    assert!((1..=10).contains(&ops), "{ops} client ops: {json}");
    let faults = json["run"]["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{json}");
    assert_eq!(faults[0]["fault"], "partition", "{json}");
}

/// A planted bug: a copy of the merge strategy (a custom on-write handler)
/// that drops an element now and then. Its faithful copy loses nothing; a
/// small swarm finds the leaky one's lost adds (unexpected under a keeping
/// strategy), and the first failing seed shrinks.
#[test]
fn a_planted_bug_in_a_strategy_is_found_by_a_swarm_and_shrunk() {
    let dir = tempfile::tempdir().unwrap();
    let swarm = |handler: &str| {
        let results = dir.path().join(handler);
        let on_write = format!("tests/fixtures/sim/{handler}.rhai");
        let flags = [
            "--seeds",
            "1..=12",
            "--threads",
            "2",
            "--strategy",
            "custom",
            "--on-write",
            &on_write,
            "--time-limit",
            "2",
            "--results",
            results.to_str().unwrap(),
        ];
        let (_, stdout) = sim_output(&flags);
        let swarm_dir = std::fs::read_dir(results.join("swarm"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let seeds: Vec<Value> = std::fs::read_to_string(swarm_dir.path().join("seeds.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(seeds.len(), 12, "{stdout}");
        (stdout, seeds)
    };
    let (stdout, faithful) = swarm("union_merge");
    assert!(faithful.iter().all(|s| s["code"] == 0), "{stdout}");
    let (stdout, leaky) = swarm("leaky_merge");
    let failing: Vec<&Value> = leaky
        .iter()
        .filter(|s| s["kinds"]["lost-update"][1].as_u64() > Some(0))
        .collect();
    assert!(
        !failing.is_empty(),
        "no seed found the planted bug: {stdout}"
    );
    assert!(stdout.contains("lost-update"), "{stdout}");
    // Its replay command, shrunk.
    let replay = failing[0]["replay"].as_str().unwrap();
    let flags: Vec<&str> = replay.split_whitespace().skip(2).collect();
    let json = shrunk(&dir.path().join("shrunk"), &flags, "lost-update");
    assert!(
        json["unexpected_counts"]["lost-update"].as_u64().unwrap() > 0,
        "{json}"
    );
    let ops = json["stats"]["ops"].as_u64().unwrap();
    let before = failing[0]["ops"].as_u64().unwrap();
    assert!(ops < before, "shrinking kept {ops} of {before} client ops");
}

/// Sim and real runs agree on the catalogue: the scenarios whose real runs
/// lose adds lose them simulated too, judged by the same expectations.
#[test]
fn the_catalogue_scenarios_that_lose_adds_lose_them_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args([
            "suite",
            "workloads",
            "--sim",
            "--only",
            "loses-adds",
            "--results",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        output::describe(&output)
    );
    assert!(
        text.contains("suite: 4 passed, 0 failed, 0 errors"),
        "{text}"
    );
    assert!(text.contains("priority-loses-adds"), "{text}");
    // Every run was simulated.
    let json = output::results_json(dir.path());
    assert!(
        json["run"]["replay"]
            .as_str()
            .unwrap()
            .starts_with("diverge sim "),
        "{json}"
    );
}
