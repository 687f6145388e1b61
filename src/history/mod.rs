//! Recording the history: every op's invocation and completion, streamed to
//! `history.jsonl` as it happens so that a killed controller still leaves a
//! readable prefix.
//!
//! [`Recorder`] is the writer (a dedicated thread that owns the file and
//! assigns indices); [`HistoryHandle`] is the cheap, cloneable sender that
//! clients, the nemesis and the final reads use. A [`Progress`] attached
//! to the recorder counts ops as they are recorded, for the live display.

mod progress;
mod recorder;

pub use progress::{Progress, Snapshot};
pub use recorder::{HistoryHandle, Recorder};
