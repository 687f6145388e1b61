//! `--followers`: read-only secondaries with real node processes and the
//! real link layer. A follower refuses writes (421, naming its leader),
//! receives every change its leader applies (its own and the ones it
//! received), and a partitioned run with followers ends valid with final
//! reads from every node.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use diverge::cli::{Cli, Command as DivergeCommand};
use diverge::config::TestConfig;
use diverge::system::reference::Testbed;
use serde_json::{Value, json};

const BOUND: Duration = Duration::from_secs(10);

async fn start(flags: &[&str]) -> (Testbed, tempfile::TempDir) {
    let mut argv = vec!["diverge", "run"];
    argv.extend_from_slice(flags);
    let DivergeCommand::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
        unreachable!()
    };
    let config = TestConfig::from_args(&args, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_diverge"));
    let testbed = Testbed::start_with_binary(&config, dir.path(), bin, reqwest::Client::new())
        .await
        .unwrap();
    (testbed, dir)
}

/// POST or PUT `body` to `url`; returns the status and the JSON body.
async fn send(http: &reqwest::Client, put: bool, url: String, body: Value) -> (u16, Value) {
    let request = if put { http.put(url) } else { http.post(url) };
    let response = request
        .json(&body)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn values(http: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    let body: Value = http
        .get(format!("{url}/kv/{key}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["values"].as_array().cloned().unwrap_or_default()
}

async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + BOUND;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn followers_refuse_writes_and_receive_every_change_of_their_leader() {
    let (bed, _dir) = start(&["--nodes", "2", "--followers", "1"]).await;
    assert_eq!(bed.ids, vec!["n1", "n2", "n1f1", "n2f1"]);
    let http = reqwest::Client::new();
    let url = |id: &str| bed.urls[bed.ids.iter().position(|i| i == id).unwrap()].clone();

    // Every write path refuses at a follower and names its leader.
    for (put, path, body) in [
        (true, "/kv/k", json!({ "value": 1 })),
        (false, "/ids/seq", json!({})),
        (false, "/claim/name", json!({ "value": 1 })),
    ] {
        let (status, reply) = send(&http, put, format!("{}{path}", url("n2f1")), body).await;
        assert_eq!(status, 421, "{path}: {reply}");
        assert_eq!(reply["leader"], "n2", "{path}: {reply}");
    }
    assert_eq!(values(&http, &url("n2f1"), "k").await, Vec::<Value>::new());

    // n1's own write and n2's write that n1 received (all-to-all leaders
    // do not forward it to each other) both reach n1's follower.
    let (status, _) = send(
        &http,
        true,
        format!("{}/kv/a", url("n1")),
        json!({ "value": "a" }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &http,
        true,
        format!("{}/kv/b", url("n2")),
        json!({ "value": "b" }),
    )
    .await;
    assert_eq!(status, 200);
    for follower in ["n1f1", "n2f1"] {
        wait_for(&format!("both writes at {follower}"), || async {
            values(&http, &url(follower), "a").await == vec![json!("a")]
                && values(&http, &url(follower), "b").await == vec![json!("b")]
        })
        .await;
    }
    // The follower stays up after refusing, and replicates to no one.
    let status: Value = http
        .get(format!("{}/admin/status", url("n1f1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["peers"], json!([]), "{status}");
    assert_eq!(status["log_end"], 2, "{status}");
    bed.cluster.lock().await.stop().await;
}

/// Run `diverge run` with `flags`; returns (exit code, stdout, run dir).
fn run(results: &Path, flags: &[&str]) -> (i32, String, std::path::PathBuf) {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--results", results.to_str().unwrap(), "--quiet"])
        .args(flags)
        .output()
        .expect("running diverge");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string()
        + &*String::from_utf8_lossy(&output.stderr);
    let run_dir = std::fs::canonicalize(results.join("latest")).unwrap_or_default();
    (output.status.code().unwrap_or(-1), stdout, run_dir)
}

#[test]
fn a_partitioned_siblings_run_with_followers_is_valid_and_reads_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, run_dir) = run(
        dir.path(),
        &[
            "--nodes",
            "2",
            "--followers",
            "1",
            "--workload",
            "set",
            "--strategy",
            "siblings",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "4",
            "--seed",
            "11",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cluster: 4 nodes ready"), "{out}");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
            .unwrap();
    let counts = &results["anomaly_counts"];
    assert_eq!(results["valid"], true, "{counts}");
    assert_eq!(results["run"]["quiesced"], true);
    assert_eq!(counts["divergence"], 0, "{counts}");
    assert_eq!(counts["lost-update"], 0, "{counts}");
    assert_eq!(
        results["run"]["final_reads_ok"],
        results["run"]["final_reads_expected"]
    );
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    let ops: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let nodes_of = |f: &str, kind: &str| -> BTreeSet<String> {
        ops.iter()
            .filter(|o| o["f"] == f && o["type"] == kind)
            .map(|o| o["node"].as_str().unwrap().to_string())
            .collect()
    };
    let every: BTreeSet<String> = ["n1", "n2", "n1f1", "n2f1"].map(String::from).into();
    assert_eq!(nodes_of("final-read", "ok"), every);
    // Client reads reach the followers; writes only the leaders.
    assert_eq!(nodes_of("read", "ok"), every);
    let leaders: BTreeSet<String> = ["n1", "n2"].map(String::from).into();
    assert_eq!(nodes_of("add", "invoke"), leaders);
}

#[test]
fn bad_follower_counts_and_unsupported_nodes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for flags in [
        vec!["--followers", "9"],
        vec!["--followers", "1", "--node-cmd", "true {id}"],
        vec!["--followers", "1", "--db", "mariadb"],
    ] {
        let (code, out, _) = run(dir.path(), &flags);
        assert_eq!(code, 3, "{flags:?}: {out}");
        assert!(out.contains("--followers"), "{flags:?}: {out}");
    }
}
