//! The controller: every command's top, and one test's lifecycle.
//!
//! - [`run`]: `diverge run`, and [`execute`], one test from its config
//!   (`compare` and `suite` run theirs through it).
//! - [`lifecycle`]: the stages of a test, the same for every system.
//! - [`judge`]: checking the history and building the results.
//! - [`check`]: `diverge check`.
//! - [`compare`]: `diverge compare`, one test across configurations.
//! - [`suite`]: `diverge suite`, scenario files checked against expectations.
//! - [`progress`]: the live progress line of a run.
//! - [`rundir`]: the results layout.
//! - [`interrupt`]: the signals that stop a command (Ctrl-C, SIGTERM,
//!   SIGHUP) with everything it started.
//! - [`sim`]: `diverge sim`, the reference cluster simulated, one seed or a swarm.

mod check;
pub mod compare;
mod interrupt;
pub mod judge;
pub mod lifecycle;
mod progress;
mod run;
pub mod rundir;
pub mod sim;
pub mod suite;

pub use check::check;
pub use compare::compare;
pub use judge::check_options;
pub use lifecycle::Harness;
pub use run::{Executed, configure, execute, execute_with, run};
pub use suite::suite;

/// Exit code for usage and harness errors.
pub const EXIT_HARNESS_ERROR: i32 = 3;
