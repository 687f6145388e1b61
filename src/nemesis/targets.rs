//! What a system under test offers the nemesis, as small capabilities
//! asked for by name (Jepsen's `Kill`, `Pause`, ... protocols): a fault
//! that needs a capability the system lacks is never planned (the config
//! refuses it), and never substituted by another.
//!
//! Nodes are named by index into [`FaultTargets::ids`]; links by the ids
//! of their ends, `from` sending to `to`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Capability, FaultKind};

/// Node processes that can be killed, restarted, stopped and continued.
#[async_trait]
pub trait ProcessFaults: Send + Sync {
    /// SIGKILL node `i` and wait until it is gone.
    async fn kill(&self, i: usize);
    /// Start node `i` again from its data and wait until it is ready.
    async fn restart(&self, i: usize) -> Result<(), String>;
    /// Stop node `i` (SIGSTOP) until resumed.
    async fn pause(&self, i: usize);
    async fn resume(&self, i: usize);
    /// Kill node `i` and keep it down for the rest of the run.
    async fn hold_down(&self, i: usize) -> Result<(), String>;
    /// Resume every node and restart every crashed one (not those held down).
    async fn recover_all(&self);
}

/// How a cut link treats its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutMode {
    /// Nothing passes: messages are refused.
    Drop,
    /// Nothing passes until the cut ends, then everything kept is delivered.
    Hold,
}

/// Node-to-node connections the controller can cut and heal.
pub trait LinkFaults: Send + Sync {
    /// Cut (`on`) or restore the link `from` -> `to`.
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool);
    /// Every link back to its healthy base behaviour.
    fn heal_all(&self);
}

/// Node-to-node messages the controller handles one by one.
pub trait MessageFaults: Send + Sync {
    /// Delay every message on every link by up to `max_ms` (0 stops it).
    fn reorder(&self, max_ms: u64);
    /// Deliver `fraction` of messages twice and lose `loss` (0 stops it).
    fn duplicate(&self, fraction: f64, loss: f64);
}

/// Clocks the nodes' conflict resolution reads.
#[async_trait]
pub trait ClockFaults: Send + Sync {
    /// Shift node `i`'s clock by `offset_ms` (0 resets it). `Err` with the
    /// node's answer when it refused or could not be reached: the fault
    /// did not happen there.
    async fn set_offset(&self, i: usize, offset_ms: i64) -> Result<(), String>;
}

/// Nodes that cut themselves off from every peer, and rejoin, on request.
#[async_trait]
pub trait IsolationFaults: Send + Sync {
    /// Isolate node `i` (`on`) or let it rejoin. `Err` with the node's
    /// answer when it refused or could not be reached.
    async fn isolate(&self, i: usize, on: bool) -> Result<(), String>;
}

/// Everything a system offers the nemesis.
#[derive(Clone)]
pub struct FaultTargets {
    /// Node ids by index: the nodes faults may hit.
    pub ids: Vec<String>,
    pub processes: Option<Arc<dyn ProcessFaults>>,
    pub links: Option<Arc<dyn LinkFaults>>,
    pub messages: Option<Arc<dyn MessageFaults>>,
    pub clock: Option<Arc<dyn ClockFaults>>,
    pub isolation: Option<Arc<dyn IsolationFaults>>,
}

impl FaultTargets {
    /// Targets with no capability yet.
    pub fn new(ids: Vec<String>) -> Self {
        FaultTargets {
            ids,
            processes: None,
            links: None,
            messages: None,
            clock: None,
            isolation: None,
        }
    }

    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::Processes => self.processes.is_some(),
            Capability::Links => self.links.is_some(),
            Capability::Messages => self.messages.is_some(),
            Capability::Clock => self.clock.is_some(),
            Capability::Isolation => self.isolation.is_some(),
        }
    }

    /// The fault kinds these targets can suffer.
    pub fn supports(&self) -> Vec<FaultKind> {
        FaultKind::ALL
            .into_iter()
            .filter(|k| self.has(k.needs()))
            .collect()
    }
}
