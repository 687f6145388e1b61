//! The faults a Galera cluster takes: its nodes' processes (the shared
//! [`Instances`]: SIGKILL and a restart that rejoins, SIGSTOP/SIGCONT) and
//! whole-node isolation from inside (`gmcast.isolate=1`, undone with `=0`:
//! the node closes every gcomm connection; the others drop it after the
//! suspect timeout). Link partitions are not offered: a TCP proxy cannot
//! cut gcomm, whose peers learn each other's real listen addresses and
//! reconnect directly.
//!
//! Every fault's span per node is recorded for the availability report.

use std::sync::Arc;

use async_trait::async_trait;

use super::availability::Spans;
use super::node::Node;
use crate::nemesis::{IsolationFaults, ProcessFaults};
use crate::system::instance::{Hooks, Instances};
use crate::system::mariadb::server;

pub struct Faults {
    pub instances: Instances<Node>,
    pub spans: Arc<Spans>,
    /// Client ports, by node index.
    pub ports: Vec<u16>,
}

/// A restarted node joins through its peers: while any of them is still
/// down (a crash of several or all), it cannot become ready alone, so it
/// is not waited for; the last one back is, and settling waits for all.
pub struct Rejoin;

impl Hooks for Rejoin {
    fn wait_after_restart(&self, running: &[bool], i: usize) -> bool {
        running.iter().enumerate().all(|(j, &up)| up || j == i)
    }
}

#[async_trait]
impl ProcessFaults for Faults {
    async fn kill(&self, i: usize) {
        self.spans.begin("crash", i);
        self.instances.kill(i).await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        let restarted = self.instances.restart(i).await;
        self.spans.end(Some("crash"), i);
        restarted
    }

    async fn pause(&self, i: usize) {
        self.spans.begin("pause", i);
        self.instances.pause(i).await;
    }

    async fn resume(&self, i: usize) {
        self.instances.resume(i).await;
        self.spans.end(Some("pause"), i);
    }

    async fn hold_down(&self, i: usize) -> Result<(), String> {
        self.instances.hold_down(i).await
    }

    async fn recover_all(&self) {
        self.instances.recover_all().await;
        for i in 0..self.ports.len() {
            self.spans.end(Some("crash"), i);
            self.spans.end(Some("pause"), i);
        }
    }
}

#[async_trait]
impl IsolationFaults for Faults {
    async fn isolate(&self, i: usize, on: bool) -> Result<(), String> {
        let sql = format!(
            "SET GLOBAL wsrep_provider_options = 'gmcast.isolate={}'",
            u8::from(on)
        );
        server::exec(self.ports[i], &sql)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if on {
            self.spans.begin("isolate", i);
        } else {
            self.spans.end(Some("isolate"), i);
        }
        Ok(())
    }
}
