//! PostgreSQL's own logical replication (16 or later) among the
//! instances: one publication per node, one subscription per ordered pair
//! with `origin = none` (a node sends only its own changes, so all-to-all
//! does not loop) and `copy_data = false`, each through a TCP link; and
//! what `pg_stat_subscription_stats` says about each subscription.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::client;
use super::pglogical::subscription;
use crate::config::TestConfig;

/// The `postgresql.conf` lines native replication needs: an apply worker
/// that failed restarts after `wal_retrieve_retry_interval` (1 s here).
pub fn settings() -> Vec<String> {
    vec![
        "max_logical_replication_workers = 16".into(),
        "wal_retrieve_retry_interval = '1s'".into(),
        "wal_receiver_timeout = '10s'".into(),
    ]
}

/// The workloads' tables on instance `i` and its publication of them.
pub async fn create_node(config: &TestConfig, i: usize, id: &str, port: u16) -> Result<()> {
    let mut sql = super::tables_sql(config, i);
    sql.push_str(&format!(
        "CREATE PUBLICATION pub_{id} FOR TABLE registers, elements, ids, claims;\n"
    ));
    client::batch(port, &sql).await
}

/// Subscribe `subscriber` (on `port`) to `provider`'s publication through
/// the link on `link_port`.
pub async fn subscribe(port: u16, subscriber: &str, provider: &str, link_port: u16) -> Result<()> {
    let name = subscription(subscriber, provider);
    let sql = format!(
        "CREATE SUBSCRIPTION {name} CONNECTION 'host=127.0.0.1 port={link_port} user=postgres \
         dbname=postgres application_name={name}' PUBLICATION pub_{provider} \
         WITH (origin = none, copy_data = false)"
    );
    client::batch(port, &sql).await
}

/// Wait (at most `timeout`) until `want` subscriptions stream, counted at
/// their publishers.
pub async fn wait_streaming(ports: &[u16], want: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut streaming = 0;
        for &port in ports {
            if let Ok(rows) = client::query_one(
                port,
                "SELECT count(*) FROM pg_stat_replication \
                 WHERE application_name LIKE 'sub_%' AND state = 'streaming'",
            )
            .await
            {
                streaming += rows.first().map_or(0, |r| r.get::<_, i64>(0)) as usize;
            }
        }
        if streaming == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "subscriptions did not all stream within {:.0}s ({streaming} of {want})",
                timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One subscription's row of `pg_stat_subscription_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubStats {
    pub name: String,
    pub provider: String,
    pub apply_errors: i64,
}

/// The subscriptions' statistics on `port` (they lag ~1 s).
pub async fn stats(port: u16) -> Result<Vec<SubStats>> {
    let rows = client::query_one(port, "SELECT * FROM pg_stat_subscription_stats").await?;
    Ok(rows
        .iter()
        .map(|row| {
            let name: String = row.get("subname");
            SubStats {
                provider: name.rsplit("_from_").next().unwrap_or("").to_string(),
                apply_errors: row.get("apply_error_count"),
                name,
            }
        })
        .collect())
}
