//! The `register` workload: blind writes of values unique across the test,
//! and reads returning every value the node holds for the key.

use rand::Rng;
use serde_json::Value;

use super::client::{CallError, NodeClient};
use super::{Completion, Invocation};

pub fn next(rng: &mut impl Rng, key: String, unique: u64) -> Invocation {
    if rng.random_bool(0.5) {
        Invocation::new("write", key, Value::from(unique))
    } else {
        Invocation::new("read", key, Value::Null)
    }
}

pub async fn execute(client: &NodeClient, op: &Invocation) -> Completion {
    match op.f {
        "write" => match client.write(&op.key, &op.value, None).await {
            Ok(()) => Completion::ok(op.value.clone()),
            Err(CallError::Indefinite(m)) => Completion::info(m),
            Err(e) => Completion::fail(e.message()),
        },
        _ => match client.read(&op.key).await {
            Ok(reply) => Completion::ok(Value::Array(reply.values)),
            Err(e) => Completion::fail(e.message()),
        },
    }
}
