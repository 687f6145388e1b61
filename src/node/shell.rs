//! The shell around the core: the one lock that orders every step, the log
//! the step's records go to, and the dispatch of the batches it asks to send.
//!
//! Every input goes through [`Node::step`]: under the core's lock it reads
//! the clock, steps the core and queues the output's records on the log
//! writer (so the log's order is the core's order), then hands the outgoing
//! batches to the [`Replicator`]. [`Node::request`] additionally waits until
//! the records are durable before releasing the reply. Under the same lock
//! it takes a checkpoint when one is due ([`Checkpoints`]); log ranges the
//! core no longer holds in memory are read back from the segments in a
//! blocking task and fed back as [`Input::Loaded`].

use std::sync::{Arc, Mutex, MutexGuard};

use diverge_replica::{Input, LoadRange, NodeId, Record, Replica, Reply, Status};

use super::args::IdSequence;
use super::checkpoint::Checkpoints;
use super::clock::Clock;
use super::log::{Durable, LogError, LogWriter};
use super::replicator::Replicator;

/// Exit code when the log cannot be written: the node stops rather than
/// acknowledge what it cannot make durable.
pub const EXIT_LOG_FAILED: i32 = 3;
/// Most entries read back from the segments for one load: several batches'
/// worth (the core sends one batch from them and asks again for the rest).
pub const LOAD_MOST: usize = 4096;

/// Exit code after an internal panic (fail-stop; the core's state is suspect).
pub const EXIT_PANIC: i32 = 101;

/// One running node's shared state.
pub struct Node {
    id: NodeId,
    core: Mutex<Replica>,
    log: LogWriter,
    clock: Clock,
    replicator: Replicator,
    checkpoints: Checkpoints,
    /// Where the log's segments are (old ranges are read back from there).
    data_dir: std::path::PathBuf,
    /// How `POST /ids/{key}` hands out auto-increment ids.
    pub ids: IdSequence,
    /// sequence -> the largest id this node has issued (ids never go back).
    pub issued_ids: Mutex<std::collections::HashMap<String, u64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("the core gave no reply to a request")]
    NoReply,
    #[error("the node is shutting down")]
    ShuttingDown,
    /// A compound write (`/ids`, `/claim`) at a node that accepts no writes.
    #[error("{node} is a follower and refuses writes; write to the leader {leader}")]
    NotLeader { node: NodeId, leader: NodeId },
}

impl Node {
    pub fn new(
        core: Replica,
        log: LogWriter,
        replicator: Replicator,
        ids: IdSequence,
        checkpoints: Checkpoints,
        data_dir: std::path::PathBuf,
    ) -> Arc<Node> {
        Arc::new(Node {
            ids,
            checkpoints,
            data_dir,
            issued_ids: Mutex::new(std::collections::HashMap::new()),
            id: core.id().clone(),
            core: Mutex::new(core),
            log,
            clock: Clock::new(),
            replicator,
        })
    }

    pub fn id(&self) -> &NodeId {
        &self.id
    }

    pub fn log(&self) -> &LogWriter {
        &self.log
    }

