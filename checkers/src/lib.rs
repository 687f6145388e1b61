//! diverge's history model and consistency checkers.
//!
//! Pure code: no async, no network. The controller writes histories with the
//! types in [`history`]; `diverge check` and the run's final phase read them
//! back ([`parse`]) and run [`check`].
//!
//! # Layout
//! - [`history`]: the op model (one line of `history.jsonl`).
//! - [`parse`]: streaming reader, [`HistoryError`] with file and line.
//! - [`pairing`]: invokes matched with their completions.
//! - [`index`]: the paired history indexed once (writes by value, final
//!   reads by key and node) for all checkers.
//! - [`lost_update`], [`divergence`], [`reads`]: one analysis each, each
//!   returning [`Anomaly`] values.
//! - [`coverage`]: why a verdict may be inconclusive.
//! - [`result`]: [`CheckResult`], the verdict as data (`results.json`).
//!
//! See `docs/history.md` for the format and `docs/anomalies.md` for what
//! each anomaly means.

pub mod anomaly;
pub mod coverage;
pub mod divergence;
pub mod history;
pub mod index;
pub mod lost_update;
pub mod pairing;
pub mod parse;
pub mod reads;
pub mod result;
pub mod workload;

#[cfg(test)]
mod testing;

pub use anomaly::{Anomaly, AnomalyKind};
pub use history::{Elem, Op, OpType, Process};
pub use parse::{
    History, HistoryError, parse_history, parse_history_detailed, read_history,
    read_history_detailed,
};
pub use result::{CheckResult, Stats, Validity};
pub use workload::{UnknownWorkload, Workload};

use index::HistoryIndex;

/// Runs every analysis that applies to `workload` and returns the verdict.
/// Linear-ish: one indexing pass plus per-key sorts.
pub fn check(history: &[Op], workload: Workload) -> CheckResult {
    let index = HistoryIndex::build(history);
    let mut anomalies = match workload {
        Workload::Set => lost_update::set(&index),
        Workload::Register => lost_update::register(&index),
    };
    anomalies.extend(divergence::check(&index));
    anomalies.extend(reads::check(&index));
    CheckResult::new(anomalies, Stats::of(history), coverage::reasons(&index))
}
