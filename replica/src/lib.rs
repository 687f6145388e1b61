//! The sans-IO core of diverge's reference leader node.
//!
//! A [`Replica`] is a pure state machine: the HTTP shell (or a deterministic
//! simulator) feeds it one [`Input`] at a time together with the current
//! time, and it answers with an [`Output`]: the reply to the caller, the
//! replication batches to send to peers, and the records to persist in the
//! node's log before the reply may be released. It owns no sockets, no files,
//! no clock and no randomness.
//!
//! # Layout
//! - [`types`]: the values that cross the core's boundary (changes, batches,
//!   records, replies) and their wire/log encoding.
//! - [`version`]: version vectors and the opaque causal context.
//! - [`strategy`]: the conflict strategies (LWW, the sibling-keeping ones
//!   on dotted version vectors, the CRDTs) and their trait.
//! - [`replica`]: the state machine itself: client requests, applying
//!   changes, replication cursors, retries with backoff, recovery. Its
//!   private parts: `dots` (applied-dot set for deduplication), `log` (the
//!   in-memory window of the replication log; older entries are loaded back
//!   through the shell), `checkpoint` (the state a restart loads instead of
//!   replaying the whole log), `inbound` (receive cursors) and `outbound`
//!   (per-peer sender state; followers get every applied change), `delivery` (changes held back until what they
//!   depend on is applied).

mod checkpoint;
mod delivery;
mod dots;
mod inbound;
mod log;
mod outbound;
pub mod replica;
pub mod strategy;
pub mod types;
pub mod version;

pub use checkpoint::Checkpoint;
pub use replica::{Config, PeerStatus, Replica, Snapshot, Status};
pub use strategy::{
    Crdt, Handler, KeyState, LastWriteWins, Strategy, StrategyKind, StrategyOptions, TextDoc,
    TextLib, Version,
};
pub use types::*;
pub use version::{Context, VersionVector};

#[cfg(test)]
mod follower_tests;
#[cfg(test)]
mod skip_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;
