//! Counters the nodes keep about themselves, read from `/admin/status` at
//! the end of a run for the run summary (e.g. `skipped_updates`).

/// The sum of `field` over every node's `/admin/status`, or `None` when no
/// node reports it (an external node, or one that is down).
pub async fn sum_status_field(http: &reqwest::Client, urls: &[String], field: &str) -> Option<u64> {
    let mut total = None;
    for url in urls {
        let status = http
            .get(format!("{url}/admin/status"))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await;
        let Ok(response) = status else { continue };
        let Ok(body) = response.json::<serde_json::Value>().await else {
            continue;
        };
        if let Some(n) = body.get(field).and_then(serde_json::Value::as_u64) {
            *total.get_or_insert(0) += n;
        }
    }
    total
}
