//! Quiescence: waiting, with a bound, until every node's replication backlog
//! has drained, so that final reads see a settled cluster.

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
    timeout: Duration,
) -> Quiescence {
    let start = Instant::now();
    let mut previous: Option<Vec<u64>> = None;
    loop {
        let round = poll_round(http, urls).await;
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
async fn poll_round(http: &reqwest::Client, urls: &[String]) -> Option<Vec<u64>> {
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
                .all(|p| p.backlog == 0 && p.inflight == 0);
        if !idle {
            return None;
        }
        ends.push(status.log_end);
    }
    Some(ends)
}
