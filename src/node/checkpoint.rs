//! Checkpoints of the core's state: `<data-dir>/checkpoint.json`, so a
//! restart loads the state and replays only the log segments written since
//! instead of the whole log.
//!
//! Every [`CHECKPOINT_EVERY`] log entries, under the core's lock (so no
//! record can slip between the two), the shell takes the core's
//! [`Checkpoint`] at log position S and asks the log writer to start a new
//! segment at S + 1. Once the old segment is written and fsynced, a blocking
//! task stores the checkpoint durably: write `checkpoint.json.tmp`, fsync it,
//! rename it over `checkpoint.json`, fsync the directory. A crash at any
//! point leaves the previous checkpoint (or none) in place, and a stray
//! temp file is removed at start. The checkpoint only ever names a position
//! whose records are durable, so replaying from the one before it loses
//! nothing.
//!
//! A checkpoint that cannot be read (corrupt, another node's, another
//! format) is ignored with a warning: segments are never deleted, so the
//! node replays the whole log, as before checkpoints existed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context as _;
use diverge_replica::{Checkpoint, LogSeq, NodeId, Replica};
use serde::{Deserialize, Serialize};

use super::log::LogWriter;

/// File name of the checkpoint in the data directory.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoint.json";
/// Log entries between checkpoints: what a restart replays at most (plus
/// the entries written while the last checkpoint was being stored).
pub const CHECKPOINT_EVERY: u64 = 20_000;
/// The on-disk format's version; another one is ignored (full replay).
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    checkpoint: Checkpoint,
}

fn tmp_path(dir: &Path) -> PathBuf {
    dir.join(format!("{CHECKPOINT_FILE_NAME}.tmp"))
}

/// Read the checkpoint of node `id` in `dir`, if there is a usable one, and
/// remove a temp file a crash left.
pub fn load(dir: &Path, id: &NodeId) -> Option<Checkpoint> {
    let _ = std::fs::remove_file(tmp_path(dir));
    let path = dir.join(CHECKPOINT_FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the checkpoint; replaying the whole log");
            return None;
        }
    };
    match serde_json::from_slice::<Stored>(&bytes) {
        Ok(s) if s.format == FORMAT && s.checkpoint.node == *id => Some(s.checkpoint),
        Ok(s) => {
            tracing::warn!(path = %path.display(), format = s.format, node = %s.checkpoint.node, "checkpoint of another format or node; replaying the whole log");
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "corrupt checkpoint; replaying the whole log");
            None
        }
    }
}

/// Store `checkpoint` durably in `dir` (see the module docs).
pub fn store(dir: &Path, checkpoint: Checkpoint) -> anyhow::Result<()> {
    let tmp = tmp_path(dir);
    let stored = Stored {
        format: FORMAT,
        checkpoint,
    };
    let mut file = std::io::BufWriter::new(
        File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    serde_json::to_writer(&mut file, &stored)?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
        .with_context(|| format!("fsyncing {}", tmp.display()))?;
    let path = dir.join(CHECKPOINT_FILE_NAME);
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsyncing {}", dir.display()))
}

/// When to take the next checkpoint, and whether one is being stored.
pub struct Checkpoints {
    dir: PathBuf,
    every: u64,
    /// Log position of the last checkpoint taken.
    last: AtomicU64,
    busy: Arc<AtomicBool>,
}

impl Checkpoints {
    /// Checkpoints in `dir` every `every` entries; the last one is at `last`.
    pub fn new(dir: PathBuf, every: u64, last: LogSeq) -> Self {
        Checkpoints {
            dir,
            every: every.max(1),
            last: AtomicU64::new(last),
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Called under the core's lock after each step's records were queued:
    /// if a checkpoint is due, take it and start a new log segment, then
    /// store it in the background once the old segment is durable.
    pub fn maybe_take(&self, core: &Replica, log: &LogWriter) {
        let end = core.log_end();
        if end < self.last.load(Ordering::Relaxed) + self.every
            || self.busy.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.last.store(end, Ordering::Relaxed);
        let checkpoint = core.checkpoint();
        let rotated = log.rotate(end + 1);
        let dir = self.dir.clone();
        let busy = self.busy.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = match rotated.recv() {
                Ok(Ok(())) => store(&dir, checkpoint),
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(anyhow::anyhow!("the log writer stopped")),
            };
            match outcome {
                Ok(()) => tracing::debug!(log_end = end, "checkpoint stored"),
                Err(e) => tracing::warn!(log_end = end, error = %e, "checkpoint not stored"),
            }
            busy.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diverge_replica::{Config, StrategyKind};

    fn replica(id: &str) -> Replica {
        Replica::new(Config::new(id, vec![], StrategyKind::Lww))
    }

    #[test]
    fn stored_checkpoints_load_and_bad_ones_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let id = "n1".to_string();
        assert!(load(dir.path(), &id).is_none());
        let checkpoint = replica("n1").checkpoint();
        store(dir.path(), checkpoint.clone()).unwrap();
        assert_eq!(load(dir.path(), &id), Some(checkpoint));
        assert!(
            load(dir.path(), &"n2".to_string()).is_none(),
            "another node's"
        );
        // A crash mid-store leaves a temp file: ignored and removed.
        std::fs::write(tmp_path(dir.path()), b"{\"format\":1,\"checkp").unwrap();
        assert!(load(dir.path(), &id).is_some());
        assert!(!tmp_path(dir.path()).exists());
        std::fs::write(dir.path().join(CHECKPOINT_FILE_NAME), b"{ not json").unwrap();
        assert!(load(dir.path(), &id).is_none());
    }
}
