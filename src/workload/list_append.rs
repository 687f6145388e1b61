//! The `list-append` workload (Elle's): `append` adds a unique value to the
//! end of a key's list by read-modify-write; `read` returns the whole list.
//! Siblings are merged by concatenating them in order, dropping repeats.

use std::collections::HashSet;

use async_trait::async_trait;
use serde_json::Value;

use super::api::KvApi;
use super::bundle::{Bundle, Context, Gen, OverKv};
use super::rmw::read_modify_write;
use super::{Completion, Invocation};
use crate::domain::Workload;

pub struct ListAppend;

impl Bundle for ListAppend {
    fn workload(&self) -> Workload {
        Workload::ListAppend
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        vec![g.write_or_read("append", 0.7)]
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

#[async_trait]
impl OverKv for ListAppend {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f != "append" {
            return match self.final_read(node, &op.key).await {
                Ok(list) => Completion::ok(list),
                Err(e) => Completion::fail(e),
            };
        }
        read_modify_write(node, &op.key, "append", &op.value, |reply| {
            let mut list = merged(&reply.values);
            list.push(op.value.clone());
            Value::Array(list)
        })
        .await
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(Value::Array(merged(&reply.values)))
    }
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
