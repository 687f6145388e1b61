//! One simulated reference node: the replica core, the records it has
//! persisted (its "disk", in memory), and its process state (running,
//! paused, crashed, held down).
//!
//! A step persists the output's records on the disk at once and feeds
//! `Persisted` back, as the node's shell does once its log writer reports
//! them durable (`--fsync always`: a reply is released only then, so in the
//! simulation every acknowledged record is on the disk). A crash drops the
//! core; a restart rebuilds it with [`Replica::recover`] from the disk's
//! records, the same replay `diverge node` does from its log file, with
//! the clock offset and the issued-ids memory of the process gone.

use std::collections::HashMap;

use std::sync::Arc;

use diverge_replica::{
    Change, Config, Input, LoadRange, LogSeq, Nanos, Outgoing, Output, Record, Replica, Reply,
    Status,
};

use crate::node::args::IdSequence;
use crate::node::log::max_entry_seq;

pub struct SimNode {
    pub id: String,
    config: Config,
    pub ids: IdSequence,
    /// `None` while crashed.
    core: Option<Replica>,
    disk: Vec<Record>,
    /// Bumped by every crash and restart: an answer addressed to an earlier
    /// incarnation is dropped, as its connection died with it.
    pub incarnation: u64,
    pub paused: bool,
    /// Killed for the rest of the run (`--down`, hold-down): never restarted.
    pub held_down: bool,
    /// The compound ops' memory of the ids this process issued.
    pub issued_ids: HashMap<String, u64>,
}

