//! Transactions read back from the history: one [`Txn`] per `txn` op, its
//! micro-ops decoded from the op's value (`[["r", k, null | [...]],
//! ["append", k, v], ...]`).
//!
//! An `ok` transaction's micro-ops come from its completion (the reads
//! filled in); a `fail` or `info` one's from its invoke (its appends are all
//! that is known). A value that is not such a list makes the verdict
//! inconclusive rather than being guessed at.

use serde_json::Value;

use crate::history::{Elem, OpType};
use crate::index::HistoryIndex;
use crate::model::Hist;
use crate::pairing::Pair;

/// One micro-op.
#[derive(Clone, Debug, PartialEq)]
pub enum Mop {
    /// Append `value` to `key`'s list.
    Append { key: String, value: Elem },
    /// Read `key`: the list, or `None` where it is not known (the invoke).
    Read {
        key: String,
        value: Option<Vec<Elem>>,
    },
}

/// One transaction of the history.
#[derive(Clone, Debug)]
pub struct Txn {
    pub outcome: OpType,
    /// The completion's op index, or the invoke's if it never completed.
    pub witness: u64,
    pub node: String,
    pub mops: Vec<Mop>,
    /// When it was invoked, and when it completed `ok` (`None`: it did
    /// not, so it precedes nothing in real time).
    pub invoked: u64,
    pub ok_at: Option<u64>,
}

impl Txn {
    /// The values this transaction appended to `key`, in order.
    pub fn appends_to<'t>(&'t self, key: &'t str) -> impl Iterator<Item = &'t Elem> + 't {
        self.mops.iter().filter_map(move |m| match m {
            Mop::Append { key: k, value } if k == key => Some(value),
            _ => None,
        })
    }
}

/// Every `txn` op of the history, in completion order, and the reasons
/// some could not be read.
pub fn txns(index: &HistoryIndex) -> (Vec<Txn>, Vec<String>) {
    let hist = index.hist;
    let Some(txn_f) = hist.fs.get("txn") else {
        return (Vec::new(), Vec::new());
    };
    let (mut txns, mut problems) = (Vec::new(), Vec::new());
    for pair in &index.pairs {
        if u32::from(pair.invoke(hist).f) != txn_f {
            continue;
        }
        match txn(hist, pair) {
            Ok(t) => txns.push(t),
            Err(problem) => problems.push(format!(
                "op {}: {problem}; the transaction was ignored",
                pair.witness(hist)
            )),
        }
    }
    (txns, problems)
}

fn txn(hist: &Hist, pair: &Pair) -> Result<Txn, String> {
    let outcome = pair.outcome(hist);
    let op = match (outcome, pair.completion(hist)) {
        (OpType::Ok, Some(completion)) => completion,
        _ => pair.invoke(hist),
    };
    let value = hist.to_json(op.value);
    let Value::Array(items) = &value else {
        return Err(format!(
            "a txn's value must be a list of micro-ops, got {value}"
        ));
    };
    let mops = items
        .iter()
        .map(|m| mop(m, outcome == OpType::Ok))
        .collect::<Result<_, _>>()?;
    let node = pair.node(hist);
    Ok(Txn {
        outcome,
        witness: pair.witness(hist),
        node: if node == crate::model::NONE {
            String::new()
        } else {
            hist.node_name(node).to_owned()
        },
        mops,
        invoked: pair.invoke(hist).time,
        ok_at: (outcome == OpType::Ok).then(|| pair.end_time(hist)),
    })
}

/// `["r", k, list-or-null]` or `["append", k, v]`; `completed` says whether
/// a read's list is known.
fn mop(m: &Value, completed: bool) -> Result<Mop, String> {
    let bad =
        || format!("a micro-op must be [\"r\", key, list] or [\"append\", key, value], got {m}");
    let Some([f, key, value]) = m.as_array().map(Vec::as_slice) else {
        return Err(bad());
    };
    let key = match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (f.as_str(), value) {
        (Some("append"), v) => Ok(Mop::Append {
            key,
            value: Elem::from_value(v),
        }),
        (Some("r"), Value::Null) => Ok(Mop::Read {
            key,
            // An ok read of a missing key is an empty list.
            value: completed.then(Vec::new),
        }),
        (Some("r"), Value::Array(items)) => Ok(Mop::Read {
            key,
            value: completed.then(|| items.iter().map(Elem::from_value).collect()),
        }),
        _ => Err(bad()),
    }
}
