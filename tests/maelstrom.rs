//! `--protocol maelstrom`: nodes written for Jepsen's Maelstrom run
//! unchanged. The correct example nodes (examples/maelstrom) pass under
//! partitions; the broadcast that never retries is caught losing messages,
//! the counter that does not deduplicate is caught over-counting under
//! duplicate delivery; a counter kept in seq-kv passes, also when crashes
//! wipe its memory, which the report says; unique ids from a counter that
//! restarts repeat under crashes, with no final reads expected; lin-kv
//! through the service passes, per-node dicts diverge; transactions run
//! by one authority pass, per-node copies show incompatible orders; a Node.js node runs
//! too; a node that breaks the protocol is named; Ctrl-C leaves no node
//! behind.

#[path = "common/outside.rs"]
mod outside;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "common/output.rs"]
mod output;
use output::{describe, results_json};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/maelstrom")
        .join(name)
}

fn python(name: &str) -> String {
    format!("python3 {}", example(name).display())
}

/// `diverge run --protocol maelstrom` with short timings (each unless
/// `flags` sets it), into a fresh results dir.
fn run(workload: &str, node_cmd: &str, flags: &[&str]) -> (Output, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_diverge"));
    command
        .args(["run", "--protocol", "maelstrom", "--quiet"])
        .args(["--workload", workload, "--node-cmd", node_cmd]);
    for default in [
        ["--time-limit", "3"],
        ["--nemesis-interval", "1"],
        ["--quiesce-timeout", "4"],
        ["--seed", "7"],
    ] {
        if !flags.contains(&default[0]) {
            command.args(default);
        }
    }
    let output = command
        .arg("--results")
        .arg(results.path())
        .args(flags)
        .output()
        .unwrap();
    (output, results)
}

fn count(results: &Value, kind: &str) -> u64 {
    results["anomaly_counts"][kind].as_u64().unwrap()
}

fn notes(results: &Value) -> String {
    results["run"]["notes"].to_string()
}

/// Messages the links dropped: the partition cut something.
fn dropped(results: &Value) -> u64 {
    let links = results["run"]["links"].as_array().unwrap();
    links.iter().map(|l| l["dropped"].as_u64().unwrap()).sum()
}

/// A correct node's run: valid, ops acknowledged.
fn assert_passed(output: &Output, results: &Value) {
    assert_eq!(output.status.code(), Some(0), "{}", describe(output));
    assert_eq!(results["valid"], true);
    assert!(results["stats"]["ok"].as_u64().unwrap() > 100, "{results}");
}

/// The results of the example `node` under `nemesis`, asserted passed.
fn passing(workload: &str, node: &str, nemesis: &str) -> Value {
    let (output, dir) = run(workload, &python(node), &["--nemesis", nemesis]);
    let results = results_json(dir.path());
    assert_passed(&output, &results);
    results
}

/// A correct node's run on one key: passed, every node read at the end.
fn assert_valid(output: &Output, results: &Value) {
    assert_passed(output, results);
    assert_eq!(results["run"]["final_reads_ok"], 3);
}

#[test]
fn the_correct_example_nodes_pass_under_partitions() {
    for (workload, node) in [("g-set", "g_set.py"), ("pn-counter", "pn_counter.py")] {
        let (output, dir) = run(workload, &python(node), &["--nemesis", "partition"]);
        let results = results_json(dir.path());
        assert_valid(&output, &results);
        assert!(dropped(&results) > 0, "{workload}: no message was cut");
    }
}

