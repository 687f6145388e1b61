//! The node's durable replication log: segment files in the data directory
//! (`replication.log`, then `replication.<START>.log`; see [`segments`]).
//!
//! Every [`Record`] the core asks to persist is appended as one frame:
//!
//! ```text
//! [u32 LE payload length][u32 LE crc32 of payload][payload = the record as JSON]
//! ```
//!
//! [`open`] reads every valid frame of one segment back; [`open_dir`] the
//! segments a restart needs. A torn or corrupt tail (short
//! header, short payload, crc mismatch, undecodable JSON) is cut off: the file
//! is truncated to the end of the last good frame and a warning is logged.
//! Recovery never fails on the file's contents, only on I/O errors.
//!
//! The file is preallocated: the writer extends it with zeros
//! [`PREALLOC_BYTES`] at a time and writes frames over them, so an fsync
//! flushes data only and never a change of the file's size (on ext4 that
//! saves a journal commit per fsync, as PostgreSQL's zero-filled WAL
//! segments do). A frame never has length 0, so a zero header ends the log:
//! a crash leaves zeros after the last frame, which recovery cuts off
//! without a warning, and a clean close truncates them itself.
//!
//! Writes go through a [`LogWriter`]: one dedicated thread owns the file and
//! commits in groups. In [`FsyncMode::Always`] it drains everything queued,
//! writes it in one go, fsyncs once and then completes every waiter of the
//! group. In [`FsyncMode::Never`] appends are acknowledged at once, buffered
//! in user space and written to the OS every [`NEVER_FLUSH_INTERVAL`] (so a
//! SIGKILL loses acknowledged writes: that is the point of the mode). Either
//! way the highest entry seq that reached the file (fsynced in `always`) is
//! published on a watch channel, see [`LogWriter::persisted`].

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diverge_replica::{LogSeq, Record};
use tokio::sync::{mpsc as tokio_mpsc, oneshot, watch};

/// Name of the log's first segment inside the node's data directory (the
/// whole log, before segments).
pub const LOG_FILE_NAME: &str = "replication.log";

mod replay;
pub mod segments;

pub use replay::Replay;

/// How often buffered appends reach the OS in [`FsyncMode::Never`].
pub const NEVER_FLUSH_INTERVAL: Duration = Duration::from_millis(50);

const HEADER_BYTES: usize = 8;

/// How much the writer extends the file by, with zeros, when a group would
/// pass its end (see the module docs).
pub const PREALLOC_BYTES: u64 = 8 * 1024 * 1024;

/// When an append counts as durable (`--fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncMode {
    /// Fsync each group of appends before acknowledging it.
    Always,
    /// Acknowledge at once; write to the OS every 50 ms; never fsync.
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The writer thread hit an I/O error earlier; nothing is durable any more.
    #[error("log writer failed: {0}")]
    Failed(String),
    #[error("log writer has stopped")]
    Stopped,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Append one record's frame to `buf`.
pub fn encode_frame(record: &Record, buf: &mut Vec<u8>) {
    let payload = serde_json::to_vec(record).expect("records always serialize");
    let len = u32::try_from(payload.len()).expect("a record is smaller than 4 GiB");
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
}

/// Why decoding stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailProblem {
    ShortHeader,
    ShortPayload { len: usize, available: usize },
    CrcMismatch,
    BadJson(String),
}

/// The valid frames of a log image.
#[derive(Debug)]
pub struct Decoded {
    pub records: Vec<Record>,
    /// Byte length of the valid prefix.
    pub good_len: usize,
    /// Set when bytes past `good_len` were neither a valid frame nor
    /// preallocated zeros.
    pub problem: Option<TailProblem>,
}

