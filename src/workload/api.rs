//! The client side of a system under test, as the workloads see it: one
//! [`Conn`] per node, speaking one of the protocols a system offers.
//! Systems implement the traits (`crate::system`); workloads only call
//! them, so a workload runs against every system that speaks a protocol it
//! implements.
//!
//! - [`KvApi`]: the reference node's key-value API (reads with a causal
//!   context, writes with or without one, ids, claims), over HTTP for real
//!   nodes and `--node-cmd` nodes.
//! - [`SqlApi`]: one autocommit statement at a time, for databases.
//! - [`MaelstromApi`]: one request body at a time to a Maelstrom node
//!   (docs/maelstrom.md), answered by its reply body.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

/// A connection to one node.
#[derive(Clone)]
pub enum Conn {
    Kv(Arc<dyn KvApi>),
    Sql(Arc<dyn SqlApi>),
    Maelstrom(Arc<dyn MaelstromApi>),
}

/// The protocols a workload can run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kv,
    Sql,
    Maelstrom,
}

impl Protocol {
    pub fn describe(self) -> &'static str {
        match self {
            Protocol::Kv => "the key-value node API",
            Protocol::Sql => "SQL",
            Protocol::Maelstrom => "Maelstrom's protocol",
        }
    }
}

impl Conn {
    /// The id of the node this connection reaches.
    pub fn node(&self) -> &str {
        match self {
            Conn::Kv(api) => api.node(),
            Conn::Sql(api) => api.node(),
            Conn::Maelstrom(api) => api.node(),
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Conn::Kv(_) => Protocol::Kv,
            Conn::Sql(_) => Protocol::Sql,
            Conn::Maelstrom(_) => Protocol::Maelstrom,
        }
    }
}

/// Why a request did not succeed: the table of which failures are
/// definite (`fail`: the op certainly had no effect) and which are not
/// (`info`: it may have taken effect).
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The node refused the write: its context is stale (409), or the
    /// name is taken. Definite.
    Conflict,
    /// Certainly not applied: the connection was refused, or the node
    /// rejected the request (4xx, a server error for a statement).
    Definite(String),
    /// Outcome unknown: timeout, connection lost mid-request, 5xx.
    Indefinite(String),
    /// A Maelstrom `error` reply: definite or not by its `code` (`None`:
    /// not an integer), as [`MAELSTROM_DEFINITE`] says.
    Maelstrom { code: Option<u64>, message: String },
}

/// Maelstrom's definite error codes (1 node-not-found, 10 not-supported,
/// 11 temporarily-unavailable, 12 malformed-request, 14 abort, 20
/// key-does-not-exist, 21 key-already-exists, 22 precondition-failed, 30
/// txn-conflict): the op did not happen. Timeout (0), crash (13), codes
/// from 1000 and unknown ones may have happened.
pub const MAELSTROM_DEFINITE: [u64; 9] = [1, 10, 11, 12, 14, 20, 21, 22, 30];

impl CallError {
    pub fn message(&self) -> String {
        match self {
            CallError::Conflict => "conflict: stale context".into(),
            CallError::Definite(m)
            | CallError::Indefinite(m)
            | CallError::Maelstrom { message: m, .. } => m.clone(),
        }
    }

    /// Whether the request certainly had no effect.
    pub fn is_definite(&self) -> bool {
        match self {
            CallError::Conflict | CallError::Definite(_) => true,
            CallError::Indefinite(_) => false,
            CallError::Maelstrom { code, .. } => {
                code.is_some_and(|c| MAELSTROM_DEFINITE.contains(&c))
            }
        }
    }

    /// The code of a Maelstrom `error` reply.
    pub fn maelstrom_code(&self) -> Option<u64> {
        match self {
            CallError::Maelstrom { code, .. } => *code,
            _ => None,
        }
    }
}

/// A node's answer to a read.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadReply {
    pub values: Vec<Value>,
    pub context: String,
}

/// The key-value node API (docs/node-protocol.md).
#[async_trait]
pub trait KvApi: Send + Sync {
    /// The node's id.
    fn node(&self) -> &str;
    /// Every value the node holds for `key` (siblings), and its context.
    async fn read(&self, key: &str) -> Result<ReadReply, CallError>;
    /// Write `value`; with `context`, the node refuses it (`Conflict`) if
    /// it accepted a write to the key that the context does not cover.
    async fn write(&self, key: &str, value: &Value, context: Option<&str>)
    -> Result<(), CallError>;
    /// The node's next auto-increment id of sequence `key`.
    async fn next_id(&self, key: &str) -> Result<u64, CallError>;
    /// Insert-if-absent: `Conflict` if `key` already has a claimant.
    async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError>;
}

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Int(i64),
    Text(String),
}

/// Which SQL a database speaks, for the statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL and MariaDB: `?` placeholders, `ON DUPLICATE KEY UPDATE`.
    MySql,
    /// PostgreSQL: `INSERT ... ON CONFLICT`, `RETURNING` for generated ids
    /// (its clients number the `?` placeholders).
    Postgres,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Executed {
    /// The rows it inserted, updated or deleted (an `UPDATE` that matched
    /// no row: 0).
    pub rows: u64,
    /// The id an insert generated (MySQL's `LAST_INSERT_ID()`, or the
    /// single `BIGINT` column of PostgreSQL's `RETURNING`), if any.
    pub insert_id: Option<u64>,
}

/// One autocommit statement at a time on one database instance.
#[async_trait]
pub trait SqlApi: Send + Sync {
    /// The instance's node id.
    fn node(&self) -> &str;
    fn dialect(&self) -> Dialect;
    /// Run a write: how many rows it affected, and the id it generated.
    /// A server error is `Definite`; a connection lost or a timeout
    /// mid-statement `Indefinite`; failing to connect `Definite` (nothing
    /// was sent).
    async fn exec(&self, sql: &str, params: &[SqlParam]) -> Result<Executed, CallError>;
    /// Run a query of one integer column.
    async fn query_ints(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<i64>, CallError>;
}

/// Requests to one node speaking Maelstrom's protocol: JSON bodies with a
/// `type`, answered by a body whose `in_reply_to` the implementation
/// matches. An `error` reply is [`CallError::Maelstrom`] with its code; no
/// reply within the op timeout is `Indefinite`.
#[async_trait]
pub trait MaelstromApi: Send + Sync {
    /// The node's id (`n0`, `n1`, ...).
    fn node(&self) -> &str;
    /// Send `body` (without `msg_id`, which the implementation assigns) and
    /// wait for the reply body.
    async fn call(&self, body: Value) -> Result<Value, CallError>;
}
