//! Maelstrom's `lin-kv` workload: `read {key} -> read_ok {value}`, `write
//! {key, value} -> write_ok`, `cas {key, from, to} -> cas_ok` on the key
//! pool, judged as a register. Values are integers unique across the test.
//!
//! - A read of a missing key (error 20) is an `ok` read of nothing: `[]`.
//! - A `cas` first reads the key (that read is not recorded), then sets it
//!   from what it read to a fresh value, so most succeed; it is recorded as
//!   a `cas` whose value is the value it sets, which the register checker
//!   takes as a write. A failed cas (22: the value was not `from`; 20: the
//!   key is missing) wrote nothing, definitely.
//! - What a register checker cannot judge, diverge does not claim: whether
//!   each cas saw the value it compared against (linearizability, which
//!   Maelstrom checks with Knossos) is not checked here.

use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::api::{CallError, MaelstromApi};
use super::bundle::{Bundle, Gen, OverMaelstrom};
use super::{Completion, Invocation};
use crate::domain::Workload;

/// Maelstrom's "key does not exist".
const KEY_DOES_NOT_EXIST: u64 = 20;

pub struct LinKv;

impl Bundle for LinKv {
    fn workload(&self) -> Workload {
        Workload::LinKv
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let f = ["read", "write", "cas"][g.rng.random_range(0..3)];
        if f == "read" {
            return vec![Invocation::new("read", g.key(), Value::Null)];
        }
        vec![g.write_or_read(f, 1.0)]
    }

    fn over_maelstrom(&self) -> Option<&dyn OverMaelstrom> {
        Some(self)
    }
}

/// What `node` holds for `key`: `[value]`, or `[]` for a missing key.
async fn read(node: &dyn MaelstromApi, key: &str) -> Result<Value, CallError> {
    match node.call(json!({ "type": "read", "key": key })).await {
        Ok(reply) => match reply.get("value") {
            Some(value) => Ok(json!([value])),
            None => Err(CallError::Definite(format!(
                "{}: read_ok without a value: {reply}",
                node.node()
            ))),
        },
        Err(e) if e.maelstrom_code() == Some(KEY_DOES_NOT_EXIST) => Ok(json!([])),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl OverMaelstrom for LinKv {
    async fn execute(&self, node: &dyn MaelstromApi, op: &Invocation) -> Completion {
        let (key, value) = (&op.key, &op.value);
        match op.f {
            "write" => {
                let body = json!({ "type": "write", "key": key, "value": value });
                Completion::of(node.call(body).await.map(|_| value.clone()))
            }
            "cas" => {
                let from = match read(node, key).await {
                    Ok(Value::Array(values)) if !values.is_empty() => values[0].clone(),
                    Ok(_) => return Completion::fail(format!("cas: {key} is missing")),
                    Err(e) => return Completion::fail(format!("read before cas: {}", e.message())),
                };
                let body = json!({ "type": "cas", "key": key, "from": from, "to": value });
                Completion::of(node.call(body).await.map(|_| value.clone()))
            }
            // A read has no effect, so any failure to read is definite.
            _ => match read(node, key).await {
                Ok(values) => Completion::ok(values),
                Err(e) => Completion::fail(e.message()),
            },
        }
    }

    async fn final_read(&self, node: &dyn MaelstromApi, key: &str) -> Result<Value, String> {
        read(node, key).await.map_err(|e| e.message())
    }

    fn converges_by_gossip(&self) -> bool {
        false
    }
}
