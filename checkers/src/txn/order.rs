//! What the reads alone show, before any graph: each key's version order
//! (its longest read; every other read must be a prefix of it), and the
//! anomalies one read or one transaction shows by itself.
//!
//! - `duplicate-element`: a value twice in one read.
//! - `impossible-read`: a value no transaction appended.
//! - `g1a` (aborted read): a value whose transaction definitely failed.
//! - `g1b` (intermediate read): a read ending in a value its transaction
//!   followed with another append to the same key.
//! - `internal-inconsistency`: a read that does not reflect the
//!   transaction's own earlier reads and appends of the key.
//! - `incompatible-order`: a read that is not a prefix of the key's longest.

use std::collections::BTreeMap;

use super::Writers;
use super::parse::{Mop, Txn};
use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{Elem, OpType};
use crate::model::FastMap as HashMap;

/// Each key's version order: its longest read.
pub type Orders = BTreeMap<String, Vec<Elem>>;

/// The non-cycle anomalies, and the version orders.
pub fn check(txns: &[Txn], writers: &Writers, out: &mut Vec<Anomaly>) -> Orders {
    let mut reads: BTreeMap<&str, Vec<(usize, &[Elem])>> = BTreeMap::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        internal(txn, out);
        for mop in &txn.mops {
            if let Mop::Read {
                key,
                value: Some(list),
            } = mop
            {
                one_read(txns, writers, t, key, list, out);
                reads.entry(key).or_default().push((t, list));
            }
        }
    }
    let mut orders = Orders::new();
    for (key, reads) in reads {
        let &(longest_t, longest) = reads
            .iter()
            .max_by_key(|(_, list)| list.len())
            .expect("a key with reads");
        for &(t, list) in &reads {
            if !longest.starts_with(list) {
                out.push(Anomaly::new(
                    AnomalyKind::IncompatibleOrder,
                    key,
                    sorted(vec![txns[longest_t].witness, txns[t].witness]),
                    format!(
                        "key {key}: txn op {} read {} and txn op {} read {}: no single order of \
                         appends explains both",
                        txns[t].witness,
                        around(list, longest),
                        txns[longest_t].witness,
                        around(longest, list),
                    ),
                ));
            }
        }
        orders.insert(key.to_owned(), longest.to_vec());
    }
    orders
}

/// Anomalies of one read by transaction `t`.
fn one_read(
    txns: &[Txn],
    writers: &Writers,
    t: usize,
    key: &str,
    list: &[Elem],
    out: &mut Vec<Anomaly>,
) {
    let reader = &txns[t];
    let mut seen = HashMap::default();
    for v in list {
        *seen.entry(v).or_insert(0) += 1;
        if seen[v] == 2 {
            out.push(Anomaly::new(
                AnomalyKind::DuplicateElement,
                key,
                vec![reader.witness],
                format!(
                    "txn op {} read key {key} as {}, which lists {v} more than once",
                    reader.witness,
                    show(list)
                ),
            ));
        }
        match writers.get(key, v) {
            None => out.push(Anomaly::new(
                AnomalyKind::ImpossibleRead,
                key,
                vec![reader.witness],
                format!(
                    "txn op {} read {v} in key {key}, which no transaction appended",
                    reader.witness
                ),
            )),
            Some(w) if txns[w].outcome == OpType::Fail => out.push(Anomaly::new(
                AnomalyKind::G1a,
                key,
                vec![txns[w].witness, reader.witness],
                format!(
                    "aborted read: txn op {} read {v} in key {key}, appended by txn op {}, which \
                     definitely failed",
                    reader.witness, txns[w].witness
                ),
            )),
            Some(_) => {}
        }
    }
    // Its own appends at the end aside: a read of another's state.
    let Some(last) = writers.observed(t, key, list).last() else {
        return;
    };
    let Some(w) = writers.get(key, last) else {
        return;
    };
    let writer = &txns[w];
    let final_append = writer.appends_to(key).last();
    if final_append != Some(last) {
        out.push(Anomaly::new(
            AnomalyKind::G1b,
            key,
            vec![writer.witness, reader.witness],
            format!(
                "intermediate read: txn op {} read key {key} ending in {last}, but txn op {} \
                 appended {} to it after {last}",
                reader.witness,
                writer.witness,
                final_append.map_or_else(String::new, ToString::to_string),
            ),
        ));
    }
}

/// Reads that do not reflect the transaction's own earlier reads and
/// appends of the same key.
fn internal(txn: &Txn, out: &mut Vec<Anomaly>) {
    // Per key: the list as the transaction must now see it, if it read the
    // key; else its own appends so far (a read must end with them).
    let mut known: HashMap<&str, Vec<Elem>> = HashMap::default();
    let mut own: HashMap<&str, Vec<Elem>> = HashMap::default();
    for mop in &txn.mops {
        match mop {
            Mop::Append { key, value } => {
                if let Some(list) = known.get_mut(key.as_str()) {
                    list.push(value.clone());
                }
                own.entry(key).or_default().push(value.clone());
            }
            Mop::Read {
                key,
                value: Some(list),
            } => {
                let expected = match known.get(key.as_str()) {
                    Some(expected) => (list != expected).then(|| show(expected)),
                    None => own
                        .get(key.as_str())
                        .filter(|own| !list.ends_with(own))
                        .map(|own| format!("a list ending in {}", show(own))),
                };
                if let Some(expected) = expected {
                    out.push(Anomaly::new(
                        AnomalyKind::InternalInconsistency,
                        key,
                        vec![txn.witness],
                        format!(
                            "txn op {} read key {key} as {} where its own earlier micro-ops \
                             imply {expected}",
                            txn.witness,
                            show(list)
                        ),
                    ));
                }
                known.insert(key, list.clone());
            }
            Mop::Read { value: None, .. } => {}
        }
    }
}

fn sorted(mut witnesses: Vec<u64>) -> Vec<u64> {
    witnesses.sort_unstable();
    witnesses
}

/// `list` where it first differs from `other`: whole when short, else the
/// few elements around the difference.
fn around(list: &[Elem], other: &[Elem]) -> String {
    const SHOWN: usize = 8;
    if list.len() <= SHOWN {
        return show(list);
    }
    let at = list.iter().zip(other).take_while(|(a, b)| a == b).count();
    let from = at.saturating_sub(2);
    let to = (at + 3).min(list.len());
    format!(
        "a list of {} whose elements {from}..{to} are {}",
        list.len(),
        show(&list[from..to])
    )
}

/// A list as JSON-ish text.
pub fn show(list: &[Elem]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(","))
}
