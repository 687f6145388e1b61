//! diverge's history model and consistency checkers.
//!
//! Pure code: no async, no network. The controller writes histories with the
//! types in [`history`]; `diverge check` and the run's final phase read them
//! back and run the analyses.
pub mod history;

pub use history::{Op, OpType, Process};
