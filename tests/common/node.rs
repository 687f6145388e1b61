//! Running `diverge node` in tests: the real binary on ephemeral ports,
//! and the HTTP calls the tests make to it.
//!
//! Readiness: the node writes its bound port to `<data-dir>/port` once it
//! accepts connections; [`NodeProc::spawn`] removes any stale port file,
//! starts the process and polls for the file. Every child is killed when its
//! [`NodeProc`] drops. Included with `#[path]` by each node test file, each
//! of which uses part of it.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
pub const REPLICATION_TIMEOUT: Duration = Duration::from_secs(5);

pub struct NodeProc {
    pub id: String,
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
}

impl NodeProc {
    /// Start `diverge node` and wait until it has written its port file.
    pub fn spawn(id: &str, listen: &str, data_dir: &Path, extra: &[String]) -> NodeProc {
        let port_file = data_dir.join("port");
        let _ = std::fs::remove_file(&port_file);
        let stderr_path = data_dir.with_extension("stderr");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .args(["node", "--id", id, "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn diverge node");
        let deadline = Instant::now() + READY_TIMEOUT;
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(port) = text.trim().parse::<u16>()
            {
                break port;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "node {id} exited with {status} before it was ready:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "node {id} not ready in time");
            std::thread::sleep(Duration::from_millis(10));
        };
        NodeProc {
            id: id.to_string(),
            child,
            port,
            stderr_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A free port: bind port 0, note the port, release it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn peer_args(peers: &[(&str, u16)]) -> Vec<String> {
    peers
        .iter()
        .flat_map(|(id, port)| ["--peer".to_string(), format!("{id}=127.0.0.1:{port}")])
        .collect()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub struct Resp {
    pub status: u16,
    pub node_header: Option<String>,
    pub body: Value,
}

pub async fn send(request: reqwest::RequestBuilder) -> Resp {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let node_header = response
        .headers()
        .get("x-diverge-node")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "status {status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Resp {
        status,
        node_header,
        body,
    }
}

pub async fn put(node: &NodeProc, key: &str, body: Value) -> Resp {
    send(client().put(node.url(&format!("/kv/{key}"))).json(&body)).await
}

pub async fn get(node: &NodeProc, key: &str) -> Resp {
    send(client().get(node.url(&format!("/kv/{key}")))).await
}

/// Poll `key` on `node` until it holds `value` (at most [`REPLICATION_TIMEOUT`]).
pub async fn await_value(node: &NodeProc, key: &str, value: &Value) {
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    loop {
        let r = get(node, key).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["values"].as_array().unwrap().contains(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{key}={value} did not reach {} in time; last read {:?}\n{}",
            node.id,
            r.body,
            node.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn assert_json_error(r: &Resp, status: u16, node: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["node"], node, "{:?}", r.body);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{:?}",
        r.body
    );
    assert_eq!(r.node_header.as_deref(), Some(node));
}