/// Decode frames from the start of `bytes` until the end or the first bad frame.
pub fn decode_frames(bytes: &[u8]) -> Decoded {
    let mut records = Vec::new();
    let mut at = 0;
    let problem = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        if (rest.len() < HEADER_BYTES || rest[..4] == [0; 4]) && rest.iter().all(|&b| b == 0) {
            // Preallocated space (no frame has length 0): the log ends here.
            break None;
        }
        if rest.len() < HEADER_BYTES {
            break Some(TailProblem::ShortHeader);
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let available = rest.len() - HEADER_BYTES;
        if available < len {
            break Some(TailProblem::ShortPayload { len, available });
        }
        let payload = &rest[HEADER_BYTES..HEADER_BYTES + len];
        if crc32fast::hash(payload) != crc {
            break Some(TailProblem::CrcMismatch);
        }
        match serde_json::from_slice::<Record>(payload) {
            Ok(record) => records.push(record),
            Err(e) => break Some(TailProblem::BadJson(e.to_string())),
        }
        at += HEADER_BYTES + len;
    };
    Decoded {
        records,
        good_len: at,
        problem,
    }
}

/// Highest entry seq among `records` (0 if none).
pub fn max_entry_seq<'a>(records: impl IntoIterator<Item = &'a Record>) -> LogSeq {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Entry { seq, .. } | Record::Skipped { seq, .. } => Some(*seq),
            Record::Cursor { .. } | Record::Buffered { .. } => None,
        })
        .max()
        .unwrap_or(0)
}

/// Read the log at `path` (creating it if absent), cut off a bad tail (or
/// preallocated zeros), and return the file, ending at its last frame, with
/// the records it holds.
pub fn recover(path: &Path) -> Result<(File, Vec<Record>), LogError> {
    let existed = path.exists();
    // Not O_APPEND: the writer writes frames over preallocated zeros at
    // its own offset.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))?;
    if !existed {
        sync_parent_dir(path)?;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err(path))?;
    let decoded = decode_frames(&bytes);
    if let Some(problem) = &decoded.problem {
        tracing::warn!(
            path = %path.display(),
            ?problem,
            good_bytes = decoded.good_len,
            dropped_bytes = bytes.len() - decoded.good_len,
            "log has a torn or corrupt tail; truncating it away"
        );
    }
    if decoded.good_len < bytes.len() {
        // A bad tail, or the zeros a crash left after the last frame.
        file.set_len(decoded.good_len as u64)
            .map_err(io_err(path))?;
        file.sync_all().map_err(io_err(path))?;
    }
    Ok((file, decoded.records))
}

fn sync_parent_dir(path: &Path) -> Result<(), LogError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io_err(parent))
}

/// Open the log in `dir` for a replica that holds every entry up to `after`
/// (from a checkpoint; 0 without one): read back the records of the
/// segments it must replay, cut a bad tail off the last one, and start a
/// writer appending to it. The earlier segments are read one at a time as
/// the [`Replay`] is consumed, so a long replay never holds the whole log.
/// Once the core is rebuilt, tell the writer how far the log goes with
/// [`LogWriter::recovered_through`].
pub fn open_dir(
    dir: &Path,
    mode: FsyncMode,
    after: LogSeq,
) -> Result<(LogWriter, Replay), LogError> {
    let segments = segments::list(dir)?;
    let replay = segments::from(&segments, after);
    let Some(((_, last), earlier)) = replay.split_last() else {
        let (writer, tail) = open(&dir.join(segments::segment_name(after + 1)), mode)?;
        return Ok((writer, Replay::new(Vec::new(), tail)));
    };
    let earlier = earlier.iter().map(|(_, path)| path.clone()).collect();
    let (file, tail) = recover(last)?;
    let persisted = after.max(max_entry_seq(&tail));
    let writer = LogWriter::start(file, last.clone(), mode, persisted);
    Ok((writer, Replay::new(earlier, tail)))
}

/// Open `path`: recover its records and start a writer appending after them.
pub fn open(path: &Path, mode: FsyncMode) -> Result<(LogWriter, Vec<Record>), LogError> {
    let (file, records) = recover(path)?;
    let writer = LogWriter::start(file, path.to_owned(), mode, max_entry_seq(&records));
    Ok((writer, records))
}

type Done = oneshot::Sender<Result<(), LogError>>;

