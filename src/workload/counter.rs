//! The `counter` workload: `add` increments a key's counter by a random
//! amount (read, add, write back with the context; a stale context is
//! retried), `read` returns the counter. Siblings are resolved by taking the
//! largest, as a naive application would (which is how increments get lost).

use rand::Rng;
use serde_json::Value;

use super::client::{CallError, NodeClient};
use super::{Completion, Invocation};

const ADD_ATTEMPTS: usize = 3;

pub fn next(rng: &mut impl Rng, key: String) -> Invocation {
    if rng.random_bool(0.8) {
        Invocation::new("add", key, Value::from(rng.random_range(1..=5u64)))
    } else {
        Invocation::new("read", key, Value::Null)
    }
}

/// The counter a node's values stand for.
pub fn current(values: &[Value]) -> i64 {
    values.iter().filter_map(Value::as_i64).max().unwrap_or(0)
}

pub async fn execute(client: &NodeClient, op: &Invocation) -> Completion {
    if op.f != "add" {
        return match client.read(&op.key).await {
            Ok(reply) => Completion::ok(Value::from(current(&reply.values))),
            Err(e) => Completion::fail(e.message()),
        };
    }
    let amount = op.value.as_i64().unwrap_or(0);
    for _ in 0..ADD_ATTEMPTS {
        let reply = match client.read(&op.key).await {
            Ok(reply) => reply,
            Err(e) => return Completion::fail(format!("read before add: {}", e.message())),
        };
        let next = Value::from(current(&reply.values) + amount);
        match client.write(&op.key, &next, Some(&reply.context)).await {
            Ok(()) => return Completion::ok(op.value.clone()),
            Err(CallError::Conflict) => continue,
            Err(CallError::Definite(m)) => return Completion::fail(m),
            Err(CallError::Indefinite(m)) => return Completion::info(m),
        }
    }
    Completion::fail(format!("stale context {ADD_ATTEMPTS} times"))
}
