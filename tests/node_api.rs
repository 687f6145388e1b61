//! End-to-end tests of `diverge node`: the real binary on ephemeral ports
//! (see `common/node.rs`).

use std::fs::OpenOptions;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "common/node.rs"]
mod node;
use node::*;

#[tokio::test]
async fn write_then_read_and_stale_context() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = NodeProc::spawn("n1", "127.0.0.1:0", &dir.path().join("n1"), &[]);

    let health = send(client().get(n1.url("/health"))).await;
    assert_eq!(health.status, 200);
    // Started without DIVERGE_INSTANCE (not by a controller): no token to echo.
    assert_eq!(
        health.body,
        json!({"node": "n1", "status": "ok", "instance": null})
    );

    let empty = get(&n1, "k1").await;
    assert_eq!(
        empty.body,
        json!({"node": "n1", "key": "k1", "values": [], "context": ""})
    );

    let w1 = put(&n1, "k1", json!({"value": {"any": ["json", 1]}})).await;
    assert_eq!(w1.status, 200, "{:?}", w1.body);
    assert_eq!(w1.node_header.as_deref(), Some("n1"));
    assert_eq!(w1.body["node"], "n1");
    assert_eq!(w1.body["key"], "k1");
    assert_eq!(w1.body["dot"], json!({"node": "n1", "seq": 1}));
    let ctx1 = w1.body["context"].as_str().unwrap().to_string();

    let r = get(&n1, "k1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["values"], json!([{"any": ["json", 1]}]));
    assert_eq!(r.body["context"], ctx1.as_str());

    // Writing back the context read succeeds; the old context is then stale.
    let w2 = put(&n1, "k1", json!({"value": 2, "context": ctx1})).await;
    assert_eq!(w2.status, 200, "{:?}", w2.body);
    assert_eq!(w2.body["dot"], json!({"node": "n1", "seq": 2}));
    let ctx2 = w2.body["context"].as_str().unwrap().to_string();

    let stale = put(&n1, "k1", json!({"value": 3, "context": ctx1})).await;
    assert_json_error(&stale, 409, "n1");
    assert!(
        stale.body["error"]
            .as_str()
            .unwrap()
            .starts_with("stale context: ")
    );
    assert_eq!(stale.body["context"], ctx2.as_str());
    let r = get(&n1, "k1").await;
    assert_eq!(
        r.body["values"],
        json!([2]),
        "a refused write changes nothing"
    );

    // No context at all is a blind write.
    let blind = put(&n1, "k1", json!({"value": 4})).await;
    assert_eq!(blind.status, 200, "{:?}", blind.body);

    let status = send(client().get(n1.url("/admin/status"))).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["node"], "n1");
    assert_eq!(status.body["keys"], 1);
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_node_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = NodeProc::spawn(
        "n1",
        "127.0.0.1:0",
        &dir.path().join("n1"),
        &["--max-body-bytes".into(), "1024".into()],
    );
    let c = client();
    let kv = n1.url("/kv/k1");
    let json_ct = ("content-type", "application/json");

    let r = send(c.put(&kv).header(json_ct.0, json_ct.1).body("{\"value\": ")).await;
    assert_json_error(&r, 400, "n1");
    let r = send(c.put(&kv).header(json_ct.0, json_ct.1).body("[1, 2]")).await;
    assert_json_error(&r, 400, "n1");
    let r = send(c.put(&kv).json(&json!({"val": 1}))).await;
    assert_json_error(&r, 400, "n1");
    let r = send(
        c.put(&kv)
            .json(&json!({"value": 1, "context": "not a context"})),
    )
    .await;
    assert_json_error(&r, 400, "n1");
    assert!(r.body["error"].as_str().unwrap().contains("context"));

    let r = send(c.put(&kv).body("{\"value\": 1}")).await;
    assert_json_error(&r, 415, "n1");
    let r = send(
        c.put(&kv)
            .header("content-type", "text/plain")
            .body("{\"value\": 1}"),
    )
    .await;
    assert_json_error(&r, 415, "n1");

    let big = json!({"value": "x".repeat(2048)});
    let r = send(c.put(&kv).json(&big)).await;
    assert_json_error(&r, 413, "n1");

    let r = send(c.get(n1.url("/nope"))).await;
    assert_json_error(&r, 404, "n1");
    let r = send(c.delete(&kv)).await;
    assert_json_error(&r, 405, "n1");
    let r = send(c.get(n1.url("/replicate"))).await;
    assert_json_error(&r, 405, "n1");

    for bad_key in ["a%20b", "k%2F1", "%C3%A9", &"x".repeat(257)] {
        let r = send(c.get(n1.url(&format!("/kv/{bad_key}")))).await;
        assert_json_error(&r, 400, "n1");
        let r = send(
            c.put(n1.url(&format!("/kv/{bad_key}")))
                .json(&json!({"value": 1})),
        )
        .await;
        assert_json_error(&r, 400, "n1");
    }
    let r = send(c.get(n1.url("/kv/"))).await;
    assert_json_error(&r, 400, "n1");

    let replicate = n1.url("/replicate");
    let r = send(
        c.post(&replicate)
            .header(json_ct.0, json_ct.1)
            .body("garbage"),
    )
    .await;
    assert_json_error(&r, 400, "n1");
    let spoofed = json!({"from": "n1", "after": 0, "upto": 0, "changes": []});
    let r = send(c.post(&replicate).json(&spoofed)).await;
    assert_json_error(&r, 400, "n1");
    let backwards = json!({"from": "n2", "after": 5, "upto": 1, "changes": []});
    let r = send(c.post(&replicate).json(&backwards)).await;
    assert_json_error(&r, 400, "n1");

    // The whole i64 range: i64::MIN once slipped past an overflowing bound.
    let clock = n1.url("/admin/clock");
    for offset_ms in [i64::MIN, i64::MIN + 1, i64::MAX] {
        let r = send(c.post(&clock).json(&json!({ "offset_ms": offset_ms }))).await;
        assert_json_error(&r, 400, "n1");
        assert!(r.body["error"].as_str().unwrap().contains("beyond a year"));
    }
    let r = send(c.post(&clock).json(&json!({ "offset_ms": -1000 }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let health = send(c.get(n1.url("/health"))).await;
    assert_eq!(health.status, 200);
    let w = put(&n1, "k1", json!({"value": "still fine"})).await;
    assert_eq!(w.status, 200, "{:?}", w.body);
}

#[tokio::test]
async fn two_peered_nodes_replicate_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let n1 = NodeProc::spawn(
        "n1",
        &format!("127.0.0.1:{p1}"),
        &dir.path().join("n1"),
        &peer_args(&[("n2", p2)]),
    );
    let n2 = NodeProc::spawn(
        "n2",
        &format!("127.0.0.1:{p2}"),
        &dir.path().join("n2"),
        &peer_args(&[("n1", p1)]),
    );

    assert_eq!(put(&n1, "a", json!({"value": "from n1"})).await.status, 200);
    assert_eq!(put(&n2, "b", json!({"value": "from n2"})).await.status, 200);
    await_value(&n2, "a", &json!("from n1")).await;
    await_value(&n1, "b", &json!("from n2")).await;

    // The replicated write's context covers the origin's dot.
    let r = get(&n2, "a").await;
    assert_eq!(r.body["context"], "n1:1");
}

#[tokio::test]
async fn acknowledged_write_survives_kill_9_and_replication_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let n1_dir = dir.path().join("n1");
    let n1_args = peer_args(&[("n2", p2)]);
    let mut n1 = NodeProc::spawn("n1", &format!("127.0.0.1:{p1}"), &n1_dir, &n1_args);
    let n2 = NodeProc::spawn(
        "n2",
        &format!("127.0.0.1:{p2}"),
        &dir.path().join("n2"),
        &peer_args(&[("n1", p1)]),
    );

    let w = put(&n1, "durable", json!({"value": 42})).await;
    assert_eq!(w.status, 200, "{:?}", w.body);
    n1.kill9();

    // A torn frame at the end, as a crash mid-write would leave.
    let mut log = OpenOptions::new()
        .append(true)
        .open(n1_dir.join("replication.log"))
        .unwrap();
    log.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
    drop(log);

    // While n1 is down, n2 accepts a write that n1 must get once back.
    assert_eq!(
        put(&n2, "while-down", json!({"value": "missed"}))
            .await
            .status,
        200
    );

    let n1 = NodeProc::spawn("n1", &format!("127.0.0.1:{p1}"), &n1_dir, &n1_args);
    let r = get(&n1, "durable").await;
    assert_eq!(r.body["values"], json!([42]), "{}", n1.stderr());
    assert!(
        n1.stderr().contains("torn or corrupt tail"),
        "{}",
        n1.stderr()
    );

    await_value(&n2, "durable", &json!(42)).await;
    await_value(&n1, "while-down", &json!("missed")).await;
    let w = put(&n1, "after-restart", json!({"value": 7})).await;
    assert_eq!(w.status, 200, "{:?}", w.body);
    assert_eq!(
        w.body["dot"],
        json!({"node": "n1", "seq": 2}),
        "dots are not reused"
    );
    await_value(&n2, "after-restart", &json!(7)).await;
}

