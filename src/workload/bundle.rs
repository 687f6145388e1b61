//! A workload as one bundle: how its ops are generated and routed, how it
//! executes them over each protocol it supports, and the shape of its
//! final reads. The driver, the final reads and the config's checks know
//! workloads only through this trait; the checkers' own judging of a
//! workload is `diverge_checkers::Workload::judging`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::api::{Conn, KvApi, MaelstromApi, Protocol, SqlApi};
use super::on_read::OnRead;
use super::{Completion, Invocation};
use crate::domain::Workload;

/// What a client process draws its next step from.
pub struct Gen<'a> {
    pub rng: &'a mut ChaCha8Rng,
    /// The key pool.
    pub keys: &'a [String],
    /// This client process (0-based) and how many there are.
    pub session: usize,
    pub sessions: usize,
    /// Values unique across the test.
    pub unique: &'a mut dyn FnMut() -> u64,
}

impl Gen<'_> {
    /// A key of the pool, drawn uniformly.
    pub fn key(&mut self) -> String {
        use rand::Rng;
        self.keys[self.rng.random_range(0..self.keys.len())].clone()
    }

    /// On a drawn key: with probability `share`, `f` of a value unique
    /// across the test; otherwise a `read`.
    pub fn write_or_read(&mut self, f: &'static str, share: f64) -> Invocation {
        use rand::Rng;
        let key = self.key();
        if self.rng.random_bool(share) {
            Invocation::new(f, key, serde_json::Value::from((self.unique)()))
        } else {
            Invocation::new("read", key, serde_json::Value::Null)
        }
    }
}

/// Where a step's first op goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRoute {
    /// As the run's routing says (random, or the key's home).
    ByRouting,
    /// Always the session's own node (`session % leaders`).
    Session,
}

/// Where the later ops of a step go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedRoute {
    /// To the node of the step's first op.
    SameNode,
    /// Under random routing, to a node drawn afresh (an update racing its
    /// insert); under home routing, the same node.
    Redrawn,
}

/// What executing one op may need besides the op.
#[derive(Default, Clone, Copy)]
pub struct Context<'a> {
    /// The op is a later op of its step.
    pub queued: bool,
    /// `--on-read`: the script siblings are resolved with.
    pub on_read: Option<&'a OnRead>,
}

/// Executing a workload's ops over the key-value API.
#[async_trait]
pub trait OverKv: Send + Sync {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, cx: Context<'_>) -> Completion;
    /// What `node` holds for `key`, as the workload's final read value.
    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String>;
}

