//! The testbed: the link layer and the node processes of one run, wired
//! together (each node reaches each peer through its own link, or directly
//! when the run needs no links: see [`TestConfig::interposes_links`]). Runs
//! and the fault tests start clusters through this one helper.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::Mutex;

use super::faults::Targets;
use crate::cluster::{Cluster, free_port};
use crate::config::TestConfig;
use crate::net::{Latency, LinkBehaviour, LinkLayer, Route};
use crate::seeds::sub_seed;

/// How often a cluster start is tried when a drawn port was taken.
const START_ATTEMPTS: u32 = 3;

pub struct Testbed {
    pub cluster: Arc<Mutex<Cluster>>,
    pub links: Arc<LinkLayer>,
    pub ids: Vec<String>,
    /// Client URL of each node, by index; stable across restarts.
    pub urls: Vec<String>,
}

impl Testbed {
    /// Start the links, then the nodes (peered through the links), and wait
    /// until every node is ready.
    pub async fn start(
        config: &TestConfig,
        run_dir: &Path,
        http: reqwest::Client,
    ) -> Result<Testbed> {
        let node_bin = match &config.node_bin {
            Some(bin) => bin.clone(),
            None => {
                std::env::current_exe().context("locating the diverge binary to spawn nodes")?
            }
        };
        Testbed::start_with_binary(config, run_dir, &node_bin, http).await
    }

    /// As [`Testbed::start`], spawning nodes from `node_bin` (tests pass the
    /// built `diverge` binary: their own executable is the test harness).
    pub async fn start_with_binary(
        config: &TestConfig,
        run_dir: &Path,
        node_bin: &Path,
        http: reqwest::Client,
    ) -> Result<Testbed> {
        std::fs::create_dir_all(run_dir.join("nodes"))?;
        let mut attempt = 1;
        loop {
            match Testbed::try_start(config, run_dir, node_bin, http.clone()).await {
                // Another process took a drawn port before the node bound it:
                // start over on fresh ports.
                Err(e)
                    if attempt < START_ATTEMPTS
                        && format!("{e:#}").contains("Address already in use") =>
                {
                    tracing::warn!("a node port was taken; starting the cluster again: {e:#}");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_start(
        config: &TestConfig,
        run_dir: &Path,
        node_bin: &Path,
        http: reqwest::Client,
    ) -> Result<Testbed> {
        let ids = config.node_ids();
        let ports = ids
            .iter()
            .map(|_| free_port())
            .collect::<Result<Vec<u16>>>()?;
        let interposed = config.interposes_links();
        let links = Arc::new(match interposed {
            true => start_links(config, &ids, &ports).await?,
            false => LinkLayer::start(Vec::new(), 0).await?,
        });
        let cluster = Cluster::start(config, run_dir, node_bin, http, &ports, |from, to| {
            if interposed {
                return links
                    .addr(from, to)
                    .map(|a| a.to_string())
                    .unwrap_or_default();
            }
            ids.iter()
                .position(|id| id == to)
                .map(|j| format!("127.0.0.1:{}", ports[j]))
                .unwrap_or_default()
        })
        .await?;
        let urls = cluster.urls();
        Ok(Testbed {
            cluster: Arc::new(Mutex::new(cluster)),
            links,
            ids,
            urls,
        })
    }

    /// What faults act on.
    pub fn targets(&self, http: reqwest::Client) -> Targets {
        Targets {
            cluster: self.cluster.clone(),
            links: self.links.clone(),
            urls: self.urls.clone(),
            http,
        }
    }
}

/// One link per directed pair of nodes; links between datacenters carry
/// `--dc-latency` with +-20% jitter as their base behaviour.
async fn start_links(config: &TestConfig, ids: &[String], ports: &[u16]) -> Result<LinkLayer> {
    let mut routes = Vec::new();
    for from in ids {
        for (j, to) in ids.iter().enumerate() {
            if from != to {
                routes.push(Route {
                    from: from.clone(),
                    to: to.clone(),
                    target: format!("http://127.0.0.1:{}", ports[j]),
                });
            }
        }
    }
    let links = LinkLayer::start(routes, sub_seed(config.seed, "links", 0)).await?;
    for (i, from) in ids.iter().enumerate() {
        for (j, to) in ids.iter().enumerate() {
            if i != j && config.datacenter_of(i) != config.datacenter_of(j) {
                let ms = config.dc_latency_ms;
                let base = LinkBehaviour {
                    latency: Latency::Uniform {
                        min_ms: ms * 4 / 5,
                        max_ms: ms * 6 / 5,
                    },
                    ..LinkBehaviour::default()
                };
                links.set_base(from, to, base);
            }
        }
    }
    Ok(links)
}
