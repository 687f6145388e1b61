//! Workloads: each is a bundle of an op generator, a client that executes
//! ops against a node, and the shape of its final reads. `run_clients`
//! drives `--concurrency` client processes against the cluster until the
//! time limit, recording every op in the history.
//!
//! - [`client`]: HTTP calls to a node and which failures are definite.
//! - [`set`], [`register`], [`counter`], [`list_append`], [`causal`],
//!   [`claims`] (unique ids and constraints), [`insert_update`]: the workloads.
//! - [`driver`]: the client processes, routing and rate limiting.
//! - [`final_reads`]: reading every key on every node at the end.
//! - [`failover`]: `--routing home-failover`, home routing whose faulted
//!   homes' ops move to another node.
//! - [`on_read`]: the `--on-read` script the clients resolve siblings with.

pub mod causal;
pub mod claims;
pub mod client;
pub mod counter;
mod driver;
pub mod failover;
mod final_reads;
pub mod insert_update;
pub mod list_append;
pub mod on_read;
pub mod register;
pub mod set;

pub use driver::{ClientPlan, run_clients};
pub use final_reads::{FINAL_READ_PROCESS_BASE, final_reads};

use diverge_checkers::OpType;
use serde_json::Value;

/// An op about to be invoked.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub f: &'static str,
    pub key: String,
    pub value: Value,
    /// An op to send next, to the same node, if this one (a read) returns
    /// `ok` with at least one value: a write that follows a read.
    pub then: Option<Box<Invocation>>,
}

impl Invocation {
    pub fn new(f: &'static str, key: String, value: Value) -> Self {
        Invocation {
            f,
            key,
            value,
            then: None,
        }
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

    pub fn info(error: String) -> Self {
        Completion {
            kind: OpType::Info,
            value: Value::Null,
            error: Some(error),
        }
    }
}
