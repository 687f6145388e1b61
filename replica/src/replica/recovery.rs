//! Rebuilding a replica after a restart (a checkpoint, then the log's
//! records written after it) and keeping its in-memory log to the window
//! every peer still needs.

use super::*;

impl Replica {
    /// Rebuild a replica from its log's records, in log order.
    ///
    /// Every recovered entry is durable (it was read back from disk). The
    /// peers' cursors into our log are not recorded, so each peer is probed
    /// before anything is sent to it.
    pub fn recover(config: Config, records: impl IntoIterator<Item = Record>) -> Self {
        Self::recover_from(config, None, records)
    }

    /// Rebuild a replica from a checkpoint (if any) and the records written
    /// after it. Records of entries the checkpoint covers are skipped, so
    /// replaying more than needed is harmless.
    pub fn recover_from(
        config: Config,
        checkpoint: Option<Checkpoint>,
        records: impl IntoIterator<Item = Record>,
    ) -> Self {
        let mut r = Replica::new(config);
        if let Some(c) = checkpoint {
            r.restore(c);
        }
        for record in records {
            match record {
                Record::Entry { seq, change } => {
                    // The shell appends records in order; an entry that does
                    // not extend the log (duplicate or hole) would misalign
                    // every position after it, so it is skipped.
                    if seq != r.log.end() + 1 {
                        continue;
                    }
                    if change.dot.node == r.config.id {
                        r.write_counter = r.write_counter.max(change.dot.seq);
                        r.last_ts = r.last_ts.max(change.ts);
                        r.note_own(&change);
                    }
                    if r.applied.insert(&change.dot) {
                        r.apply_to_key(&change);
                    }
                    r.append_recovered(change);
                }
                Record::Skipped { seq, change } => {
                    if seq != r.log.end() + 1 {
                        continue;
                    }
                    // Skipped then, skipped now: the key stays as it was.
                    if r.applied.insert(&change.dot) {
                        r.skipped_updates += 1;
                    }
                    r.append_recovered(change);
                }
                Record::Cursor { peer, upto } => r.inbound.restore(&peer, upto),
                Record::Buffered { change } => {
                    if !r.applied.contains(&change.dot) {
                        r.buffer.hold(change, None);
                    }
                }
            }
        }
        r.buffer.drop_applied(&r.applied);
        // Replaying the log is not news: count overtaking from here on.
        r.applied_before_deps = 0;
        r.durable = r.log.end();
        r.trim_log();
        r
    }

    /// Append a replayed entry, keeping no more than the window in memory
    /// (replayed entries are durable: they were read back from disk).
    pub(super) fn append_recovered(&mut self, change: Arc<Change>) {
        self.log.append(change);
        let over = self.log.len().saturating_sub(self.config.log_window_max);
        if over > 0 {
            self.log.truncate_through(self.log.base() + over as LogSeq);
        }
    }

    pub(super) fn restore(&mut self, c: Checkpoint) {
        self.log = Log::starting_after(c.log_end);
        self.write_counter = c.write_counter;
        self.last_ts = c.last_ts;
        self.skipped_updates = c.skipped_updates;
        self.keys = c.keys;
        self.applied = c.applied;
        for (sender, upto) in &c.received {
            self.inbound.restore(sender, *upto);
        }
        for change in c.buffered {
            self.buffer.hold(change, None);
        }
        self.own_max = c.own_max;
    }

    /// The durable state as of the current log end (see [`Checkpoint`]).
    /// Buffered changes are included; the shell must store the checkpoint
    /// only once every record up to here is durable.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            node: self.config.id.clone(),
            log_end: self.log.end(),
            write_counter: self.write_counter,
            last_ts: self.last_ts,
            skipped_updates: self.skipped_updates,
            keys: self.keys.clone(),
            applied: self.applied.clone(),
            received: self.inbound.cursors(),
            buffered: self.buffer.changes().cloned().collect(),
            own_max: self.own_max.clone(),
        }
    }

    /// The largest integer this node itself wrote to `key` (0 if none).
    pub fn own_max(&self, key: &str) -> u64 {
        self.own_max.get(key).copied().unwrap_or(0)
    }

    pub(super) fn note_own(&mut self, change: &Change) {
        let Some(n) = change.value.as_u64() else {
            return;
        };
        // Look up first: the key is cloned only when it is new.
        match self.own_max.get_mut(&change.key) {
            Some(max) => *max = (*max).max(n),
            None => {
                self.own_max.insert(change.key.clone(), n);
            }
        }
    }

    /// Drop from memory what no peer needs from it: everything every peer
    /// acknowledged (with `drop_acked`), and whatever passes the window's
    /// cap. Only durable entries go: a load reads them back from disk.
    pub(super) fn trim_log(&mut self) {
        let mut through = self
            .log
            .end()
            .saturating_sub(self.config.log_window_max as LogSeq);
        if self.config.drop_acked
            && let Some(acked) = self.outbound.values().map(Outbound::confirmed).min()
        {
            through = through.max(acked.unwrap_or(0));
        }
        self.log.truncate_through(through.min(self.durable));
    }
}
