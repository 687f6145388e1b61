//! Topologies, causal delivery and custom handlers with real node
//! processes and the real link layer: how each topology fails when a node
//! is down, an update overtaking its insert, and handlers run from files.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use diverge::cli::{Cli, Command};
use diverge::config::TestConfig;
use diverge::system::reference::Testbed;
use serde_json::{Value, json};

struct Bed {
    testbed: Testbed,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

async fn start(flags: &[&str]) -> Bed {
    // These tests act on the links themselves, so they always interpose them.
    let mut argv = vec!["diverge", "run", "--links", "on"];
    argv.extend_from_slice(flags);
    let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
        unreachable!()
    };
    let config = TestConfig::from_args(&args, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_diverge"));
    let testbed = Testbed::start_with_binary(&config, dir.path(), bin, http.clone())
        .await
        .unwrap();
    Bed { testbed, http, dir }
}

impl Bed {
    async fn write(&self, i: usize, key: &str, value: Value) -> u16 {
        self.http
            .put(format!("{}/kv/{key}", self.testbed.urls[i]))
            .json(&json!({ "value": value }))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn values(&self, i: usize, key: &str) -> Option<Vec<Value>> {
        let response = self
            .http
            .get(format!("{}/kv/{key}", self.testbed.urls[i]))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["values"].as_array().cloned()
    }

    async fn status(&self, i: usize) -> Value {
        self.http
            .get(format!("{}/admin/status", self.testbed.urls[i]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn node_log(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("nodes").join(format!("{id}.log")))
            .unwrap_or_default()
    }
}

async fn wait_for<F, Fut>(bound: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + bound;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {bound:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const BOUND: Duration = Duration::from_secs(10);
/// How long "does not arrive" is watched for.
const QUIET: Duration = Duration::from_millis(800);

/// With node `down` crashed, a write at `from` does (or does not) reach `to`
/// within QUIET; after the restart it always does.
async fn crash_and_watch(topology: &[&str], down: usize, from: usize, to: usize, reaches: bool) {
    let mut flags = vec!["--nodes", "3"];
    flags.extend_from_slice(topology);
    let bed = start(&flags).await;
    bed.testbed.cluster.lock().await.crash(down).await;
    assert_eq!(bed.write(from, "k", json!("x")).await, 200);
    tokio::time::sleep(QUIET).await;
    let seen = bed.values(to, "k").await.unwrap() == vec![json!("x")];
    assert_eq!(seen, reaches, "{topology:?}: n{} down", down + 1);
    bed.testbed
        .cluster
        .lock()
        .await
        .restart(down)
        .await
        .unwrap();
    wait_for(BOUND, "convergence after the restart", || async {
        for i in 0..3 {
            if bed.values(i, "k").await != Some(vec![json!("x")]) {
                return false;
            }
        }
        true
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_stops_at_a_crashed_node_and_converges_after_restart() {
    // n1 -> n2 -> n3 -> n1: with n2 down, n1's write cannot reach n3.
    crash_and_watch(&["--topology", "ring"], 1, 0, 2, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_to_all_replicates_around_a_crashed_node() {
    crash_and_watch(&["--topology", "all-to-all"], 1, 0, 2, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_star_with_its_root_down_behaves_like_the_ring() {
    crash_and_watch(&["--topology", "star", "--root", "n1"], 0, 1, 2, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tree_relays_between_leaves() {
    let bed = start(&["--nodes", "4", "--topology", "tree", "--fanout", "2"]).await;
    // n4 is a child of n2; n3 a child of n1: the change goes n4 -> n2 -> n1 -> n3.
    assert_eq!(bed.write(3, "k", json!(4)).await, 200);
    wait_for(BOUND, "n4's write at n3", || async {
        bed.values(2, "k").await == Some(vec![json!(4)])
    })
    .await;
    // Applied once everywhere, though it travelled through relays.
    for i in 0..4 {
        assert_eq!(bed.status(i).await["log_end"], 1);
    }
}

/// n1 inserts; n2 sees it and updates; the link n1 -> n3 is cut, so n3
/// receives the update first. Returns n3's values and status meanwhile,
/// then heals and returns what n3 holds once the insert has arrived.
async fn update_overtakes_insert(causal: &str) -> (Vec<Value>, Value, Vec<Value>, String) {
    let bed = start(&["--nodes", "3", "--causal-delivery", causal]).await;
    bed.testbed.links.update("n1", "n3", |b| b.drop = true);
    assert_eq!(bed.write(0, "row", json!("inserted")).await, 200);
    wait_for(BOUND, "the insert at n2", || async {
        bed.values(1, "row").await == Some(vec![json!("inserted")])
    })
    .await;
    assert_eq!(bed.write(1, "row", json!("updated")).await, 200);
    wait_for(BOUND, "the update at n3", || async {
        let s = bed.status(2).await;
        s["skipped_updates"].as_u64() > Some(0) || s["buffered"].as_u64() > Some(0)
    })
    .await;
    let during = (bed.values(2, "row").await.unwrap(), bed.status(2).await);
    bed.testbed.links.heal_all();
    wait_for(BOUND, "the insert at n3 after the heal", || async {
        bed.status(2).await["buffered"] == 0 && bed.values(2, "row").await != Some(vec![])
    })
    .await;
    let after = bed.values(2, "row").await.unwrap();
    (during.0, during.1, after, bed.node_log("n3"))
}

#[tokio::test(flavor = "multi_thread")]
async fn without_causal_delivery_an_update_of_a_missing_row_is_skipped_and_lost() {
    let (values, status, after, log) = update_overtakes_insert("off").await;
    // n3 skipped the update, as PostgreSQL skips an UPDATE of a missing row.
    assert_eq!(values, Vec::<Value>::new());
    assert_eq!(status["skipped_updates"], 1, "{status}");
    assert_eq!(status["buffered"], 0);
    assert!(log.contains("skipped an update"), "not in n3's log: {log}");
    // The late insert is applied; the update stays lost at n3 only.
    assert_eq!(after, vec![json!("inserted")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_causal_delivery_the_update_waits_for_its_insert() {
    let (values, status, after, _) = update_overtakes_insert("on").await;
    assert_eq!(values, Vec::<Value>::new(), "applied before its insert");
    assert_eq!(status["skipped_updates"], 0, "{status}");
    assert!(status["buffered"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(after, vec![json!("updated")]);
}

fn handler(name: &str) -> String {
    format!("{}/examples/handlers/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Two concurrent carts on n1 and n2 (cut off from each other), then heal.
async fn concurrent_carts(bed: &Bed) {
    for (a, b) in [("n1", "n2"), ("n2", "n1")] {
        bed.testbed.links.update(a, b, |l| l.drop = true);
    }
    assert_eq!(bed.write(0, "cart", json!(["a"])).await, 200);
    assert_eq!(bed.write(1, "cart", json!(["b", "c"])).await, 200);
    bed.testbed.links.heal_all();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_on_write_handler_from_a_file_keeps_the_larger_cart() {
    let path = handler("larger_cart.rhai");
    let bed = start(&["--nodes", "2", "--strategy", "custom", "--on-write", &path]).await;
    concurrent_carts(&bed).await;
    wait_for(BOUND, "both nodes to keep the larger cart", || async {
        bed.values(0, "cart").await == Some(vec![json!(["b", "c"])])
            && bed.values(1, "cart").await == Some(vec![json!(["b", "c"])])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_handler_is_logged_falls_back_and_the_node_stays_up() {
    let path = handler("broken_loop.rhai");
    let bed = start(&["--nodes", "2", "--strategy", "custom", "--on-write", &path]).await;
    concurrent_carts(&bed).await;
    // Fallback: last write wins among the versions (n2's write is later).
    wait_for(BOUND, "both nodes to fall back to LWW", || async {
        bed.values(0, "cart").await == Some(vec![json!(["b", "c"])])
            && bed.values(1, "cart").await == Some(vec![json!(["b", "c"])])
    })
    .await;
    let log = format!("{}{}", bed.node_log("n1"), bed.node_log("n2"));
    assert!(
        log.contains("the on-write handler failed") && log.contains("operations"),
        "no clear error in the node logs: {log}"
    );
    assert_eq!(
        bed.write(0, "other", json!(1)).await,
        200,
        "the node is down"
    );
}
