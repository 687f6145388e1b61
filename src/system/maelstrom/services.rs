//! The services Maelstrom provides to nodes, provided by diverge so nodes
//! that keep their state in them run unchanged: `seq-kv`, `lin-kv`,
//! `lww-kv` (key-value stores: `read {key}`, `write {key, value}`,
//! `cas {key, from, to, create_if_not_exists}`) and `lin-tso` (`ts` ->
//! `ts_ok {ts}`, strictly increasing).
//!
//! Every store here is one map updated atomically in the router, so it is
//! linearizable: stronger than `seq-kv` and `lww-kv` promise. A node that
//! is correct only because its store is stronger than promised passes here
//! (Maelstrom's own seq-kv may serve stale reads); docs/maelstrom.md says so.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

/// The names nodes address the services by.
pub const NAMES: [&str; 4] = ["seq-kv", "lin-kv", "lww-kv", "lin-tso"];

/// Maelstrom's error codes the services answer with.
const KEY_DOES_NOT_EXIST: u64 = 20;
const PRECONDITION_FAILED: u64 = 22;
const NOT_SUPPORTED: u64 = 10;
const MALFORMED_REQUEST: u64 = 12;

/// Every service's state.
#[derive(Default)]
pub struct Services {
    /// By service name, then by key (the key's JSON text: keys may be any
    /// JSON value).
    stores: Mutex<HashMap<String, HashMap<String, Value>>>,
    ts: Mutex<u64>,
}

impl Services {
    /// The reply body to `body` sent to service `name` (`in_reply_to` set).
    pub fn handle(&self, name: &str, body: &Value) -> Value {
        let mut reply = match (name, body["type"].as_str()) {
            ("lin-tso", Some("ts")) => {
                let mut ts = self.ts.lock().expect("tso lock");
                *ts += 1;
                json!({ "type": "ts_ok", "ts": *ts })
            }
            ("lin-tso", _) => error(NOT_SUPPORTED, "lin-tso takes only ts"),
            (_, Some(kind)) => {
                let mut stores = self.stores.lock().expect("stores lock");
                kv(stores.entry(name.to_string()).or_default(), kind, body)
            }
            (_, None) => error(MALFORMED_REQUEST, "no type"),
        };
        reply["in_reply_to"] = body["msg_id"].clone();
        reply
    }
}

fn kv(store: &mut HashMap<String, Value>, kind: &str, body: &Value) -> Value {
    let key = body["key"].to_string();
    let missing = || error(KEY_DOES_NOT_EXIST, &format!("key {key} does not exist"));
    match kind {
        "read" => match store.get(&key) {
            Some(value) => json!({ "type": "read_ok", "value": value }),
            None => missing(),
        },
        "write" => {
            store.insert(key, body["value"].clone());
            json!({ "type": "write_ok" })
        }
        "cas" => {
            let create = body["create_if_not_exists"].as_bool().unwrap_or(false);
            match store.get(&key) {
                None if !create => missing(),
                Some(current) if *current != body["from"] => error(
                    PRECONDITION_FAILED,
                    &format!("expected {}, but had {current}", body["from"]),
                ),
                _ => {
                    store.insert(key, body["to"].clone());
                    json!({ "type": "cas_ok" })
                }
            }
        }
        other => error(NOT_SUPPORTED, &format!("unknown request type {other}")),
    }
}

fn error(code: u64, text: &str) -> Value {
    json!({ "type": "error", "code": code, "text": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_reads_writes_and_compares_and_sets_as_maelstrom_documents() {
        let s = Services::default();
        let call = |body: Value| s.handle("seq-kv", &body);
        let missing = call(json!({"type": "read", "key": "c", "msg_id": 1}));
        assert_eq!(
            (missing["code"].clone(), missing["in_reply_to"].clone()),
            (json!(20), json!(1))
        );
        let created = call(json!({"type": "cas", "key": "c", "from": 0, "to": 5,
            "create_if_not_exists": true, "msg_id": 2}));
        assert_eq!(created["type"], "cas_ok");
        let stale = call(json!({"type": "cas", "key": "c", "from": 0, "to": 7, "msg_id": 3}));
        assert_eq!(stale["code"], 22);
        call(json!({"type": "cas", "key": "c", "from": 5, "to": 7, "msg_id": 4}));
        let read = call(json!({"type": "read", "key": "c", "msg_id": 5}));
        assert_eq!(read["value"], 7);
        // Each service is its own store.
        let other = s.handle("lin-kv", &json!({"type": "read", "key": "c", "msg_id": 6}));
        assert_eq!(other["code"], 20);
    }

    #[test]
    fn the_timestamp_oracle_only_goes_up() {
        let s = Services::default();
        let a = s.handle("lin-tso", &json!({"type": "ts", "msg_id": 1}))["ts"].clone();
        let b = s.handle("lin-tso", &json!({"type": "ts", "msg_id": 2}))["ts"].clone();
        assert!(b.as_u64() > a.as_u64(), "{a} then {b}");
    }
}
