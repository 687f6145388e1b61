//! Final reads: after the cluster healed and quiesced, every key is read on
//! every node, recorded as `final-read` ops. Nodes are read concurrently;
//! keys on one node in order, by one process per node.

use diverge_checkers::{OpType, Process};
use serde_json::Value;

use super::client::NodeClient;
use super::{counter, list_append, set};
use crate::cli::WorkloadName;
use crate::history::HistoryHandle;

/// Final-read processes are numbered from here, one per node, far above any
/// client process.
pub const FINAL_READ_PROCESS_BASE: u64 = 1_000_000_000;

/// Read every key on every node; returns how many reads succeeded.
pub async fn final_reads(
    workload: WorkloadName,
    nodes: &[NodeClient],
    keys: &[String],
    history: &HistoryHandle,
) -> usize {
    let reads = nodes.iter().enumerate().map(|(i, node)| async move {
        let process = Process::Client(FINAL_READ_PROCESS_BASE + i as u64);
        let mut ok = 0;
        for key in keys {
            history.record(
                process,
                OpType::Invoke,
                "final-read",
                Some(key),
                Value::Null,
                Some(&node.id),
                None,
            );
            match node.read(key).await {
                Ok(reply) => {
                    let value = match workload {
                        WorkloadName::Set => set::elements_value(&reply.values),
                        WorkloadName::Counter => Value::from(counter::current(&reply.values)),
                        WorkloadName::ListAppend => {
                            Value::Array(list_append::merged(&reply.values))
                        }
                        WorkloadName::Register
                        | WorkloadName::Causal
                        | WorkloadName::Constraint
                        | WorkloadName::UniqueIds
                        | WorkloadName::InsertUpdate => Value::Array(reply.values),
                    };
                    history.record(
                        process,
                        OpType::Ok,
                        "final-read",
                        Some(key),
                        value,
                        Some(&node.id),
                        None,
                    );
                    ok += 1;
                }
                Err(e) => {
                    history.record(
                        process,
                        OpType::Fail,
                        "final-read",
                        Some(key),
                        Value::Null,
                        Some(&node.id),
                        Some(e.message()),
                    );
                }
            }
        }
        ok
    });
    futures::future::join_all(reads).await.into_iter().sum()
}
