//! The `register` workload: blind writes of values unique across the test,
//! and reads returning every value the node holds for the key. With an
//! on-read resolver (`--on-read`), a read that finds siblings writes the
//! script's resolution back with the context it read.

use rand::Rng;
use serde_json::Value;

use super::client::{CallError, NodeClient};
use super::on_read::OnRead;
use super::{Completion, Invocation};

pub fn next(rng: &mut impl Rng, key: String, unique: u64) -> Invocation {
    if rng.random_bool(0.5) {
        Invocation::new("write", key, Value::from(unique))
    } else {
        Invocation::new("read", key, Value::Null)
    }
}

pub async fn execute(client: &NodeClient, op: &Invocation, on_read: Option<&OnRead>) -> Completion {
    match op.f {
        "write" => match client.write(&op.key, &op.value, None).await {
            Ok(()) => Completion::ok(op.value.clone()),
            Err(CallError::Indefinite(m)) => Completion::info(m),
            Err(e) => Completion::fail(e.message()),
        },
        _ => match client.read(&op.key).await {
            Ok(reply) => {
                if let Some(on_read) = on_read.filter(|_| reply.values.len() > 1)
                    && let Some(resolved) = on_read.resolve(&op.key, &reply.values)
                {
                    // Tidying up: the read's outcome is what it saw.
                    let _ = client.write(&op.key, &resolved, Some(&reply.context)).await;
                }
                Completion::ok(Value::Array(reply.values))
            }
            Err(e) => Completion::fail(e.message()),
        },
    }
}
