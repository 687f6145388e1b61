//! The nemesis: faults injected into the running system, on a schedule the
//! test seed alone decides.
//!
//! - [`plan`]: the pure planner, seed to a list of timed fault actions
//!   (shuffled rounds of the enabled kinds; offline's one long window).
//! - [`partition`]: partition shapes as sets of cut links.
//! - [`targets`]: the capabilities a system offers faults (processes,
//!   links, messages, clocks, isolation).
//! - [`execute`]: applying a plan to a system's targets in time, recording
//!   each window in the history, refusals as refusals.

pub mod execute;
pub mod partition;
pub mod plan;
pub mod targets;

pub use execute::FaultObserver;
pub use plan::{Action, Fault, NemesisSpec, Plan, plan};
pub use targets::{
    ClockFaults, CutMode, FaultTargets, IsolationFaults, LinkFaults, MessageFaults, ProcessFaults,
};
