//! The `list-append` workload (Elle's): `append` adds a unique value to the
//! end of a key's list by read-modify-write; `read` returns the whole list.
//! Siblings are merged by concatenating them in order, dropping repeats.

use std::collections::HashSet;

use rand::Rng;
use serde_json::Value;

use super::client::{CallError, NodeClient};
use super::{Completion, Invocation};

const APPEND_ATTEMPTS: usize = 3;

pub fn next(rng: &mut impl Rng, key: String, unique: u64) -> Invocation {
    if rng.random_bool(0.7) {
        Invocation::new("append", key, Value::from(unique))
    } else {
        Invocation::new("read", key, Value::Null)
    }
}

/// One list from a node's values.
pub fn merged(values: &[Value]) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    for value in values {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            Value::Null => &[],
            other => std::slice::from_ref(other),
        };
        for item in items {
            if seen.insert(item.to_string()) {
                list.push(item.clone());
            }
        }
    }
    list
}

pub async fn execute(client: &NodeClient, op: &Invocation) -> Completion {
    if op.f != "append" {
        return match client.read(&op.key).await {
            Ok(reply) => Completion::ok(Value::Array(merged(&reply.values))),
            Err(e) => Completion::fail(e.message()),
        };
    }
    for _ in 0..APPEND_ATTEMPTS {
        let reply = match client.read(&op.key).await {
            Ok(reply) => reply,
            Err(e) => return Completion::fail(format!("read before append: {}", e.message())),
        };
        let mut list = merged(&reply.values);
        list.push(op.value.clone());
        match client
            .write(&op.key, &Value::Array(list), Some(&reply.context))
            .await
        {
            Ok(()) => return Completion::ok(op.value.clone()),
            Err(CallError::Conflict) => continue,
            Err(CallError::Definite(m)) => return Completion::fail(m),
            Err(CallError::Indefinite(m)) => return Completion::info(m),
        }
    }
    Completion::fail(format!("stale context {APPEND_ATTEMPTS} times"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn siblings_concatenate_without_repeats() {
        let values = vec![json!([1, 2]), json!([1, 3]), Value::Null];
        assert_eq!(merged(&values), vec![json!(1), json!(2), json!(3)]);
    }
}