/// Executing a workload's ops over SQL.
#[async_trait]
pub trait OverSql: Send + Sync {
    async fn execute(&self, node: &dyn SqlApi, op: &Invocation, cx: Context<'_>) -> Completion;
    async fn final_read(&self, node: &dyn SqlApi, key: &str) -> Result<Value, String>;
}

/// Executing a workload's ops over Maelstrom's protocol.
#[async_trait]
pub trait OverMaelstrom: Send + Sync {
    async fn execute(&self, node: &dyn MaelstromApi, op: &Invocation) -> Completion;
    async fn final_read(&self, node: &dyn MaelstromApi, key: &str) -> Result<Value, String>;
    /// Whether the nodes are read at the end. `false` for a workload judged
    /// on its ops alone (Maelstrom's `unique-ids`), whose nodes answer no
    /// `read`: it expects no final reads, rather than missing them.
    fn final_reads(&self) -> bool {
        true
    }
    /// Whether the nodes converge by gossip, so the final reads wait until
    /// every node answers a keyless `read` the same (see
    /// `system::maelstrom::settle`). `false` for a workload whose nodes
    /// answer from a linearizable store and take no keyless `read`
    /// (Maelstrom's `lin-kv`): its final reads are taken at once.
    fn converges_by_gossip(&self) -> bool {
        true
    }
}

/// Everything about one workload.
pub trait Bundle: Send + Sync {
    fn workload(&self) -> Workload;
    /// The ops of a client's next step, all sent to one node (see
    /// [`QueuedRoute`]). An op's [`Invocation::then`] follows it if it
    /// returns a value.
    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation>;
    fn step_route(&self) -> StepRoute {
        StepRoute::ByRouting
    }
    fn queued_route(&self) -> QueuedRoute {
        QueuedRoute::SameNode
    }
    /// Whether a key's value grows with every write (sets, lists): such a
    /// workload moves on to fresh keys (`--ops-per-key`).
    fn values_grow(&self) -> bool {
        false
    }
    /// Whether a plain read may be served by a read-only follower.
    fn reads_spread(&self) -> bool {
        false
    }
    /// The keys final reads cover: the pool and every key an op touched.
    fn final_keys(&self, pool: &[String], touched: &BTreeSet<String>) -> Vec<String> {
        let mut keys = pool.to_vec();
        keys.extend(touched.iter().filter(|k| !pool.contains(k)).cloned());
        keys
    }
    fn over_kv(&self) -> Option<&dyn OverKv> {
        None
    }
    fn over_sql(&self) -> Option<&dyn OverSql> {
        None
    }
    fn over_maelstrom(&self) -> Option<&dyn OverMaelstrom> {
        None
    }
}

impl dyn Bundle + '_ {
    /// The protocols this workload runs over.
    pub fn protocols(&self) -> Vec<Protocol> {
        let mut protocols = Vec::new();
        if self.over_kv().is_some() {
            protocols.push(Protocol::Kv);
        }
        if self.over_sql().is_some() {
            protocols.push(Protocol::Sql);
        }
        if self.over_maelstrom().is_some() {
            protocols.push(Protocol::Maelstrom);
        }
        protocols
    }

    /// Execute `op` over `conn`; an op over a protocol the workload does
    /// not implement (which the config prevents) fails without being sent.
    pub async fn execute(&self, conn: &Conn, op: &Invocation, cx: Context<'_>) -> Completion {
        match conn {
            Conn::Kv(api) if let Some(kv) = self.over_kv() => {
                kv.execute(api.as_ref(), op, cx).await
            }
            Conn::Sql(api) if let Some(sql) = self.over_sql() => {
                sql.execute(api.as_ref(), op, cx).await
            }
            Conn::Maelstrom(api) if let Some(m) = self.over_maelstrom() => {
                m.execute(api.as_ref(), op).await
            }
            _ => Completion::fail(self.unsupported(conn)),
        }
    }

    /// The keys final reads cover over `protocol` ([`Bundle::final_keys`]):
    /// none where the workload takes no final reads over it.
    pub fn final_keys_over(
        &self,
        protocol: Protocol,
        pool: &[String],
        touched: &BTreeSet<String>,
    ) -> Vec<String> {
        let none = protocol == Protocol::Maelstrom
            && self.over_maelstrom().is_some_and(|m| !m.final_reads());
        if none {
            Vec::new()
        } else {
            self.final_keys(pool, touched)
        }
    }

    /// `key` as `conn`'s node holds it, shaped as the workload's reads.
    pub async fn final_read(&self, conn: &Conn, key: &str) -> Result<Value, String> {
        match conn {
            Conn::Kv(api) if let Some(kv) = self.over_kv() => {
                kv.final_read(api.as_ref(), key).await
            }
            Conn::Sql(api) if let Some(sql) = self.over_sql() => {
                sql.final_read(api.as_ref(), key).await
            }
            Conn::Maelstrom(api) if let Some(m) = self.over_maelstrom() => {
                m.final_read(api.as_ref(), key).await
            }
            _ => Err(self.unsupported(conn)),
        }
    }

    fn unsupported(&self, conn: &Conn) -> String {
        format!(
            "the {} workload does not run over {}",
            self.workload().name(),
            conn.protocol().describe()
        )
    }
}
