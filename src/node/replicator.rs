//! Replication IO: the tick loop, the persisted-watch loop, and the sender
//! that posts the core's batches to peers.
//!
//! Each [`Outgoing`] becomes one `POST {peer}/replicate` with the [`Batch`]
//! as JSON, on the peer's keep-alive [`Http1Client`] (the lean client the
//! workload uses: no per-connection task, no URL parsing per request), with
//! a [`SEND_TIMEOUT`]. Its outcome goes back into the core as
//! [`Input::Delivered`]: `Ok(acked)` from a 200 `{"acked": N}`,
//! `Err(reason)` for anything else. Sends run as independent tasks, so
//! several batches to one peer may be in flight at once (each on its own
//! connection); the core bounds that with its window and retries failures
//! with backoff on [`Input::Tick`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use diverge_replica::{Batch, Input, LogSeq, NodeId, Outgoing};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::shell::Node;
use crate::http1::Http1Client;

/// Longest wait for a peer's answer to one batch (connecting included).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the core is ticked (retries, backoff expiry).
pub const TICK_INTERVAL: Duration = Duration::from_millis(5);

/// Posts batches to peers.
pub struct Replicator {
    /// Peer id -> its client (`http://HOST:PORT`).
    peers: BTreeMap<NodeId, Arc<Http1Client>>,
}

#[derive(Deserialize)]
struct Ack {
    acked: LogSeq,
}

impl Replicator {
    /// A sender to every peer in `peer_urls` (id -> `http://HOST:PORT`).
    pub fn new(peer_urls: BTreeMap<NodeId, String>) -> anyhow::Result<Self> {
        let peers = peer_urls
            .into_iter()
            .map(|(peer, url)| {
                let client =
                    Http1Client::new(&url).map_err(|e| anyhow::anyhow!("peer {peer}: {e}"))?;
                Ok((peer, Arc::new(client)))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Replicator { peers })
    }

    /// Send `outgoing` in the background and feed its outcome to `node`.
    pub fn send(&self, node: &Arc<Node>, outgoing: Outgoing) {
        let Outgoing { peer, batch } = outgoing;
        let (after, upto) = (batch.after, batch.upto);
        let client = self.peers.get(&peer).cloned();
        let node = node.clone();
        tokio::spawn(async move {
            let result = match client {
                Some(client) => post(&client, &batch).await,
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

async fn post(client: &Http1Client, batch: &Batch) -> Result<LogSeq, String> {
    let body = serde_json::to_vec(batch).map_err(|e| format!("encoding the batch: {e}"))?;
    let response = tokio::time::timeout(
        SEND_TIMEOUT,
        client.request(Method::POST, "/replicate", Some(body)),
    )
    .await
    .map_err(|_| format!("no answer within {SEND_TIMEOUT:?}"))?
    .map_err(|e| e.to_string())?;
    if !response.status.is_success() {
        let text = String::from_utf8_lossy(&response.body);
        return Err(format!(
            "HTTP {} for ({}, {}]: {text}",
            response.status, batch.after, batch.upto
        ));
    }
    serde_json::from_slice::<Ack>(&response.body)
        .map(|ack| ack.acked)
        .map_err(|e| format!("bad ack body: {e}"))
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
