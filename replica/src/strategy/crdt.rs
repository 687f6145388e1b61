//! `--strategy crdt`: a state-based observed-remove set for JSON-array values
//! and a PN-counter for integer values.
//!
//! A change carries the origin's whole new state of the key (not an
//! operation), so applying it is a join, which is commutative, associative
//! and idempotent: any delivery order converges.
//!
//! - OR-set: every element carries the dots (tags) of the writes that added
//!   it. A client writes the whole array with the context it read; at the
//!   origin, elements it did not observe get the write's fresh dot (adds),
//!   and tags the context covers on elements missing from the new array are
//!   dropped (observed removes). A concurrent add is never lost: its tag is
//!   not covered by the remover's context. The join keeps a tag present on
//!   both sides, or on one side if the other side's context does not cover
//!   it (it has not seen, hence not removed, that add).
//! - PN-counter: per-node increment and decrement totals, joined by pointwise
//!   maximum. A client either sends an increment, or writes a number with a
//!   context that covers the node's state (the delta from the current value
//!   is applied at the origin; a stale context is refused).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::merge::{canonical_cmp, canonical_text};
use crate::types::{Dot, NodeId};
use crate::version::VersionVector;

/// The replicated state of one crdt key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Crdt {
    /// element (canonical JSON text) -> the dots that added it.
    OrSet {
        tags: BTreeMap<String, BTreeSet<Dot>>,
    },
    /// node -> total increments (`p`) and decrements (`n`) made there.
    PnCounter {
        p: BTreeMap<NodeId, u64>,
        n: BTreeMap<NodeId, u64>,
    },
    /// One edit of a text document: the library's own update bytes (hex),
    /// imported by every node (see [`super::text`]). Travels in changes
    /// only; a key's text state is its [`super::TextDoc`].
    Text { lib: super::TextLib, update: String },
}

/// Why a client value cannot be written to a crdt key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrdtError {
    #[error(
        "--strategy crdt keeps JSON arrays (observed-remove sets) and integers (PN-counters), not {0}"
    )]
    Unsupported(String),
    #[error("the key holds {held}; a write of {wrote} cannot change its type")]
    TypeMismatch {
        held: &'static str,
        wrote: &'static str,
    },
}

impl Crdt {
    fn type_name(&self) -> &'static str {
        match self {
            Crdt::OrSet { .. } => "a set (array)",
            Crdt::PnCounter { .. } => "a counter (integer)",
            Crdt::Text { .. } => "a text (string)",
        }
    }

    /// The value a read returns.
    pub fn value(&self) -> Value {
        match self {
            Crdt::OrSet { tags } => {
                let mut elements: Vec<Value> = tags
                    .iter()
                    .filter(|(_, dots)| !dots.is_empty())
                    .filter_map(|(text, _)| serde_json::from_str(text).ok())
                    .collect();
                elements.sort_by(canonical_cmp);
                Value::Array(elements)
            }
            Crdt::PnCounter { p, n } => {
                let total =
                    i128::from(p.values().sum::<u64>()) - i128::from(n.values().sum::<u64>());
                Value::from(i64::try_from(total).unwrap_or(if total < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                }))
            }
            Crdt::Text { .. } => Value::Null,
        }
    }

    /// The state after a client writes `value` at the origin, with the write's
    /// `dot`, having observed `context`. `current` is the origin's state.
    pub fn local_write(
        current: Option<&Crdt>,
        value: &Value,
        context: &VersionVector,
        dot: &Dot,
    ) -> Result<Crdt, CrdtError> {
        match (value, current) {
            (Value::Array(items), None | Some(Crdt::OrSet { .. })) => {
                let mut tags = match current {
                    Some(Crdt::OrSet { tags }) => tags.clone(),
                    _ => BTreeMap::new(),
                };
                let wanted: BTreeSet<String> = items.iter().map(canonical_text).collect();
                for (element, dots) in tags.iter_mut() {
                    if !wanted.contains(element) {
                        // Observed remove: only the adds the writer saw.
                        dots.retain(|d| !context.covers(d));
                    }
                }
                for element in wanted {
                    let dots = tags.entry(element).or_default();
                    if !dots.iter().any(|d| context.covers(d)) {
                        dots.insert(dot.clone());
                    }
                }
                tags.retain(|_, dots| !dots.is_empty());
                Ok(Crdt::OrSet { tags })
            }
            (Value::Number(n), None | Some(Crdt::PnCounter { .. })) => {
                let Some(target) = n.as_i64() else {
                    return Err(CrdtError::Unsupported(format!("the number {n}")));
                };
                let current_value = current.map_or(0, |c| c.value().as_i64().unwrap_or(0));
                Ok(Crdt::increment(
                    current,
                    &dot.node,
                    i128::from(target) - i128::from(current_value),
                ))
            }
            (Value::Array(_) | Value::Number(_), Some(held)) => Err(CrdtError::TypeMismatch {
                held: held.type_name(),
                wrote: if value.is_array() {
                    "an array"
                } else {
                    "a number"
                },
            }),
            (other, _) => Err(CrdtError::Unsupported(kind_of(other).into())),
        }
    }

    /// The counter after `node` adds `delta`.
    pub fn increment(current: Option<&Crdt>, node: &NodeId, delta: i128) -> Crdt {
        let (mut p, mut n) = match current {
            Some(Crdt::PnCounter { p, n }) => (p.clone(), n.clone()),
            _ => (BTreeMap::new(), BTreeMap::new()),
        };
        let side = if delta >= 0 { &mut p } else { &mut n };
        let amount = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
        let entry = side.entry(node.clone()).or_insert(0);
        *entry = entry.saturating_add(amount);
        Crdt::PnCounter { p, n }
    }

    /// Join `remote` (whose causal context is `remote_ctx`) into `local`
    /// (whose context is `local_ctx`). Different types: the set wins (a
    /// deterministic choice; the workloads never mix types on one key).
    pub fn join(
        local: Option<&Crdt>,
        local_ctx: &VersionVector,
        remote: &Crdt,
        remote_ctx: &VersionVector,
    ) -> Crdt {
        match (local, remote) {
            (None, _) => Crdt::join(Some(&empty_like(remote)), local_ctx, remote, remote_ctx),
            (Some(Crdt::OrSet { tags: a }), Crdt::OrSet { tags: b }) => {
                let mut tags: BTreeMap<String, BTreeSet<Dot>> = BTreeMap::new();
                let elements: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for element in elements {
                    let empty = BTreeSet::new();
                    let (da, db) = (
                        a.get(element).unwrap_or(&empty),
                        b.get(element).unwrap_or(&empty),
                    );
                    let kept: BTreeSet<Dot> = da
                        .iter()
                        .filter(|d| db.contains(d) || !remote_ctx.covers(d))
                        .chain(db.iter().filter(|d| !local_ctx.covers(d)))
                        .cloned()
                        .collect();
                    if !kept.is_empty() {
                        tags.insert(element.clone(), kept);
                    }
                }
                Crdt::OrSet { tags }
            }
            (Some(Crdt::PnCounter { p: pa, n: na }), Crdt::PnCounter { p: pb, n: nb }) => {
                Crdt::PnCounter {
                    p: max_join(pa, pb),
                    n: max_join(na, nb),
                }
            }
            (Some(set @ Crdt::OrSet { .. }), Crdt::PnCounter { .. }) => set.clone(),
            (Some(Crdt::PnCounter { .. }), set @ Crdt::OrSet { .. }) => set.clone(),
            // Text updates are imported into the key's document, not joined.
            (Some(held), Crdt::Text { .. }) => held.clone(),
            (Some(Crdt::Text { .. }), other) => other.clone(),
        }
    }
}