/// A committed group, handed to the completer task: its waiters, its
/// outcome, and the highest entry seq it made durable (0: none).
struct Completion {
    waiters: Vec<Done>,
    result: Result<(), LogError>,
    persisted: LogSeq,
}

enum Msg {
    Append {
        records: Vec<Record>,
        done: Option<Done>,
    },
    Close {
        done: mpsc::Sender<Result<(), LogError>>,
    },
    /// Write and fsync everything queued so far, then append to a new
    /// segment starting at log position `start`.
    Rotate {
        start: LogSeq,
        done: mpsc::Sender<Result<(), LogError>>,
    },
}

/// Resolves once an append is durable (see the module docs for what that
/// means in each mode).
#[must_use = "a reply must wait for its records to be durable"]
pub struct Durable(DurableInner);

enum DurableInner {
    Ready(Result<(), LogError>),
    Waiting(oneshot::Receiver<Result<(), LogError>>),
    /// Durable once the persisted watch reaches this entry seq; failed if
    /// the failure watch reports an I/O error first.
    Through {
        persisted: watch::Receiver<LogSeq>,
        failure: watch::Receiver<Option<String>>,
        seq: LogSeq,
    },
}

impl Durable {
    /// Already durable.
    pub fn ready() -> Self {
        Durable(DurableInner::Ready(Ok(())))
    }

    pub async fn wait(self) -> Result<(), LogError> {
        match self.0 {
            DurableInner::Ready(result) => result,
            DurableInner::Waiting(rx) => rx.await.unwrap_or(Err(LogError::Stopped)),
            DurableInner::Through {
                mut persisted,
                mut failure,
                seq,
            } => loop {
                if *persisted.borrow_and_update() >= seq {
                    return Ok(());
                }
                // The writer failed: nothing queued after the error becomes
                // durable, so the wait would never end.
                if let Some(reason) = failure.borrow_and_update().clone() {
                    return Err(LogError::Failed(reason));
                }
                let changed = tokio::select! {
                    changed = persisted.changed() => changed,
                    changed = failure.changed() => changed,
                };
                if changed.is_err() {
                    return Err(LogError::Stopped);
                }
            },
        }
    }

    /// Block the current (non-async) thread until durable.
    pub fn wait_blocking(self) -> Result<(), LogError> {
        match self.0 {
            DurableInner::Ready(result) => result,
            DurableInner::Waiting(rx) => rx.blocking_recv().unwrap_or(Err(LogError::Stopped)),
            through @ DurableInner::Through { .. } => tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| LogError::Failed(e.to_string()))?
                .block_on(Durable(through).wait()),
        }
    }
}

/// The handle to the log's writer thread. Appends are ordered in the file
/// as they are made; callers that need a global order (the node) make them
/// under one lock.
pub struct LogWriter {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    mode: FsyncMode,
    persisted: watch::Receiver<LogSeq>,
    /// The writer's first I/O error, once it has failed.
    failure: watch::Receiver<Option<String>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    commits: Arc<AtomicU64>,
    persisted_tx: Arc<watch::Sender<LogSeq>>,
}

impl LogWriter {
    /// Every entry up to `seq` is in the files (the replay read it back).
    pub fn recovered_through(&self, seq: LogSeq) {
        publish(&self.persisted_tx, seq);
    }

