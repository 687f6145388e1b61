//! pglogical's replication among the instances: the settings it needs,
//! its nodes, replication sets and one subscription per replication
//! connection (each through a TCP link), its subscriptions' status, and
//! restarting an apply worker (after a heal it would otherwise wait up to
//! ~3 minutes before it retries).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::client;
use crate::config::TestConfig;
use crate::domain::{Resolution, Topology};

/// The `postgresql.conf` lines pglogical needs, with the conflict
/// resolution the run selects (read by apply workers when they start).
pub fn settings(resolution: Resolution) -> Vec<String> {
    vec![
        "shared_preload_libraries = 'pglogical'".into(),
        format!("pglogical.conflict_resolution = '{}'", resolution.setting()),
        "pglogical.conflict_log_level = 'LOG'".into(),
    ]
}

/// The subscription on `subscriber` that replicates from `provider`.
pub fn subscription(subscriber: &str, provider: &str) -> String {
    format!("sub_{subscriber}_from_{provider}")
}

/// Whether a topology forwards changes from other origins: a ring must
/// (`'{all}'`), all-to-all must not (`'{}'`: each node sends its own).
pub fn forward_origins(topology: Topology) -> &'static str {
    match topology {
        Topology::Ring => "{all}",
        _ => "{}",
    }
}

/// Make instance `i` (on `port`) a pglogical node with the workloads'
/// tables in its default replication set; `ids` counts by `--id-step`
/// from this node's `--id-offset`.
pub async fn create_node(config: &TestConfig, i: usize, id: &str, port: u16) -> Result<()> {
    let mut sql = format!(
        "CREATE EXTENSION IF NOT EXISTS pglogical;\n\
         SELECT pglogical.create_node(node_name := '{id}', \
         dsn := 'host=127.0.0.1 port={port} dbname=postgres user=postgres');\n"
    );
    sql.push_str(&super::tables_sql(config, i));
    sql.push_str("SELECT pglogical.replication_set_add_all_tables('default', ARRAY['public']);\n");
    client::batch(port, &sql).await
}

/// Subscribe `subscriber` (on `port`) to `provider` through the link on
/// `link_port`, without copying structure or data (both start equal).
pub async fn subscribe(
    port: u16,
    subscriber: &str,
    provider: &str,
    link_port: u16,
    topology: Topology,
) -> Result<()> {
    let sql = format!(
        "SELECT pglogical.create_subscription(\
         subscription_name := '{}', \
         provider_dsn := 'host=127.0.0.1 port={link_port} dbname=postgres user=postgres', \
         replication_sets := ARRAY['default'], \
         synchronize_structure := false, synchronize_data := false, \
         forward_origins := '{}')",
        subscription(subscriber, provider),
        forward_origins(topology)
    );
    client::query_one(port, &sql).await.map(|_| ())
}

/// One subscription as `pglogical.show_subscription_status()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubStatus {
    pub name: String,
    /// `replicating`, `initializing`, `down`, `disabled`, ...
    pub status: String,
    pub provider: String,
}

/// The subscriptions of the instance on `port`.
pub async fn status(port: u16) -> Result<Vec<SubStatus>> {
    let rows = client::query_one(
        port,
        "SELECT subscription_name::text, status, provider_node::text \
         FROM pglogical.show_subscription_status() ORDER BY 1",
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| SubStatus {
            name: r.get(0),
            status: r.get(1),
            provider: r.get(2),
        })
        .collect())
}

/// Wait (at most `timeout`) until every instance's subscriptions, `want`
/// in all, are replicating.
pub async fn wait_replicating(ports: &[u16], want: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut replicating = 0;
        let mut seen = Vec::new();
        for &port in ports {
            if let Ok(subs) = status(port).await {
                replicating += subs.iter().filter(|s| s.status == "replicating").count();
                seen.extend(subs.into_iter().map(|s| format!("{} {}", s.name, s.status)));
            }
        }
        if replicating == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "pglogical subscriptions did not all start within {:.0}s ({replicating} of {want} \
                 replicating: {})",
                timeout.as_secs_f64(),
                seen.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Restart the apply worker of `name` on `port` at once (disable, then
/// enable; `immediate` refuses a transaction block: one call each).
pub async fn kick(port: u16, name: &str) -> Result<()> {
    client::query_one(
        port,
        &format!("SELECT pglogical.alter_subscription_disable('{name}', true)"),
    )
    .await?;
    client::query_one(
        port,
        &format!("SELECT pglogical.alter_subscription_enable('{name}', true)"),
    )
    .await
    .map(|_| ())
}
