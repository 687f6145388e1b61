//! The local cluster: node processes started from respawnable specs, waited
//! for until ready, and stopped (or killed) so that none outlives the
//! controller.
//!
//! - [`spec`]: what a node is (id, address, data dir, peers, options) and the
//!   command line that starts it.
//! - [`process`]: spawning a node so that it dies with the controller.
//! - [`ports`]: free loopback ports.
//! - [`readiness`]: waiting, with a bound, until a node answers.
//! - [`template`]: `--node-cmd` templates for nodes diverge did not write.
//! - [`topology`]: which peers each node sends to, and which nodes relay.

mod ports;
mod process;
mod readiness;
mod spec;
pub mod template;
pub mod topology;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

pub use ports::free_port;
pub use process::NodeProcess;
pub use spec::NodeSpec;

use crate::config::TestConfig;

/// Every node of a run.
pub struct Cluster {
    nodes: Vec<NodeProcess>,
    http: reqwest::Client,
    ready_timeout: Duration,
    /// Nodes held down for the rest of the run (`--down`): never restarted.
    held_down: Vec<bool>,
}

impl Cluster {
    /// Spawn every node of `config` (the `diverge` binary `node_bin`) under `run_dir` on `ports` (by node
    /// index), reaching its peers at `peer_addr(from, to)`, and wait until all
    /// are ready.
    pub async fn start(
        config: &TestConfig,
        run_dir: &Path,
        node_bin: &Path,
        http: reqwest::Client,
        ports: &[u16],
        peer_addr: impl Fn(&str, &str) -> String,
    ) -> Result<Self> {
        let specs = NodeSpec::for_test(config, run_dir, node_bin, ports, peer_addr)?;
        let mut cluster = Cluster {
            nodes: Vec::with_capacity(specs.len()),
            http,
            ready_timeout: config.ready_timeout(),
            held_down: vec![false; specs.len()],
        };
        for spec in specs {
            std::fs::create_dir_all(&spec.data_dir)
                .with_context(|| format!("creating data dir {}", spec.data_dir.display()))?;
            cluster.nodes.push(NodeProcess::spawn(spec)?);
        }
        for node in &mut cluster.nodes {
            readiness::wait_ready(&cluster.http, node, cluster.ready_timeout).await?;
        }
        Ok(cluster)
    }

    pub fn nodes(&self) -> &[NodeProcess] {
        &self.nodes
    }

    /// The client address (`http://127.0.0.1:PORT`) of every node, by index.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.spec.url()).collect()
    }

    pub fn ids(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.spec.id.clone()).collect()
    }

    /// Node log files, by id.
    pub fn log_paths(&self) -> Vec<(String, PathBuf)> {
        self.nodes
            .iter()
            .map(|n| (n.spec.id.clone(), n.spec.log_path.clone()))
            .collect()
    }

    /// SIGKILL node `i` and wait for it to die (a crash: nothing is flushed).
    pub async fn crash(&mut self, i: usize) {
        self.nodes[i].kill_and_wait().await;
    }

    /// Whether node `i` has no running process (crashed and not restarted).
    pub fn is_down(&mut self, i: usize) -> bool {
        !self.nodes[i].is_running()
    }

    /// Kill node `i` and keep it down for the rest of the run: faults that
    /// restart crashed nodes (and the final heal) leave it alone.
    pub async fn hold_down(&mut self, i: usize) {
        self.held_down[i] = true;
        self.nodes[i].kill_and_wait().await;
    }

    /// Whether node `i` is held down (see [`Cluster::hold_down`]).
    pub fn is_held_down(&self, i: usize) -> bool {
        self.held_down[i]
    }

    /// Start node `i` again from its spec (same port, same data dir) and wait
    /// until it is ready. A node held down stays down.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        if self.held_down[i] {
            return Ok(());
        }
        let node = &mut self.nodes[i];
        node.kill_and_wait().await;
        node.respawn()?;
        readiness::wait_ready(&self.http, node, self.ready_timeout).await
    }

    /// SIGSTOP node `i`: it answers nothing until resumed.
    pub fn pause(&self, i: usize) {
        self.nodes[i].pause();
    }

    /// SIGCONT node `i`.
    pub fn resume(&self, i: usize) {
        self.nodes[i].resume();
    }

    /// Stop every node gracefully (SIGTERM), killing those that do not exit in time.
    pub async fn stop(&mut self) {
        for node in &mut self.nodes {
            // A paused process would not act on SIGTERM until continued.
            node.resume();
            node.terminate();
        }
        for node in &mut self.nodes {
            node.wait_or_kill(Duration::from_secs(5)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Error and panic paths land here: never leave a node behind.
        for node in &mut self.nodes {
            node.kill_now();
        }
        // SIGKILL is delivered asynchronously: wait (bounded) until every
        // node is gone, or one could still be seen after the controller exits.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        for node in &mut self.nodes {
            node.reap_by(deadline);
        }
    }
}
