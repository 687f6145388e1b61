//! Maelstrom's workloads (its `doc/workloads.md`), run over its protocol
//! against nodes written for Maelstrom: each node holds one set or one
//! counter, so every op is on one key named after the workload.
//!
//! - `g-set`: `add {element}`, `read -> {value: [...]}`; judged as `set`.
//! - `broadcast`: `broadcast {message}`, `read -> {messages: [...]}`; a set
//!   whose adds are broadcasts, judged as `set`.
//! - `g-counter` and `pn-counter`: `add {delta}`, `read -> {value: int}`;
//!   judged as `counter`.
//!
//! Elements and messages are integers unique across the test (many nodes
//! assume integers), and only the workload's own message types are sent
//! (nodes crash on types they do not know).

use std::collections::BTreeSet;

use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::api::MaelstromApi;
use super::bundle::{Bundle, Gen, OverMaelstrom};
use super::set::elements_value;
use super::{Completion, Invocation};
use crate::domain::Workload;

/// One of Maelstrom's workloads.
pub struct Maelstrom(pub Workload);

/// How a workload's ops become request bodies, and replies values.
struct Shape {
    /// The request type of an add.
    add: &'static str,
    /// The field an add's value goes in.
    add_field: &'static str,
    /// The field of `read_ok` that holds the value.
    read_field: &'static str,
    /// Whether the value is a set (else a counter).
    set: bool,
}

impl Maelstrom {
    fn shape(&self) -> Shape {
        let shape = |add, add_field, read_field, set| Shape {
            add,
            add_field,
            read_field,
            set,
        };
        match self.0 {
            Workload::Broadcast => shape("broadcast", "message", "messages", true),
            Workload::GCounter | Workload::PnCounter => shape("add", "delta", "value", false),
            _ => shape("add", "element", "value", true),
        }
    }

    /// The one key of the workload's history.
    fn key(&self) -> String {
        self.0.name().to_string()
    }

    /// The value of a `read_ok` body: a sorted set, or an integer.
    fn read_value(&self, reply: &Value) -> Result<Value, String> {
        let shape = self.shape();
        let field = &reply[shape.read_field];
        match (shape.set, field) {
            (true, Value::Array(items)) => Ok(elements_value(items)),
            (false, Value::Number(n)) if n.is_i64() => Ok(field.clone()),
            _ => Err(format!(
                "read_ok without {} {:?}: {reply}",
                if shape.set { "an array" } else { "an integer" },
                shape.read_field
            )),
        }
    }
}

impl Bundle for Maelstrom {
    fn workload(&self) -> Workload {
        self.0
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let key = self.key();
        if !g.rng.random_bool(0.8) {
            return vec![Invocation::new("read", key, Value::Null)];
        }
        let value = match self.0 {
            Workload::GCounter => Value::from(g.rng.random_range(1..=5i64)),
            Workload::PnCounter => Value::from(g.rng.random_range(-5..=5i64)),
            _ => Value::from((g.unique)()),
        };
        vec![Invocation::new("add", key, value)]
    }

    fn final_keys(&self, _: &[String], _: &BTreeSet<String>) -> Vec<String> {
        vec![self.key()]
    }

    fn over_maelstrom(&self) -> Option<&dyn OverMaelstrom> {
        Some(self)
    }
}

#[async_trait]
impl OverMaelstrom for Maelstrom {
    async fn execute(&self, node: &dyn MaelstromApi, op: &Invocation) -> Completion {
        if op.f == "add" {
            let shape = self.shape();
            let body = json!({ "type": shape.add, shape.add_field: op.value });
            return Completion::of(node.call(body).await.map(|_| op.value.clone()));
        }
        match node.call(json!({ "type": "read" })).await {
            Ok(reply) => match self.read_value(&reply) {
                Ok(value) => Completion::ok(value),
                Err(e) => Completion::fail(format!("{}: {e}", node.node())),
            },
            // A read has no effect, so any failure to read is definite.
            Err(e) => Completion::fail(e.message()),
        }
    }

    async fn final_read(&self, node: &dyn MaelstromApi, _: &str) -> Result<Value, String> {
        let reply = node
            .call(json!({ "type": "read" }))
            .await
            .map_err(|e| e.message())?;
        self.read_value(&reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_shaped_by_the_workload() {
        let g_set = Maelstrom(Workload::GSet);
        assert_eq!(
            g_set.read_value(&json!({"type": "read_ok", "value": [3, 1, 2]})),
            Ok(json!([1, 2, 3]))
        );
        let broadcast = Maelstrom(Workload::Broadcast);
        assert_eq!(
            broadcast.read_value(&json!({"messages": [2, 1]})),
            Ok(json!([1, 2]))
        );
        let err = broadcast.read_value(&json!({"value": [2]})).unwrap_err();
        assert!(err.contains("\"messages\""), "{err}");
        let counter = Maelstrom(Workload::PnCounter);
        assert_eq!(counter.read_value(&json!({"value": -4})), Ok(json!(-4)));
        assert!(counter.read_value(&json!({"value": [1]})).is_err());
    }
}
