//! The `text` workload's checks (collaborative editing). Every run an
//! `insert` types is copies of one character no other op types, so each
//! character of a final text names the op that inserted it.
//!
//! - `divergence`: nodes whose final texts differ (siblings compared as
//!   sets).
//! - `lost-update`: an acknowledged insert whose run is in no node's final
//!   text, though no delete removed it (an acknowledged delete that saw it,
//!   or a delete of unknown outcome, which may have).
//! - `intention-violation`: an insert placed after character L and before
//!   character R (what its writer read) that does not land between them in
//!   a final text where they survive.
//! - `interleaving` (see [`interleave`]): two runs typed concurrently at
//!   the same place whose characters are mixed, or two concurrent streaks
//!   (runs typed one right after the other by one client) at the same place
//!   that are mixed run by run.

mod interleave;
mod model;

use std::collections::BTreeSet;

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::divergence;
use crate::history::OpType;
use crate::index::HistoryIndex;
use model::{Document, Final};

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for doc in model::documents(index) {
        let k = &index.keys[doc.key as usize];
        let distinct: BTreeSet<Vec<&str>> = doc.finals.iter().map(Final::sorted).collect();
        if distinct.len() > 1 {
            let detail = format!(
                "disagree: {} different texts across {} nodes",
                distinct.len(),
                doc.finals.len()
            );
            out.push(divergence::anomaly(index, doc.key, k, detail));
        }
        if doc.finals.is_empty() {
            continue;
        }
        out.extend(lost(&doc));
        let mut misplaced = intention(&doc);
        misplaced.extend(interleave::check(&doc));
        // Every node's final text, for the report to show where runs went.
        for anomaly in &mut misplaced {
            anomaly.nodes = doc
                .finals
                .iter()
                .map(|f| (f.node.clone(), f.value()))
                .collect();
        }
        out.extend(misplaced);
    }
    out
}

fn lost(doc: &Document) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ins in doc.inserts.iter().filter(|i| i.outcome == OpType::Ok) {
        let present = doc
            .finals
            .iter()
            .any(|f| f.texts.iter().any(|t| t.contains(ins.glyph)));
        let removed = doc
            .deletes
            .iter()
            .any(|d| d.outcome == OpType::Info || d.deleted == Some(ins.glyph));
        if present || removed {
            continue;
        }
        let mut witnesses = vec![ins.witness];
        witnesses.extend(doc.final_witnesses());
        out.push(Anomaly::new(
            AnomalyKind::LostUpdate,
            &doc.name,
            witnesses,
            format!(
                "insert of {:?} into document {:?} was acknowledged (op {}) but no node's final \
                 text holds it, and no delete removed it",
                ins.run, doc.name, ins.witness
            ),
        ));
    }
    out
}

fn intention(doc: &Document) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    for f in &doc.finals {
        for text in &f.texts {
            let chars: Vec<char> = text.chars().collect();
            let first = |c: char| chars.iter().position(|&x| x == c);
            let last = |c: char| chars.iter().rposition(|&x| x == c);
            for ins in doc.inserts.iter().filter(|i| i.outcome == OpType::Ok) {
                let (Some(b_first), Some(b_last)) = (first(ins.glyph), last(ins.glyph)) else {
                    continue;
                };
                let left = ins.after.filter(|&l| last(l).is_some_and(|p| p > b_first));
                let right = ins.before.filter(|&r| first(r).is_some_and(|p| p < b_last));
                for (neighbour, side) in [(left, "after"), (right, "before")] {
                    let Some(n) = neighbour else { continue };
                    if !reported.insert((ins.witness, n)) {
                        continue;
                    }
                    let mut witnesses = vec![ins.witness];
                    witnesses.extend(doc.insert_of(n).map(|o| o.witness));
                    witnesses.push(f.witness);
                    out.push(Anomaly::new(
                        AnomalyKind::IntentionViolation,
                        &doc.name,
                        witnesses,
                        format!(
                            "insert of {:?} (op {}) was placed {side} {n:?}, but {}'s final text \
                             of {:?} (op {}) does not have it {side} {n:?}",
                            ins.run, ins.witness, f.node, doc.name, f.witness
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
