//! Which data model a history exercises; it decides what "lost" means.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The workloads the checkers understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// A grow-only set per key (a shopping cart): `add` and `read`.
    Set,
    /// A register per key, possibly with siblings: `write` and `read`.
    Register,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Set => "set",
            Workload::Register => "register",
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
#[error("unknown workload {0:?}: expected \"set\" or \"register\"")]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "set" => Ok(Workload::Set),
            "register" => Ok(Workload::Register),
            other => Err(UnknownWorkload(other.to_owned())),
        }
    }
}
