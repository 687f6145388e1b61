//! The run's lifecycle: set up, run the workload, quiesce, final reads,
//! stop the nodes, check, report; and `diverge check` for stored histories.
//!
//! - [`run`]: `diverge run`.
//! - [`check`]: `diverge check`.
//! - [`quiesce`]: waiting for replication backlogs to drain.
//! - [`rundir`]: the results layout.
//! - [`testbed`]: links and nodes wired together.

mod check;
mod quiesce;
mod run;
mod rundir;
pub mod testbed;

pub use check::check;
pub use run::{Executed, checker_workload, execute, name_of, run};

/// Exit code for usage and harness errors.
pub const EXIT_HARNESS_ERROR: i32 = 3;
/// Exit code when the run was interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;
