//! Replication IO: the tick loop, the persisted-watch loop, and the sender
//! that posts the core's batches to peers.
//!
//! Each [`Outgoing`] becomes one `POST {peer}/replicate` with the [`Batch`]
//! as JSON, on one shared keep-alive client, with a [`SEND_TIMEOUT`]. Its
//! outcome goes back into the core as [`Input::Delivered`]: `Ok(acked)` from
//! a 200 `{"acked": N}`, `Err(reason)` for anything else. Sends run as
//! independent tasks, so several batches to one peer may be in flight at
//! once; the core bounds that with its window and retries failures with
//! backoff on [`Input::Tick`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use diverge_replica::{Batch, Input, LogSeq, NodeId, Outgoing};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::shell::Node;

/// Longest wait for a peer's answer to one batch.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the core is ticked (retries, backoff expiry).
pub const TICK_INTERVAL: Duration = Duration::from_millis(5);

/// Posts batches to peers.
pub struct Replicator {
    client: reqwest::Client,
    /// Peer id -> base URL (`http://HOST:PORT`).
    peer_urls: BTreeMap<NodeId, String>,
}

#[derive(Deserialize)]
struct Ack {
    acked: LogSeq,
}

impl Replicator {
    pub fn new(peer_urls: BTreeMap<NodeId, String>) -> anyhow::Result<Self> {
        // Peers are addressed directly: never through a proxy from the environment.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Replicator { client, peer_urls })
    }

    /// Send `outgoing` in the background and feed its outcome to `node`.
    pub fn send(&self, node: &Arc<Node>, outgoing: Outgoing) {
        let Outgoing { peer, batch } = outgoing;
        let (after, upto) = (batch.after, batch.upto);
        let request = self
            .peer_urls
            .get(&peer)
            .map(|base| self.client.post(format!("{base}/replicate")).json(&batch));
        let node = node.clone();
        tokio::spawn(async move {
            let result = match request {
                Some(request) => post(request, &batch).await,
                None => Err(format!("no address for peer {peer}")),
            };
            if let Err(reason) = &result {
                tracing::debug!(%peer, after, upto, %reason, "batch not delivered");
            }
            let input = Input::Delivered {
                peer,
                after,
                upto,
                result,
            };
            // Records the core produces here need no waiting: nobody awaits a reply.
            let (_, _durable) = node.step(input);
        });
    }
}

async fn post(request: reqwest::RequestBuilder, batch: &Batch) -> Result<LogSeq, String> {
    let response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| describe(&e))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "HTTP {status} for ({}, {}]: {text}",
            batch.after, batch.upto
        ));
    }
    serde_json::from_slice::<Ack>(&body)
        .map(|ack| ack.acked)
        .map_err(|e| format!("bad ack body: {e}"))
}

/// reqwest's Display hides the cause; include the chain.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Tick the core every [`TICK_INTERVAL`] and send what it returns.
pub fn spawn_ticker(node: Arc<Node>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Stuck changes already reported, so each is logged once.
        let mut reported = std::collections::BTreeSet::new();
        loop {
            interval.tick().await;
            let (_, _durable) = node.step(Input::Tick);
            let stuck = node.stuck();
            for (dot, deps) in &stuck {
                if reported.insert(dot.clone()) {
                    tracing::error!(
                        node = %node.id(),
                        origin = %dot.node,
                        seq = dot.seq,
                        deps = ?deps.0,
                        "a received change is stuck: it has waited longer than the bound for a change it depends on"
                    );
                }
            }
            reported.retain(|d| stuck.iter().any(|(s, _)| s == d));
        }
    })
}

/// Tell the core each time more of the log becomes durable.
pub fn spawn_persisted_feed(node: Arc<Node>) -> JoinHandle<()> {
    let mut persisted = node.log().persisted();
    tokio::spawn(async move {
        loop {
            let upto = *persisted.borrow_and_update();
            let (_, _durable) = node.step(Input::Persisted { upto });
            if persisted.changed().await.is_err() {
                return;
            }
        }
    })
}
