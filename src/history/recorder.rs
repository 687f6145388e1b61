//! The history writer thread and its handle.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use diverge_checkers::{Op, OpType, Process};
use serde_json::Value;

use super::Progress;
use super::clock::Clock;
use super::op::OpCall;

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
    clock: Arc<dyn Clock>,
    progress: Option<Arc<Progress>>,
}

impl Recorder {
    /// Create `path` and start the writer; `clock` gives every op its time.
    pub fn create(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let (tx, rx) = mpsc::channel::<Op>();
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_ops(rx, BufWriter::with_capacity(256 * 1024, file)))?;
        Ok(Recorder {
            handle: HistoryHandle {
                tx,
                clock,
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
    /// Nanoseconds since the test started, on the history's clock.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// An op of `process` doing `f`, to be invoked (see [`OpCall`]).
    pub fn op(&self, process: Process, f: impl Into<String>) -> OpCall<'_> {
        OpCall {
            history: self,
            process,
            f: f.into(),
            key: None,
            node: None,
        }
    }

    /// An instantaneous nemesis event: its invocation and `ok` at once.
    pub fn nemesis_event(&self, f: &str, value: Value) {
        self.op(Process::Nemesis, f).invoke(Value::Null).ok(value);
    }

    /// Write one op line; a closed writer is ignored (the run is ending).
    pub(super) fn write(&self, call: &OpCall, kind: OpType, value: Value, error: Option<String>) {
        if let Some(progress) = &self.progress {
            progress.observe(call.process, kind, &call.f);
        }
        let op = Op {
            index: 0,
            time: self.now_ns(),
            process: call.process,
            kind,
            f: call.f.clone(),
            key: call.key.clone(),
            value,
            node: call.node.clone(),
            error,
        };
        let _ = self.tx.send(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::clock::Clock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock the test moves by hand.
    struct Manual(AtomicU64);

    impl Clock for Manual {
        fn now_ns(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn each_op_ends_once_and_takes_the_lifecycles_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let clock = Arc::new(Manual(AtomicU64::new(5)));
        let recorder = Recorder::create(&path, clock.clone()).unwrap();
        let history = recorder.handle();
        let add = history
            .op(Process::Client(1), "add")
            .key("k")
            .node("n1")
            .invoke(7.into());
        clock.0.store(9, Ordering::SeqCst);
        add.ok(7.into());
        let read = history
            .op(Process::Client(2), "read")
            .key("k")
            .invoke(Value::Null);
        read.fail(Value::Null, "refused");
        // Cancelled mid-op: recorded as unknown.
        drop(history.op(Process::Client(3), "add").invoke(8.into()));
        drop(history);
        assert_eq!(recorder.finish().unwrap(), 6);
        let ops = lines(&path);
        let kinds: Vec<&str> = ops.iter().map(|o| o["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["invoke", "ok", "invoke", "fail", "invoke", "info"]);
        assert_eq!(
            (ops[0]["time"].as_u64(), ops[1]["time"].as_u64()),
            (Some(5), Some(9))
        );
        assert_eq!(ops[1]["node"], "n1");
        assert_eq!(ops[3]["error"], "refused");
        assert!(ops[5]["error"].as_str().unwrap().starts_with("abandoned"));
        let indices: Vec<u64> = ops.iter().map(|o| o["index"].as_u64().unwrap()).collect();
        assert_eq!(indices, [0, 1, 2, 3, 4, 5]);
    }
}
