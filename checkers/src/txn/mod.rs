//! Elle-style checking of list-append transactions (Maelstrom's
//! `txn-list-append`): `txn` ops whose value is a list of micro-ops,
//! `["r", k, list]` and `["append", k, v]`, appended values unique.
//!
//! 1. [`parse`]: the transactions, from the history.
//! 2. [`order`]: each key's version order (its longest read, of which every
//!    read must be a prefix) and what single reads show (aborted,
//!    intermediate and impossible reads, duplicates, internal
//!    inconsistency).
//! 3. [`graph`]: the ww / wr / rw (and real-time) dependency graph and its
//!    cycles (G0, G1c, G-single, G2, and realtime cycles).
//!
//! [`ruled_out`] turns the anomalies found into the consistency models
//! they rule out. Real-time order is checked (`rt` edges), process order
//! and predicates are not; no result claims any model holds.

mod graph;
mod order;
pub mod parse;

#[cfg(test)]
mod tests;

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::Elem;
use crate::index::HistoryIndex;
use crate::model::FastMap as HashMap;
use parse::Mop;

/// Who appended each value to each key: key -> value -> transaction.
/// Values are unique across a test; should one repeat, the first wins.
#[derive(Default)]
pub(crate) struct Writers(HashMap<String, HashMap<Elem, usize>>);

impl Writers {
    /// The transaction that appended `value` to `key`.
    pub fn get(&self, key: &str, value: &Elem) -> Option<usize> {
        self.0.get(key)?.get(value).copied()
    }

    /// What transaction `t`'s read of `key` saw of the others: `list`
    /// without `t`'s own appends at its end.
    pub fn observed<'l>(&self, t: usize, key: &str, list: &'l [Elem]) -> &'l [Elem] {
        let mut seen = list;
        while let Some((last, rest)) = seen.split_last()
            && self.get(key, last) == Some(t)
        {
            seen = rest;
        }
        seen
    }
}

/// The anomalies of the history's transactions, and the reasons the
/// verdict may be inconclusive (transactions that could not be read).
pub fn check(index: &HistoryIndex) -> (Vec<Anomaly>, Vec<String>) {
    let (txns, problems) = parse::txns(index);
    let mut writers = Writers::default();
    for (t, txn) in txns.iter().enumerate() {
        for mop in &txn.mops {
            if let Mop::Append { key, value } = mop {
                let of_key = writers.0.entry(key.clone()).or_default();
                of_key.entry(value.clone()).or_insert(t);
            }
        }
    }
    let mut anomalies = Vec::new();
    let orders = order::check(&txns, &writers, &mut anomalies);
    let deps = graph::build(&txns, &writers, &orders);
    anomalies.extend(graph::cycles(&txns, &deps));
    (anomalies, problems)
}

/// The isolation levels, weakest first, as [`ruled_out`] names them.
pub const MODELS: [&str; 6] = [
    "read uncommitted",
    "read committed",
    "repeatable read",
    "snapshot isolation",
    "serializable",
    "strict serializable",
];

/// The models (of [`MODELS`]) that anomalies of these kinds rule out: each
/// kind rules out the weakest model that proscribes it and every stronger
/// one (Adya; snapshot isolation allows G2 but not G-single).
pub fn ruled_out(kinds: impl IntoIterator<Item = AnomalyKind>) -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for kind in kinds {
        let from = match kind {
            AnomalyKind::G0
            | AnomalyKind::IncompatibleOrder
            | AnomalyKind::InternalInconsistency
            | AnomalyKind::DuplicateElement
            | AnomalyKind::ImpossibleRead => &MODELS[..],
            AnomalyKind::G1a | AnomalyKind::G1b | AnomalyKind::G1c => &MODELS[1..],
            AnomalyKind::GSingle => &MODELS[2..],
            AnomalyKind::G2 => &["repeatable read", "serializable", "strict serializable"],
            AnomalyKind::RealtimeCycle => &MODELS[5..],
            _ => &[],
        };
        for model in from {
            if !out.contains(model) {
                out.push(model);
            }
        }
    }
    out.sort_by_key(|m| MODELS.iter().position(|x| x == m));
    out
}
