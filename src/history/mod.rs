//! Recording the history: every op's invocation and completion, streamed to
//! `history.jsonl` as it happens so that a killed controller still leaves a
//! readable prefix.
//!
//! - [`Recorder`]: the writer (a dedicated thread that owns the file and
//!   assigns indices); [`HistoryHandle`]: the cheap, cloneable sender that
//!   clients, the nemesis and the final reads use.
//! - [`op`]: recording one op, `invoke` returning a [`Pending`] op that
//!   ends in exactly one of ok / fail / info.
//! - [`clock`]: the time source the lifecycle gives the recorder (real
//!   time since the test began, or a simulator's).
//! - A [`Progress`] attached to the recorder counts ops as they are
//!   recorded, for the live display.

pub mod clock;
pub mod op;
mod progress;
mod recorder;

pub use clock::{Clock, SinceStart};
pub use op::{OpCall, Pending};
pub use progress::{Progress, Snapshot};
pub use recorder::{HistoryHandle, Recorder};
