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
    /// An acknowledged write or add that the final state does not hold
    /// (counter: a final value below what the acknowledged adds allow).
    LostUpdate,
    /// Nodes that disagree on a key after healing and quiescing.
    Divergence,
    /// A read returning a value nobody ever tried to write.
    ImpossibleRead,
    /// A read returning a value whose write definitely failed.
    AbortedRead,
    /// Counter: a final value above what every possibly-applied add allows.
    OverCount,
    /// List-append: one value twice in one list.
    DuplicateElement,
    /// List-append: B before A in a final list though A completed before B
    /// was invoked.
    ReorderedAppend,
    /// Causal: the happens-before relation has a cycle.
    CausalCycle,
    /// Causal: a read saw an effect, then a later read in the same session
    /// missed one of its causes.
    CausalViolation,
    /// Causal: a session guarantee broken (read-your-writes, monotonic
    /// reads, monotonic writes, writes-follow-reads; see `detail`).
    SessionViolation,
    /// Unique ids: two acknowledged generates returned the same id.
    DuplicateId,
    /// Constraint: a name held by two claimants.
    ConstraintViolation,
    /// A read on a node that missed a write that node had acknowledged
    /// before the read began.
    StaleRead,
    /// Transactions: a cycle of write-write dependencies (Adya's G0).
    G0,
    /// Transactions: a read of a value a failed transaction appended
    /// (aborted read, Adya's G1a).
    G1a,
    /// Transactions: a read of a state another transaction went on to
    /// change (intermediate read, Adya's G1b).
    G1b,
    /// Transactions: a cycle of write-write and write-read dependencies with
    /// at least one write-read (circular information flow, Adya's G1c).
    G1c,
    /// Transactions: a dependency cycle with exactly one anti-dependency
    /// (read-write) edge (Adya's G-single; snapshot isolation forbids it).
    GSingle,
    /// Transactions: a dependency cycle with anti-dependency edges, none
    /// found with only one (Adya's G2; snapshot isolation allows it).
    G2,
    /// Transactions: two reads of a list, neither a prefix of the other.
    IncompatibleOrder,
    /// Transactions: a read that does not reflect its own transaction's
    /// earlier reads and appends.
    InternalInconsistency,
    /// Transactions: a dependency cycle that needs real-time edges (T1
    /// completed before T2 began, yet T2 precedes T1): only strict
    /// serializability forbids it.
    RealtimeCycle,
    /// Text: two runs typed concurrently at the same place whose characters
    /// (or streaks of runs) ended up mixed rather than one after the other.
    Interleaving,
    /// Text: an insert that did not land between the characters it was
    /// placed between, though they survive.
    IntentionViolation,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub fn all() -> [AnomalyKind; 24] {
        [
            AnomalyKind::LostUpdate,
            AnomalyKind::Divergence,
            AnomalyKind::ImpossibleRead,
            AnomalyKind::AbortedRead,
            AnomalyKind::OverCount,
            AnomalyKind::DuplicateElement,
            AnomalyKind::ReorderedAppend,
            AnomalyKind::CausalCycle,
            AnomalyKind::CausalViolation,
            AnomalyKind::SessionViolation,
            AnomalyKind::DuplicateId,
            AnomalyKind::ConstraintViolation,
            AnomalyKind::StaleRead,
            AnomalyKind::G0,
            AnomalyKind::G1a,
            AnomalyKind::G1b,
            AnomalyKind::G1c,
            AnomalyKind::GSingle,
            AnomalyKind::G2,
            AnomalyKind::IncompatibleOrder,
            AnomalyKind::InternalInconsistency,
            AnomalyKind::RealtimeCycle,
            AnomalyKind::Interleaving,
            AnomalyKind::IntentionViolation,
        ]
    }

    /// The kebab-case name used in results.json.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostUpdate => "lost-update",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::ImpossibleRead => "impossible-read",
            AnomalyKind::AbortedRead => "aborted-read",
            AnomalyKind::OverCount => "over-count",
            AnomalyKind::DuplicateElement => "duplicate-element",
            AnomalyKind::ReorderedAppend => "reordered-append",
            AnomalyKind::CausalCycle => "causal-cycle",
            AnomalyKind::CausalViolation => "causal-violation",
            AnomalyKind::SessionViolation => "session-violation",
            AnomalyKind::DuplicateId => "duplicate-id",
            AnomalyKind::ConstraintViolation => "constraint-violation",
            AnomalyKind::StaleRead => "stale-read",
            AnomalyKind::G0 => "g0",
            AnomalyKind::G1a => "g1a",
            AnomalyKind::G1b => "g1b",
            AnomalyKind::G1c => "g1c",
            AnomalyKind::GSingle => "g-single",
            AnomalyKind::G2 => "g2",
            AnomalyKind::IncompatibleOrder => "incompatible-order",
            AnomalyKind::InternalInconsistency => "internal-inconsistency",
            AnomalyKind::RealtimeCycle => "realtime-cycle",
            AnomalyKind::Interleaving => "interleaving",
            AnomalyKind::IntentionViolation => "intention-violation",
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
    /// Whether the run's configuration explains it (see
    /// [`crate::expectation`]); `unexpected` unless known.
    #[serde(default)]
    pub expectation: Expectation,
    /// A sub-kind where one kind covers several rules: the session guarantee
    /// for `session-violation` (`read-your-writes`, `monotonic-reads`,
    /// `monotonic-writes`, `writes-follow-reads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a write lost to one that completed before it began: from the
    /// older write's invoke to the lost one's completion (ns), when both
    /// were stamped; [`crate::expectation::of`] asks whether a clock fault
    /// overlapped it. Not written to `results.json`.
    #[serde(skip)]
    pub writes_span: Option<(u64, u64)>,
}

/// Whether an anomaly is explained by the configuration under test.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// A bug: the configuration promises this cannot happen (listed first).
    #[default]
    Unexpected,
    /// By design of the strategy or topology (e.g. lost updates under lww).
    Inherent,
}

impl Expectation {
    pub fn name(self) -> &'static str {
        match self {
            Expectation::Unexpected => "unexpected",
            Expectation::Inherent => "inherent",
        }
    }
}

impl Anomaly {
    pub fn new(kind: AnomalyKind, key: &str, witnesses: Vec<u64>, explanation: String) -> Self {
        Anomaly {
            kind,
            key: Some(key.to_owned()),
            witnesses,
            explanation,
            nodes: BTreeMap::new(),
            expectation: Expectation::Unexpected,
            detail: None,
            writes_span: None,
        }
    }

    /// An anomaly about no particular key (e.g. duplicate ids).
    pub fn keyless(kind: AnomalyKind, witnesses: Vec<u64>, explanation: String) -> Self {
        Anomaly {
            key: None,
            ..Anomaly::new(kind, "", witnesses, explanation)
        }
    }

    /// Sets [`Anomaly::detail`].
    pub fn with_detail(mut self, detail: &str) -> Self {
        self.detail = Some(detail.to_owned());
        self
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