    fn lock_core(&self) -> MutexGuard<'_, Replica> {
        match self.core.lock() {
            Ok(guard) => guard,
            Err(_) => {
                tracing::error!("the core's lock is poisoned by an earlier panic; stopping");
                std::process::exit(EXIT_PANIC);
            }
        }
    }

    /// Step the core with `input` now: queue its records on the log, send
    /// its batches. Returns the reply (not yet releasable) and when the
    /// records (and everything queued before them) are durable.
    pub fn step(self: &Arc<Self>, input: Input) -> (Option<Reply>, Durable) {
        let (output, durable) = {
            let mut core = self.lock_core();
            // Taken before the step moves the input; a read changes nothing
            // the position depends on.
            let read_depends_on = match &input {
                Input::Read { key } => Some(core.read_depends_on(key)),
                _ => None,
            };
            let mut output = core.step(self.clock.now_ns(), input);
            self.log_skipped(&output.persist);
            let durable = match read_depends_on {
                // A read waits until what it shows is durable (often it
                // already is), but never queues anything on the log.
                Some(seq) => self.log.durable_through(seq),
                None => self.log.append(std::mem::take(&mut output.persist)),
            };
            self.checkpoints.maybe_take(&core, &self.log);
            (output, durable)
        };
        for outgoing in output.send {
            self.replicator.send(self, outgoing);
        }
        for range in output.load {
            self.load(range);
        }
        (output.reply, durable)
    }

    /// Run `steps` on the core under its lock, as one atomic operation (a
    /// read and the write it decides, e.g.), then queue every record, send
    /// every batch, and wait until the records are durable.
    pub async fn atomically<T>(
        self: &Arc<Self>,
        steps: impl FnOnce(&mut Replica, diverge_replica::Nanos) -> (T, Vec<diverge_replica::Output>),
    ) -> Result<T, StepError> {
        let (result, sends, loads, durable) = {
            let mut core = self.lock_core();
            let (result, outputs) = steps(&mut core, self.clock.now_ns());
            let mut records = Vec::new();
            let mut sends = Vec::new();
            let mut loads = Vec::new();
            for output in outputs {
                self.log_skipped(&output.persist);
                records.extend(output.persist);
                sends.extend(output.send);
                loads.extend(output.load);
            }
            let durable = self.log.append(records);
            self.checkpoints.maybe_take(&core, &self.log);
            (result, sends, loads, durable)
        };
        for outgoing in sends {
            self.replicator.send(self, outgoing);
        }
        for range in loads {
            self.load(range);
        }
        match durable.wait().await {
            Ok(()) => Ok(result),
            Err(LogError::Stopped) => Err(StepError::ShuttingDown),
            Err(e) => fail_stop(&e),
        }
    }

    /// Step the core with a request and release its reply once durable.
    pub async fn request(self: &Arc<Self>, input: Input) -> Result<Reply, StepError> {
        let (reply, durable) = self.step(input);
        match durable.wait().await {
            Ok(()) => {}
            Err(LogError::Stopped) => return Err(StepError::ShuttingDown),
            Err(e) => fail_stop(&e),
        }
        reply.ok_or(StepError::NoReply)
    }

    /// Read `range` back from the log's segments in a blocking task and
    /// feed it to the core (which always gets an answer: its sender to the
    /// peer waits for it).
    fn load(self: &Arc<Self>, range: LoadRange) {
        let node = self.clone();
        tokio::spawn(async move {
            let dir = node.data_dir.clone();
            let (after, upto) = (range.after, range.upto);
            let read = tokio::task::spawn_blocking(move || {
                super::log::segments::read_range(&dir, after, upto, LOAD_MOST)
            })
            .await;
            let result = match read {
                Ok(Ok(entries)) => Ok(entries),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(reason) = &result {
                tracing::warn!(peer = %range.peer, after, upto, %reason, "could not read a log range back");
            }
            let input = Input::Loaded {
                peer: range.peer,
                after,
                result,
            };
            let (_, _durable) = node.step(input);
        });
    }

    /// Say so in the node log for every update the core skipped: it is a
    /// lost write, and the operator of a real system would find it there.
    fn log_skipped(&self, records: &[Record]) {
        for record in records {
            if let Record::Skipped { seq, change } = record {
                tracing::warn!(
                    node = %self.id,
                    key = %change.key,
                    origin = %change.dot.node,
                    origin_seq = change.dot.seq,
                    log_seq = seq,
                    "skipped an update of a key this node holds no version of (its insert has not \
                     arrived; causal delivery is off): the update is lost here, as PostgreSQL \
                     logical replication skips an UPDATE of a missing row"
                );
            }
        }
    }

    /// Shift the clock the core's strategy uses (clock faults).
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.lock_core()
            .set_clock_offset_ns(offset_ms.saturating_mul(1_000_000));
    }

    /// Buffered changes waiting longer than the stuck bound.
    pub fn stuck(&self) -> Vec<(diverge_replica::Dot, diverge_replica::VersionVector)> {
        self.lock_core().stuck()
    }

    pub fn status(&self) -> Status {
        self.lock_core().status()
    }
}

/// The log cannot make writes durable any more: stop the process rather
/// than acknowledge them.
fn fail_stop(e: &LogError) -> ! {
    tracing::error!(error = %e, "the log failed; stopping the node");
    std::process::exit(EXIT_LOG_FAILED);
}
