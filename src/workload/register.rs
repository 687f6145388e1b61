//! The `register` workload: blind writes of values unique across the test,
//! and reads returning every value the node holds for the key. With an
//! on-read resolver (`--on-read`), a read that finds siblings writes the
//! script's resolution back with the context it read. Over SQL a write is
//! an upsert of the key's row.

use async_trait::async_trait;
use serde_json::Value;

use super::api::{KvApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql};
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

pub struct Register;

impl Bundle for Register {
    fn workload(&self) -> Workload {
        Workload::Register
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        vec![g.write_or_read("write", 0.5)]
    }

    fn reads_spread(&self) -> bool {
        true
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }

    fn over_sql(&self) -> Option<&dyn OverSql> {
        Some(self)
    }
}

/// A blind write of `op`'s value.
pub async fn write(node: &dyn KvApi, op: &Invocation, context: Option<&str>) -> Completion {
    let written = node.write(&op.key, &op.value, context).await;
    Completion::of(written.map(|()| op.value.clone()))
}

#[async_trait]
impl OverKv for Register {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, cx: Context<'_>) -> Completion {
        if op.f == "write" {
            return write(node, op, None).await;
        }
        match node.read(&op.key).await {
            Ok(reply) => {
                if let Some(on_read) = cx.on_read.filter(|_| reply.values.len() > 1)
                    && let Some(resolved) = on_read.resolve(&op.key, &reply.values)
                {
                    // Tidying up: the read's outcome is what it saw.
                    let _ = node.write(&op.key, &resolved, Some(&reply.context)).await;
                }
                Completion::ok(Value::Array(reply.values))
            }
            Err(e) => Completion::fail(e.message()),
        }
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(Value::Array(reply.values))
    }
}

#[async_trait]
impl OverSql for Register {
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f != "write" {
            return sql::read_completion(OverSql::final_read(self, node, &op.key).await);
        }
        let params = [
            SqlParam::Text(op.key.clone()),
            SqlParam::Int(op.value.as_i64().unwrap_or(0)),
        ];
        let done = node
            .exec(sql::upsert_register(node.dialect()), &params)
            .await;
        sql::write_completion(done, &op.value)
    }

    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String> {
        let params = [SqlParam::Text(key.to_string())];
        sql::ints(
            node.query_ints("SELECT v FROM registers WHERE k = ?", &params)
                .await,
        )
    }
}
