//! The workloads: which data model a history exercises, and how each is
//! judged. This is the one place that says, per workload, which analyses
//! run; `check_hist` only follows it (see [`Judging`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::anomaly::Anomaly;
use crate::index::HistoryIndex;
use crate::stale;

/// The workloads diverge runs and checks (formats in `docs/history.md`).
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
    /// Rows inserted at one node, then updated: register `write`s whose
    /// update must win over its insert.
    InsertUpdate,
    /// Maelstrom's `g-set` (one grow-only set: `add {element}`, `read`),
    /// judged as `set`.
    GSet,
    /// Maelstrom's `g-counter` (one counter: `add {delta >= 0}`, `read`),
    /// judged as `counter`.
    GCounter,
    /// Maelstrom's `pn-counter` (deltas of either sign), judged as `counter`.
    PnCounter,
    /// Maelstrom's `broadcast`: a set whose adds are `broadcast {message}`
    /// and whose reads are `read -> {messages}`, judged as `set`.
    Broadcast,
    /// Maelstrom's `lin-kv`: `read`, `write` and `cas` on a few keys,
    /// judged as `register` (a `cas` is a write of the value it sets).
    LinKv,
    /// Maelstrom's `txn-list-append`: transactions of reads and appends
    /// over a few lists, judged Elle-style ([`crate::txn`]).
    TxnListAppend,
    /// Collaborative editing: `insert` a traceable run into a shared text
    /// document, `delete` a run, `read` the whole text.
    Text,
}

/// How the reads of a workload are judged beyond its own analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadChecks {
    /// Reads return no written values to judge (numbers, ids).
    None,
    /// Impossible and aborted reads only.
    Values,
    /// Values and staleness, with the model of what a read should hold.
    Stale(stale::Mode),
}

/// Which analyses judge a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judging {
    /// Judged on final reads (lost updates, divergence); without them the
    /// verdict is unknown.
    pub final_state: bool,
    /// Final reads compared across nodes as sets of values.
    pub set_divergence: bool,
    pub reads: ReadChecks,
    /// Values accumulate (sets, lists): a write is replicated once any
    /// node's read holds it.
    pub accumulates: bool,
}

