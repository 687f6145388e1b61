//! The `set` workload: a shopping cart per key. `add` puts a unique element
//! into the key's set; `read` returns the whole set.
//!
//! Over the key-value API an add is a read-modify-write: read values and
//! context, merge siblings as an application would, add, write back with
//! the context. With an on-read resolver (`--on-read`), siblings are
//! resolved by the script instead of the client's union, and a read that
//! finds siblings writes the resolution back with its context. Over SQL an
//! add inserts one `(k, e)` row.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::Value;

use super::api::{KvApi, ReadReply, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql};
use super::on_read::OnRead;
use super::rmw::read_modify_write;
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

pub struct Set;

impl Bundle for Set {
    fn workload(&self) -> Workload {
        Workload::Set
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        vec![g.write_or_read("add", 0.8)]
    }

    fn reads_spread(&self) -> bool {
        true
    }

    fn values_grow(&self) -> bool {
        true
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }

    fn over_sql(&self) -> Option<&dyn OverSql> {
        Some(self)
    }
}

#[async_trait]
impl OverKv for Set {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, cx: Context<'_>) -> Completion {
        if op.f == "add" {
            return add(node, &op.key, &op.value, cx.on_read).await;
        }
        match node.read(&op.key).await {
            Ok(reply) => {
                // The read saw what the node holds; the write-back only
                // tidies siblings up, and its outcome does not change it.
                if let Some(resolved) = resolve(cx.on_read, &op.key, &reply) {
                    let _ = node.write(&op.key, &resolved, Some(&reply.context)).await;
                }
                Completion::ok(elements_value(&reply.values))
            }
            // A read has no effect, so any failure to read is definite.
            Err(e) => Completion::fail(e.message()),
        }
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(elements_value(&reply.values))
    }
}

#[async_trait]
impl OverSql for Set {
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f != "add" {
            return sql::read_completion(OverSql::final_read(self, node, &op.key).await);
        }
        let params = [
            SqlParam::Text(op.key.clone()),
            SqlParam::Int(op.value.as_i64().unwrap_or(0)),
        ];
        let done = node
            .exec("INSERT INTO elements (k, e) VALUES (?, ?)", &params)
            .await;
        sql::write_completion(done, &op.value)
    }

    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String> {
        let params = [SqlParam::Text(key.to_string())];
        sql::ints(
            node.query_ints("SELECT e FROM elements WHERE k = ? ORDER BY e", &params)
                .await,
        )
    }
}

/// The script's resolution of the siblings `reply` holds (two or more),
/// as one array; `None` without siblings, script, or when it failed.
fn resolve(on_read: Option<&OnRead>, key: &str, reply: &ReadReply) -> Option<Value> {
    let on_read = on_read.filter(|_| reply.values.len() > 1)?;
    let value = on_read.resolve(key, &reply.values)?;
    Some(elements_value(std::slice::from_ref(&value)))
}

async fn add(node: &dyn KvApi, key: &str, element: &Value, on_read: Option<&OnRead>) -> Completion {
    read_modify_write(node, key, "add", element, |reply| {
        let mut set = match resolve(on_read, key, reply) {
            Some(resolved) => elements(std::slice::from_ref(&resolved)),
            None => elements(&reply.values),
        };
        set.insert(ElementKey(element.clone()));
        Value::Array(set.into_iter().map(|e| e.0).collect())
    })
    .await
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
