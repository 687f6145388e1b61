//! Maelstrom's `txn-list-append` workload: `txn {txn: [["r", k, null],
//! ["append", k, v], ...]}` -> `txn_ok {txn}` with the reads filled in.
//! Each transaction has one to four micro-ops on integer keys drawn from
//! the key pool, appended values unique across the test. Keys are integers
//! (Maelstrom's nodes expect them): the pool's `k<i>` is `i`, and once the
//! clients move on to fresh keys (`--ops-per-key`, so lists stay short)
//! `k<i>.<g>` is `g * keys + i`.
//!
//! - Recorded as one `txn` op (key `txn`) whose value is the micro-op list:
//!   as sent on the invoke, as answered on an `ok` completion.
//! - Errors 30 (txn-conflict), 14 (abort), 11 and the other definite codes
//!   are `fail`; a timeout, 13 (crash) and unknown codes `info`.
//! - A `txn_ok` that does not answer the micro-ops sent (another length, a
//!   micro-op changed, a read without a list) is an `info` when the
//!   transaction appended (it may have committed), a `fail` otherwise.
//! - Judged on the transactions alone, Elle-style
//!   (`diverge_checkers::txn`): no final reads, nothing to settle.

use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::api::MaelstromApi;
use super::bundle::{Bundle, Gen, OverMaelstrom};
use super::{Completion, Invocation};
use crate::domain::Workload;

/// The key the history records every transaction under.
const KEY: &str = "txn";

pub struct TxnListAppend;

impl Bundle for TxnListAppend {
    fn workload(&self) -> Workload {
        Workload::TxnListAppend
    }

    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let len = g.rng.random_range(1..=4);
        let mops = (0..len)
            .map(|_| {
                let key = int_key(&g.key(), g.keys.len());
                if g.rng.random_bool(0.5) {
                    json!(["r", key, null])
                } else {
                    json!(["append", key, (g.unique)()])
                }
            })
            .collect();
        vec![Invocation::new("txn", KEY.into(), Value::Array(mops))]
    }

    fn values_grow(&self) -> bool {
        true
    }

    fn final_keys(&self, _: &[String], _: &std::collections::BTreeSet<String>) -> Vec<String> {
        Vec::new()
    }

    fn over_maelstrom(&self) -> Option<&dyn OverMaelstrom> {
        Some(self)
    }
}

/// The integer key of pool key `name` (`k<i>`, or `k<i>.<generation>`) in
/// a pool of `pool` keys; 0 for a name of another shape (none is made).
fn int_key(name: &str, pool: usize) -> u64 {
    let name = name.trim_start_matches('k');
    let (slot, generation) = name.split_once('.').unwrap_or((name, "0"));
    let number = |s: &str| s.parse::<u64>().unwrap_or(0);
    number(generation) * pool as u64 + number(slot)
}

/// The reply's micro-ops if they answer `sent`: the same micro-ops in the
/// same order, each read with a list (`null`: an empty one).
fn answered(sent: &Value, reply: &Value) -> Result<Value, String> {
    let (Some(sent), Some(got)) = (sent.as_array(), reply["txn"].as_array()) else {
        return Err(format!("txn_ok without a txn list: {reply}"));
    };
    if sent.len() != got.len() {
        return Err(format!(
            "txn_ok answers {} micro-ops, {} were sent: {reply}",
            got.len(),
            sent.len()
        ));
    }
    let mut out = Vec::with_capacity(sent.len());
    for (s, g) in sent.iter().zip(got) {
        let same_op = g.get(0) == s.get(0) && g.get(1) == s.get(1);
        let value = g.get(2).unwrap_or(&Value::Null);
        let fitting = match s[0].as_str() {
            Some("r") => value.is_array() || value.is_null(),
            _ => value == &s[2],
        };
        if !same_op || !fitting || g.as_array().is_none_or(|m| m.len() != 3) {
            return Err(format!("txn_ok micro-op {g} does not answer {s}"));
        }
        let value = if value.is_null() {
            json!([])
        } else {
            value.clone()
        };
        out.push(json!([s[0], s[1], value]));
    }
    Ok(Value::Array(out))
}

#[async_trait]
impl OverMaelstrom for TxnListAppend {
    async fn execute(&self, node: &dyn MaelstromApi, op: &Invocation) -> Completion {
        let body = json!({ "type": "txn", "txn": op.value });
        match node.call(body).await {
            Ok(reply) => match answered(&op.value, &reply) {
                Ok(txn) => Completion::ok(txn),
                Err(e) => {
                    let appends = op
                        .value
                        .as_array()
                        .is_some_and(|mops| mops.iter().any(|m| m[0] == "append"));
                    let e = format!("{}: {e}", node.node());
                    if appends {
                        Completion::info(e)
                    } else {
                        Completion::fail(e)
                    }
                }
            },
            Err(e) => Completion::failed(e),
        }
    }

    async fn final_read(&self, _: &dyn MaelstromApi, _: &str) -> Result<Value, String> {
        Err("txn-list-append takes no final reads".into())
    }

    fn final_reads(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keys_become_distinct_integers() {
        assert_eq!(int_key("k0", 8), 0);
        assert_eq!(int_key("k7", 8), 7);
        assert_eq!(int_key("k3.1", 8), 11);
        assert_eq!(int_key("k7.2", 8), 23);
    }

    #[test]
    fn replies_must_answer_the_micro_ops_sent() {
        let sent = json!([["r", 1, null], ["append", 2, 7]]);
        let ok = json!({"type": "txn_ok", "txn": [["r", 1, [3, 4]], ["append", 2, 7]]});
        assert_eq!(
            answered(&sent, &ok),
            Ok(json!([["r", 1, [3, 4]], ["append", 2, 7]]))
        );
        // A read of a missing key may come back null: an empty list.
        let null = json!({"txn": [["r", 1, null], ["append", 2, 7]]});
        assert_eq!(
            answered(&sent, &null),
            Ok(json!([["r", 1, []], ["append", 2, 7]]))
        );
        for bad in [
            json!({"txn": [["r", 1, [3]]]}),
            json!({"txn": [["r", 2, [3]], ["append", 2, 7]]}),
            json!({"txn": [["r", 1, 3], ["append", 2, 7]]}),
            json!({"txn": [["r", 1, []], ["append", 2, 8]]}),
            json!({"value": []}),
        ] {
            assert!(answered(&sent, &bad).is_err(), "{bad}");
        }
    }
}
