//! Pairing each client invoke with its completion.
//!
//! A process has at most one op outstanding, so a completion belongs to the
//! latest open invoke of the same process. Jepsen-style, a process whose op
//! ended in `info` may be reused; and an invoke that never completes (the
//! controller stopped, or the process was abandoned and a new invoke arrived)
//! is indeterminate, exactly like `info`: it may or may not have happened.
//! Nemesis ops are skipped entirely.

use crate::history::OpType;
use crate::model::{COp, FastMap, Hist, NONE};

/// One client operation: positions in [`Hist::ops`] of its invoke and, if it
/// ever arrived, its completion ([`NONE`] otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub invoke: u32,
    pub completion: u32,
}

impl Pair {
    pub fn invoke<'h>(&self, hist: &'h Hist) -> &'h COp {
        &hist.ops[self.invoke as usize]
    }

    pub fn completion<'h>(&self, hist: &'h Hist) -> Option<&'h COp> {
        hist.ops.get(self.completion as usize)
    }

    /// `ok`, `fail`, or `info`; a missing completion counts as `info`.
    pub fn outcome(&self, hist: &Hist) -> OpType {
        self.completion(hist).map_or(OpType::Info, |c| c.kind)
    }

    /// The op's key: the invoke names it; the completion is a fallback.
    pub fn key(&self, hist: &Hist) -> u32 {
        let key = self.invoke(hist).key;
        if key != NONE {
            return key;
        }
        self.completion(hist).map_or(NONE, |c| c.key)
    }

    /// The node the op was sent to (invoke first, completion as fallback).
    pub fn node(&self, hist: &Hist) -> u32 {
        let node = self.invoke(hist).node;
        if node != NONE {
            return node;
        }
        self.completion(hist).map_or(NONE, |c| c.node)
    }

    /// The completion's `index`, or the invoke's if it never completed: the
    /// op's usual witness.
    pub fn witness(&self, hist: &Hist) -> u64 {
        let pos = if self.completion == NONE {
            self.invoke
        } else {
            self.completion
        };
        hist.index_of(pos)
    }

    /// Completion time; `u64::MAX` (never) if it did not complete.
    pub fn end_time(&self, hist: &Hist) -> u64 {
        self.completion(hist).map_or(u64::MAX, |c| c.time)
    }
}

/// A history split into client pairs and the completions that fit none.
#[derive(Debug, Default)]
pub struct Pairing {
    /// Completed ops in completion order, then never-completed invokes in
    /// invoke order.
    pub pairs: Vec<Pair>,
    /// Completions with no open invoke on their process, or whose `f`
    /// differs from the open invoke's: a malformed history. They are left out
    /// of the analyses and reported as a reason the verdict is inconclusive.
    pub orphans: Vec<u32>,
}

/// Pairs a history's client ops; linear, one hash map of open invokes.
pub fn pair(hist: &Hist) -> Pairing {
    let mut open: FastMap<u64, u32> = FastMap::default();
    let mut pairing = Pairing::default();
    pairing.pairs.reserve(hist.ops.len() / 2);
    let mut unfinished = Vec::new();
    for (i, op) in hist.ops.iter().enumerate() {
        if !op.is_client() {
            continue;
        }
        let i = i as u32;
        if op.kind == OpType::Invoke {
            // A new invoke while one is open: the old one was abandoned.
            if let Some(abandoned) = open.insert(op.process, i) {
                unfinished.push(abandoned);
            }
            continue;
        }
        match open.remove(&op.process) {
            Some(invoke) if hist.ops[invoke as usize].f == op.f => pairing.pairs.push(Pair {
                invoke,
                completion: i,
            }),
            Some(invoke) => {
                unfinished.push(invoke);
                pairing.orphans.push(i);
            }
            None => pairing.orphans.push(i),
        }
    }
    unfinished.extend(open.into_values());
    unfinished.sort_unstable();
    pairing
        .pairs
        .extend(unfinished.into_iter().map(|invoke| Pair {
            invoke,
            completion: NONE,
        }));
    pairing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::h;

    fn pairs(hist: &Hist) -> Vec<(u64, Option<u64>)> {
        pair(hist)
            .pairs
            .iter()
            .map(|p| {
                let completion = (p.completion != NONE).then(|| hist.index_of(p.completion));
                (hist.index_of(p.invoke), completion)
            })
            .collect()
    }

    #[test]
    fn completion_pairs_with_its_process_latest_open_invoke() {
        let hist = Hist::from_ops(&h("
            0 1 invoke add k 1
            1 2 invoke add k 2
            2 nemesis info kill
            3 2 ok     add k 2
            4 1 info   add k 1
            5 1 invoke add k 3
            6 1 ok     add k 3
        "));
        assert_eq!(pairs(&hist), [(1, Some(3)), (0, Some(4)), (5, Some(6))]);
    }

    #[test]
    fn abandoned_and_unfinished_invokes_are_indeterminate() {
        let hist = Hist::from_ops(&h("
            0 1 invoke add k 1
            1 1 invoke add k 2
            2 1 ok     add k 2
            3 2 invoke add k 3
        "));
        let pairing = pair(&hist);
        assert_eq!(pairs(&hist), [(1, Some(2)), (0, None), (3, None)]);
        assert_eq!(pairing.pairs[1].outcome(&hist), OpType::Info);
        assert!(pairing.orphans.is_empty());
    }

    #[test]
    fn completions_without_a_matching_invoke_are_orphans() {
        let hist = Hist::from_ops(&h("
            0 1 ok     add k 1
            1 2 invoke add k 2
            2 2 ok     read k [2]
        "));
        let pairing = pair(&hist);
        let orphans: Vec<u64> = pairing.orphans.iter().map(|&o| hist.index_of(o)).collect();
        assert_eq!(orphans, [0, 2]);
        assert_eq!(pairs(&hist), [(1, None)]);
    }
}
