//! The `causal` workload: dependent writes across leaders, and reads that
//! check them. Keys come in pairs, a cause `x` and an effect `y`. Every
//! session stays on one node and plays three parts:
//! - **cause**: the session that owns a pair (pair `p` belongs to session
//!   `p % concurrency`) writes a fresh `x` at its node. One writer per `x`
//!   orders all of a pair's causes, so any older `x` is a missed cause.
//! - **effect**: read `x` at this node and, if it returned a value, write a
//!   fresh `y` here: `y` depends on the `x` this node had (writes follow
//!   reads), and reaches the other nodes over a *different* link than `x`.
//! - **check**: read `y`, then `x`. Seeing `y` but an `x` older than its
//!   cause (or none) means the effect overtook its cause: what all-to-all
//!   replication does without causal delivery, and what `--causal-delivery
//!   on` (the effect carries its node's applied frontier) prevents.

use async_trait::async_trait;
use rand::Rng;
use serde_json::Value;

use super::api::KvApi;
use super::bundle::{Bundle, Context, Gen, OverKv, StepRoute};
use super::register::{self, Register};
use super::{Completion, Invocation};
use crate::domain::Workload;

pub struct Causal;

impl Bundle for Causal {
    fn workload(&self) -> Workload {
        Workload::Causal
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        next_steps(g.rng, g.keys, g.session, g.sessions, &mut g.unique)
    }

    /// Sessions stay on one node, so what a session sees is what its node
    /// delivered (and in what order).
    fn step_route(&self) -> StepRoute {
        StepRoute::Session
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }
}

#[async_trait]
impl OverKv for Causal {
    /// Plain register reads and writes, never resolved on read: a
    /// write-back would be a write the chains do not expect.
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        if op.f == "write" {
            return register::write(node, op, None).await;
        }
        Register.execute(node, op, Context::default()).await
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        Register.final_read(node, key).await
    }
}

/// The ops of the next step of session `session` (of `sessions`), all sent
/// to the session's node. An effect step's read carries the write that
/// follows it if it returns a value ([`Invocation::then`]).
pub fn next_steps(
    rng: &mut impl Rng,
    keys: &[String],
    session: usize,
    sessions: usize,
    mut unique: impl FnMut() -> u64,
) -> Vec<Invocation> {
    let pairs = (keys.len() / 2).max(1);
    let cause = |p: usize| keys[(2 * p) % keys.len()].clone();
    let effect = |p: usize| keys[(2 * p + 1) % keys.len()].clone();
    let owned: Vec<usize> = (0..pairs)
        .filter(|p| p % sessions.max(1) == session)
        .collect();
    let pair = rng.random_range(0..pairs);
    match rng.random_range(0..4) {
        0 if !owned.is_empty() => {
            let p = owned[rng.random_range(0..owned.len())];
            vec![Invocation::new("write", cause(p), Value::from(unique()))]
        }
        1 => {
            let write = Invocation::new("write", effect(pair), Value::from(unique()));
            vec![Invocation::new("read", cause(pair), Value::Null).then(write)]
        }
        _ => vec![
            Invocation::new("read", effect(pair), Value::Null),
            Invocation::new("read", cause(pair), Value::Null),
        ],
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn only_the_owner_writes_a_cause_and_effects_follow_reads_of_it() {
        let keys: Vec<String> = ["x0", "y0", "x1", "y1"].map(String::from).to_vec();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut n = 0;
        let (mut causes, mut effects, mut checks) = (0, 0, 0);
        for _ in 0..400 {
            // Session 1 of 3 owns pair 1 (x1, y1) only.
            let steps = next_steps(&mut rng, &keys, 1, 3, || {
                n += 1;
                n
            });
            match (steps[0].f, steps.len(), &steps[0].then) {
                ("write", 1, None) => {
                    assert_eq!(steps[0].key, "x1");
                    causes += 1;
                }
                ("read", 1, Some(then)) => {
                    assert!(steps[0].key.starts_with('x'));
                    assert_eq!(then.key, steps[0].key.replace('x', "y"));
                    assert_eq!(then.f, "write");
                    effects += 1;
                }
                ("read", 2, None) => {
                    assert!(steps[0].key.starts_with('y') && steps[1].key.starts_with('x'));
                    checks += 1;
                }
                other => panic!("unexpected step {other:?}"),
            }
        }
        assert!(
            causes > 50 && effects > 50 && checks > 100,
            "{causes} {effects} {checks}"
        );
    }
}
