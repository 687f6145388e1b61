//! Read-modify-write over the key-value API, as an application does it:
//! read the values and their context, compute the new value, write it back
//! with the context; a write refused for a stale context (someone wrote
//! in between) is tried again with a fresh read, a few times.

use serde_json::Value;

use super::Completion;
use super::api::{CallError, KvApi, ReadReply};

/// How often a stale context is retried with a fresh read before the op fails.
pub const ATTEMPTS: usize = 3;

/// Write `modify(read)` to `key` with the read's context; `ok` with
/// `done` once a write is accepted. `what` names the op in errors.
pub async fn read_modify_write(
    node: &dyn KvApi,
    key: &str,
    what: &str,
    done: &Value,
    modify: impl Fn(&ReadReply) -> Value + Send + Sync,
) -> Completion {
    for _ in 0..ATTEMPTS {
        let reply = match node.read(key).await {
            Ok(reply) => reply,
            Err(e) => return Completion::fail(format!("read before {what}: {}", e.message())),
        };
        match node.write(key, &modify(&reply), Some(&reply.context)).await {
            Ok(()) => return Completion::ok(done.clone()),
            Err(CallError::Conflict) => continue,
            Err(e) => return Completion::failed(e),
        }
    }
    Completion::fail(format!("stale context {ATTEMPTS} times"))
}
