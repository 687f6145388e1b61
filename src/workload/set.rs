//! The `set` workload: a shopping cart per key. `add` puts a unique element
//! into the key's set by read-modify-write (read values and context, merge
//! siblings as an application would, add, write back with the context);
//! `read` returns the whole set. With an on-read resolver (`--on-read`),
//! siblings are resolved by the script instead of the client's union, and a
//! read that finds siblings writes the resolution back with its context.

use std::collections::BTreeSet;

use rand::Rng;
use serde_json::Value;

use super::client::{CallError, NodeClient, ReadReply};
use super::on_read::OnRead;
use super::{Completion, Invocation};

/// How often a stale context is retried with a fresh read before the add fails.
const ADD_ATTEMPTS: usize = 3;

pub fn next(rng: &mut impl Rng, key: String, unique: u64) -> Invocation {
    if rng.random_bool(0.8) {
        Invocation::new("add", key, Value::from(unique))
    } else {
        Invocation::new("read", key, Value::Null)
    }
}

pub async fn execute(client: &NodeClient, op: &Invocation, on_read: Option<&OnRead>) -> Completion {
    match op.f {
        "add" => add(client, &op.key, &op.value, on_read).await,
        _ => match client.read(&op.key).await {
            Ok(reply) => {
                // The read saw what the node holds; the write-back only
                // tidies siblings up, and its outcome does not change it.
                if let Some(resolved) = resolve(on_read, &op.key, &reply) {
                    let _ = client.write(&op.key, &resolved, Some(&reply.context)).await;
                }
                Completion::ok(elements_value(&reply.values))
            }
            // A read has no effect, so any failure to read is definite.
            Err(e) => Completion::fail(e.message()),
        },
    }
}

/// The script's resolution of the siblings `reply` holds (two or more),
/// as one array; `None` without siblings, script, or when it failed.
fn resolve(on_read: Option<&OnRead>, key: &str, reply: &ReadReply) -> Option<Value> {
    let on_read = on_read.filter(|_| reply.values.len() > 1)?;
    let value = on_read.resolve(key, &reply.values)?;
    Some(elements_value(std::slice::from_ref(&value)))
}

async fn add(
    client: &NodeClient,
    key: &str,
    element: &Value,
    on_read: Option<&OnRead>,
) -> Completion {
    for _ in 0..ADD_ATTEMPTS {
        let reply = match client.read(key).await {
            Ok(reply) => reply,
            Err(e) => return Completion::fail(format!("read before add: {}", e.message())),
        };
        let mut set = match resolve(on_read, key, &reply) {
            Some(resolved) => elements(std::slice::from_ref(&resolved)),
            None => elements(&reply.values),
        };
        set.insert(ElementKey(element.clone()));
        let merged = Value::Array(set.into_iter().map(|e| e.0).collect());
        match client.write(key, &merged, Some(&reply.context)).await {
            Ok(()) => return Completion::ok(element.clone()),
            Err(CallError::Conflict) => continue,
            Err(CallError::Definite(m)) => return Completion::fail(m),
            Err(CallError::Indefinite(m)) => return Completion::info(m),
        }
    }
    Completion::fail(format!("stale context {ADD_ATTEMPTS} times"))
}

/// The union of every sibling's elements (a sibling that is not an array is
/// taken as one element, so nothing a node returns is dropped silently).
pub fn elements(values: &[Value]) -> BTreeSet<ElementKey> {
    let mut set = BTreeSet::new();
    for value in values {
        match value {
            Value::Array(items) => set.extend(items.iter().cloned().map(ElementKey)),
            Value::Null => {}
            other => {
                set.insert(ElementKey(other.clone()));
            }
        }
    }
    set
}

/// The union of siblings as one sorted JSON array.
pub fn elements_value(values: &[Value]) -> Value {
    Value::Array(elements(values).into_iter().map(|e| e.0).collect())
}

/// A JSON value ordered by its canonical text, so sets of elements sort
/// deterministically (numbers by value first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementKey(pub Value);

impl Ord for ElementKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0.as_i64(), other.0.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => self.0.to_string().cmp(&other.0.to_string()),
        }
    }
}

impl PartialOrd for ElementKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn siblings_are_unioned_and_sorted() {
        let values = vec![json!([3, 1]), json!([2, 3]), Value::Null, json!(9)];
        assert_eq!(elements_value(&values), json!([1, 2, 3, 9]));
    }
}
