//! Operations that read a key and write it in one atomic step at this node,
//! as a single-leader database would: auto-increment ids and
//! insert-if-absent claims. Atomic at one node only: two leaders can still
//! hand out the same id or accept the same claim (the seed's autoincrement
//! and integrity-constraint pitfalls), which is what the workloads measure.

use std::collections::HashMap;
use std::sync::Arc;

use diverge_replica::{Input, Nanos, Output, Refusal, Replica, Reply};
use serde_json::Value;

use super::args::IdSequence;
use super::shell::{Node, StepError};

/// The outcome of a claim.
pub enum Claim {
    Accepted,
    /// The key already holds these values.
    Taken(Vec<Value>),
}

/// Hand out the next auto-increment id of sequence `key`: one past the
/// largest id this node has seen (its own or replicated), on the node's
/// step and offset.
pub async fn next_id(node: &Arc<Node>, key: String) -> Result<u64, StepError> {
    let ids = node.ids;
    node.atomically(|core, now| {
        let mut issued = node.issued_ids.lock().unwrap_or_else(|e| e.into_inner());
        next_id_steps(core, now, key, ids, &mut issued)
    })
    .await?
}

/// The steps of [`next_id`] on the core, under the caller's lock: the id
/// (or why there is none) and the outputs whose records and batches the
/// caller handles. `issued` is the node's memory of the ids it issued
/// (looked up by key only).
pub fn next_id_steps(
    core: &mut Replica,
    now: Nanos,
    key: String,
    ids: IdSequence,
    issued: &mut HashMap<String, u64>,
) -> (Result<u64, StepError>, Vec<Output>) {
    let mut read = core.step(now, Input::Read { key: key.clone() });
    let (values, context) = match read.reply.take() {
        Some(Reply::Read { values, context }) => (values, context),
        _ => return (Err(StepError::NoReply), vec![read]),
    };
    // Like MySQL's auto-increment counter, the node never goes back: it
    // continues past the largest id it holds now or ever issued itself
    // (a replicated write may have replaced its own later id).
    let held = values.iter().filter_map(Value::as_u64).max().unwrap_or(0);
    // First use of the sequence since start: the largest id this node
    // wrote to the key (the core tracks it across restarts and truncation).
    let issued = issued
        .entry(key.clone())
        .or_insert_with(|| core.own_max(&key));
    let id = ids.next_after(held.max(*issued));
    *issued = id;
    let write = core.step(
        now,
        Input::Write {
            key,
            value: Value::from(id),
            context: Some(context),
            // Unique-id strategies draw the write's id from this; these
            // compound writes win by causality, not by id.
            entropy: 0,
        },
    );
    let outcome = match &write.reply {
        Some(Reply::Written { .. }) => Ok(id),
        other => Err(refusal(core.id(), other)),
    };
    (outcome, vec![read, write])
}

/// Why a compound write was not accepted: a follower names its leader.
fn refusal(node: &str, reply: &Option<Reply>) -> StepError {
    match reply {
        Some(Reply::Refused(Refusal::NotLeader { leader })) => StepError::NotLeader {
            node: node.to_string(),
            leader: leader.clone(),
        },
        _ => StepError::NoReply,
    }
}

/// Write `value` to `key` only if this node holds nothing for it.
pub async fn claim(node: &Arc<Node>, key: String, value: Value) -> Result<Claim, StepError> {
    node.atomically(|core, now| claim_steps(core, now, key, value))
        .await?
}

/// The steps of [`claim`] on the core, as [`next_id_steps`].
pub fn claim_steps(
    core: &mut Replica,
    now: Nanos,
    key: String,
    value: Value,
) -> (Result<Claim, StepError>, Vec<Output>) {
    let mut read = core.step(now, Input::Read { key: key.clone() });
    let (values, context) = match read.reply.take() {
        Some(Reply::Read { values, context }) => (values, context),
        _ => return (Err(StepError::NoReply), vec![read]),
    };
    if !values.is_empty() {
        return (Ok(Claim::Taken(values)), vec![read]);
    }
    let write: Output = core.step(
        now,
        Input::Write {
            key,
            value,
            context: Some(context),
            // Unique-id strategies draw the write's id from this; these
            // compound writes win by causality, not by id.
            entropy: 0,
        },
    );
    let outcome = match &write.reply {
        Some(Reply::Written { .. }) => Ok(Claim::Accepted),
        other => Err(refusal(core.id(), other)),
    };
    (outcome, vec![read, write])
}

#[cfg(test)]
mod tests {
    use crate::node::args::IdSequence;

    #[test]
    fn ids_follow_step_and_offset() {
        let plain = IdSequence { step: 1, offset: 1 };
        assert_eq!(plain.next_after(0), 1);
        assert_eq!(plain.next_after(41), 42);
        let second_of_three = IdSequence { step: 3, offset: 2 };
        assert_eq!(second_of_three.next_after(0), 2);
        assert_eq!(second_of_three.next_after(2), 5);
        assert_eq!(second_of_three.next_after(3), 5);
        assert_eq!(second_of_three.next_after(4), 5);
        assert_eq!(second_of_three.next_after(5), 8);
        let third_of_three = IdSequence { step: 3, offset: 3 };
        assert_eq!(third_of_three.next_after(0), 3);
        assert_eq!(third_of_three.next_after(7), 9);
    }
}
