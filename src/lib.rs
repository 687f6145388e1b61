//! diverge: a Jepsen-style consistency testing harness for multi-leader
//! replication.
//!
//! Data flows one way: flags ([`cli`]) become one validated [`config`] of
//! [`domain`] values; the controller ([`control`]) starts a [`system`] under
//! test (diverge's reference [`node`]s in a [`cluster`], or a database),
//! drives a [`workload`]'s clients against it while the [`nemesis`]
//! executes its seeded plan on the system's fault targets and the
//! [`history`] is recorded; then it settles, takes final reads, runs the
//! checkers (the `diverge-checkers` crate) and renders the [`results`] as
//! [`report`]s.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod control;
pub mod domain;
pub mod history;
pub mod http1;
pub mod nemesis;
pub mod net;
pub mod node;
pub mod report;
pub mod results;
pub mod seeds;
pub mod serve;
pub mod stdout;
pub mod system;
pub mod workload;
