//! The run's lifecycle: set up, run the workload, quiesce, final reads,
//! stop the nodes, check, report; and `diverge check` for stored histories.
//!
//! - [`run`]: `diverge run`.
//! - [`check`]: `diverge check`.
//! - [`compare`]: `diverge compare`, one test across strategies and topologies.
//! - [`suite`]: `diverge suite`, scenario files checked against expectations.
//! - [`progress`]: the live progress line of a run.
//! - [`quiesce`]: waiting for replication backlogs to drain.
//! - [`rundir`]: the results layout.
//! - [`testbed`]: links and nodes wired together.
//! - [`node_counters`]: counters read from the nodes' status at the end.

mod check;
pub mod compare;
mod node_counters;
mod progress;
mod quiesce;
mod run;
mod rundir;
pub mod suite;
pub mod testbed;

pub use check::check;
pub use compare::compare;
pub use run::{Executed, check_options, checker_workload, execute, name_of, run};
pub use suite::suite;

/// Exit code for usage and harness errors.
pub const EXIT_HARNESS_ERROR: i32 = 3;
/// Exit code when the run was interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;
