//! A client's connection to one simulated node, as the workloads'
//! [`KvApi`]: the same bundles that drive real nodes over HTTP drive the
//! simulated cores, and see the same table of failures.
//!
//! A request travels one [`HOP`] to the node, waits while the node is
//! paused (past the op timeout its outcome is unknown), is refused
//! (definitely) while the node is down, steps the core, and its answer
//! travels one hop back. Replies map to results as the node's HTTP status
//! codes map to them in `system::reference::client`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use diverge_replica::{Context, Input, Refusal, Reply};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::cluster::{Cluster, HOP};
use crate::node::compound::{self, Claim};
use crate::seeds::sub_seed;
use crate::workload::{CallError, KvApi, ReadReply};

pub struct SimConn {
    cluster: Arc<Cluster>,
    node: usize,
    id: String,
    timeout: Duration,
    /// The node's entropy for `unique-id` write ids.
    entropy: Mutex<ChaCha8Rng>,
}

impl SimConn {
    pub fn new(
        cluster: Arc<Cluster>,
        node: usize,
        id: String,
        timeout: Duration,
        seed: u64,
    ) -> Self {
        SimConn {
            cluster,
            node,
            id,
            timeout,
            entropy: Mutex::new(ChaCha8Rng::seed_from_u64(sub_seed(
                seed,
                "sim-entropy",
                node as u64,
            ))),
        }
    }

    /// One request: `serve` runs at the node when the request arrives.
    async fn call<T>(
        &self,
        what: &str,
        serve: impl FnOnce(&Arc<Cluster>) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let node = self.node;
        tokio::time::sleep(HOP).await;
        // Only a paused node can keep a request past the op timeout (the
        // timer is armed only then: it is a simulation's hot path).
        let resumed = self
            .cluster
            .wait_for(self.timeout.saturating_sub(HOP), |s| !s.nodes[node].paused)
            .await;
        if !resumed {
            return Err(CallError::Indefinite(format!(
                "node {} {what}: timeout",
                self.id
            )));
        }
        if !self.cluster.lock().nodes[node].is_up() {
            return Err(CallError::Definite(format!(
                "node {} {what}: connection refused",
                self.id
            )));
        }
        let answer = serve(&self.cluster);
        tokio::time::sleep(HOP).await;
        answer
    }

    fn step(&self, cluster: &Arc<Cluster>, input: Input) -> Option<Reply> {
        cluster.step(self.node, input)
    }
}

fn unexpected(what: &str, reply: Option<Reply>) -> CallError {
    CallError::Indefinite(format!("{what}: unexpected reply from the core: {reply:?}"))
}

#[async_trait]
impl KvApi for SimConn {
    fn node(&self) -> &str {
        &self.id
    }

    async fn read(&self, key: &str) -> Result<ReadReply, CallError> {
        let input = Input::Read { key: key.into() };
        self.call("GET /kv", |c| match self.step(c, input) {
            Some(Reply::Read { values, context }) => Ok(ReadReply {
                values,
                context: context.encode(),
            }),
            other => Err(unexpected("GET /kv", other)),
        })
        .await
    }

    async fn write(
        &self,
        key: &str,
        value: &Value,
        context: Option<&str>,
    ) -> Result<(), CallError> {
        let context = match context.map(Context::decode).transpose() {
            Ok(context) => context,
            Err(e) => return Err(CallError::Definite(format!("bad context: {e}"))),
        };
        let entropy = self
            .entropy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random();
        let input = Input::Write {
            key: key.into(),
            value: value.clone(),
            context,
            entropy,
        };
        self.call("PUT /kv", |c| match self.step(c, input) {
            Some(Reply::Written { .. }) => Ok(()),
            Some(Reply::Conflict { .. }) => Err(CallError::Conflict),
            Some(Reply::Refused(Refusal::NotLeader { leader })) => Err(CallError::Definite(
                format!("{} is a follower; write to the leader {leader}", self.id),
            )),
            Some(Reply::Refused(Refusal::BadValue(message))) => Err(CallError::Definite(message)),
            other => Err(unexpected("PUT /kv", other)),
        })
        .await
    }

    async fn next_id(&self, key: &str) -> Result<u64, CallError> {
        self.call("POST /ids", |c| {
            let now = c.now_ns();
            let (outcome, send, incarnation) = {
                let mut state = c.lock();
                let node = &mut state.nodes[self.node];
                let ids = node.ids;
                let mut issued = std::mem::take(&mut node.issued_ids);
                let core = node.core().expect("serving on a live node");
                let (outcome, outputs) =
                    compound::next_id_steps(core, now, key.to_string(), ids, &mut issued);
                node.issued_ids = issued;
                let (_, send) = node.absorb(now, outputs);
                (outcome, send, node.incarnation)
            };
            c.send_all(self.node, incarnation, send);
            outcome.map_err(|e| CallError::Definite(e.to_string()))
        })
        .await
    }

    async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError> {
        self.call("POST /claim", |c| {
            let now = c.now_ns();
            let (outcome, send, incarnation) = {
                let mut state = c.lock();
                let node = &mut state.nodes[self.node];
                let core = node.core().expect("serving on a live node");
                let (outcome, outputs) =
                    compound::claim_steps(core, now, key.to_string(), value.clone());
                let (_, send) = node.absorb(now, outputs);
                (outcome, send, node.incarnation)
            };
            c.send_all(self.node, incarnation, send);
            match outcome {
                Ok(Claim::Accepted) => Ok(()),
                Ok(Claim::Taken(_)) => Err(CallError::Conflict),
                Err(e) => Err(CallError::Definite(e.to_string())),
            }
        })
        .await
    }
}
