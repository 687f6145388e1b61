//! Changes received before what they depend on, held until it is applied.
//!
//! Two conditions can hold a change back (see [`Replica`](crate::Replica)):
//! - origin order: an origin's earlier writes come first (always: the
//!   sibling strategies need exact causal contexts, and no strategy lets an
//!   origin's later write overtake its earlier one);
//! - causal delivery (`--causal-delivery on`): FIELD's delivery condition,
//!   every dependency in the change's `deps` has been applied.
//!
//! Buffered changes are persisted as [`Record::Buffered`](crate::Record)
//! (the receive cursor has moved past them, so the sender will not resend
//! them) and rebuilt on recovery. One that waits longer than the configured
//! bound is reported as stuck.

use std::collections::BTreeMap;

use crate::dots::AppliedDots;
use crate::types::{Change, Dot, Nanos};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buffer {
    /// dot -> (change, when it was buffered; `None` after recovery until
    /// the next step).
    waiting: BTreeMap<Dot, (Change, Option<Nanos>)>,
}

/// Which conditions a change must meet before it is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conditions {
    pub origin_order: bool,
    pub causal: bool,
}

impl Conditions {
    /// Whether every dependency `change` names has been applied.
    pub fn deps_met(change: &Change, applied: &AppliedDots) -> bool {
        change.deps.0.iter().all(|(node, &n)| {
            // The origin's own entry is its previous write: origin order.
            let needed = if *node == change.dot.node {
                n.min(change.dot.seq.saturating_sub(1))
            } else {
                n
            };
            applied.contiguous(node) >= needed
        })
    }

    /// Whether `change` may be applied now.
    pub fn deliverable(self, change: &Change, applied: &AppliedDots) -> bool {
        let in_order = applied.contiguous(&change.dot.node) + 1 >= change.dot.seq;
        (!self.origin_order || in_order) && (!self.causal || Self::deps_met(change, applied))
    }
}

impl Buffer {
    pub fn contains(&self, dot: &Dot) -> bool {
        self.waiting.contains_key(dot)
    }

    /// Hold `change` (received at `now`, or recovered when `None`).
    pub fn hold(&mut self, change: Change, now: Option<Nanos>) {
        self.waiting
            .entry(change.dot.clone())
            .or_insert((change, now));
    }

    /// Forget buffered changes that were applied (recovery).
    pub fn drop_applied(&mut self, applied: &AppliedDots) {
        self.waiting.retain(|dot, _| !applied.contains(dot));
    }

    /// Stamp recovered changes with the first time seen after recovery.
    pub fn stamp(&mut self, now: Nanos) {
        for (_, since) in self.waiting.values_mut() {
            since.get_or_insert(now);
        }
    }

    /// Take one change that may be applied now, if any.
    pub fn take_deliverable(&mut self, when: Conditions, applied: &AppliedDots) -> Option<Change> {
        let dot = self
            .waiting
            .iter()
            .find(|(_, (c, _))| when.deliverable(c, applied))
            .map(|(d, _)| d.clone())?;
        self.waiting.remove(&dot).map(|(c, _)| c)
    }

    /// The changes held, for a checkpoint.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.waiting.values().map(|(c, _)| c)
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Changes buffered for longer than `bound_ns` at `now`.
    pub fn stuck(&self, now: Nanos, bound_ns: Nanos) -> Vec<&Change> {
        self.waiting
            .values()
            .filter(|(_, since)| since.is_some_and(|s| now.saturating_sub(s) > bound_ns))
            .map(|(c, _)| c)
            .collect()
    }
}