fn empty_like(c: &Crdt) -> Crdt {
    match c {
        Crdt::OrSet { .. } | Crdt::Text { .. } => Crdt::OrSet {
            tags: BTreeMap::new(),
        },
        Crdt::PnCounter { .. } => Crdt::PnCounter {
            p: BTreeMap::new(),
            n: BTreeMap::new(),
        },
    }
}

fn max_join(a: &BTreeMap<NodeId, u64>, b: &BTreeMap<NodeId, u64>) -> BTreeMap<NodeId, u64> {
    let mut out = a.clone();
    for (node, &v) in b {
        let e = out.entry(node.clone()).or_insert(0);
        *e = (*e).max(v);
    }
    out
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dot(n: &str, s: u64) -> Dot {
        Dot {
            node: n.into(),
            seq: s,
        }
    }

    fn vv(entries: &[(&str, u64)]) -> VersionVector {
        VersionVector(entries.iter().map(|(n, s)| (n.to_string(), *s)).collect())
    }

    #[test]
    fn concurrent_add_survives_an_observed_remove() {
        // n1 adds a (n1:1); both sides see it.
        let base = Crdt::local_write(None, &json!(["a"]), &vv(&[]), &dot("n1", 1)).unwrap();
        let ctx = vv(&[("n1", 1)]);
        // n1 removes a; n2 concurrently re-adds a and adds b.
        let removed = Crdt::local_write(Some(&base), &json!([]), &ctx, &dot("n1", 2)).unwrap();
        let added =
            Crdt::local_write(Some(&base), &json!(["a", "b"]), &ctx, &dot("n2", 1)).unwrap();
        // n2's write observed a, so a keeps only its old tag: the remove wins
        // for it, while b (unseen by the remover) survives.
        let ctx1 = vv(&[("n1", 2)]);
        let ctx2 = vv(&[("n1", 1), ("n2", 1)]);
        let x = Crdt::join(Some(&removed), &ctx1, &added, &ctx2);
        let y = Crdt::join(Some(&added), &ctx2, &removed, &ctx1);
        assert_eq!(x, y);
        assert_eq!(x.value(), json!(["b"]));
    }

    #[test]
    fn counter_increments_and_sets_join_by_max() {
        let a = Crdt::increment(None, &"n1".into(), 5);
        let b = Crdt::increment(None, &"n2".into(), -2);
        let j = Crdt::join(Some(&a), &vv(&[]), &b, &vv(&[]));
        assert_eq!(j.value(), json!(3));
        assert_eq!(Crdt::join(Some(&j), &vv(&[]), &a, &vv(&[])), j);
        let set = Crdt::local_write(Some(&j), &json!(10), &vv(&[]), &dot("n1", 3)).unwrap();
        assert_eq!(set.value(), json!(10));
        assert!(Crdt::local_write(Some(&j), &json!("x"), &vv(&[]), &dot("n1", 4)).is_err());
        assert!(Crdt::local_write(Some(&j), &json!([1]), &vv(&[]), &dot("n1", 4)).is_err());
    }
}
