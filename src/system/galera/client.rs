//! The workloads' SQL connections to a Galera node: MariaDB's client,
//! whose answers map to outcomes as Galera documents them, with every
//! call's outcome counted for the availability report.
//!
//! - 1213 (deadlock: the transaction lost certification, or was aborted
//!   by a replicated one): rolled back everywhere, a definite `fail`.
//! - 1047 (`WSREP has not yet prepared node for application use`): the
//!   node is not in the primary component and refused the statement
//!   before running it, a definite `fail`.
//! - 1180 (`Got error ... during COMMIT`): the commit's replication
//!   failed, possibly after the write set was ordered in the primary
//!   component, an unknown outcome (`info`).
//! - A lost connection or a timeout mid-statement: `info`.

use std::sync::Arc;

use async_trait::async_trait;

use super::availability::{Got, Tally};
use crate::system::mariadb::client::SqlClient;
use crate::workload::{CallError, Dialect, Executed, SqlApi, SqlParam};

/// Server errors whose outcome is unknown.
pub const INDEFINITE: &[u16] = &[1180];

/// One node's client, counting.
pub struct Counted {
    pub inner: SqlClient,
    pub node: usize,
    pub tally: Arc<Tally>,
}

impl Counted {
    fn count<T>(&self, result: Result<T, CallError>) -> Result<T, CallError> {
        let got = match &result {
            Ok(_) => Got::Ok,
            Err(e) if e.is_definite() => Got::Refused,
            Err(_) => Got::Unknown,
        };
        self.tally.record(self.node, got);
        result
    }
}

#[async_trait]
impl SqlApi for Counted {
    fn node(&self) -> &str {
        self.inner.node()
    }

    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn exec(&self, sql: &str, params: &[SqlParam]) -> Result<Executed, CallError> {
        self.count(self.inner.exec(sql, params).await)
    }

    async fn query_ints(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<i64>, CallError> {
        self.count(self.inner.query_ints(sql, params).await)
    }
}
