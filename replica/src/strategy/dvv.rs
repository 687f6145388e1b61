//! Sibling-keeping strategies on dotted version vectors: `siblings`,
//! `merge`, `unique-id`, `priority` and `custom`.
//!
//! Every version of a key has a dot (its write's identity) and the change
//! carries the writer's causal context (what it read). Applying a change
//! removes exactly the versions whose dots that context covers, and adds the
//! change's version unless the key's context already covers its dot (a write
//! that saw it superseded it). The surviving set is the changes no other
//! applied change saw, whatever the delivery order, so replicas converge.
//! Contexts are exact because the core applies each origin's changes in the
//! origin's order (for every strategy).
//!
//! What a read returns is where the strategies differ: `siblings` (and
//! `custom` without an on-write handler) returns every version; the others
//! return one value computed from the whole sibling set, a pure function of
//! it, so that it converges too:
//! - `unique-id`: the version with the highest random 64-bit id;
//! - `priority`: the version whose origin has the highest priority;
//! - `merge`: the merge of every version ([`super::merge`]);
//! - `custom`: the on-write handler's choice, or LWW among the versions if
//!   the handler fails.

use std::sync::Arc;

use serde_json::Value;

use super::lww::lww_order;
use super::merge::merge_values;
use super::{Handler, KeyState, Strategy, StrategyKind, Version};
use crate::types::{Change, NodeId};

/// How a sibling set is presented to readers.
#[derive(Debug, Clone)]
pub enum Resolve {
    /// Every sibling.
    All,
    UniqueId,
    /// Node ids, highest priority first; unlisted nodes rank below, higher
    /// node number first.
    Priority(Vec<NodeId>),
    Merge,
    Custom(Arc<dyn Handler>),
}

#[derive(Debug, Clone)]
pub struct Dvv {
    pub kind: StrategyKind,
    pub resolve: Resolve,
}

impl Strategy for Dvv {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    /// The single-value presentations (one winner, others hidden) refuse a
    /// stale context like LWW does; `siblings` and `merge` keep the unseen
    /// versions instead.
    fn refuses_stale_writes(&self) -> bool {
        matches!(
            self.resolve,
            Resolve::UniqueId | Resolve::Priority(_) | Resolve::Custom(_)
        )
    }

    fn writes_with_client_context(&self) -> bool {
        true
    }

    fn apply(&self, state: &mut KeyState, change: &Change) {
        let superseded = state.vv.covers(&change.dot);
        state.versions.retain(|v| !change.vv.covers(&v.dot));
        if !superseded {
            state.versions.push(Version::of(change));
            state.versions.sort_by(|a, b| a.dot.cmp(&b.dot));
        }
        if let Resolve::Custom(handler) = &self.resolve {
            state.resolved = (state.versions.len() > 1).then(|| {
                handler
                    .resolve(&change.key, &state.versions)
                    .unwrap_or_else(|_| lww_winner(&state.versions).value.clone())
            });
        }
    }

    fn read(&self, state: &KeyState) -> Vec<Value> {
        let versions = &state.versions;
        if versions.is_empty() {
            return Vec::new();
        }
        let one = match &self.resolve {
            Resolve::All => return versions.iter().map(|v| v.value.clone()).collect(),
            Resolve::UniqueId => max_by_key(versions, |v| (v.uid, v.dot.clone()))
                .value
                .clone(),
            Resolve::Priority(order) => max_by_key(versions, |v| {
                (priority_rank(order, &v.dot.node), v.ts, v.dot.seq)
            })
            .value
            .clone(),
            Resolve::Merge => {
                let values: Vec<Value> = versions.iter().map(|v| v.value.clone()).collect();
                merge_values(&values).unwrap_or(Value::Null)
            }
            Resolve::Custom(_) => match &state.resolved {
                Some(v) if versions.len() > 1 => v.clone(),
                _ => versions[0].value.clone(),
            },
        };
        vec![one]
    }
}

fn max_by_key<K: Ord>(versions: &[Version], key: impl Fn(&Version) -> K) -> &Version {
    versions
        .iter()
        .max_by_key(|v| key(v))
        .expect("non-empty versions")
}

/// The LWW winner among siblings (the custom strategy's fallback).
pub fn lww_winner(versions: &[Version]) -> &Version {
    max_by_key(versions, |v| {
        (
            lww_order(v.ts, &v.dot.node).0,
            v.dot.node.clone(),
            v.dot.seq,
        )
    })
}

/// Rank of `node` (higher wins): listed nodes above unlisted ones, earlier
/// in the list higher; unlisted by the number their id ends with, then id.
pub fn priority_rank(order: &[NodeId], node: &NodeId) -> (u8, i64, NodeId) {
    match order.iter().position(|n| n == node) {
        Some(i) => (1, -(i as i64), String::new()),
        None => (0, trailing_number(node), node.clone()),
    }
}

fn trailing_number(id: &str) -> i64 {
    let digits: String = id
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_ranks_listed_first_then_higher_numbers() {
        let order = vec!["n3".to_string(), "n1".to_string()];
        let r = |n: &str| priority_rank(&order, &n.to_string());
        assert!(r("n3") > r("n1"));
        assert!(r("n1") > r("n2"));
        let none: Vec<NodeId> = Vec::new();
        let d = |n: &str| priority_rank(&none, &n.to_string());
        assert!(d("n10") > d("n9"));
        assert!(d("n2") > d("n1"));
    }
}
