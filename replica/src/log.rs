//! The in-memory window of the replication log: the newest accepted local
//! writes and applied remote changes, in the order this node applied them.
//! Positions are 1-based [`LogSeq`]s; peers' cursors point into it.
//!
//! Only a suffix is kept: entries at or below [`Log::base`] have been
//! dropped from memory (every peer acknowledged them, or the window grew
//! past its cap). They stay in the node's durable log, and a peer that
//! still needs them gets them through a load request the shell serves from
//! its files (see [`LoadRange`](crate::LoadRange)).

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use crate::types::{Change, LogSeq};

/// One entry and, computed on first use, the size of its encoding in a
/// batch (every peer's batch needs it; computing it once per change instead
/// of once per change per peer and resend is what the cache is for).
#[derive(Clone, Debug)]
pub struct Entry {
    pub change: Arc<Change>,
    size: OnceLock<usize>,
}

impl Entry {
    pub fn new(change: Arc<Change>) -> Self {
        Entry {
            change,
            size: OnceLock::new(),
        }
    }

    /// See [`Change::encoded_bytes`].
    pub fn encoded_bytes(&self) -> usize {
        *self.size.get_or_init(|| self.change.encoded_bytes())
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.change == other.change
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    /// Position of the last entry dropped from memory (0: none dropped).
    base: LogSeq,
    entries: VecDeque<Entry>,
}

impl Log {
    /// An empty window starting after `base` (recovery from a checkpoint).
    pub fn starting_after(base: LogSeq) -> Self {
        Log {
            base,
            entries: VecDeque::new(),
        }
    }

    /// Position of the last entry (0 when empty).
    pub fn end(&self) -> LogSeq {
        self.base + self.entries.len() as LogSeq
    }

    /// Entries at or below this position are no longer in memory.
    pub fn base(&self) -> LogSeq {
        self.base
    }

    /// Entries held in memory.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Append `change`, returning its position.
    pub fn append(&mut self, change: Arc<Change>) -> LogSeq {
        self.entries.push_back(Entry::new(change));
        self.end()
    }

    /// Drop the entries at or below `upto` from memory.
    pub fn truncate_through(&mut self, upto: LogSeq) {
        let upto = upto.min(self.end());
        while self.base < upto {
            self.entries.pop_front();
            self.base += 1;
        }
    }

    /// The in-memory entries in `(after, upto]` (clamped to the window),
    /// with positions.
    pub fn range(&self, after: LogSeq, upto: LogSeq) -> impl Iterator<Item = (LogSeq, &Entry)> {
        let upto = upto.min(self.end());
        let start = after.clamp(self.base, upto);
        self.entries
            .range((start - self.base) as usize..(upto - self.base) as usize)
            .zip(start + 1..)
            .map(|(e, s)| (s, e))
    }

    /// The in-memory changes, oldest first.
    pub fn changes(&self) -> impl Iterator<Item = &Arc<Change>> {
        self.entries.iter().map(|e| &e.change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Dot;

    fn change(seq: u64) -> Arc<Change> {
        Arc::new(Change {
            key: "k".into(),
            value: serde_json::json!(seq),
            dot: Dot {
                node: "n1".into(),
                seq,
            },
            ts: seq,
            vv: Default::default(),
            path: vec!["n1".into()],
            uid: 0,
            deps: Default::default(),
            crdt: None,
        })
    }

    #[test]
    fn truncation_keeps_positions() {
        let mut log = Log::default();
        for s in 1..=10 {
            assert_eq!(log.append(change(s)), s);
        }
        log.truncate_through(4);
        assert_eq!((log.base(), log.end(), log.len()), (4, 10, 6));
        let seqs: Vec<_> = log
            .range(2, 7)
            .map(|(s, e)| (s, e.change.dot.seq))
            .collect();
        assert_eq!(seqs, vec![(5, 5), (6, 6), (7, 7)]);
        log.truncate_through(99);
        assert_eq!((log.base(), log.end(), log.len()), (10, 10, 0));
        assert_eq!(log.append(change(11)), 11);
    }
}