    /// Start the writer thread on `file` (opened for appending).
    /// `persisted` is the highest entry seq already in the file.
    pub fn start(file: File, path: PathBuf, mode: FsyncMode, persisted: LogSeq) -> LogWriter {
        let (tx, rx) = mpsc::channel();
        let (persisted_tx, persisted_rx) = watch::channel(persisted);
        let persisted_tx = Arc::new(persisted_tx);
        let (failure_tx, failure_rx) = watch::channel(None);
        let commits = Arc::new(AtomicU64::new(0));
        // Recovery leaves the file ending at its last frame.
        let end = file.metadata().map(|m| m.len()).unwrap_or(0);
        let thread = WriterThread {
            end,
            allocated: end,
            completer: spawn_completer(persisted_tx.clone()),

            commits: commits.clone(),
            file,
            path,
            mode,
            persisted: persisted_tx.clone(),
            failure: failure_tx,
        };
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || thread.run(rx))
            .expect("spawn the log writer thread");
        LogWriter {
            tx: Mutex::new(Some(tx)),
            mode,
            persisted: persisted_rx,
            failure: failure_rx,
            thread: Mutex::new(Some(handle)),
            commits,
            persisted_tx,
        }
    }

    pub fn mode(&self) -> FsyncMode {
        self.mode
    }

    /// How many non-empty groups the writer has written so far (in `always`
    /// mode, how many fsyncs): with many concurrent appends, far fewer than
    /// appends.
    pub fn group_commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queue `records` for appending. The returned [`Durable`] resolves when
    /// they (and everything queued before them) are durable. An empty
    /// `records` is a barrier: it resolves once everything queued earlier is.
    pub fn append(&self, records: Vec<Record>) -> Durable {
        let (done, waiter) = match self.mode {
            FsyncMode::Always => {
                let (done, rx) = oneshot::channel();
                (Some(done), Durable(DurableInner::Waiting(rx)))
            }
            FsyncMode::Never => (None, Durable(DurableInner::Ready(Ok(())))),
        };
        if records.is_empty() && self.mode == FsyncMode::Never {
            return waiter;
        }
        let sent = match &*self.tx.lock().expect("log sender lock") {
            Some(tx) => tx.send(Msg::Append { records, done }).is_ok(),
            None => false,
        };
        if sent {
            waiter
        } else {
            Durable(DurableInner::Ready(Err(LogError::Stopped)))
        }
    }

    /// The highest entry seq durable so far; changes as groups commit.
    pub fn persisted(&self) -> watch::Receiver<LogSeq> {
        self.persisted.clone()
    }

    /// Resolves once entry `seq` (already queued) is durable, without
    /// queueing anything: what a read of data written at `seq` waits for.
    /// Unlike an empty [`append`](Self::append) it never reaches the writer
    /// thread, so reads add no work to the group commits.
    pub fn durable_through(&self, seq: LogSeq) -> Durable {
        if self.mode == FsyncMode::Never || *self.persisted.borrow() >= seq {
            return Durable::ready();
        }
        Durable(DurableInner::Through {
            persisted: self.persisted.clone(),
            failure: self.failure.clone(),
            seq,
        })
    }

    /// End the current segment after everything queued so far (written and
    /// fsynced, in either mode) and continue in a new one starting at log
    /// position `start`. The receiver gets the outcome once that is done.
    pub fn rotate(&self, start: LogSeq) -> mpsc::Receiver<Result<(), LogError>> {
        let (done, rx) = mpsc::channel();
        if let Some(tx) = &*self.tx.lock().expect("log sender lock") {
            let _ = tx.send(Msg::Rotate { start, done });
        }
        rx
    }

    /// Write out everything queued (fsyncing it in either mode), stop the
    /// writer thread and wait for it. Later appends fail with `Stopped`.
    /// Idempotent.
    pub fn close(&self) -> Result<(), LogError> {
        let tx = self.tx.lock().expect("log sender lock").take();
        let mut result = Ok(());
        if let Some(tx) = tx {
            let (done, rx) = mpsc::channel();
            if tx.send(Msg::Close { done }).is_ok() {
                result = rx.recv().unwrap_or(Err(LogError::Stopped));
            }
        }
        if let Some(handle) = self.thread.lock().expect("log thread lock").take() {
            let _ = handle.join();
        }
        result
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

struct WriterThread {
    file: File,
    /// Where the next frame goes: the end of the last frame written.
    end: u64,
    /// The file's length: `end` plus preallocated zeros.
    allocated: u64,
    path: PathBuf,
    mode: FsyncMode,
    /// Shared with the completer task, which publishes on the runtime's own
    /// thread (see [`spawn_completer`]).
    persisted: Arc<watch::Sender<LogSeq>>,
    /// Set after the first I/O error: every later append fails with it, and
    /// reads waiting in [`LogWriter::durable_through`] are released with it.
    failure: watch::Sender<Option<String>>,
    commits: Arc<AtomicU64>,
    /// Hands each committed group's waiters to a task on the node's runtime
    /// (None outside a runtime: the thread then completes them itself).
    completer: Option<tokio_mpsc::UnboundedSender<Completion>>,
}

impl WriterThread {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        let mut buf = Vec::new();
        let mut buf_max_seq = 0;
        let mut waiters: Vec<Done> = Vec::new();
        let mut next_flush = Instant::now() + NEVER_FLUSH_INTERVAL;
        loop {
            // Block for the next message; in `never` mode only until the
            // next periodic flush is due.
            let first = match self.mode {
                FsyncMode::Always => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                FsyncMode::Never => {
                    rx.recv_timeout(next_flush.saturating_duration_since(Instant::now()))
                }
            };
            let mut close = None;
            match first {
                Ok(first) => {
                    for msg in std::iter::once(first).chain(rx.try_iter()) {
                        match msg {
                            Msg::Append { records, done } => {
                                for record in &records {
                                    encode_frame(record, &mut buf);
                                }
                                buf_max_seq = buf_max_seq.max(max_entry_seq(&records));
                                waiters.extend(done);
                            }
                            Msg::Close { done } => {
                                close = Some(done);
                                break;
                            }
                            Msg::Rotate { start, done } => {
                                let result = self.commit(&mut buf, true);
                                let persisted = if result.is_ok() { buf_max_seq } else { 0 };
                                let rotated = result.and_then(|()| self.rotate(start));
                                if let Err(e) = &rotated {
                                    self.failure.send_replace(Some(e.to_string()));
                                }
                                self.complete(Completion {
                                    waiters: std::mem::take(&mut waiters),
                                    result: rotated.as_ref().map(|_| ()).map_err(LogError::shared),
                                    persisted,
                                });
                                let _ = done.send(rotated);
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Every handle is gone without a close: write what we have.
                    if self.commit(&mut buf, true).is_ok() {
                        publish(&self.persisted, buf_max_seq);
                    }
                    self.trim();
                    return;
                }
            }
            let flush_due = match self.mode {
                FsyncMode::Always => true,
                FsyncMode::Never => Instant::now() >= next_flush,
            };
            if flush_due || close.is_some() {
                let sync = self.mode == FsyncMode::Always || close.is_some();
                let result = self.commit(&mut buf, sync);
                let persisted = if result.is_ok() { buf_max_seq } else { 0 };
                if close.is_some() {
                    // `close` returns with everything published.
                    publish(&self.persisted, persisted);
                }
                self.complete(Completion {
                    waiters: std::mem::take(&mut waiters),
                    result: result.as_ref().map(|_| ()).map_err(LogError::shared),
                    persisted,
                });
                if self.mode == FsyncMode::Never {
                    next_flush = Instant::now() + NEVER_FLUSH_INTERVAL;
                }
                if let Some(done) = close {
                    self.trim();
                    let _ = done.send(result);
                    return;
                }
            }
        }
    }

    /// Write `buf` to the file (fsyncing if `sync`) and empty it.
    fn commit(&mut self, buf: &mut Vec<u8>, sync: bool) -> Result<(), LogError> {
        if let Some(reason) = self.failure.borrow().clone() {
            buf.clear();
            return Err(LogError::Failed(reason));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let written = self
            .write_at_end(buf)
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        buf.clear();
        self.commits.fetch_add(1, Ordering::Relaxed);
        written.map_err(|e| {
            let reason = format!("{}: {e}", self.path.display());
            tracing::error!(%reason, "log write failed; no further appends will be durable");
            self.failure.send_replace(Some(reason.clone()));
            LogError::Failed(reason)
        })
    }

    /// Write `buf` at the end of the frames, first extending the file with
    /// zeros (and making its new size durable) if `buf` would pass it.
    fn write_at_end(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let needed = self.end + buf.len() as u64;
        if needed > self.allocated {
            let grow = (needed - self.allocated).max(PREALLOC_BYTES);
            let zeros = vec![0u8; usize::try_from(grow).expect("a group fits in memory")];
            self.file.write_all_at(&zeros, self.allocated)?;
            self.file.sync_all()?;
            self.allocated += grow;
        }
        self.file.write_all_at(buf, self.end)?;
        self.end = needed;
        Ok(())
    }

    /// Close the current segment (its zeros cut off) and continue in a new
    /// one starting at log position `start`.
    fn rotate(&mut self, start: LogSeq) -> Result<(), LogError> {
        let path = self.path.with_file_name(segments::segment_name(start));
        if path == self.path {
            // Already appending to the segment that starts there (a restart
            // took no entries since the last rotation).
            return Ok(());
        }
        self.trim();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_parent_dir(&path)?;
        self.file = file;
        self.path = path;
        self.end = 0;
        self.allocated = 0;
        Ok(())
    }

    /// Cut the preallocated zeros off, so a cleanly closed log ends at its
    /// last frame.
    fn trim(&mut self) {
        if self.allocated == self.end {
            return;
        }
        match self
            .file
            .set_len(self.end)
            .and_then(|()| self.file.sync_all())
        {
            Ok(()) => self.allocated = self.end,
            // Harmless: recovery cuts the zeros off too.
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not trim the log's preallocated tail")
            }
        }
    }
}

/// Raise the persisted watch to `upto` (it never goes back).
fn publish(persisted: &watch::Sender<LogSeq>, upto: LogSeq) {
    persisted.send_if_modified(|seq| {
        let grew = upto > *seq;
        *seq = (*seq).max(upto);
        grew
    });
}

/// Start the task that completes committed groups on the current runtime,
/// if there is one. Waking one task per group from the writer thread costs
/// one cross-thread wake-up (an eventfd write and a context switch) instead
/// of one per waiting request; the task then publishes the persisted seq
/// and wakes the requests on the runtime's own thread, which is cheap.
/// Publishing here rather than on the writer thread matters as much: every
/// task watching the persisted seq (the replication feed, reads waiting
/// for [`LogWriter::durable_through`]) would otherwise be woken across
/// threads one by one.
fn spawn_completer(
    persisted: Arc<watch::Sender<LogSeq>>,
) -> Option<tokio_mpsc::UnboundedSender<Completion>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (tx, mut rx) = tokio_mpsc::unbounded_channel::<Completion>();
    runtime.spawn(async move {
        while let Some(completion) = rx.recv().await {
            completion.finish(&persisted);
        }
    });
    Some(tx)
}

impl WriterThread {
    /// Publish a committed group and resolve its waiters, through the
    /// completer task if any. Groups that changed nothing (only barriers
    /// already durable, or a `never`-mode flush of nothing) send nothing.
    fn complete(&mut self, completion: Completion) {
        if completion.waiters.is_empty() && completion.persisted <= *self.persisted.borrow() {
            return;
        }
        let unsent = match &self.completer {
            Some(completer) => match completer.send(completion) {
                Ok(()) => return,
                // The runtime is gone: complete here.
                Err(tokio_mpsc::error::SendError(unsent)) => unsent,
            },
            None => completion,
        };
        unsent.finish(&self.persisted);
    }
}

impl Completion {
    /// Publish the persisted seq, then resolve every waiter: a request
    /// released after its group sees the persisted seq covering it.
    fn finish(self, persisted: &watch::Sender<LogSeq>) {
        publish(persisted, self.persisted);
        for done in self.waiters {
            let outcome = match &self.result {
                Ok(()) => Ok(()),
                Err(e) => Err(e.shared()),
            };
            let _ = done.send(outcome);
        }
    }
}

impl LogError {
    /// The error as every waiter of a failed group sees it.
    fn shared(&self) -> LogError {
        match self {
            LogError::Failed(reason) => LogError::Failed(reason.clone()),
            e => LogError::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
