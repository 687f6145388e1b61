//! The `insert-update` workload: rows inserted then updated, the pattern
//! whose update can overtake its insert in all-to-all replication.
//!
//! Each step inserts a fresh key (`row-N`) at one node (a blind write of a
//! unique value), then updates it, possibly at another node: the client
//! waits (bounded) until that node shows the insert, as an application
//! would before updating a row it just created, and writes a new unique
//! value with the context it read, so the node records the write as an
//! update of the insert. Both ops are `write`s in the history, so the
//! register checker judges them: the insert completed before the update
//! was invoked, so a node whose final read holds the insert and not the
//! update lost the update.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::api::{KvApi, SqlApi, SqlParam};
use super::bundle::{Bundle, Context, Gen, OverKv, OverSql, QueuedRoute};
use super::register::{self, Register};
use super::{Completion, Invocation, sql};
use crate::domain::Workload;

/// Longest wait for the insert to show at the node taking the update.
const INSERT_VISIBLE_WITHIN: Duration = Duration::from_secs(1);
/// Pause between reads while waiting for the insert.
const POLL: Duration = Duration::from_millis(2);

pub struct InsertUpdate;

impl Bundle for InsertUpdate {
    fn workload(&self) -> Workload {
        Workload::InsertUpdate
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        next_steps(&mut g.unique)
    }

    /// The update goes to any node, so it can race its insert.
    fn queued_route(&self) -> QueuedRoute {
        QueuedRoute::Redrawn
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }

    fn over_sql(&self) -> Option<&dyn OverSql> {
        Some(self)
    }
}

/// The two ops of one step: the insert of a fresh key, then its update.
/// `unique` gives values unique across the test.
pub fn next_steps(unique: &mut impl FnMut() -> u64) -> Vec<Invocation> {
    let inserted = unique();
    let key = format!("row-{inserted}");
    vec![
        Invocation::new("write", key.clone(), Value::from(inserted)),
        Invocation::new("write", key, Value::from(unique())),
    ]
}

#[async_trait]
impl OverKv for InsertUpdate {
    /// The insert, or (the step's queued second op) its update.
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, cx: Context<'_>) -> Completion {
        if cx.queued {
            update(node, op).await
        } else {
            register::write(node, op, None).await
        }
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        OverKv::final_read(&Register, node, key).await
    }
}

/// Wait until the node shows the row, then write the update with the
/// context it read. A row that does not show in time is a definite failure
/// (nothing was written), as an UPDATE that found no row.
async fn update(node: &dyn KvApi, op: &Invocation) -> Completion {
    let deadline = Instant::now() + INSERT_VISIBLE_WITHIN;
    let context = loop {
        match node.read(&op.key).await {
            Ok(reply) if !reply.values.is_empty() => break reply.context,
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            Ok(_) => return no_row(node.node(), op),
            Err(e) => return Completion::fail(format!("read before update: {}", e.message())),
        }
    };
    register::write(node, op, Some(&context)).await
}

/// The update found no row in time: a definite failure (nothing written).
fn no_row(node: &str, op: &Invocation) -> Completion {
    Completion::fail(format!(
        "node {node}: the insert of {} did not show within {INSERT_VISIBLE_WITHIN:?}: no row to update",
        op.key
    ))
}

#[async_trait]
impl OverSql for InsertUpdate {
    /// The insert, or (the step's queued second op) its update.
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, cx: Context<'_>) -> Completion {
        let params = [
            SqlParam::Int(op.value.as_i64().unwrap_or(0)),
            SqlParam::Text(op.key.clone()),
        ];
        if !cx.queued {
            let done = node
                .exec("INSERT INTO registers (v, k) VALUES (?, ?)", &params)
                .await;
            return sql::write_completion(done, &op.value);
        }
        let deadline = Instant::now() + INSERT_VISIBLE_WITHIN;
        loop {
            match node
                .exec("UPDATE registers SET v = ? WHERE k = ?", &params)
                .await
            {
                Ok(done) if done.rows > 0 => return Completion::ok(op.value.clone()),
                Ok(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Ok(_) => return no_row(node.node(), op),
                Err(e) => return Completion::failed(e),
            }
        }
    }

    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String> {
        OverSql::final_read(&Register, node, key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::workload::{CallError, Dialect, Executed};
    use diverge_checkers::OpType;

    /// A database whose row shows after `hidden` UPDATEs matched nothing
    /// (`None`: never); it records the statements it ran.
    struct Lagging {
        hidden: Option<usize>,
        ran: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl SqlApi for Lagging {
        fn node(&self) -> &str {
            "n3"
        }
        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }
        async fn exec(&self, sql: &str, _: &[SqlParam]) -> Result<Executed, CallError> {
            let mut ran = self.ran.lock().unwrap();
            ran.push(sql.to_string());
            let shows = self.hidden.is_some_and(|h| ran.len() > h);
            let rows = u64::from(sql.starts_with("INSERT") || shows);
            Ok(Executed {
                rows,
                insert_id: None,
            })
        }
        async fn query_ints(&self, _: &str, _: &[SqlParam]) -> Result<Vec<i64>, CallError> {
            Ok(Vec::new())
        }
    }

    fn update_of(hidden: Option<usize>) -> (Completion, Vec<String>) {
        let db = Lagging {
            hidden,
            ran: Mutex::new(Vec::new()),
        };
        let op = Invocation::new("write", "row-1".into(), Value::from(2));
        let cx = Context {
            queued: true,
            on_read: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let done = rt.block_on(OverSql::execute(&InsertUpdate, &db, &op, cx));
        (done, db.ran.into_inner().unwrap())
    }

    #[test]
    fn an_update_is_retried_until_it_matches_the_row() {
        let (done, ran) = update_of(Some(3));
        assert_eq!(done, Completion::ok(Value::from(2)));
        assert_eq!(ran.len(), 4, "{ran:?}");
        assert!(ran.iter().all(|s| s.starts_with("UPDATE")), "{ran:?}");
    }

    #[test]
    fn an_update_that_never_matches_a_row_fails_after_the_wait() {
        let started = Instant::now();
        let (done, ran) = update_of(None);
        assert_eq!(done.kind, OpType::Fail);
        assert!(done.error.unwrap().contains("no row to update"));
        assert!(started.elapsed() >= INSERT_VISIBLE_WITHIN);
        assert!(ran.len() > 1, "retried: {ran:?}");
    }

    #[test]
    fn a_step_inserts_a_fresh_key_then_updates_it_with_fresh_values() {
        let mut n = 0;
        let mut unique = || {
            n += 1;
            n
        };
        let a = next_steps(&mut unique);
        let b = next_steps(&mut unique);
        assert_eq!(a[0].key, "row-1");
        assert_eq!(a[1].key, "row-1");
        assert_eq!(
            (a[0].value.clone(), a[1].value.clone()),
            (1.into(), 2.into())
        );
        assert_eq!(b[0].key, "row-3");
    }
}
