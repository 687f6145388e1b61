//! The `unique-ids` workload: `generate` asks a node for its next
//! auto-increment id (the seed's autoincrement pitfall: two leaders hand out
//! the same id unless each has its own offset). Over the key-value API the
//! node's `ids` sequence; over SQL an `AUTO_INCREMENT` insert. The final
//! reads read the whole sequence (key `ids`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::Value;

use super::api::{CallError, KvApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql};
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
