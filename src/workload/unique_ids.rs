//! The `unique-ids` workload: `generate` asks a node for its next
//! auto-increment id (the seed's autoincrement pitfall: two leaders hand out
//! the same id unless each has its own offset). Over the key-value API the
//! node's `ids` sequence; over SQL an `AUTO_INCREMENT` insert. The final
//! reads read the whole sequence (key `ids`).
//!
//! Over Maelstrom's protocol it is Maelstrom's `unique-ids`: `generate ->
//! generate_ok {id}`, the id any JSON; no final reads (its nodes answer no
//! `read`): judged on the generates alone.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::api::{CallError, KvApi, MaelstromApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverMaelstrom, OverSql};
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

/// The auto-increment sequence every `generate` draws from.
pub const ID_SEQUENCE: &str = "ids";

pub struct UniqueIds;

impl Bundle for UniqueIds {
    fn workload(&self) -> Workload {
        Workload::UniqueIds
    }

    fn next_step(&self, _: &mut Gen<'_>) -> Vec<Invocation> {
        vec![Invocation::new("generate", ID_SEQUENCE.into(), Value::Null)]
    }

    /// The one sequence: ids are judged on the generates alone.
    fn final_keys(&self, _: &[String], _: &BTreeSet<String>) -> Vec<String> {
        vec![ID_SEQUENCE.to_string()]
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }

    fn over_sql(&self) -> Option<&dyn OverSql> {
        Some(self)
    }

    fn over_maelstrom(&self) -> Option<&dyn OverMaelstrom> {
        Some(self)
    }
}

#[async_trait]
impl OverKv for UniqueIds {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        Completion::of(node.next_id(&op.key).await.map(Value::from))
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(Value::Array(reply.values))
    }
}

#[async_trait]
impl OverSql for UniqueIds {
    async fn execute(&self, node: &dyn SqlApi, _: &Invocation, _: Context<'_>) -> Completion {
        let params = [SqlParam::Text(node.node().to_string())];
        let inserted = node.exec(sql::insert_id(node.dialect()), &params).await;
        Completion::of(match inserted.map(|done| done.insert_id) {
            Ok(Some(id)) => Ok(Value::from(id)),
            Ok(None) => Err(CallError::Indefinite(format!(
                "{}: no insert id returned",
                node.node()
            ))),
            Err(e) => Err(e),
        })
    }

    async fn final_read(&self, node: &dyn SqlApi, _: &str) -> Result<Value, String> {
        sql::ints(node.query_ints("SELECT id FROM ids ORDER BY id", &[]).await)
    }
}

#[async_trait]
impl OverMaelstrom for UniqueIds {
    async fn execute(&self, node: &dyn MaelstromApi, _: &Invocation) -> Completion {
        let reply = node.call(json!({ "type": "generate" })).await;
        Completion::of(reply.and_then(|reply| match reply.get("id") {
            Some(id) => Ok(id_value(id)),
            // The node answered, so whatever it did is done: an id it did
            // not tell us cannot be a duplicate we could see.
            None => Err(CallError::Definite(format!(
                "{}: generate_ok without an id: {reply}",
                node.node()
            ))),
        }))
    }

    fn final_reads(&self) -> bool {
        false
    }

    async fn final_read(&self, node: &dyn MaelstromApi, _: &str) -> Result<Value, String> {
        Err(format!("{}: unique-ids takes no final reads", node.node()))
    }
}

/// A Maelstrom id as one history value: numbers and strings as they are;
/// arrays and objects (`["n1", 4]`) as their JSON text, so that the
/// checker compares them whole rather than reading an array as a set.
fn id_value(id: &Value) -> Value {
    match id {
        Value::Array(_) | Value::Object(_) => Value::String(id.to_string()),
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_ids_are_compared_whole() {
        assert_eq!(id_value(&json!(7)), json!(7));
        assert_eq!(id_value(&json!("n1-7")), json!("n1-7"));
        assert_eq!(id_value(&json!(["n1", 7])), json!("[\"n1\",7]"));
        assert_ne!(id_value(&json!(["n1", 7])), id_value(&json!(["n2", 7])));
    }
}
