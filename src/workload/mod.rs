//! Workloads: each is one bundle ([`Bundle`]) of an op generator, how its
//! ops route, how it executes them over each protocol it supports (the
//! key-value API of the reference nodes, SQL), and the shape of its final
//! reads, registered under its name ([`registry`]). One driver runs every
//! workload against every system; one final-read pass reads them all.
//!
//! - [`api`]: the connections systems hand out ([`Conn`]: [`KvApi`],
//!   [`SqlApi`]) and the table of definite and indefinite failures.
//! - [`bundle`]: the workload trait; [`registry`]: every workload by name.
//! - [`set`], [`register`], [`counter`], [`list_append`], [`causal`],
//!   [`unique_ids`], [`constraint`], [`insert_update`]: the workloads.
//! - [`maelstrom`]: Maelstrom's g-set, broadcast and counters, over its
//!   protocol; [`lin_kv`] and [`txn_list_append`], Maelstrom's too.
//! - [`sql`]: the schema and outcomes the SQL workloads share.
//! - [`driver`]: the client processes, routing and rate limiting.
//! - [`final_reads`]: reading every key on every node at the end.
//! - [`failover`]: `--routing home-failover`, home routing whose faulted
//!   homes' ops move to another node.
//! - [`on_read`]: the `--on-read` script the clients resolve siblings with.

pub mod api;
pub mod bundle;
pub mod causal;
pub mod constraint;
pub mod counter;
pub mod driver;
pub mod failover;
mod final_reads;
pub mod insert_update;
pub mod lin_kv;
pub mod list_append;
pub mod maelstrom;
pub mod on_read;
pub mod register;
pub mod registry;
mod rmw;
pub mod set;
pub mod sql;
pub mod text;
pub mod txn_list_append;
pub mod unique_ids;

pub use api::{
    CallError, Conn, Dialect, Executed, KvApi, MaelstromApi, Protocol, ReadReply, SqlApi, SqlParam,
};
pub use bundle::Bundle;
pub use driver::{ClientPlan, ClientTotals, run_clients};
pub use final_reads::{FINAL_READ_PROCESS_BASE, final_reads};
pub use registry::of as bundle_of;

use diverge_checkers::OpType;
use serde_json::Value;

/// Who sends an op of a step besides the client's own session: an
/// observer is a session of its own (its own process in the history, one
/// per client and node) at a node the step has not used yet, so it sees
/// what replication delivered there and nothing of the client's own past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Observer {
    /// The client's session, at the node the step routes it to.
    #[default]
    No,
    /// A new observer, at a leader the step has not used yet.
    New,
    /// The observer that sent the op before it, at the same node.
    Same,
}

/// An op about to be invoked.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub f: &'static str,
    pub key: String,
    pub value: Value,
    /// An op to send next if this one returns `ok` with something (a read
    /// that saw at least one value, a write): a write that follows a
    /// read, a probe that follows a write.
    pub then: Option<Box<Invocation>>,
    /// Sent by an observer, not by the client's own session.
    pub observer: Observer,
    /// A read that waits (bounded) until the node holds this value.
    pub awaiting: Option<Value>,
}

impl Invocation {
    pub fn new(f: &'static str, key: String, value: Value) -> Self {
        Invocation {
            f,
            key,
            value,
            then: None,
            observer: Observer::No,
            awaiting: None,
        }
    }

    /// Sent by a new observer at another node ([`Observer::New`]).
    pub fn by_new_observer(mut self) -> Self {
        self.observer = Observer::New;
        self
    }

    /// Sent by the observer of the op before it ([`Observer::Same`]).
    pub fn by_observer(mut self) -> Self {
        self.observer = Observer::Same;
        self
    }

    /// Sets [`Invocation::awaiting`].
    pub fn awaiting(mut self, value: Value) -> Self {
        self.awaiting = Some(value);
        self
    }

    /// Sets [`Invocation::then`].
    pub fn then(mut self, next: Invocation) -> Self {
        self.then = Some(Box::new(next));
        self
    }
}

/// How an op ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub kind: OpType,
    pub value: Value,
    pub error: Option<String>,
}

impl Completion {
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    pub fn fail(error: String) -> Self {
        Completion {
            kind: OpType::Fail,
            value: Value::Null,
            error: Some(error),
        }
    }

    /// A call's failure: unknown outcome for an indefinite one, else `fail`.
    pub fn failed(error: CallError) -> Self {
        if error.is_definite() {
            Completion::fail(error.message())
        } else {
            Completion::info(error.message())
        }
    }

    /// A call's outcome: `ok` with its value, or [`Completion::failed`].
    pub fn of(outcome: Result<Value, CallError>) -> Self {
        match outcome {
            Ok(value) => Completion::ok(value),
            Err(e) => Completion::failed(e),
        }
    }

    pub fn info(error: String) -> Self {
        Completion {
            kind: OpType::Info,
            value: Value::Null,
            error: Some(error),
        }
    }
}
