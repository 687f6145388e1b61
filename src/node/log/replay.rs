//! The records a restart replays, read segment by segment as they are
//! consumed: a replay of a long log (no checkpoint yet, or an unusable one)
//! holds one segment's records at a time, not the whole log's.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use diverge_replica::Record;

use super::{LogError, decode_frames, io_err};

/// Earlier (closed) segments to read lazily, then the last segment's
/// records (already read: its tail was checked and cut).
pub struct Replay {
    earlier: Vec<PathBuf>,
    tail: Vec<Record>,
    error: Rc<RefCell<Option<LogError>>>,
}

impl Replay {
    pub fn new(earlier: Vec<PathBuf>, tail: Vec<Record>) -> Self {
        Replay {
            earlier,
            tail,
            error: Rc::default(),
        }
    }

    /// The records in log order (once: they are handed over). A segment
    /// that cannot be read ends the iteration; [`Replay::finish`] then
    /// reports it.
    pub fn records(&mut self) -> impl Iterator<Item = Record> + use<> {
        let error = self.error.clone();
        let earlier = std::mem::take(&mut self.earlier);
        let earlier = earlier.into_iter().map_while(move |path| {
            if error.borrow().is_some() {
                return None;
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let decoded = decode_frames(&bytes);
                    if let Some(problem) = &decoded.problem {
                        tracing::warn!(path = %path.display(), ?problem, "a closed log segment has a bad tail");
                    }
                    Some(decoded.records)
                }
                Err(e) => {
                    *error.borrow_mut() = Some(io_err(&path)(e));
                    None
                }
            }
        });
        let tail_error = self.error.clone();
        let tail = std::mem::take(&mut self.tail);
        earlier.flatten().chain(std::iter::from_fn({
            let mut tail = tail.into_iter();
            move || match tail_error.borrow().is_some() {
                true => None,
                false => tail.next(),
            }
        }))
    }

    /// Whether every segment was read.
    pub fn finish(self) -> Result<(), LogError> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
