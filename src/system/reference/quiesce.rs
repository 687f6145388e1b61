//! Quiescence: waiting, with a bound, until every node's replication backlog
//! has drained, so that final reads see a settled cluster. Nodes held down
//! (`--down`) are not asked, and backlogs towards them are ignored: they can
//! never drain.

use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Status {
    log_end: u64,
    durable: u64,
    peers: Vec<PeerStatus>,
    /// Received changes a node holds back until what they depend on arrives.
    #[serde(default)]
    buffered: usize,
}

#[derive(Debug, Deserialize)]
struct PeerStatus {
    /// The peer's id (absent from nodes that do not name their peers).
    #[serde(default)]
    peer: String,
    backlog: u64,
    inflight: usize,
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quiescence {
    pub quiesced: bool,
    pub waited: Duration,
}

/// Poll `/admin/status` on every node until two consecutive rounds show
/// every log durable, every peer caught up and nothing in flight, with no log
/// growing in between.
pub async fn wait_quiescent(
    http: &reqwest::Client,
    urls: &[String],
    down: &[String],
    timeout: Duration,
) -> Quiescence {
    let start = Instant::now();
    let mut previous: Option<Vec<u64>> = None;
    loop {
        let round = poll_round(http, urls, down).await;
        match round {
            Some(ends) if previous.as_ref() == Some(&ends) => {
                return Quiescence {
                    quiesced: true,
                    waited: start.elapsed(),
                };
            }
            other => previous = other,
        }
        if start.elapsed() >= timeout {
            return Quiescence {
                quiesced: false,
                waited: start.elapsed(),
            };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The log ends of every node if all are idle, else `None`.
async fn poll_round(http: &reqwest::Client, urls: &[String], down: &[String]) -> Option<Vec<u64>> {
    let mut ends = Vec::with_capacity(urls.len());
    for url in urls {
        let status: Status = http
            .get(format!("{url}/admin/status"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let idle = status.durable == status.log_end
            && status.buffered == 0
            && status
                .peers
                .iter()
                .all(|p| (p.backlog == 0 && p.inflight == 0) || down.contains(&p.peer));
        if !idle {
            return None;
        }
        ends.push(status.log_end);
    }
    Some(ends)
}

/// Whether the nodes can report their status, and if not, why.
enum StatusSupport {
    Served,
    /// A node does not serve `/admin/status` (or breaks its format): the why.
    Missing(String),
}

async fn probe_status(http: &reqwest::Client, ids: &[String], urls: &[String]) -> StatusSupport {
    for (id, url) in ids.iter().zip(urls) {
        let Ok(reply) = http
            .get(format!("{url}/admin/status"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
        else {
            // Unreachable now (e.g. still recovering): the polling loop copes.
            continue;
        };
        let status = reply.status();
        if status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::METHOD_NOT_ALLOWED
            || status == reqwest::StatusCode::NOT_IMPLEMENTED
        {
            return StatusSupport::Missing(format!(
                "node {id} does not serve GET /admin/status (HTTP {status})"
            ));
        }
        if status.is_success()
            && let Err(e) = reply.json::<Status>().await
        {
            return StatusSupport::Missing(format!(
                "node {id} answered GET /admin/status with a body that is not a status \
                 ({{log_end, durable, peers: [{{backlog, inflight}}]}}): {e}"
            ));
        }
    }
    StatusSupport::Served
}

/// Quiescence for nodes that may not report status: poll `/admin/status`
/// like [`wait_quiescent`] when every node serves it; otherwise wait a fixed
/// `settle` and say so in the returned note. `ids` and `urls` are the live
/// nodes; `down` the ones held down.
pub async fn wait_quiescent_or_settle(
    http: &reqwest::Client,
    ids: &[String],
    urls: &[String],
    down: &[String],
    timeout: Duration,
    settle: Duration,
) -> (Quiescence, Option<String>) {
    match probe_status(http, ids, urls).await {
        StatusSupport::Served => (wait_quiescent(http, urls, down, timeout).await, None),
        StatusSupport::Missing(why) => {
            tracing::warn!(
                "{why}: waiting a fixed {:.1}s instead",
                settle.as_secs_f64()
            );
            tokio::time::sleep(settle).await;
            let note = format!(
                "{why}: quiescence was not observed; final reads followed a fixed settle wait of {:.1}s (--settle)",
                settle.as_secs_f64()
            );
            (
                Quiescence {
                    quiesced: true,
                    waited: settle,
                },
                Some(note),
            )
        }
    }
}
