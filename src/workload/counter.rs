//! The `counter` workload: `add` increments a key's counter by a random
//! amount (read, add, write back with the context; a stale context is
//! retried), `read` returns the counter. Siblings are resolved by taking the
//! largest, as a naive application would (which is how increments get lost).
//! Over SQL, `add` is one statement, `v = v + d` (an upsert from 0): row-based
//! replication ships the row's new value, not the increment.

use async_trait::async_trait;
use rand::Rng;
use serde_json::Value;

use super::api::{KvApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql};
use super::rmw::read_modify_write;
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

pub struct Counter;

impl Bundle for Counter {
    fn workload(&self) -> Workload {
        Workload::Counter
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let key = g.key();
        vec![if g.rng.random_bool(0.8) {
            Invocation::new("add", key, Value::from(g.rng.random_range(1..=5u64)))
        } else {
            Invocation::new("read", key, Value::Null)
        }]
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

/// The counter a node's values stand for.
pub fn current(values: &[Value]) -> i64 {
    values.iter().filter_map(Value::as_i64).max().unwrap_or(0)
}

#[async_trait]
impl OverKv for Counter {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f != "add" {
            return match node.read(&op.key).await {
                Ok(reply) => Completion::ok(Value::from(current(&reply.values))),
                Err(e) => Completion::fail(e.message()),
            };
        }
        let amount = op.value.as_i64().unwrap_or(0);
        read_modify_write(node, &op.key, "add", &op.value, |reply| {
            Value::from(current(&reply.values) + amount)
        })
        .await
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(Value::from(current(&reply.values)))
    }
}

#[async_trait]
impl OverSql for Counter {
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f != "add" {
            let read = OverSql::final_read(self, node, &op.key).await;
            return sql::read_completion(read);
        }
        let params = [
            SqlParam::Text(op.key.clone()),
            SqlParam::Int(op.value.as_i64().unwrap_or(0)),
        ];
        let done = node.exec(sql::increment(node.dialect()), &params).await;
        sql::write_completion(done, &op.value)
    }

    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String> {
        let params = [SqlParam::Text(key.to_string())];
        let rows = node
            .query_ints("SELECT v FROM counters WHERE k = ?", &params)
            .await
            .map_err(|e| e.message())?;
        Ok(Value::from(rows.first().copied().unwrap_or(0)))
    }
}
