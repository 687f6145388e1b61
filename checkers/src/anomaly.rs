//! What a checker reports: one [`Anomaly`] per problem found, as data.
//!
//! The explanation is a sentence naming the values and nodes involved; the
//! witnesses are the op indices (into the history) that together show the
//! problem, so a report can quote exactly those lines.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of anomaly the checkers detect. Order here is report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// An acknowledged write or add that the final state does not hold.
    LostUpdate,
    /// Nodes that disagree on a key after healing and quiescing.
    Divergence,
    /// A read returning a value nobody ever tried to write.
    ImpossibleRead,
    /// A read returning a value whose write definitely failed.
    AbortedRead,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub fn all() -> [AnomalyKind; 4] {
        [
            AnomalyKind::LostUpdate,
            AnomalyKind::Divergence,
            AnomalyKind::ImpossibleRead,
            AnomalyKind::AbortedRead,
        ]
    }

    /// The kebab-case name used in results.json.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostUpdate => "lost-update",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::ImpossibleRead => "impossible-read",
            AnomalyKind::AbortedRead => "aborted-read",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem found in a history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub key: Option<String>,
    /// Indices of the ops that show the problem (a minimal set).
    pub witnesses: Vec<u64>,
    /// One sentence naming the values and nodes involved.
    pub explanation: String,
    /// Per-node values where relevant (divergence); empty otherwise.
    #[serde(default)]
    pub nodes: BTreeMap<String, Value>,
}

impl Anomaly {
    pub fn new(kind: AnomalyKind, key: &str, witnesses: Vec<u64>, explanation: String) -> Self {
        Anomaly {
            kind,
            key: Some(key.to_owned()),
            witnesses,
            explanation,
            nodes: BTreeMap::new(),
        }
    }
}

/// Up to `limit` items joined with ", ", then "and N more", so explanations
/// stay one readable sentence even for huge sets.
pub(crate) fn list<T: fmt::Display>(items: &[T], limit: usize) -> String {
    let mut out = items
        .iter()
        .take(limit)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > limit {
        out.push_str(&format!(" and {} more", items.len() - limit));
    }
    out
}
