//! Waiting, with a bound, until a node answers its health check.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::process::NodeProcess;

/// Poll `GET /health` until it answers 200, the node exits, or `timeout`
/// passes; errors name the node and quote the tail of its log. A node that
/// echoes an `instance` other than the one it was started with is another
/// process on our port.
pub async fn wait_ready(
    http: &reqwest::Client,
    node: &mut NodeProcess,
    timeout: Duration,
) -> Result<()> {
    let url = format!("{}/health", node.spec.url());
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = node.exited() {
            bail!(
                "node {} exited during startup ({status}); last lines of {}:\n{}",
                node.spec.id,
                node.spec.log_path.display(),
                node.log_tail(20)
            );
        }
        let probe = http
            .get(&url)
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        let last = match probe {
            Ok(r) if r.status().is_success() => {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                match body.get("instance").and_then(|i| i.as_str()) {
                    // Another run's node answers on this port: ours lost the
                    // race for it. The wording makes the testbed start over
                    // on fresh ports.
                    Some(instance) if instance != node.instance() => bail!(
                        "node {}: another process answers on its port {} (Address already in use)",
                        node.spec.id,
                        node.spec.port
                    ),
                    // Ours, or a node that does not echo its instance.
                    _ => return Ok(()),
                }
            }
            Ok(r) => format!("answered HTTP {} (want 200)", r.status()),
            Err(e) if e.is_connect() => "connection refused".to_string(),
            Err(e) => format!("request failed: {e}"),
        };
        if Instant::now() >= deadline {
            bail!(
                "node {} was not ready after {:.1}s: GET {url} {last}; last lines of {}:\n{}",
                node.spec.id,
                timeout.as_secs_f64(),
                node.spec.log_path.display(),
                node.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
