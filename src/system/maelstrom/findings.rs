//! What the report says about Maelstrom nodes: the faults they faced that
//! Maelstrom itself never injects (a crash wipes a node's memory, a pause,
//! duplicated messages), so a verdict under them is not taken for a
//! Maelstrom verdict; and the lines a node wrote to stdout that are not
//! protocol messages.

use std::sync::atomic::Ordering;

use super::nodes::Nodes;
use crate::domain::Workload;
use crate::net::LinkCounters;
use crate::results::DbFinding;

/// One line per fault Maelstrom never injects that the nodes faced.
pub fn beyond_maelstrom(nodes: &Nodes, links: &[LinkCounters]) -> Vec<String> {
    let ids = nodes.router.ids();
    let per_node = |counts: &[std::sync::atomic::AtomicU64]| -> Vec<String> {
        ids.iter()
            .zip(counts)
            .filter_map(|(id, n)| match n.load(Ordering::Relaxed) {
                0 => None,
                n => Some(format!("{id} x{n}")),
            })
            .collect()
    };
    let mut notes = Vec::new();
    let crashed = per_node(&nodes.crashes);
    if !crashed.is_empty() {
        notes.push(format!(
            "not a Maelstrom verdict: crashes wiped the memory of {} (each restart is a new \
             process, initialised afresh; Maelstrom never crashes nodes)",
            crashed.join(", ")
        ));
    }
    let paused = per_node(&nodes.pauses);
    if !paused.is_empty() {
        notes.push(format!(
            "not a Maelstrom verdict: paused (SIGSTOP) {} (Maelstrom never pauses nodes)",
            paused.join(", ")
        ));
    }
    let duplicated: u64 = links.iter().map(|l| l.duplicated).sum();
    if duplicated > 0 {
        notes.push(format!(
            "not a Maelstrom verdict: {duplicated} node-to-node messages were delivered twice \
             (Maelstrom never duplicates messages)"
        ));
    }
    notes
}

/// Maelstrom's own rule for `workload` and what diverge checks beyond it,
/// side by side, so a reader knows which verdict this is.
pub fn rules(workload: Workload) -> String {
    let (maelstrom, beyond) = match workload {
        Workload::GSet | Workload::Broadcast => (
            "every acknowledged add in every node's final read (here: lost-update)",
            "reads during the run (impossible, aborted and stale reads), final reads agreeing",
        ),
        Workload::LinKv => (
            "linearizable reads, writes and cas (Knossos); not checked here",
            "as a register: no impossible, aborted or stale read; no acknowledged write or cas \
             undone by one that completed before it began (lost-update); final reads agree",
        ),
        Workload::TxnListAppend => (
            "Elle's transactional anomalies, with real-time order (strict serializability by \
             default)",
            "the same cycles (g0, g1c, g-single, g2, and realtime-cycle for those that need \
             real-time order) and read anomalies (g1a, g1b, incompatible-order, \
             internal-inconsistency, duplicate-element), without process order: the verdict \
             names the isolation levels they rule out",
        ),
        Workload::UniqueIds => (
            "no id handed out twice (here: duplicate-id)",
            "nothing more: the ops alone are judged (there are no final reads)",
        ),
        _ => (
            "each final read the acknowledged sum plus some subset of the unknown adds (here: \
             lost-update below, over-count above; exact for up to 12 unknown adds)",
            "reads during the run within what the adds invoked before them allow \
             (impossible-read), final reads agreeing",
        ),
    };
    format!("Maelstrom's rule for {workload}: {maelstrom}; diverge checks besides: {beyond}")
}

/// A finding per line a node wrote to stdout that is not a JSON message,
/// and per node that exited on its own.
pub fn protocol_errors(nodes: &Nodes) -> Vec<DbFinding> {
    nodes
        .router
        .protocol_errors()
        .into_iter()
        .map(|(node, kind, message)| DbFinding {
            node,
            kind: kind.into(),
            channel: Some("stdout".into()),
            errno: None,
            message,
            anomaly: None,
        })
        .collect()
}
