//! Pairing each client invoke with its completion.
//!
//! A process has at most one op outstanding, so a completion belongs to the
//! latest open invoke of the same process. Jepsen-style, a process whose op
//! ended in `info` may be reused; and an invoke that never completes (the
//! controller stopped, or the process was abandoned and a new invoke arrived)
//! is indeterminate, exactly like `info`: it may or may not have happened.
//! Nemesis ops are skipped entirely.

use std::collections::HashMap;

use crate::history::{Op, OpType, Process};

/// One client operation: its invoke and, if it ever arrived, its completion.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
}

impl<'a> Pair<'a> {
    /// `ok`, `fail`, or `info`; a missing completion counts as `info`.
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }

    /// The op's key: the invoke names it; the completion is a fallback.
    pub fn key(&self) -> Option<&'a str> {
        self.invoke
            .key
            .as_deref()
            .or_else(|| self.completion.and_then(|c| c.key.as_deref()))
    }

    /// The node the op was sent to (invoke first, completion as fallback).
    pub fn node(&self) -> Option<&'a str> {
        self.invoke
            .node
            .as_deref()
            .or_else(|| self.completion.and_then(|c| c.node.as_deref()))
    }
}

/// A history split into client pairs and the completions that fit none.
#[derive(Debug, Default)]
pub struct Pairing<'a> {
    /// Completed ops in completion order, then never-completed invokes in
    /// invoke order.
    pub pairs: Vec<Pair<'a>>,
    /// Completions with no open invoke on their process, or whose `f`
    /// differs from the open invoke's: a malformed history. They are left out
    /// of the analyses and reported as a reason the verdict is inconclusive.
    pub orphans: Vec<&'a Op>,
}

/// Pairs a history's client ops; linear, one hash map of open invokes.
pub fn pair(history: &[Op]) -> Pairing<'_> {
    let mut open: HashMap<u64, &Op> = HashMap::new();
    let mut pairing = Pairing::default();
    let mut unfinished = Vec::new();
    for op in history {
        let Process::Client(process) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            // A new invoke while one is open: the old one was abandoned.
            if let Some(abandoned) = open.insert(process, op) {
                unfinished.push(abandoned);
            }
            continue;
        }
        match open.remove(&process) {
            Some(invoke) if invoke.f == op.f => pairing.pairs.push(Pair {
                invoke,
                completion: Some(op),
            }),
            Some(invoke) => {
                unfinished.push(invoke);
                pairing.orphans.push(op);
            }
            None => pairing.orphans.push(op),
        }
    }
    unfinished.extend(open.into_values());
    unfinished.sort_by_key(|op| op.index);
    pairing
        .pairs
        .extend(unfinished.into_iter().map(|invoke| Pair {
            invoke,
            completion: None,
        }));
    pairing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::h;

    fn pairs(history: &[Op]) -> Vec<(u64, Option<u64>)> {
        pair(history)
            .pairs
            .iter()
            .map(|p| (p.invoke.index, p.completion.map(|c| c.index)))
            .collect()
    }

    #[test]
    fn completion_pairs_with_its_process_latest_open_invoke() {
        let history = h("
            0 1 invoke add k 1
            1 2 invoke add k 2
            2 nemesis info kill
            3 2 ok     add k 2
            4 1 info   add k 1
            5 1 invoke add k 3
            6 1 ok     add k 3
        ");
        assert_eq!(pairs(&history), [(1, Some(3)), (0, Some(4)), (5, Some(6))]);
    }

    #[test]
    fn abandoned_and_unfinished_invokes_are_indeterminate() {
        let history = h("
            0 1 invoke add k 1
            1 1 invoke add k 2
            2 1 ok     add k 2
            3 2 invoke add k 3
        ");
        let pairing = pair(&history);
        assert_eq!(pairs(&history), [(1, Some(2)), (0, None), (3, None)]);
        assert_eq!(pairing.pairs[1].outcome(), OpType::Info);
        assert!(pairing.orphans.is_empty());
    }

    #[test]
    fn completions_without_a_matching_invoke_are_orphans() {
        let history = h("
            0 1 ok     add k 1
            1 2 invoke add k 2
            2 2 ok     read k [2]
        ");
        let pairing = pair(&history);
        let orphans: Vec<u64> = pairing.orphans.iter().map(|o| o.index).collect();
        assert_eq!(orphans, [0, 2]);
        assert_eq!(pairs(&history), [(1, None)]);
    }
}
