//! The history writer thread and its handle.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};
use diverge_checkers::{Op, OpType, Process};
use serde_json::Value;

use super::Progress;

/// Owns the writer thread; `finish` closes the history and reports how many
/// ops were written.
pub struct Recorder {
    handle: HistoryHandle,
    thread: JoinHandle<Result<u64>>,
}

/// Sends ops to the writer. Times are taken here, at the call site, so that
/// `time` is exact for real-time order even when ops reach the writer late.
#[derive(Clone)]
pub struct HistoryHandle {
    tx: mpsc::Sender<Op>,
    start: Instant,
    progress: Option<Arc<Progress>>,
}

impl Recorder {
    /// Create `path` and start the writer; `start` is the test's time zero.
    pub fn create(path: &Path, start: Instant) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let (tx, rx) = mpsc::channel::<Op>();
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_ops(rx, BufWriter::with_capacity(256 * 1024, file)))?;
        Ok(Recorder {
            handle: HistoryHandle {
                tx,
                start,
                progress: None,
            },
            thread,
        })
    }

    /// Count every op recorded from now on into `progress` (handles taken
    /// before this call do not).
    pub fn observe(&mut self, progress: Arc<Progress>) {
        self.handle.progress = Some(progress);
    }

    pub fn handle(&self) -> HistoryHandle {
        self.handle.clone()
    }

    /// Close the history once every handle is dropped; returns the op count.
    pub fn finish(self) -> Result<u64> {
        drop(self.handle);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("history writer panicked"))?
    }
}

fn write_ops(rx: mpsc::Receiver<Op>, mut out: BufWriter<File>) -> Result<u64> {
    let mut index = 0u64;
    // Block while idle; while busy, drain what is queued, flush, and nap a
    // moment instead of blocking: a blocked receiver makes every send wake
    // it, which under load costs more than the writing itself.
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        loop {
            while let Some(mut op) = next {
                op.index = index;
                index += 1;
                serde_json::to_writer(&mut out, &op)?;
                out.write_all(b"\n")?;
                next = rx.try_recv().ok();
            }
            out.flush()?;
            std::thread::sleep(BUSY_NAP);
            match rx.try_recv() {
                Ok(op) => next = Some(op),
                Err(_) => break,
            }
        }
    }
    out.flush()?;
    out.get_ref().sync_all().ok();
    Ok(index)
}

/// How long the writer naps between drains while ops keep coming: the
/// longest an op waits before it reaches the file under load.
const BUSY_NAP: std::time::Duration = std::time::Duration::from_millis(2);

impl HistoryHandle {
    /// Nanoseconds since the test started.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Record one op line; a closed writer is ignored (the run is ending).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
        node: Option<&str>,
        error: Option<String>,
    ) {
        if let Some(progress) = &self.progress {
            progress.observe(process, kind, f);
        }
        let op = Op {
            index: 0,
            time: self.now_ns(),
            process,
            kind,
            f: f.to_string(),
            key: key.map(str::to_string),
            value,
            node: node.map(str::to_string),
            error,
        };
        let _ = self.tx.send(op);
    }
}
