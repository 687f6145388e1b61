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
//!
//! A cause is also probed where its effect can overtake it, right when it
//! can: once `x` is acknowledged, an observer (a session of its own) at a
//! second node waits, bounded, until `x` arrives, writes an effect `y`
//! there (a key only probes write, `<effect>.probe`), and another observer
//! at a third node waits until `y` arrives and reads `x`. Random checks alone catch an effect in that window only
//! at high rates; the probe catches it at any rate.

use std::time::{Duration, Instant};

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
        if let Some(value) = &op.awaiting {
            return read_awaiting(node, &op.key, value).await;
        }
        Register.execute(node, op, Context::default()).await
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        Register.final_read(node, key).await
    }
}

/// Longest wait for a probed effect to arrive at the observer's node.
const PROBE_WITHIN: Duration = Duration::from_millis(500);
/// Pause between the observer's reads while it waits.
const PROBE_POLL: Duration = Duration::from_millis(2);

/// Read `key` until the node holds `value` (or the wait is over): only the
/// last read is the op's outcome (the earlier ones fall inside the op's
/// interval and report nothing); what it returned is recorded as it is.
async fn read_awaiting(node: &dyn KvApi, key: &str, value: &Value) -> Completion {
    let deadline = Instant::now() + PROBE_WITHIN;
    loop {
        let reply = match node.read(key).await {
            Ok(reply) => reply,
            Err(e) => return Completion::fail(e.message()),
        };
        if reply.values.contains(value) || Instant::now() >= deadline {
            return Completion::ok(Value::Array(reply.values));
        }
        tokio::time::sleep(PROBE_POLL).await;
    }
}

/// A cause `x` written, then probed where its effect can overtake it: an
/// observer at another node waits until `x` arrives there and writes an
/// effect `y` (which depends on it); a second observer at a third node
/// waits until `y` arrives there, then reads `x`. Without causal delivery
/// `x` may still be on its way.
fn probed_cause(x_key: String, y_key: String, x: u64, y: u64) -> Invocation {
    let read = |key: &String| Invocation::new("read", key.clone(), Value::Null);
    let probe = read(&y_key)
        .by_new_observer()
        .awaiting(Value::from(y))
        .then(read(&x_key).by_observer());
    let effect = read(&x_key)
        .by_new_observer()
        .awaiting(Value::from(x))
        .then(
            Invocation::new("write", y_key, Value::from(y))
                .by_observer()
                .then(probe),
        );
    Invocation::new("write", x_key, Value::from(x)).then(effect)
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
        // Owners spend half their steps on probed causes: the probes are
        // what finds an effect overtaking its cause at ordinary rates.
        0 | 3 if !owned.is_empty() => {
            let p = owned[rng.random_range(0..owned.len())];
            // The probe's effect has a key of its own: the pair's effect
            // key is overwritten by every session's effects, and at high
            // rates the awaited value would be gone before it arrived.
            let probe_effect = format!("{}.probe", effect(p));
            vec![probed_cause(cause(p), probe_effect, unique(), unique())]
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
    use crate::workload::Observer;

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
                ("write", 1, Some(effect)) => {
                    assert_eq!(steps[0].key, "x1");
                    // Probed: an observer awaits the cause, writes the
                    // effect; another awaits the effect, reads the cause.
                    assert_eq!(effect.observer, Observer::New);
                    assert_eq!(effect.awaiting, Some(steps[0].value.clone()));
                    let write = effect.then.as_ref().unwrap();
                    assert_eq!((write.f, write.key.as_str()), ("write", "y1.probe"));
                    assert_eq!(write.observer, Observer::Same);
                    let probe = write.then.as_ref().unwrap();
                    assert_eq!(
                        (probe.key.as_str(), probe.observer),
                        ("y1.probe", Observer::New)
                    );
                    assert_eq!(probe.awaiting, Some(write.value.clone()));
                    let check = probe.then.as_ref().unwrap();
                    assert_eq!((check.key.as_str(), check.observer), ("x1", Observer::Same));
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
        // An owner spends about half its steps on probed causes.
        assert!(
            causes > 150 && effects > 50 && checks > 50,
            "{causes} {effects} {checks}"
        );
    }
}
