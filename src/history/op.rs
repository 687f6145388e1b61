//! Recording one op: [`super::HistoryHandle::op`] names it, `invoke`
//! records its invocation and returns a [`Pending`] op, which ends in
//! exactly one completion, `ok`, `fail` or `info`. A pending op dropped
//! without one (its task was cancelled: the run was interrupted) is
//! recorded as `info`, so no invocation is left without its outcome
//! being marked unknown.

use diverge_checkers::{OpType, Process};
use serde_json::Value;

use super::HistoryHandle;

/// An op about to be invoked: who, what, where.
#[must_use = "an op is recorded by invoke"]
pub struct OpCall<'h> {
    pub(super) history: &'h HistoryHandle,
    pub(super) process: Process,
    pub(super) f: String,
    pub(super) key: Option<String>,
    pub(super) node: Option<String>,
}

impl<'h> OpCall<'h> {
    /// The key the op acts on.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    /// The node the op is sent to.
    pub fn node(mut self, node: &str) -> Self {
        self.node = Some(node.to_string());
        self
    }

    /// Record the invocation with `value`; the op is pending until completed.
    pub fn invoke(self, value: Value) -> Pending<'h> {
        self.history.write(&self, OpType::Invoke, value, None);
        Pending { call: Some(self) }
    }
}

/// An invoked op awaiting its one completion.
#[must_use = "a pending op ends in ok, fail or info"]
pub struct Pending<'h> {
    call: Option<OpCall<'h>>,
}

impl Pending<'_> {
    /// The op took effect; `value` is what it returned or wrote.
    pub fn ok(self, value: Value) {
        self.end(OpType::Ok, value, None);
    }

    /// The op certainly had no effect.
    pub fn fail(self, value: Value, error: impl Into<String>) {
        self.end(OpType::Fail, value, Some(error.into()));
    }

    /// The op's effect is unknown.
    pub fn info(self, value: Value, error: impl Into<String>) {
        self.end(OpType::Info, value, Some(error.into()));
    }

    /// End with `kind` (`Invoke` is not a completion and counts as `Info`).
    pub fn end(mut self, kind: OpType, value: Value, error: Option<String>) {
        let kind = if kind == OpType::Invoke {
            OpType::Info
        } else {
            kind
        };
        if let Some(call) = self.call.take() {
            call.history.write(&call, kind, value, error);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            let why = "abandoned: the controller stopped waiting for it";
            call.history
                .write(&call, OpType::Info, Value::Null, Some(why.into()));
        }
    }
}