impl Workload {
    pub const ALL: &'static [Workload] = &[
        Workload::Set,
        Workload::Register,
        Workload::Counter,
        Workload::ListAppend,
        Workload::Causal,
        Workload::UniqueIds,
        Workload::Constraint,
        Workload::InsertUpdate,
        Workload::GSet,
        Workload::GCounter,
        Workload::PnCounter,
        Workload::Broadcast,
        Workload::LinKv,
        Workload::TxnListAppend,
        Workload::Text,
    ];

    pub fn all() -> &'static [Workload] {
        Self::ALL
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
            Workload::InsertUpdate => "insert-update",
            Workload::GSet => "g-set",
            Workload::GCounter => "g-counter",
            Workload::PnCounter => "pn-counter",
            Workload::Broadcast => "broadcast",
            Workload::LinKv => "lin-kv",
            Workload::TxnListAppend => "txn-list-append",
            Workload::Text => "text",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Workload::Set => {
                "Shopping carts: unique elements added to per-key sets by read-modify-write"
            }
            Workload::Register => "Blind writes of unique values, and reads",
            Workload::Counter => "Increments by random amounts (read-modify-write), and reads",
            Workload::ListAppend => {
                "Unique values appended to per-key lists, and reads of whole lists"
            }
            Workload::Causal => {
                "Dependent writes in chains, and reads of the effect then its cause"
            }
            Workload::UniqueIds => {
                "Ids handed out by the nodes (auto-increment; over --protocol maelstrom, Maelstrom's generate)"
            }
            Workload::Constraint => "Unique names claimed by insert-if-absent",
            Workload::InsertUpdate => {
                "Rows inserted at one node, then updated (possibly at another): can an update overtake its insert?"
            }
            Workload::GSet => {
                "Maelstrom's g-set: elements added to one grow-only set (--protocol maelstrom)"
            }
            Workload::GCounter => {
                "Maelstrom's g-counter: positive deltas added to one counter (--protocol maelstrom)"
            }
            Workload::PnCounter => {
                "Maelstrom's pn-counter: deltas of either sign (--protocol maelstrom)"
            }
            Workload::Broadcast => {
                "Maelstrom's broadcast: messages broadcast to every node, then read (--protocol maelstrom)"
            }
            Workload::LinKv => {
                "Maelstrom's lin-kv: reads, writes and compare-and-sets of a few keys (--protocol maelstrom)"
            }
            Workload::TxnListAppend => {
                "Maelstrom's txn-list-append: transactions of reads and appends, checked for dependency cycles (--protocol maelstrom)"
            }
            Workload::Text => {
                "Collaborative editing: words typed into shared text documents at places read, runs deleted"
            }
        }
    }

    /// The workload whose analyses judge this one: itself, or for a
    /// Maelstrom workload the diverge workload it maps onto (g-set and
    /// broadcast are sets, the counters counters, lin-kv a register).
    pub fn judged_as(self) -> Workload {
        match self {
            Workload::GSet | Workload::Broadcast => Workload::Set,
            Workload::GCounter | Workload::PnCounter => Workload::Counter,
            Workload::LinKv => Workload::Register,
            own => own,
        }
    }

    /// The analyses that judge this workload.
    pub fn judging(self) -> Judging {
        let judging = |final_state, set_divergence, reads, accumulates| Judging {
            final_state,
            set_divergence,
            reads,
            accumulates,
        };
        use ReadChecks::{None as NoReads, Stale, Values};
        use stale::Mode::{Grow, Overwrite};
        match self.judged_as() {
            Workload::Set => judging(true, true, Stale(Grow), true),
            Workload::ListAppend => judging(true, false, Stale(Grow), true),
            Workload::Register | Workload::Causal | Workload::InsertUpdate => {
                judging(true, true, Stale(Overwrite), false)
            }
            Workload::Counter => judging(true, true, NoReads, false),
            Workload::Constraint => judging(true, true, Values, false),
            Workload::UniqueIds => judging(false, false, NoReads, false),
            // Judged on the transactions alone: no final reads.
            Workload::TxnListAppend => judging(false, false, NoReads, false),
            // Its own analysis compares the final texts.
            Workload::Text => judging(true, false, NoReads, false),
            own => unreachable!("{own} is judged as {}", own.judged_as()),
        }
    }

    /// The workload's own analysis: its anomalies, and reasons the
    /// verdict may be inconclusive.
    pub(crate) fn analyse(self, index: &HistoryIndex) -> (Vec<Anomaly>, Vec<String>) {
        let alone = |anomalies| (anomalies, Vec::new());
        if matches!(self, Workload::GSet | Workload::Broadcast) {
            // Maelstrom's rule: every acknowledged add on every node.
            return alone(crate::everywhere::check(index));
        }
        if matches!(self, Workload::GCounter | Workload::PnCounter) {
            // Maelstrom's rule, exact when few adds are of unknown outcome.
            let mut anomalies = crate::counter::check(index);
            anomalies.extend(crate::exact_counter::check(index));
            return alone(anomalies);
        }
        match self.judged_as() {
            Workload::Set => alone(crate::lost_update::set(index)),
            Workload::Register | Workload::InsertUpdate => {
                alone(crate::lost_update::register(index))
            }
            Workload::Counter => alone(crate::counter::check(index)),
            Workload::ListAppend => alone(crate::list_append::check(index)),
            Workload::Causal => {
                let (anomalies, skipped) = crate::causal::check_causal(index);
                (anomalies, skipped.into_iter().collect())
            }
            Workload::UniqueIds => alone(crate::unique_ids::check(index)),
            Workload::Constraint => alone(crate::constraint::check(index)),
            Workload::TxnListAppend => crate::txn::check(index),
            Workload::Text => alone(crate::text::check(index)),
            own => unreachable!("{own} is judged as {}", own.judged_as()),
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
#[error("unknown workload {0:?}: expected one of {names}", names = names())]
pub struct UnknownWorkload(pub String);

fn names() -> String {
    Workload::ALL
        .iter()
        .map(|w| w.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .iter()
            .copied()
            .find(|w| w.name() == s)
            .ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}