#[test]
fn a_broadcast_that_never_retries_is_caught_losing_messages() {
    let (output, dir) = run(
        "broadcast",
        &python("broadcast_no_retry.py"),
        &["--nemesis", "partition", "--nodes", "5"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results = results_json(dir.path());
    assert!(dropped(&results) > 0);
    assert!(count(&results, "lost-update") > 0, "{results}");
}

#[test]
fn a_counter_that_does_not_deduplicate_over_counts_under_duplicate_delivery() {
    let (output, dir) = run(
        "g-counter",
        &python("counter_no_dedup.py"),
        &["--nemesis", "duplicate"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results = results_json(dir.path());
    assert!(count(&results, "over-count") > 0, "{results}");
    assert!(
        notes(&results).contains("delivered twice (Maelstrom never duplicates"),
        "{}",
        notes(&results)
    );
}

#[test]
fn a_counter_kept_in_seq_kv_passes_and_a_crash_is_reported_as_wiping_memory() {
    let node = python("seq_kv_counter.py");
    let (output, dir) = run("g-counter", &node, &[]);
    let results = results_json(dir.path());
    assert_valid(&output, &results);
    assert!(!notes(&results).contains("not a Maelstrom verdict"));

    let (output, dir) = run("g-counter", &node, &["--nemesis", "crash"]);
    let results = results_json(dir.path());
    assert_valid(&output, &results);
    assert!(
        notes(&results).contains("not a Maelstrom verdict: crashes wiped the memory of n"),
        "{}",
        notes(&results)
    );
}

#[test]
fn a_node_in_javascript_runs_unchanged() {
    let test = "a_node_in_javascript_runs_unchanged";
    if !outside::require(
        test,
        outside::on_path("node"),
        "Node.js",
        "apt-get install nodejs",
    ) {
        return;
    }
    let node = format!("node {}", example("g_set.js").display());
    let (output, dir) = run("g-set", &node, &["--nemesis", "partition"]);
    let results = results_json(dir.path());
    assert_valid(&output, &results);
    assert!(dropped(&results) > 0);
}

#[test]
fn a_node_that_breaks_the_protocol_is_named() {
    // Prints to stdout what belongs on stderr, then behaves.
    let chatty = format!("echo starting up; exec {}", python("g_set.py"));
    let (output, dir) = run("g-set", &format!("sh -c {chatty:?}"), &[]);
    let text = std::fs::read_to_string(dir.path().join("latest/results.json")).unwrap();
    assert!(
        text.contains("stdout line 1 is not a JSON message") && text.contains("\"n1\""),
        "{}\n{text}",
        describe(&output)
    );
    // Exits on its own mid-run (here: killed by `timeout` after 2 s).
    let short_lived = format!("timeout 2 {}", python("g_set.py"));
    let (output, dir) = run("g-set", &short_lived, &[]);
    let text = std::fs::read_to_string(dir.path().join("latest/results.json")).unwrap();
    assert_ne!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        text.contains("the node exited on its own"),
        "{}\n{text}",
        describe(&output)
    );
    // Dies before answering init: the error names the node and its words.
    let (output, _dir) = run("g-set", "sh -c 'echo no such module >&2; exit 3'", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr.contains("node n1 did not answer init") && stderr.contains("no such module"),
        "{}",
        describe(&output)
    );
}

#[test]
fn unique_ids_are_judged_on_the_generates_alone_and_a_restarted_counter_repeats_ids() {
    // Correct: node id, start time and a counter; valid also when crashes
    // restart nodes. No final reads are expected, so none are missing.
    let results = passing("unique-ids", "unique_ids.py", "crash");
    assert_eq!(results["run"]["final_reads_expected"], 0);
    assert!(notes(&results).contains("crashes wiped the memory"));

    // Node id and a counter: a crash restarts the counter, ids repeat.
    let restarts = python("unique_ids_restart.py");
    let (output, dir) = run("unique-ids", &restarts, &["--nemesis", "crash"]);
    let results = results_json(dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(count(&results, "duplicate-id") > 0, "{results}");

    // A node that never answers generate acknowledged nothing: unknown,
    // not valid, though no final read is missing.
    let (output, dir) = run("unique-ids", &python("g_set.py"), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(results_json(dir.path())["valid"], "unknown");
}

#[test]
fn lin_kv_through_the_service_passes_and_per_node_dicts_lose_writes() {
    let results = passing("lin-kv", "lin_kv_proxy.py", "partition,crash");
    // Every key the run touched, read on every node at the end.
    let expected = results["run"]["final_reads_expected"].as_u64().unwrap();
    assert!(expected >= 3 && expected.is_multiple_of(3), "{results}");
    assert_eq!(results["run"]["final_reads_ok"], expected);
    // No gossip to wait for (the workload says so): read at once.
    assert!(
        notes(&results).contains("lin-kv: final reads taken at once"),
        "{}",
        notes(&results)
    );

    let (output, dir) = run("lin-kv", &python("lin_kv_local.py"), &[]);
    let results = results_json(dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(count(&results, "divergence") > 0, "{results}");
}

/// The `ok` transactions of a run that read a list holding another
/// transaction's append: what the txn checker had to judge.
fn txns_reading_others(dir: &Path) -> usize {
    let history = std::fs::read_to_string(dir.join("latest/history.jsonl")).unwrap();
    history
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|op| op["f"] == "txn" && op["type"] == "ok")
        .filter(|op| {
            let mops = op["value"].as_array().unwrap();
            let own: Vec<&Value> = mops
                .iter()
                .filter(|m| m[0] == "append")
                .map(|m| &m[2])
                .collect();
            mops.iter()
                .any(|m| m[0] == "r" && m[2].as_array().unwrap().iter().any(|v| !own.contains(&v)))
        })
        .count()
}

#[test]
fn txn_list_append_through_one_authority_passes_and_local_copies_are_caught() {
    let node = python("txn_single_authority.py");
    let (output, dir) = run("txn-list-append", &node, &["--nemesis", "partition"]);
    let results = results_json(dir.path());
    assert_passed(&output, &results);
    assert!(dropped(&results) > 0, "no message was cut");
    assert!(txns_reading_others(dir.path()) > 50, "{results}");
    // Judged on the transactions alone: none expected, none missing.
    assert_eq!(results["run"]["final_reads_expected"], 0);
    assert!(results["inconclusive"].as_array().unwrap().is_empty());
    assert!(results.get("ruled_out").is_none(), "{results}");

    let node = python("txn_local_gossip.py");
    let (output, dir) = run("txn-list-append", &node, &["--nemesis", "partition"]);
    let results = results_json(dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(dropped(&results) > 0, "no message was cut");
    assert!(count(&results, "incompatible-order") > 0, "{results}");
    let cycles: u64 = ["g0", "g1c", "g-single", "g2"]
        .iter()
        .map(|kind| count(&results, kind))
        .sum();
    assert!(cycles > 0, "{results}");
    let ruled_out = results["ruled_out"].to_string();
    assert!(ruled_out.contains("\"serializable\""), "{ruled_out}");
    for (file, line) in [
        ("report.txt", "rules out: "),
        ("report.html", "Rules out: "),
    ] {
        let text = std::fs::read_to_string(dir.path().join("latest").join(file)).unwrap();
        assert!(text.contains(&format!("{line}read uncommitted")), "{file}");
    }
}

#[test]
fn a_txn_authority_that_forgets_its_lists_on_a_crash_is_caught() {
    // Seed 2 crashes n1, the authority, 1.5 s in; the restarted process
    // has empty lists, so later reads miss acknowledged appends.
    let node = python("txn_single_authority.py");
    let flags = [
        "--nemesis",
        "crash",
        "--seed",
        "2",
        "--time-limit",
        "6",
        "--nemesis-interval",
        "1.5",
    ];
    let (output, dir) = run("txn-list-append", &node, &flags);
    let results = results_json(dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let caught = count(&results, "incompatible-order") + count(&results, "realtime-cycle");
    assert!(caught > 0, "{results}");
    assert!(
        notes(&results).contains("crashes wiped the memory of n1"),
        "{}",
        notes(&results)
    );
}

/// Node processes whose command line holds `needle` (not the controller,
/// whose `--node-cmd` holds it too).
fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle) && !c.contains("--node-cmd"))
        .collect()
}

#[test]
fn ctrl_c_leaves_no_node_process_behind() {
    let results = tempfile::tempdir().unwrap();
    // The results path in each node's command line tells our nodes apart.
    let tag = results.path().to_str().unwrap().to_string();
    let node = format!("{} {tag}", python("g_set.py"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--protocol", "maelstrom", "--workload", "g-set"])
        .args(["--node-cmd", &node, "--time-limit", "30", "--results", &tag])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines.any(|l| l.unwrap().starts_with("progress:"));
    assert!(started, "the run ended before its workload began");
    assert_eq!(processes_with(&tag).len(), 3);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "diverge did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = processes_with(&tag);
    assert!(left.is_empty(), "nodes outlived the run: {left:?}");
}
