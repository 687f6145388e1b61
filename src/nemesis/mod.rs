//! The nemesis: faults injected into the running cluster on a schedule drawn
//! from the test seed.
//!
//! - [`kind`]: the fault kinds and `--nemesis` parsing.
//! - [`partition`]: partition shapes as sets of cut links.
//! - [`faults`]: starting and undoing each fault on the cluster and links.
//! - [`schedule`]: the seeded loop that alternates faults and heals, records
//!   each window in the history, and heals everything at the end.

pub mod faults;
pub mod kind;
pub mod partition;
pub mod schedule;

pub use kind::{FaultKind, NemesisSet};
pub use schedule::{NemesisPlan, run_nemesis};
