//! Which data model a history exercises; it decides what "lost" means.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The workloads the checkers understand (formats in `docs/history.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// A grow-only set per key (a shopping cart): `add` and `read`.
    Set,
    /// A register per key, possibly with siblings: `write` and `read`.
    Register,
    /// A counter per key: `add` (an amount, may be negative) and `read`.
    Counter,
    /// A list per key: `append` (a unique value) and `read` (the list).
    ListAppend,
    /// Registers written in dependent chains, checked for causal consistency.
    Causal,
    /// `generate`: the node hands out an id that must be unique.
    UniqueIds,
    /// `claim`: insert-if-absent of a unique name.
    Constraint,
}

impl Workload {
    pub fn all() -> [Workload; 7] {
        [
            Workload::Set,
            Workload::Register,
            Workload::Counter,
            Workload::ListAppend,
            Workload::Causal,
            Workload::UniqueIds,
            Workload::Constraint,
        ]
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Set => "set",
            Workload::Register => "register",
            Workload::Counter => "counter",
            Workload::ListAppend => "list-append",
            Workload::Causal => "causal",
            Workload::UniqueIds => "unique-ids",
            Workload::Constraint => "constraint",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A workload name that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown workload {0:?}: expected one of set, register, counter, list-append, causal, \
     unique-ids, constraint"
)]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::all()
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}
