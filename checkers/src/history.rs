//! The history model: one [`Op`] per line of `history.jsonl`.
//!
//! Every client operation appears twice: an `invoke` when it starts and a
//! completion (`ok`, `fail`, or `info` when the outcome is unknown) when it
//! ends, both with the same `process`. Nemesis faults appear the same way with
//! `process = "nemesis"`. See `docs/history.md` for the format with examples.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The `f` names the checkers understand. Anything else (fault names,
/// controller bookkeeping) is ignored by the analyses.
pub mod f {
    /// Set workload: add the invoke's `value` (one element) to `key`'s set.
    pub const ADD: &str = "add";
    /// Register workload: write the invoke's `value` to `key`.
    pub const WRITE: &str = "write";
    /// Read `key` on `node`; the `ok` completion's `value` is an array.
    pub const READ: &str = "read";
    /// The controller's read of every key on every node after heal + quiesce.
    pub const FINAL_READ: &str = "final-read";
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based, strictly increasing.
    pub index: u64,
    /// Nanoseconds since the test started.
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The operation: `add`, `read`, `write`, `final-read`, or a fault name.
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Value,
    /// The node the op was sent to (and that served it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why an op failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// invoke / ok / fail / info.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// Who performed an op: a client process (a number) or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Process;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process number or \"nemesis\"")
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Process, E> {
                Ok(Process::Client(n))
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Process, E> {
                u64::try_from(n).map(Process::Client).map_err(|_| {
                    E::custom(format!("process must be a number or \"nemesis\", got {n}"))
                })
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Process, E> {
                if s == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::custom(format!(
                        "process must be a number or \"nemesis\", got {s:?}"
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Op {
    /// True for client ops; nemesis ops are bookkeeping the checkers skip.
    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }

    /// True for `add` and `write`: ops whose invoke `value` is a value a read
    /// may later legitimately return.
    pub fn is_write(&self) -> bool {
        self.f == f::ADD || self.f == f::WRITE
    }

    /// True for `read` and `final-read`.
    pub fn is_read(&self) -> bool {
        self.f == f::READ || self.f == f::FINAL_READ
    }

    /// The elements of a read result. Reads return arrays; a bare scalar is
    /// taken as a one-element result and `null` as empty, so a slightly
    /// different writer still gets checked instead of silently skipped.
    pub fn elements(&self) -> impl Iterator<Item = Elem> + '_ {
        let (many, one) = match &self.value {
            Value::Array(items) => (items.as_slice(), None),
            Value::Null => (&[][..], None),
            scalar => (&[][..], Some(scalar)),
        };
        many.iter().chain(one).map(Elem::from_value)
    }
}

/// A written value or set element in hashable form, so checkers can index
/// values in hash maps (serde_json's `Value` is not `Hash`). Integers, the
/// normal case, are stored without allocating.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    Int(i64),
    /// Integers above `i64::MAX`.
    Uint(u64),
    /// Anything else (floats, strings, objects), as its compact JSON text.
    Json(String),
}

impl Elem {
    pub fn from_value(value: &Value) -> Elem {
        if let Some(n) = value.as_i64() {
            Elem::Int(n)
        } else if let Some(n) = value.as_u64() {
            Elem::Uint(n)
        } else {
            Elem::Json(value.to_string())
        }
    }

    /// Back to JSON, for anomaly reports.
    pub fn to_value(&self) -> Value {
        match self {
            Elem::Int(n) => Value::from(*n),
            Elem::Uint(n) => Value::from(*n),
            Elem::Json(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::Int(n) => write!(f, "{n}"),
            Elem::Uint(n) => write!(f, "{n}"),
            Elem::Json(text) => f.write_str(text),
        }
    }
}
