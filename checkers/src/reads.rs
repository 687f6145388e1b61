//! Reads that return values they never could: `impossible-read` and
//! `aborted-read`. Both look at every `ok` read and final read.
//!
//! - **impossible-read**: a value no op ever tried to write to that key (no
//!   `add`/`write` invoke carries it). Values are unique across a test, so a
//!   value written only to another key is impossible here too.
//! - **aborted-read**: a value whose write definitely failed (`fail`). An
//!   `info` write may have happened, so its value may appear anywhere.
//!
//! One anomaly per offending value (and key), witnessed by the first read
//! that returned it; the explanation says how many reads did. Reporting every
//! read would bury the one fact in repetition.

use std::collections::HashMap;

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{Elem, OpType};
use crate::index::HistoryIndex;

/// The first read that returned a value, and how many did.
struct Seen<'a> {
    first: u64,
    node: Option<&'a str>,
    reads: usize,
}

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut impossible: HashMap<(&str, Elem), Seen> = HashMap::new();
    let mut aborted: HashMap<usize, Seen> = HashMap::new();
    for read in &index.reads {
        let first_seen = || Seen {
            first: read.completion.index,
            node: read.node,
            reads: 0,
        };
        for value in read.completion.elements() {
            let seen = match index.write_by_value.get(&value) {
                Some(&id) if index.writes[id].key == read.key => {
                    if index.writes[id].outcome() != OpType::Fail {
                        continue;
                    }
                    aborted.entry(id).or_insert_with(first_seen)
                }
                _ => impossible
                    .entry((read.key, value))
                    .or_insert_with(first_seen),
            };
            seen.reads += 1;
        }
    }

    let mut anomalies = Vec::with_capacity(impossible.len() + aborted.len());
    for ((key, value), seen) in impossible {
        let elsewhere = match index.write_of(&value) {
            Some(w) => format!(" (it was only written to key {:?})", w.key),
            None => String::new(),
        };
        anomalies.push(Anomaly::new(
            AnomalyKind::ImpossibleRead,
            key,
            vec![seen.first],
            format!(
                "read of key {key:?}{} (op {}) returned {value}, which no op ever tried to write{elsewhere}; {} read(s) returned it",
                on(&seen.node),
                seen.first,
                seen.reads,
            ),
        ));
    }
    for (id, seen) in aborted {
        let write = &index.writes[id];
        anomalies.push(Anomaly::new(
            AnomalyKind::AbortedRead,
            write.key,
            vec![write.witness(), seen.first],
            format!(
                "read of key {:?}{} (op {}) returned {}, whose write failed (op {}); {} read(s) returned it",
                write.key,
                on(&seen.node),
                seen.first,
                write.value,
                write.witness(),
                seen.reads,
            ),
        ));
    }
    anomalies
}

fn on(node: &Option<&str>) -> String {
    node.map(|n| format!(" on {n}")).unwrap_or_default()
}
