//! Version vectors and the opaque causal context handed to clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{Dot, NodeId};

/// node -> highest write counter of that node seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionVector(pub BTreeMap<NodeId, u64>);

impl VersionVector {
    /// Whether this vector has seen the write `dot`.
    pub fn covers(&self, dot: &Dot) -> bool {
        self.0.get(&dot.node).is_some_and(|&n| n >= dot.seq)
    }

    /// `self <= other`: every entry of self is at most other's.
    pub fn le(&self, other: &VersionVector) -> bool {
        self.0
            .iter()
            .all(|(node, &n)| other.0.get(node).is_some_and(|&m| n <= m))
    }

    /// Pointwise maximum.
    pub fn join(&mut self, other: &VersionVector) {
        for (node, &n) in &other.0 {
            let entry = self.0.entry(node.clone()).or_insert(0);
            *entry = (*entry).max(n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Record the write `dot`.
    pub fn add(&mut self, dot: &Dot) {
        let entry = self.0.entry(dot.node.clone()).or_insert(0);
        *entry = (*entry).max(dot.seq);
    }
}

/// The causal context a client reads and writes back, opaque to clients. On
/// the wire it is a string (`"n1:4,n2:7"`); clients must not interpret it.
/// A text document's context also carries the text CRDT library's own
/// version of the document the client read (hex, after a `|`), so that the
/// node can place the client's edit where the client made it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context(pub VersionVector, pub Option<String>);

/// Why a context string could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "malformed context {0:?}: expected comma-separated node:counter pairs, then optionally | and a text version"
)]
pub struct BadContext(pub String);

impl Context {
    pub fn encode(&self) -> String {
        use std::fmt::Write;
        // One buffer, no per-entry strings: every read and write reply
        // carries a context.
        let mut out = String::with_capacity((self.0).0.len() * 12);
        for (i, (n, c)) in (self.0).0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{n}:{c}");
        }
        if let Some(version) = &self.1 {
            out.push('|');
            out.push_str(version);
        }
        out
    }

    pub fn decode(s: &str) -> Result<Self, BadContext> {
        let (pairs, version) = match s.split_once('|') {
            Some((pairs, version)) => (pairs, Some(version.to_string())),
            None => (s, None),
        };
        let mut vv = BTreeMap::new();
        for part in pairs.split(',').filter(|p| !p.is_empty()) {
            let (node, counter) = part.split_once(':').ok_or_else(|| BadContext(s.into()))?;
            let counter: u64 = counter.parse().map_err(|_| BadContext(s.into()))?;
            if node.is_empty() {
                return Err(BadContext(s.into()));
            }
            vv.insert(node.to_string(), counter);
        }
        Ok(Context(VersionVector(vv), version))
    }
}
