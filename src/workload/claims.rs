//! The `unique-ids` and `constraint` workloads, both served by one atomic
//! read-and-write at a node: `generate` asks the node for its next
//! auto-increment id (the seed's autoincrement pitfall: two leaders hand out
//! the same id unless each has its own offset); `claim` inserts a claimant
//! for a name if the node holds none (the integrity-constraint pitfall: two
//! leaders can both accept the same name).

use serde_json::Value;

use super::client::{CallError, NodeClient};
use super::{Completion, Invocation};

/// The auto-increment sequence every `generate` draws from.
pub const ID_SEQUENCE: &str = "ids";

pub fn next_generate() -> Invocation {
    Invocation::new("generate", ID_SEQUENCE.to_string(), Value::Null)
}

pub fn next_claim(name: String, claimant: u64) -> Invocation {
    Invocation::new("claim", name, Value::from(claimant))
}

pub async fn execute(client: &NodeClient, op: &Invocation) -> Completion {
    let outcome = match op.f {
        "generate" => client.next_id(&op.key).await.map(Value::from),
        _ => client
            .claim(&op.key, &op.value)
            .await
            .map(|()| op.value.clone()),
    };
    match outcome {
        Ok(value) => Completion::ok(value),
        Err(CallError::Conflict) => Completion::fail("taken".into()),
        Err(CallError::Definite(m)) => Completion::fail(m),
        Err(CallError::Indefinite(m)) => Completion::info(m),
    }
}
