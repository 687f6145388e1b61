//! The reference node's bounded memory and fast restart, end to end:
//! checkpoints that lose no acknowledged write across SIGKILL (with a
//! checkpoint half written, or unusable: then every segment is replayed), and a peer that was away for longer than
//! the in-memory window catching up from the log's files.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "common/node.rs"]
mod node;
use node::*;

async fn status(node: &NodeProc) -> Value {
    send(client().get(node.url("/admin/status"))).await.body
}

/// Wait (bounded) until `path` exists.
async fn await_file(path: &std::path::Path, node: &NodeProc) {
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared\n{}",
            path.display(),
            node.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn restart_from_a_checkpoint_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let n1_dir = dir.path().join("n1");
    let args: Vec<String> = ["--checkpoint-every", "10", "--fsync", "always"]
        .map(String::from)
        .to_vec();
    let mut n1 = NodeProc::spawn("n1", "127.0.0.1:0", &n1_dir, &args);
    for i in 0..35 {
        let w = put(&n1, &format!("k{i}"), json!({"value": i})).await;
        assert_eq!(w.status, 200, "{:?}", w.body);
    }
    await_file(&n1_dir.join("checkpoint.json"), &n1).await;
    n1.kill9();
    // A crash while storing the next checkpoint leaves a partial temp file.
    std::fs::write(n1_dir.join("checkpoint.json.tmp"), b"{\"format\":1,\"che").unwrap();

    let n1 = NodeProc::spawn("n1", "127.0.0.1:0", &n1_dir, &args);
    for i in 0..35 {
        let r = get(&n1, &format!("k{i}")).await;
        assert_eq!(r.body["values"], json!([i]), "k{i}\n{}", n1.stderr());
    }
    let stderr = n1.stderr();
    let restarted = stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        restarted.contains("checkpoint_log_end=") && !restarted.contains("checkpoint_log_end=0"),
        "the restart did not load a checkpoint: {restarted}"
    );
    assert!(!n1_dir.join("checkpoint.json.tmp").exists());
    let segments = std::fs::read_dir(&n1_dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("replication.") && name.ends_with(".log")
        })
        .count();
    assert!(segments >= 2, "one segment per checkpoint, got {segments}");
    // Dots are not reused after the restart.
    let w = put(&n1, "after", json!({"value": 1})).await;
    assert_eq!(w.body["dot"], json!({"node": "n1", "seq": 36}));

    // An unusable checkpoint: the node replays every segment instead.
    let mut n1 = n1;
    n1.kill9();
    std::fs::write(n1_dir.join("checkpoint.json"), b"{ not json").unwrap();
    let n1 = NodeProc::spawn("n1", "127.0.0.1:0", &n1_dir, &args);
    assert!(
        n1.stderr().contains("corrupt checkpoint"),
        "{}",
        n1.stderr()
    );
    for i in 0..35 {
        let r = get(&n1, &format!("k{i}")).await;
        assert_eq!(r.body["values"], json!([i]), "k{i}\n{}", n1.stderr());
    }
    assert_eq!(get(&n1, "after").await.body["values"], json!([1]));
}

#[tokio::test]
async fn a_peer_away_longer_than_the_window_catches_up_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let n1_dir = dir.path().join("n1");
    let mut n1_args = peer_args(&[("n2", p2)]);
    n1_args.extend(["--log-window", "5", "--checkpoint-every", "7"].map(String::from));
    let mut n1 = NodeProc::spawn("n1", &format!("127.0.0.1:{p1}"), &n1_dir, &n1_args);
    for i in 0..40 {
        let w = put(&n1, &format!("k{i}"), json!({"value": i})).await;
        assert_eq!(w.status, 200, "{:?}", w.body);
    }
    let st = status(&n1).await;
    assert!(st["log_in_memory"].as_u64().unwrap() <= 5, "{st}");
    // n1 restarts from a checkpoint: the entries before it are only in the
    // segments, and n2 (never up so far) needs every one of them.
    await_file(&n1_dir.join("checkpoint.json"), &n1).await;
    n1.kill9();
    let n1 = NodeProc::spawn("n1", &format!("127.0.0.1:{p1}"), &n1_dir, &n1_args);
    let n2 = NodeProc::spawn(
        "n2",
        &format!("127.0.0.1:{p2}"),
        &dir.path().join("n2"),
        &peer_args(&[("n1", p1)]),
    );
    for i in 0..40 {
        await_value(&n2, &format!("k{i}"), &json!(i)).await;
    }
    // Once n2 has acknowledged everything, n1 holds nothing in memory.
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    loop {
        let st = status(&n1).await;
        if st["peers"][0]["acked"] == st["log_end"] && st["log_in_memory"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{st}\n{}", n1.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
