//! What a replica sends each peer: which entries ship to whom, batches
//! bounded by count and bytes, entries loaded back from disk for a peer
//! behind the in-memory window, pipelining and retry backoff.

use super::*;

impl Replica {
    /// Whether `peer` should receive the log entry `change`.
    pub(super) fn ships_to(&self, change: &Change, peer: &NodeId) -> bool {
        // A follower mirrors this node: everything it applied goes out,
        // except what the follower already holds (never the case today,
        // since followers do not write, but the path check costs nothing).
        if self.config.forward_remote || self.config.followers.contains(peer) {
            !change.path.contains(peer)
        } else {
            change.dot.node == self.config.id
        }
    }

    /// The batch for `peer` starting after `after` from `entries` (the
    /// in-memory log's, or entries loaded back from disk): at most
    /// `batch_max` changes, and no more than `batch_bytes_max` encoded bytes
    /// of them unless the first alone is larger. Skipped entries are covered
    /// by `upto` too, so the peer's cursor can reach our log end.
    pub(super) fn batch_from<'a>(
        &self,
        peer: &NodeId,
        after: LogSeq,
        entries: impl Iterator<Item = (LogSeq, &'a Entry)>,
    ) -> Batch {
        let max = self.config.batch_max.max(1);
        let mut changes = Vec::new();
        let mut bytes = 0;
        let mut upto = after;
        for (seq, entry) in entries {
            if self.ships_to(&entry.change, peer) {
                let size = entry.encoded_bytes();
                if !changes.is_empty() && bytes + size > self.config.batch_bytes_max {
                    break;
                }
                bytes += size;
                changes.push(entry.change.clone());
            }
            upto = seq;
            if changes.len() >= max {
                break;
            }
        }
        Batch {
            from: self.config.id.clone(),
            after,
            upto,
            changes,
        }
    }

    /// The shell read back `(after, ..]` for `peer`: send it as the next
    /// batch if the sender still starts there.
    pub(super) fn loaded(
        &mut self,
        now: Nanos,
        peer: NodeId,
        after: LogSeq,
        result: Result<Vec<(LogSeq, Arc<Change>)>, String>,
    ) -> Output {
        let Some(out) = self.outbound.get_mut(&peer) else {
            return Output::default();
        };
        out.loading = false;
        // Entries must continue the peer's stream exactly from `after`.
        let entries: Vec<(LogSeq, Entry)> = match result {
            Ok(entries) => entries
                .into_iter()
                .take_while(|(seq, _)| *seq <= self.durable)
                .zip(after + 1..)
                .take_while(|((seq, _), want)| seq == want)
                .map(|((seq, change), _)| (seq, Entry::new(change)))
                .collect(),
            // Nothing to send; retried after a backoff like a failed send.
            Err(_) => Vec::new(),
        };
        if entries.is_empty() {
            out.load_failed(now, self.config.retry_base_ns, self.config.retry_max_ns);
            return self.pump(now);
        }
        let mut send = Vec::new();
        if out.next == after && out.ready() {
            let batch = self.batch_from(&peer, after, entries.iter().map(|(s, e)| (*s, e)));
            let out = self.outbound.get_mut(&peer).expect("peer");
            out.sent(batch.after, batch.upto, now);
            send.push(Outgoing { peer, batch });
        }
        let mut output = self.pump(now);
        send.append(&mut output.send);
        output.send = send;
        output
    }

    pub(super) fn pipelining(&self) -> Pipelining {
        Pipelining {
            window: self.config.window,
            full: self.config.batch_max as u64,
            linger: self.config.linger_ns,
        }
    }

    /// Everything the senders may send now, and the loads of old log
    /// ranges some of them wait for.
    pub(super) fn pump(&mut self, now: Nanos) -> Output {
        self.trim_log();
        let mut send = Vec::new();
        let mut load = Vec::new();
        let peers: Vec<NodeId> = self.outbound.keys().cloned().collect();
        for peer in peers {
            let rule = self.pipelining();
            while let Some(next) = self.outbound[&peer].want_send(now, self.durable, rule) {
                let batch = match next {
                    NextSend::Probe => {
                        self.outbound.get_mut(&peer).expect("peer").sent_probe();
                        Batch::probe(self.config.id.clone())
                    }
                    NextSend::Range { after } if after < self.log.base() => {
                        // Not in memory any more: ask the shell for it and
                        // send nothing else to this peer until it arrives.
                        self.outbound.get_mut(&peer).expect("peer").loading = true;
                        load.push(LoadRange {
                            peer: peer.clone(),
                            after,
                            upto: self.log.base().min(self.durable),
                        });
                        break;
                    }
                    NextSend::Range { after } => {
                        let entries = self.log.range(after, self.durable);
                        let batch = self.batch_from(&peer, after, entries);
                        self.outbound.get_mut(&peer).expect("peer").sent(
                            batch.after,
                            batch.upto,
                            now,
                        );
                        batch
                    }
                };
                send.push(Outgoing {
                    peer: peer.clone(),
                    batch,
                });
            }
        }
        Output {
            reply: None,
            send,
            persist: Vec::new(),
            load,
        }
    }
}
