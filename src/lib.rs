//! diverge: a Jepsen-style consistency testing harness for multi-leader
//! replication.
//!
//! The binary drives a cluster of nodes through faults and checks the
//! history it records. This library holds its parts; so far:
//!
//! - [`node`]: `diverge node`, the reference leader node (HTTP shell, log
//!   and replication around the `diverge-replica` core).

pub mod node;
