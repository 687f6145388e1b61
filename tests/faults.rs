//! Each fault really happens and is really undone: real node processes, the
//! real link layer, real HTTP on ephemeral loopback ports.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use diverge::cli::{Cli, Command};
use diverge::config::TestConfig;
use diverge::nemesis::ClockFaults;
use diverge::system::reference::Testbed;
use serde_json::{Value, json};

struct Bed {
    testbed: Testbed,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
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
    Bed {
        testbed,
        http,
        _dir: dir,
    }
}

impl Bed {
    fn url(&self, i: usize) -> &str {
        &self.testbed.urls[i]
    }

    async fn write(&self, i: usize, key: &str, value: Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .put(format!("{}/kv/{key}", self.url(i)))
            .json(&json!({ "value": value }))
            .timeout(Duration::from_secs(2))
            .send()
            .await
    }

    async fn values(&self, i: usize, key: &str) -> Option<Vec<Value>> {
        let response = self
            .http
            .get(format!("{}/kv/{key}", self.url(i)))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["values"].as_array().cloned()
    }

    async fn status(&self, i: usize) -> Value {
        self.http
            .get(format!("{}/admin/status", self.url(i)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Failed sends from node `from` to peer `to` so far.
    async fn failures(&self, from: usize, to: &str) -> u64 {
        let status = self.status(from).await;
        status["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer"] == to)
            .and_then(|p| p["failures"].as_u64())
            .unwrap_or(0)
    }
}

/// Poll `condition` every 10 ms until it holds; fail after `bound`.
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

#[tokio::test(flavor = "multi_thread")]
async fn a_partition_hides_writes_until_it_heals() {
    let bed = start(&["--nodes", "3"]).await;
    let links = &bed.testbed.links;
    for other in ["n2", "n3"] {
        links.update("n1", other, |b| b.drop = true);
        links.update(other, "n1", |b| b.drop = true);
    }
    assert_eq!(bed.write(0, "k", json!(1)).await.unwrap().status(), 200);
    // n1 has tried and failed to reach n2: the write was sent and cut.
    wait_for(BOUND, "n1's failed sends to n2", || async {
        bed.failures(0, "n2").await > 0
    })
    .await;
    assert_eq!(
        bed.values(1, "k").await.unwrap(),
        Vec::<Value>::new(),
        "n2 saw a write across the partition"
    );
    assert_eq!(bed.values(2, "k").await.unwrap(), Vec::<Value>::new());
    links.heal_all();
    wait_for(
        BOUND,
        "the write to reach n2 and n3 after the heal",
        || async {
            bed.values(1, "k").await == Some(vec![json!(1)])
                && bed.values(2, "k").await == Some(vec![json!(1)])
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_node_comes_back_with_every_acknowledged_write() {
    let bed = start(&["--nodes", "2"]).await;
    // Cut n1 off so only its own log can hold the writes.
    bed.testbed.links.update("n1", "n2", |b| b.drop = true);
    for i in 0..20 {
        assert_eq!(
            bed.write(0, &format!("k{i}"), json!(i))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let mut cluster = bed.testbed.cluster.lock().await;
    cluster.crash(0).await;
    assert!(
        bed.values(0, "k0").await.is_none(),
        "a crashed node answered"
    );
    cluster.restart(0).await.unwrap();
    drop(cluster);
    for i in 0..20 {
        assert_eq!(
            bed.values(0, &format!("k{i}")).await.unwrap(),
            vec![json!(i)],
            "k{i} lost in the crash"
        );
    }
    bed.testbed.links.heal_all();
    wait_for(BOUND, "replication to resume after the restart", || async {
        bed.values(1, "k19").await == Some(vec![json!(19)])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_fsync_a_crash_loses_acknowledged_writes() {
    let bed = start(&["--nodes", "2", "--fsync", "never"]).await;
    bed.testbed.links.update("n1", "n2", |b| b.drop = true);
    // The node writes its log every few tens of ms; a crash right after an
    // acknowledgement almost always beats the flush. A few attempts make a
    // lucky flush irrelevant.
    let mut lost = false;
    for attempt in 0..5 {
        let key = format!("k{attempt}");
        for i in 0..20 {
            assert_eq!(bed.write(0, &key, json!(i)).await.unwrap().status(), 200);
        }
        let mut cluster = bed.testbed.cluster.lock().await;
        cluster.crash(0).await;
        cluster.restart(0).await.unwrap();
        drop(cluster);
        if bed.values(0, &key).await.unwrap() != vec![json!(19)] {
            lost = true;
            break;
        }
    }
    assert!(
        lost,
        "no acknowledged write was lost in five crashes without fsync"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_node_answers_nothing_until_resumed() {
    let bed = start(&["--nodes", "2"]).await;
    bed.testbed.cluster.lock().await.pause(0);
    assert!(bed.values(0, "k").await.is_none(), "a paused node answered");
    bed.testbed.cluster.lock().await.resume(0);
    wait_for(BOUND, "the resumed node to answer", || async {
        bed.values(0, "k").await.is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicated_change_is_applied_once() {
    let bed = start(&["--nodes", "2"]).await;
    bed.testbed.links.update("n1", "n2", |b| b.duplicate = 1.0);
    for i in 0..10 {
        assert_eq!(
            bed.write(0, &format!("k{i}"), json!(i))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    wait_for(BOUND, "all ten changes on n2", || async {
        bed.values(1, "k9").await == Some(vec![json!(9)])
    })
    .await;
    let duplicated: u64 = bed
        .testbed
        .links
        .counters()
        .iter()
        .map(|c| c.duplicated)
        .sum();
    assert!(duplicated > 0, "the link duplicated nothing");
    // n2's log holds each of the ten changes exactly once.
    assert_eq!(bed.status(1).await["log_end"], 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_reordering_a_later_change_arrives_first() {
    let bed = start(&["--nodes", "2"]).await;
    bed.testbed.links.update("n1", "n2", |b| {
        b.reorder = true;
        b.reorder_ms = 80;
    });
    // Many small writes, so n1 keeps several batches in flight at once;
    // each batch gets its own delay, so some overtake others. A round where
    // timing happened to keep them in order is repeated (at most three).
    let mut out_of_order = 0;
    let mut status = Value::Null;
    for round in 0..3 {
        for i in 0..200 {
            let value = round * 1000 + i;
            bed.write(0, &format!("k{}", i % 20), json!(value))
                .await
                .unwrap();
        }
        let last = json!(round * 1000 + 199);
        wait_for(BOUND, "n2 to catch up", || async {
            bed.values(1, "k19").await == Some(vec![last.clone()])
        })
        .await;
        status = bed.status(1).await;
        out_of_order = status["peers"][0]["out_of_order"].as_u64().unwrap_or(0);
        if out_of_order > 0 {
            break;
        }
    }
    assert!(
        out_of_order > 0,
        "no batch overtook another in three rounds: {status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_skew_is_applied_and_reset_through_the_admin_interface() {
    let bed = start(&["--nodes", "1"]).await;
    let targets = bed.testbed.targets(bed.http.clone());
    targets.set_offset(0, -3_600_000).await.unwrap();
    assert_eq!(bed.status(0).await["clock_offset_ms"], -3_600_000);
    targets.set_offset(0, 0).await.unwrap();
    assert_eq!(bed.status(0).await["clock_offset_ms"], 0);
    // An offset the node refuses (beyond a year) is an error with its
    // answer, and the clock stays where it was.
    let refused = targets.set_offset(0, 400 * 86_400_000).await.unwrap_err();
    assert!(refused.contains("HTTP 400"), "{refused}");
    assert_eq!(bed.status(0).await["clock_offset_ms"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn links_between_datacenters_carry_their_latency() {
    let bed = start(&["--nodes", "4", "--datacenters", "2", "--dc-latency", "40"]).await;
    // n1, n2 in one datacenter; n3, n4 in the other.
    for i in 0..5 {
        assert_eq!(
            bed.write(0, &format!("k{i}"), json!(i))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    wait_for(BOUND, "the writes to reach every node", || async {
        bed.values(1, "k4").await == Some(vec![json!(4)])
            && bed.values(3, "k4").await == Some(vec![json!(4)])
    })
    .await;
    let counters = bed.testbed.links.counters();
    let link = |from: &str, to: &str| {
        counters
            .iter()
            .find(|c| c.from == from && c.to == to)
            .unwrap()
            .clone()
    };
    let cross = link("n1", "n3");
    let local = link("n1", "n2");
    assert!(cross.passed > 0 && local.passed > 0);
    assert!(
        cross.delay_ms_p50 >= 32,
        "cross-datacenter p50 {} ms",
        cross.delay_ms_p50
    );
    assert!(
        local.delay_ms_max < 32,
        "in-datacenter max {} ms",
        local.delay_ms_max
    );
}
