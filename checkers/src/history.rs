//! The history model: one [`Op`] per line of `history.jsonl`.
//!
//! Every client operation appears twice: an `invoke` when it starts and a
//! completion (`ok`, `fail`, or `info` when the outcome is unknown) when it
//! ends, both with the same `process`. Nemesis faults appear the same way with
//! `process = "nemesis"`. See `docs/history.md` for the format with examples.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

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
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Process::Client(n)),
            Raw::Name(s) if s == "nemesis" => Ok(Process::Nemesis),
            Raw::Name(s) => Err(serde::de::Error::custom(format!(
                "process must be a number or \"nemesis\", got {s:?}"
            ))),
        }
    }
}
