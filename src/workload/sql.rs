//! What the workloads share over SQL: the schema every SQL system creates,
//! and how a statement's outcome becomes an op's completion.

use serde_json::Value;

use super::Completion;
use super::api::{CallError, Dialect};

/// The tables the SQL workloads use, created by each SQL system on every
/// instance before the workload starts (outside replication).
pub fn schema(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::MySql => &[
            "CREATE TABLE IF NOT EXISTS registers (k VARCHAR(64) PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB",
            "CREATE TABLE IF NOT EXISTS elements (k VARCHAR(64) NOT NULL, e BIGINT NOT NULL, PRIMARY KEY (k, e)) ENGINE=InnoDB",
            "CREATE TABLE IF NOT EXISTS ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(64) NOT NULL) ENGINE=InnoDB",
            "CREATE TABLE IF NOT EXISTS claims (name VARCHAR(64) PRIMARY KEY, claimant BIGINT NOT NULL) ENGINE=InnoDB",
        ],
    }
}

/// A write's completion: `ok` with `value`, or the statement's failure.
pub fn write_completion(done: Result<Option<u64>, CallError>, value: &Value) -> Completion {
    Completion::of(done.map(|_| value.clone()))
}

/// A read's completion: a read has no effect, so any failure is definite.
pub fn read_completion(read: Result<Value, String>) -> Completion {
    match read {
        Ok(value) => Completion::ok(value),
        Err(e) => Completion::fail(e),
    }
}

/// One integer column as a JSON array.
pub fn ints(rows: Result<Vec<i64>, CallError>) -> Result<Value, String> {
    rows.map(|v| Value::Array(v.into_iter().map(Value::from).collect()))
        .map_err(|e| e.message())
}
