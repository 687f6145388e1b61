//! The `constraint` workload: `claim` inserts a claimant for a name if the
//! node holds none (the integrity-constraint pitfall: two leaders can both
//! accept the same name). Every few rounds of the clients a fresh name, so
//! that claims race for it on several leaders.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::Value;

use super::api::{CallError, KvApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql};
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

pub struct Constraint;

impl Bundle for Constraint {
    fn workload(&self) -> Workload {
        Workload::Constraint
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let claimant = (g.unique)();
        let round = (claimant - 1) / (2 * g.sessions as u64);
        vec![Invocation::new(
            "claim",
            format!("name-{round}"),
            Value::from(claimant),
        )]
    }

    /// The names claimed (made up as the clients go; the key pool is not used).
    fn final_keys(&self, _: &[String], touched: &BTreeSet<String>) -> Vec<String> {
        touched.iter().cloned().collect()
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }

    fn over_sql(&self) -> Option<&dyn OverSql> {
        Some(self)
    }
}

/// A claim's outcome: a name already held is `taken`.
fn claimed(outcome: Result<(), CallError>, claimant: &Value) -> Completion {
    match outcome {
        Err(CallError::Conflict) => Completion::fail("taken".into()),
        other => Completion::of(other.map(|()| claimant.clone())),
    }
}

#[async_trait]
impl OverKv for Constraint {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        claimed(node.claim(&op.key, &op.value).await, &op.value)
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(Value::Array(reply.values))
    }
}

#[async_trait]
impl OverSql for Constraint {
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, _: Context<'_>) -> Completion {
        let params = [
            SqlParam::Text(op.key.clone()),
            SqlParam::Int(op.value.as_i64().unwrap_or(0)),
        ];
        let inserted = node
            .exec("INSERT INTO claims (name, claimant) VALUES (?, ?)", &params)
            .await;
        claimed(inserted.map(|_| ()), &op.value)
    }

    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String> {
        let params = [SqlParam::Text(key.to_string())];
        sql::ints(
            node.query_ints("SELECT claimant FROM claims WHERE name = ?", &params)
                .await,
        )
    }
}
