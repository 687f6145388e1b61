//! The in-memory replication log: every accepted local write and every
//! applied remote change, in the order this node applied them. Positions are
//! 1-based [`LogSeq`]s; peers' cursors point into it.
//!
//! The whole log is kept in memory for now: it is what peers are served
//! from, and it is rebuilt from the durable records on recovery. Truncating
//! the prefix every peer has acknowledged is future work.

use std::sync::Arc;

use crate::types::{Change, LogSeq};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    entries: Vec<Arc<Change>>,
}

impl Log {
    /// Position of the last entry (0 when empty).
    pub fn end(&self) -> LogSeq {
        self.entries.len() as LogSeq
    }

    /// Append `change`, returning its position.
    pub fn append(&mut self, change: Arc<Change>) -> LogSeq {
        self.entries.push(change);
        self.end()
    }

    /// The entries in `(after, upto]` (clamped to the log), with positions.
    pub fn range(
        &self,
        after: LogSeq,
        upto: LogSeq,
    ) -> impl Iterator<Item = (LogSeq, &Arc<Change>)> {
        let upto = upto.min(self.end());
        let start = after.min(upto);
        self.entries[start as usize..upto as usize]
            .iter()
            .zip(start + 1..)
            .map(|(c, s)| (s, c))
    }

    pub fn entries(&self) -> &[Arc<Change>] {
        &self.entries
    }
}
