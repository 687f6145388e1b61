//! The simulated cluster as the nemesis's fault targets: the same plan the
//! executor applies to real processes, links and clocks acts on the
//! simulated nodes (crash = drop the core, restart = replay its records),
//! the simulated links' behaviours and the cores' clock offsets.

use std::sync::Arc;

use async_trait::async_trait;

use super::cluster::Cluster;
use crate::nemesis::{
    ClockFaults, CutMode, FaultTargets, LinkFaults, MessageFaults, ProcessFaults,
};

pub struct Targets(pub Arc<Cluster>);

impl Targets {
    /// Every capability, over the cluster's nodes `ids`.
    pub fn all(cluster: Arc<Cluster>, ids: Vec<String>) -> FaultTargets {
        let targets = Arc::new(Targets(cluster));
        FaultTargets {
            ids,
            processes: Some(targets.clone()),
            links: Some(targets.clone()),
            messages: Some(targets.clone()),
            clock: Some(targets),
            isolation: None,
        }
    }
}

#[async_trait]
impl ProcessFaults for Targets {
    async fn kill(&self, i: usize) {
        self.0.update(|s| s.nodes[i].crash());
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        self.0.update(|s| {
            let node = &mut s.nodes[i];
            if node.held_down {
                return Err(format!("{} is held down", node.id));
            }
            if !node.is_up() {
                node.restart();
            }
            Ok(())
        })
    }

    async fn pause(&self, i: usize) {
        self.0.update(|s| s.nodes[i].paused = s.nodes[i].is_up());
    }

    async fn resume(&self, i: usize) {
        self.0.update(|s| s.nodes[i].paused = false);
    }

    async fn hold_down(&self, i: usize) -> Result<(), String> {
        self.0.update(|s| {
            s.nodes[i].crash();
            s.nodes[i].held_down = true;
        });
        Ok(())
    }

    async fn recover_all(&self) {
        self.0.update(|s| {
            for node in &mut s.nodes {
                node.paused = false;
                if !node.is_up() && !node.held_down {
                    node.restart();
                }
            }
        });
    }
}

impl Targets {
    fn link(&self, id: &str) -> usize {
        self.0
            .index_of(id)
            .expect("the nemesis names the cluster's nodes")
    }
}

impl LinkFaults for Targets {
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool) {
        let key = (self.link(from), self.link(to));
        self.0.update(|s| {
            if let Some(link) = s.links.get_mut(&key) {
                match mode {
                    CutMode::Drop => link.behaviour.drop = on,
                    CutMode::Hold => link.behaviour.hold = on,
                }
            }
        });
    }

    fn heal_all(&self) {
        self.0.update(|s| {
            for link in s.links.values_mut() {
                link.behaviour = link.base.clone();
            }
        });
    }
}

impl MessageFaults for Targets {
    fn reorder(&self, max_ms: u64) {
        self.0.update(|s| {
            for link in s.links.values_mut() {
                link.behaviour.reorder = max_ms > 0;
                link.behaviour.reorder_ms = max_ms;
            }
        });
    }

    fn duplicate(&self, fraction: f64, loss: f64) {
        self.0.update(|s| {
            for link in s.links.values_mut() {
                link.behaviour.duplicate = fraction;
                link.behaviour.loss = loss;
            }
        });
    }
}

#[async_trait]
impl ClockFaults for Targets {
    async fn set_offset(&self, i: usize, offset_ms: i64) -> Result<(), String> {
        self.0.update(|s| {
            let node = &mut s.nodes[i];
            if node.paused {
                return Err(format!(
                    "{} is paused: POST /admin/clock timed out",
                    node.id
                ));
            }
            match node.core() {
                Some(core) => {
                    core.set_clock_offset_ns(offset_ms.saturating_mul(1_000_000));
                    Ok(())
                }
                None => Err(format!("{} is down: connection refused", node.id)),
            }
        })
    }
}
