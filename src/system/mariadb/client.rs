//! SQL connections to one MariaDB instance, as the workloads' [`SqlApi`]:
//! a pool per instance; a server error (e.g. 1062 duplicate key) is a
//! definite failure, a lost connection or a timeout mid-statement an
//! unknown outcome, failing to connect definite (nothing was sent).

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Params, Pool, PoolConstraints, PoolOpts};

use super::server;
use crate::workload::{CallError, Dialect, Executed, SqlApi, SqlParam};

/// One instance's connection pool.
#[derive(Clone)]
pub struct SqlClient {
    pub id: String,
    pool: Pool,
    timeout: Duration,
    /// Server errors that leave the outcome unknown (Galera's 1180: a
    /// commit whose replication failed may have been ordered elsewhere).
    indefinite: &'static [u16],
}

impl SqlClient {
    pub fn new(id: String, port: u16, max_connections: usize, timeout: Duration) -> Self {
        let constraints = PoolConstraints::new(0, max_connections.max(1)).expect("0 <= max");
        // Affected rows count the rows a statement matched, not only those
        // whose values changed (MySQL's default).
        let opts = server::opts(port)
            .client_found_rows(true)
            .pool_opts(PoolOpts::default().with_constraints(constraints))
            .wait_timeout(Some(0));
        SqlClient {
            id,
            pool: Pool::new(opts),
            timeout,
            indefinite: &[],
        }
    }

    /// The same client, taking the server errors `codes` as unknown outcomes.
    pub fn with_indefinite(self, codes: &'static [u16]) -> Self {
        SqlClient {
            indefinite: codes,
            ..self
        }
    }

    /// Close every pooled connection (bounded).
    pub async fn disconnect(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.pool.disconnect()).await;
    }

    async fn conn(&self) -> Result<mysql_async::Conn, CallError> {
        match tokio::time::timeout(self.timeout, self.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(CallError::Definite(format!("{} connect: {e}", self.id))),
            Err(_) => Err(CallError::Definite(format!("{} connect: timeout", self.id))),
        }
    }

    /// A failure of a statement that was sent.
    fn failed(&self, e: mysql_async::Error) -> CallError {
        match e {
            mysql_async::Error::Server(e) if self.indefinite.contains(&e.code) => {
                CallError::Indefinite(format!("{}: error {}: {}", self.id, e.code, e.message))
            }
            mysql_async::Error::Server(e) => {
                CallError::Definite(format!("{}: error {}: {}", self.id, e.code, e.message))
            }
            other => CallError::Indefinite(format!("{}: {other}", self.id)),
        }
    }
}

fn params(params: &[SqlParam]) -> Params {
    if params.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        params
            .iter()
            .map(|p| match p {
                SqlParam::Int(i) => mysql_async::Value::Int(*i),
                SqlParam::Text(t) => mysql_async::Value::Bytes(t.clone().into_bytes()),
            })
            .collect(),
    )
}

#[async_trait]
impl SqlApi for SqlClient {
    fn node(&self) -> &str {
        &self.id
    }

    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn exec(&self, sql: &str, values: &[SqlParam]) -> Result<Executed, CallError> {
        let mut conn = self.conn().await?;
        match tokio::time::timeout(self.timeout, conn.exec_drop(sql, params(values))).await {
            Ok(Ok(())) => Ok(Executed {
                rows: conn.affected_rows(),
                insert_id: conn.last_insert_id(),
            }),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(CallError::Indefinite(format!("{}: timeout", self.id))),
        }
    }

    async fn query_ints(&self, sql: &str, values: &[SqlParam]) -> Result<Vec<i64>, CallError> {
        let mut conn = self.conn().await?;
        match tokio::time::timeout(self.timeout, conn.exec::<i64, _, _>(sql, params(values))).await
        {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(CallError::Indefinite(format!("{}: timeout", self.id))),
        }
    }
}
