//! The `causal` workload: dependent writes in chains and reads that check
//! them. A session writes `x` to one key of a pair, then `y` to the other (y
//! depends on x, as an update depends on its insert); other sessions read
//! the dependent key, then the cause's key, at one node. A node that shows
//! `y` but not `x` (or anything after it) broke causality: what happens when
//! an update overtakes its insert in all-to-all replication.

use rand::Rng;
use serde_json::Value;

use super::Invocation;

/// The ops of one step of a session: a chain of two writes or a pair of
/// reads, all to be sent to one node.
pub fn next_steps(
    rng: &mut impl Rng,
    keys: &[String],
    mut unique: impl FnMut() -> u64,
) -> Vec<Invocation> {
    let pairs = (keys.len() / 2).max(1);
    let pair = rng.random_range(0..pairs);
    let cause = keys[(2 * pair) % keys.len()].clone();
    let effect = keys[(2 * pair + 1) % keys.len()].clone();
    if rng.random_bool(0.5) {
        vec![
            Invocation::new("write", cause, Value::from(unique())),
            Invocation::new("write", effect, Value::from(unique())),
        ]
    } else {
        vec![
            Invocation::new("read", effect, Value::Null),
            Invocation::new("read", cause, Value::Null),
        ]
    }
}