impl SimNode {
    pub fn new(config: Config, ids: IdSequence) -> SimNode {
        SimNode {
            id: config.id.clone(),
            core: Some(Replica::new(config.clone())),
            config,
            ids,
            disk: Vec::new(),
            incarnation: 0,
            paused: false,
            held_down: false,
            issued_ids: HashMap::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.core.is_some()
    }

    /// Serving requests: up and not paused.
    pub fn is_running(&self) -> bool {
        self.is_up() && !self.paused
    }

    /// Step the core (which must be up) with `input`: its reply and the
    /// batches to send, once its records are on the disk.
    pub fn step(&mut self, now: Nanos, input: Input) -> (Option<Reply>, Vec<Outgoing>) {
        let core = self.core.as_mut().expect("stepping a crashed node");
        let output = core.step(now, input);
        self.absorb(now, vec![output])
    }

    /// Persist every output's records, report them durable to the core, and
    /// return the first output's reply and every batch to send.
    pub fn absorb(&mut self, now: Nanos, outputs: Vec<Output>) -> (Option<Reply>, Vec<Outgoing>) {
        let mut reply = None;
        let mut send = Vec::new();
        let mut loads = Vec::new();
        let mut upto = 0;
        for output in outputs {
            reply = reply.or(output.reply);
            send.extend(output.send);
            loads.extend(output.load);
            upto = upto.max(max_entry_seq(&output.persist));
            self.disk.extend(output.persist);
        }
        if upto > 0 {
            let core = self.core.as_mut().expect("absorbing on a crashed node");
            let persisted = core.step(now, Input::Persisted { upto });
            send.extend(persisted.send);
            loads.extend(persisted.load);
            self.disk.extend(persisted.persist);
        }
        // Old log ranges a peer needs are read back from the disk at once,
        // as `diverge node` reads them from its segment files.
        while let Some(range) = loads.pop() {
            let result = Ok(self.read_back(&range));
            let core = self.core.as_mut().expect("absorbing on a crashed node");
            let loaded = core.step(
                now,
                Input::Loaded {
                    peer: range.peer,
                    after: range.after,
                    result,
                },
            );
            send.extend(loaded.send);
            loads.extend(loaded.load);
            self.disk.extend(loaded.persist);
        }
        (reply, send)
    }

    /// The disk's log entries in `range`, as many as a node reads at once.
    fn read_back(&self, range: &LoadRange) -> Vec<(LogSeq, Arc<Change>)> {
        self.disk
            .iter()
            .filter_map(|r| match r {
                Record::Entry { seq, change } | Record::Skipped { seq, change } => {
                    Some((*seq, change.clone()))
                }
                _ => None,
            })
            .filter(|(seq, _)| range.after < *seq && *seq <= range.upto)
            .take(crate::node::shell::LOAD_MOST)
            .collect()
    }

    /// The running core, for compound steps and clock faults.
    pub fn core(&mut self) -> Option<&mut Replica> {
        self.core.as_mut()
    }

    pub fn status(&self) -> Option<Status> {
        self.core.as_ref().map(Replica::status)
    }

    /// SIGKILL: the process and everything in its memory are gone.
    pub fn crash(&mut self) {
        self.core = None;
        self.paused = false;
        self.issued_ids.clear();
        self.incarnation += 1;
    }

    /// Start again from the records on the disk.
    pub fn restart(&mut self) {
        self.core = Some(Replica::recover(self.config.clone(), self.disk.clone()));
        self.incarnation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diverge_replica::{Batch, StrategyKind};
    use serde_json::json;

    fn write(node: &mut SimNode, now: Nanos, key: &str, value: i64) -> Vec<Outgoing> {
        let input = Input::Write {
            key: key.into(),
            value: json!(value),
            context: None,
            entropy: 0,
        };
        let (reply, send) = node.step(now, input);
        assert!(matches!(reply, Some(Reply::Written { .. })), "{reply:?}");
        send
    }

    #[test]
    fn a_restart_replays_the_records_to_the_state_before_the_crash() {
        let config = Config::new("n1", vec!["n2".into()], StrategyKind::Lww);
        let ids = IdSequence { step: 1, offset: 1 };
        let mut node = SimNode::new(config.clone(), ids);
        write(&mut node, 10, "a", 1);
        write(&mut node, 20, "b", 2);
        // A change from the peer, applied and logged with its cursor.
        let mut peer = Replica::new(Config::new("n2", vec!["n1".into()], StrategyKind::Lww));
        peer.step(
            15,
            Input::Write {
                key: "a".into(),
                value: json!(3),
                context: None,
                entropy: 0,
            },
        );
        let batch = Batch {
            from: "n2".into(),
            after: 0,
            upto: 1,
            changes: peer.log().to_vec(),
        };
        node.step(30, Input::Receive(batch));
        let before = node.core().unwrap().snapshot();
        let incarnation = node.incarnation;

        node.crash();
        assert!(!node.is_up() && node.status().is_none());
        node.restart();
        assert_eq!(node.core().unwrap().snapshot(), before);
        assert_eq!(node.incarnation, incarnation + 2);
        // It goes on from where it was: the next write has the next dot.
        write(&mut node, 40, "c", 4);
        let log = node.core().unwrap().snapshot().log;
        assert_eq!(log.len(), before.log.len() + 1);
        assert_eq!(log.last().unwrap().dot.seq, 3);
    }

    #[test]
    fn a_peer_behind_the_in_memory_window_is_served_from_the_disk() {
        let mut config = Config::new("n1", vec!["n2".into()], StrategyKind::Lww);
        config.log_window_max = 2;
        let mut node = SimNode::new(config, IdSequence { step: 1, offset: 1 });
        for i in 0..5 {
            write(&mut node, i, "k", i as i64);
        }
        node.step(10, Input::Tick); // the probe
        let answer = Input::Delivered {
            peer: "n2".into(),
            after: 0,
            upto: 0,
            result: Ok(0),
        };
        let (_, send) = node.step(11, answer);
        let ranges: Vec<_> = send
            .iter()
            .map(|o| (o.batch.after, o.batch.upto, o.batch.changes.len()))
            .collect();
        assert_eq!(ranges, vec![(0, 3, 3)], "entries 1..=3 left memory");
    }
}
