//! Final reads: after the system healed and quiesced, every key is read on
//! every node, recorded as `final-read` ops. Nodes are read concurrently;
//! keys on one node in order, by one process per node.

use diverge_checkers::Process;
use serde_json::Value;

use super::api::Conn;
use super::bundle::Bundle;
use crate::history::HistoryHandle;

/// Final-read processes are numbered from here, one per node, far above any
/// client process.
pub const FINAL_READ_PROCESS_BASE: u64 = 1_000_000_000;

/// Read every key on every node; returns how many reads succeeded.
pub async fn final_reads(
    bundle: &dyn Bundle,
    nodes: &[Conn],
    keys: &[String],
    history: &HistoryHandle,
) -> usize {
    let reads = nodes.iter().enumerate().map(|(i, node)| async move {
        let process = Process::Client(FINAL_READ_PROCESS_BASE + i as u64);
        let mut ok = 0;
        for key in keys {
            let op = history
                .op(process, "final-read")
                .key(key)
                .node(node.node())
                .invoke(Value::Null);
            match bundle.final_read(node, key).await {
                Ok(value) => {
                    op.ok(value);
                    ok += 1;
                }
                Err(e) => op.fail(Value::Null, e),
            }
        }
        ok
    });
    futures::future::join_all(reads).await.into_iter().sum()
}
