//! Receive cursors: how far each sender's stream has been received
//! contiguously.
//!
//! Batches can arrive out of order (several are in flight per peer and HTTP
//! requests race), so a batch that starts beyond the cursor is remembered as
//! a pending range and absorbed once the hole before it fills. Only the
//! contiguous cursor is persisted: pending ranges are an optimisation, and
//! losing them on a crash only costs a resend (changes are deduplicated by
//! dot anyway).

use std::collections::BTreeMap;

use crate::types::{LogSeq, NodeId};

/// Most out-of-order ranges remembered per sender. A well-behaved sender has
/// at most `window` batches in flight; the cap only bounds memory against a
/// misbehaving one (dropping a range just makes the sender resend it).
const MAX_PENDING: usize = 1024;

/// One sender's cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxCursor {
    /// Everything in `(0, upto]` of the sender's log has been received.
    pub upto: LogSeq,
    /// Received ranges beyond `upto`: after -> upto.
    pending: BTreeMap<LogSeq, LogSeq>,
    /// Batches that arrived before one they follow (a later change
    /// overtook an earlier one on the way).
    pub out_of_order: u64,
}

impl RxCursor {
    /// Account for a received range `(after, upto]`; true if the contiguous
    /// cursor advanced.
    pub fn accept(&mut self, after: LogSeq, upto: LogSeq) -> bool {
        let before = self.upto;
        if after <= self.upto {
            self.upto = self.upto.max(upto);
            // Absorb remembered ranges that now connect (or are covered).
            while let Some((&a, &u)) = self.pending.first_key_value() {
                if a > self.upto {
                    break;
                }
                self.pending.remove(&a);
                self.upto = self.upto.max(u);
            }
        } else if upto > after {
            self.out_of_order += 1;
            let e = self.pending.entry(after).or_insert(upto);
            *e = (*e).max(upto);
            if self.pending.len() > MAX_PENDING {
                self.pending.pop_last();
            }
        }
        self.upto > before
    }

    #[cfg(test)]
    pub fn pending_ranges(&self) -> usize {
        self.pending.len()
    }
}

/// Cursors of every sender we have heard from (which need not be the peers
/// we send to: in a ring we receive from one neighbour and send to another).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inbound {
    senders: BTreeMap<NodeId, RxCursor>,
}

impl Inbound {
    pub fn cursor(&self, sender: &str) -> LogSeq {
        self.senders.get(sender).map_or(0, |c| c.upto)
    }

    /// See [`RxCursor::accept`].
    pub fn accept(&mut self, sender: &NodeId, after: LogSeq, upto: LogSeq) -> bool {
        self.senders
            .entry(sender.clone())
            .or_default()
            .accept(after, upto)
    }

    /// How many batches from `sender` arrived out of order.
    pub fn out_of_order(&self, sender: &str) -> u64 {
        self.senders.get(sender).map_or(0, |c| c.out_of_order)
    }

    /// Restore a persisted cursor (recovery).
    pub fn restore(&mut self, sender: &NodeId, upto: LogSeq) {
        let c = self.senders.entry(sender.clone()).or_default();
        c.upto = c.upto.max(upto);
    }

    /// sender -> contiguous cursor.
    pub fn cursors(&self) -> BTreeMap<NodeId, LogSeq> {
        self.senders
            .iter()
            .map(|(n, c)| (n.clone(), c.upto))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_ranges_connect() {
        let mut c = RxCursor::default();
        assert!(!c.accept(5, 8));
        assert!(!c.accept(8, 10));
        assert_eq!(c.upto, 0);
        assert_eq!(c.pending_ranges(), 2);
        assert!(c.accept(0, 5));
        assert_eq!(c.upto, 10);
        assert_eq!(c.pending_ranges(), 0);
        // A resend of an old range does not move the cursor.
        assert!(!c.accept(2, 4));
        assert_eq!(c.upto, 10);
        // A probe does nothing.
        assert!(!c.accept(0, 0));
    }
}
