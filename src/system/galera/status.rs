//! What a Galera node says about its membership (`SHOW STATUS LIKE
//! 'wsrep%'`): whether it is ready, in the primary component, synced, how
//! big it sees the cluster, and its certification failures.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::system::mariadb::server;

/// One node's wsrep status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub ready: bool,
    /// `Primary` or `non-Primary`.
    pub cluster_status: String,
    /// `Synced`, `Joining`, `Donor/Desynced`, ...
    pub state: String,
    pub cluster_size: usize,
    /// Write sets received but not applied yet.
    pub recv_queue: u64,
    /// Local transactions that failed certification (aborted with 1213).
    pub cert_failures: u64,
    /// Local transactions aborted by a replicated one (brute force).
    pub bf_aborts: u64,
}

impl Status {
    /// Ready, primary, synced, applied everything, and a member of a
    /// cluster of `size`.
    pub fn synced(&self, size: usize) -> bool {
        self.ready
            && self.cluster_status == "Primary"
            && self.state == "Synced"
            && self.cluster_size == size
            && self.recv_queue == 0
    }

    pub fn describe(&self) -> String {
        format!(
            "ready={} status={} state={} size={} recv_queue={}",
            if self.ready { "ON" } else { "OFF" },
            self.cluster_status,
            self.state,
            self.cluster_size,
            self.recv_queue
        )
    }

    fn from_rows(rows: BTreeMap<String, String>) -> Status {
        let text = |k: &str| rows.get(k).cloned().unwrap_or_default();
        let number = |k: &str| rows.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Status {
            ready: text("wsrep_ready") == "ON",
            cluster_status: text("wsrep_cluster_status"),
            state: text("wsrep_local_state_comment"),
            cluster_size: number("wsrep_cluster_size") as usize,
            recv_queue: number("wsrep_local_recv_queue"),
            cert_failures: number("wsrep_local_cert_failures"),
            bf_aborts: number("wsrep_local_bf_aborts"),
        }
    }
}

/// The status of the node on `port` (bounded: a paused node does not answer).
pub async fn of(port: u16) -> Result<Status> {
    let work = async {
        let mut conn = Conn::new(server::opts(port)).await?;
        let rows: Vec<(String, String)> = conn.query("SHOW GLOBAL STATUS LIKE 'wsrep%'").await?;
        let _ = conn.disconnect().await;
        Ok::<_, mysql_async::Error>(rows.into_iter().collect())
    };
    let rows = tokio::time::timeout(Duration::from_secs(3), work)
        .await
        .with_context(|| format!("wsrep status of 127.0.0.1:{port}: timeout"))?
        .with_context(|| format!("wsrep status of 127.0.0.1:{port}"))?;
    Ok(Status::from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_needs_every_node_primary_and_nothing_queued() {
        let rows = |size: &str, state: &str, queue: &str| {
            [
                ("wsrep_ready", "ON"),
                ("wsrep_cluster_status", "Primary"),
                ("wsrep_local_state_comment", state),
                ("wsrep_cluster_size", size),
                ("wsrep_local_recv_queue", queue),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        assert!(Status::from_rows(rows("3", "Synced", "0")).synced(3));
        assert!(!Status::from_rows(rows("2", "Synced", "0")).synced(3));
        assert!(!Status::from_rows(rows("3", "Joined", "0")).synced(3));
        assert!(!Status::from_rows(rows("3", "Synced", "4")).synced(3));
    }
}