#[tokio::test]
async fn sigterm_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut n1 = NodeProc::spawn("n1", "127.0.0.1:0", &dir.path().join("n1"), &[]);
    assert_eq!(put(&n1, "k", json!({"value": 1})).await.status, 200);
    // SAFETY: sending a signal to our own child.
    let pid = libc::pid_t::try_from(n1.child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = n1.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "{status}\n{}", n1.stderr());
    assert!(n1.stderr().contains("stopped"));
}

#[test]
fn exits_when_the_parent_named_in_the_environment_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args([
            "node",
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("DIVERGE_PARENT_PID", "999999999")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node did not notice its parent is gone");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bad_peer_flag_is_a_clap_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args([
            "node",
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
        ])
        .args(["--peer", "n2:7002"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--peer") && stderr.contains("ID=HOST:PORT"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_ring_with_forward_remote_relays_to_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let ids = ["n1", "n2", "n3"];
    // n1 -> n2 -> n3 -> n1
    let nodes: Vec<NodeProc> = (0..3)
        .map(|i| {
            let next = (i + 1) % 3;
            let mut extra = peer_args(&[(ids[next], ports[next])]);
            extra.push("--forward-remote".into());
            NodeProc::spawn(
                ids[i],
                &format!("127.0.0.1:{}", ports[i]),
                &dir.path().join(ids[i]),
                &extra,
            )
        })
        .collect();

    assert_eq!(
        put(&nodes[0], "r", json!({"value": "around"})).await.status,
        200
    );
    await_value(&nodes[2], "r", &json!("around")).await;
    await_value(&nodes[1], "r", &json!("around")).await;
    // Back at the origin nothing changes: the change is not applied twice.
    let r = get(&nodes[0], "r").await;
    assert_eq!(r.body["context"], "n1:1");
}

#[tokio::test]
async fn concurrent_writes_converge_and_the_cluster_quiesces() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let n1 = NodeProc::spawn(
        "n1",
        &format!("127.0.0.1:{p1}"),
        &dir.path().join("n1"),
        &peer_args(&[("n2", p2)]),
    );
    let n2 = NodeProc::spawn(
        "n2",
        &format!("127.0.0.1:{p2}"),
        &dir.path().join("n2"),
        &peer_args(&[("n1", p1)]),
    );

    let mut writes = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (url1, url2) = (
            n1.url(&format!("/kv/k{}", i % 10)),
            n2.url(&format!("/kv/k{}", i % 10)),
        );
        writes.spawn(async move {
            let url = if i % 2 == 0 { url1 } else { url2 };
            send(client().put(url).json(&json!({"value": i})))
                .await
                .status
        });
    }
    while let Some(status) = writes.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }

    // Quiescent: every backlog and inflight drained on both nodes.
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    loop {
        let mut idle = true;
        for node in [&n1, &n2] {
            let status = send(client().get(node.url("/admin/status"))).await.body;
            for peer in status["peers"].as_array().unwrap() {
                idle &= peer["backlog"] == 0 && peer["inflight"] == 0;
            }
        }
        if idle {
            break;
        }
        assert!(Instant::now() < deadline, "cluster did not quiesce");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for k in 0..10 {
        let (a, b) = (
            get(&n1, &format!("k{k}")).await,
            get(&n2, &format!("k{k}")).await,
        );
        assert_eq!(a.body["values"], b.body["values"], "k{k} diverged");
        assert_eq!(a.body["context"], b.body["context"], "k{k} contexts differ");
        assert_eq!(a.body["values"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn fsync_never_still_replicates_once_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let mut extra = peer_args(&[("n2", p2)]);
    extra.extend(["--fsync".to_string(), "never".to_string()]);
    let n1 = NodeProc::spawn(
        "n1",
        &format!("127.0.0.1:{p1}"),
        &dir.path().join("n1"),
        &extra,
    );
    let n2 = NodeProc::spawn(
        "n2",
        &format!("127.0.0.1:{p2}"),
        &dir.path().join("n2"),
        &peer_args(&[("n1", p1)]),
    );
    assert_eq!(put(&n1, "lazy", json!({"value": true})).await.status, 200);
    assert_eq!(get(&n1, "lazy").await.body["values"], json!([true]));
    await_value(&n2, "lazy", &json!(true)).await;
}

/// A raw connection to `node` that has sent `bytes` and nothing more.
async fn raw_send(node: &NodeProc, bytes: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", node.port))
        .await
        .unwrap();
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream
}

/// Read `stream` until the node closes it, failing if it is still open
/// after `bound`. Returns what the node sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, bound: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    match tokio::time::timeout(bound, stream.read_to_end(&mut seen)).await {
        Ok(Ok(_)) => {}
        // A reset after the node gave up on the connection is a close too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(e)) => panic!("reading: {e}"),
        Err(_) => panic!(
            "still open after {bound:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        ),
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = NodeProc::spawn(
        "n1",
        "127.0.0.1:0",
        &dir.path().join("n1"),
        &["--read-timeout-ms".into(), "300".into()],
    );
    // The default timeout (30 s) would outlast this bound many times over.
    let bound = Duration::from_secs(5);
    let mut half_head = raw_send(&n1, "GET /health HTTP/1.1\r\nHost: n1\r\n").await;
    let mut idle = raw_send(&n1, "GET /health HTTP/1.1\r\nHost: n1\r\n\r\n").await;
    let mut half_body = raw_send(
        &n1,
        "PUT /kv/k HTTP/1.1\r\nHost: n1\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{\"value\": ",
    )
    .await;
    let started = Instant::now();
    assert_eq!(read_until_closed(&mut half_head, bound).await, "");
    let served = read_until_closed(&mut idle, bound).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    let answered = read_until_closed(&mut half_body, bound).await;
    assert!(!answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    let health = send(client().get(n1.url("/health"))).await;
    assert_eq!(health.status, 200);
    let r = get(&n1, "k").await;
    assert_eq!(
        r.body["values"],
        json!([]),
        "the half-sent write did nothing"
    );
}

#[tokio::test]
async fn replicate_bodies_are_bounded_in_size_and_bytes_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = NodeProc::spawn(
        "n1",
        "127.0.0.1:0",
        &dir.path().join("n1"),
        // A budget below one largest body is raised to exactly one.
        &["--replicate-buffer-bytes".into(), "1".into()],
    );
    let head = |length: u64| {
        format!(
            "POST /replicate HTTP/1.1\r\nHost: n1\r\ncontent-type: application/json\r\n\
             content-length: {length}\r\n\r\n"
        )
    };
    // Declared over the limit: refused before a byte of it is read.
    let mut huge = raw_send(&n1, &head(1 << 40)).await;
    let refused = read_until_closed(&mut huge, Duration::from_secs(5)).await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    let limit: u64 = refused
        .split("over the limit of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no limit named in {refused}"));
    assert!(
        limit >= 8 << 20,
        "a limit of {limit} bytes fits no real batch"
    );

    // One body of the largest size takes the whole budget while it arrives;
    // a second, however small, is turned away instead of buffered.
    let held = raw_send(&n1, &format!("{}{{\"from\": ", head(limit))).await;
    let probe = json!({"from": "n2", "after": 0, "upto": 0, "changes": []});
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = send(client().post(n1.url("/replicate")).json(&probe)).await;
        if r.status == 503 {
            assert_json_error(&r, 503, "n1");
            break;
        }
        // The held request may not have been admitted yet.
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            Instant::now() < deadline,
            "the held body never took the budget"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its connection gone, the budget is free again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = send(client().post(n1.url("/replicate")).json(&probe)).await;
        if r.status == 200 {
            assert_eq!(r.body["acked"], 0);
            break;
        }
        assert_eq!(r.status, 503, "{:?}", r.body);
        assert!(Instant::now() < deadline, "the budget was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
