//! Waiting before the final reads. Maelstrom nodes gossip on timers and
//! have no quiescence signal, so the controller reads every live node
//! (`read`, which every workload here answers) until all give the same
//! answer, unchanged for [`STABLE_FOR`], or the bound passes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::router::Router;
use crate::system::Settled;

/// How long every node's answer must stay the same, and agree.
pub const STABLE_FOR: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(200);

/// Poll `live` nodes until they agree and stop changing, at most `bound`.
pub async fn settle(router: &Router, live: &[usize], bound: Duration) -> Settled {
    let start = Instant::now();
    let mut last: Option<Vec<Value>> = None;
    let mut stable_since = Instant::now();
    loop {
        let answers = read_all(router, live).await;
        let agree =
            answers.windows(2).all(|w| w[0] == w[1]) && answers.iter().all(|a| !a.is_null());
        if last.as_ref() != Some(&answers) || !agree {
            stable_since = Instant::now();
        }
        last = Some(answers);
        if agree && stable_since.elapsed() >= STABLE_FOR {
            return Settled {
                quiesced: true,
                waited: start.elapsed(),
                notes: vec![format!(
                    "every live node answered read the same for {STABLE_FOR:?} (nodes gossip on timers; no quiescence signal)"
                )],
            };
        }
        if start.elapsed() >= bound {
            return Settled {
                // The bound passing is not a failure to quiesce that the
                // nodes could report: a node whose replicas never agree is
                // judged on its final reads.
                quiesced: true,
                waited: start.elapsed(),
                notes: vec![format!(
                    "the nodes' answers to read still differed or changed after {bound:?} (--quiesce-timeout); final reads taken then"
                )],
            };
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Each live node's answer to `read`, sets sorted; `null` for no answer.
async fn read_all(router: &Router, live: &[usize]) -> Vec<Value> {
    let reads = live.iter().map(|&i| async move {
        let reply = router
            .request(
                i,
                super::supervisor::CONTROL_CLIENT,
                json!({"type": "read"}),
                POLL * 2,
            )
            .await
            .unwrap_or(Value::Null);
        let mut value = reply
            .get("value")
            .or(reply.get("messages"))
            .cloned()
            .unwrap_or(Value::Null);
        if let Value::Array(items) = &mut value {
            items.sort_by_key(|v| v.to_string());
        }
        value
    });
    futures::future::join_all(reads).await
}
