//! diverge: a Jepsen-style consistency testing harness for multi-leader
//! replication.
//!
//! Data flows one way: flags ([`cli`]) become one validated [`config`]; the
//! controller ([`control`]) starts a [`cluster`] of reference leader nodes
//! ([`node`]), drives [`workload`] clients against them while recording the
//! [`history`], takes final reads, runs the checkers (the `diverge-checkers`
//! crate) and renders the [`results`] as [`report`]s.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod control;
pub mod db;
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
pub mod workload;
