//! Live totals of a run, fed by the history as ops are recorded: client
//! completions by outcome and the faults currently in effect. The progress
//! display reads them; nothing else depends on them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use diverge_checkers::{OpType, Process};

/// Counters shared between the recorder (writer) and the display (reader).
#[derive(Debug, Default)]
pub struct Progress {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
    faults: Mutex<Vec<String>>,
}

/// A consistent-enough snapshot for one progress line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub faults: Vec<String>,
}

impl Progress {
    /// Account for one recorded op.
    pub fn observe(&self, process: Process, kind: OpType, f: &str) {
        match process {
            Process::Client(_) if f != diverge_checkers::history::f::FINAL_READ => {
                let counter = match kind {
                    OpType::Invoke => return,
                    OpType::Ok => &self.ok,
                    OpType::Fail => &self.fail,
                    OpType::Info => &self.info,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Process::Nemesis if kind == OpType::Ok => {
                let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(fault) = f.strip_prefix("start-") {
                    faults.push(fault.to_string());
                } else if let Some(fault) = f.strip_prefix("stop-")
                    && let Some(i) = faults.iter().position(|x| x == fault)
                {
                    faults.remove(i);
                }
            }
            _ => {}
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            ok: self.ok.load(Ordering::Relaxed),
            fail: self.fail.load(Ordering::Relaxed),
            info: self.info.load(Ordering::Relaxed),
            faults: self
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_client_outcomes_and_tracks_faults() {
        let p = Progress::default();
        p.observe(Process::Client(0), OpType::Invoke, "add");
        p.observe(Process::Client(0), OpType::Ok, "add");
        p.observe(Process::Client(1), OpType::Info, "add");
        p.observe(Process::Client(9), OpType::Ok, "final-read");
        p.observe(Process::Nemesis, OpType::Ok, "start-partition");
        p.observe(Process::Nemesis, OpType::Ok, "start-clock");
        p.observe(Process::Nemesis, OpType::Ok, "stop-partition");
        assert_eq!(
            p.snapshot(),
            Snapshot {
                ok: 1,
                fail: 0,
                info: 1,
                faults: vec!["clock".into()]
            }
        );
    }
}
