//! A node's respawnable spec: everything needed to start it again after a
//! crash, from the same data dir and on the same port.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::topology::roles;

use crate::config::TestConfig;
use crate::domain::{FsyncMode, Named, Topology};

#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// stdout and stderr of every incarnation, appended.
    pub log_path: PathBuf,
    /// (peer id, peer address) pairs this node replicates to.
    pub peers: Vec<(String, String)>,
    /// (follower id, address) pairs sent every change this node applies.
    pub followers: Vec<(String, String)>,
    pub strategy: String,
    pub fsync: FsyncMode,
    pub node_bin: PathBuf,
    /// A `--node-cmd` template: the node is started by `sh -c 'exec <rendered>'`
    /// instead of `node_bin node ...`.
    pub template: Option<String>,
    /// Auto-increment step and this node's offset.
    pub id_step: u64,
    pub id_offset: u64,
    /// Relay changes received from peers (ring, star root, tree).
    pub forward_remote: bool,
    /// Strategy, delivery and topology flags (`--priority`, `--on-write`,
    /// `--causal-delivery`, `--leader`; a follower's `--leader` names the
    /// node its writes belong at).
    pub extra_args: Vec<String>,
}

impl NodeSpec {
    /// Specs for every node of the test on `ports` (by node index); node
    /// `from` reaches peer `to` at `peer_addr(from, to)` (a link's address).
    pub fn for_test(
        config: &TestConfig,
        run_dir: &Path,
        node_bin: &Path,
        ports: &[u16],
        peer_addr: impl Fn(&str, &str) -> String,
    ) -> Result<Vec<NodeSpec>> {
        let ids = config.node_ids();
        let leaders = &ids[..config.nodes];
        let strategy = config.strategy.name().to_string();
        let topology = config.topology;
        let o = &config.options;
        let root = o
            .root
            .as_ref()
            .and_then(|r| leaders.iter().position(|id| id == r))
            .unwrap_or(0);
        // The topology wires the leaders; followers hang off their leader.
        let roles = roles(topology, leaders.len(), root, o.fanout.unwrap_or(2));
        let mut extra_args = Vec::new();
        if !o.priority.is_empty() {
            extra_args.extend(["--priority".to_string(), o.priority.join(",")]);
        }
        if let Some(f) = &o.on_write {
            extra_args.extend(["--on-write".to_string(), f.display().to_string()]);
        }
        if let Some(lib) = &o.text_crdt {
            extra_args.extend(["--text-crdt".to_string(), lib.clone()]);
        }
        if o.causal_delivery {
            extra_args.extend(["--causal-delivery".to_string(), "on".to_string()]);
        }
        let leader_flag = |i: usize| -> Vec<String> {
            if topology == Topology::SingleLeader {
                vec!["--leader".into(), ids[0].clone()]
            } else if i >= config.nodes {
                vec!["--leader".into(), ids[config.leader_of(i)].clone()]
            } else {
                Vec::new()
            }
        };
        let followers_of = |l: usize| -> Vec<(String, String)> {
            (config.nodes..ids.len())
                .filter(|&f| config.leader_of(f) == l)
                .map(|f| (ids[f].clone(), peer_addr(&ids[l], &ids[f])))
                .collect()
        };
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let leader = config.leader_of(i);
                let is_leader = i < config.nodes;
                NodeSpec {
                    id: id.clone(),
                    port: ports[i],
                    data_dir: run_dir.join("nodes").join(id),
                    log_path: run_dir.join("nodes").join(format!("{id}.log")),
                    peers: if is_leader {
                        roles[i]
                            .peers
                            .iter()
                            .map(|&j| (ids[j].clone(), peer_addr(id, &ids[j])))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    followers: if is_leader {
                        followers_of(i)
                    } else {
                        Vec::new()
                    },
                    forward_remote: is_leader && roles[i].forward_remote,
                    extra_args: extra_args.iter().cloned().chain(leader_flag(i)).collect(),
                    strategy: strategy.clone(),
                    fsync: config.fsync,
                    node_bin: node_bin.to_path_buf(),
                    template: config.node_cmd.clone(),
                    id_step: config.id_step,
                    id_offset: config.id_offset.of(leader),
                }
            })
            .collect())
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Arguments of `diverge node` for this spec.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "node".to_string(),
            "--id".into(),
            self.id.clone(),
            "--listen".into(),
            self.addr(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--strategy".into(),
            self.strategy.clone(),
            "--fsync".into(),
            self.fsync.name().into(),
        ];
        args.extend([
            "--id-step".into(),
            self.id_step.to_string(),
            "--id-offset".into(),
            self.id_offset.to_string(),
        ]);
        for (peer, addr) in &self.peers {
            args.push("--peer".into());
            args.push(format!("{peer}={addr}"));
        }
        for (follower, addr) in &self.followers {
            args.push("--follower".into());
            args.push(format!("{follower}={addr}"));
        }
        if self.forward_remote {
            args.push("--forward-remote".into());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}
