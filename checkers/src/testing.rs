//! Test helper: write histories the way they read.
//!
//! One op per line: `<index> <process> <type> <f> [key] [value] [@node]`.
//! `process` is a number or `nemesis`; `value` is JSON without spaces
//! (`7`, `[1,2]`, `[]`); a key of `_` means no key; `time` is the index in milliseconds, so index order
//! is real-time order. Blank lines and `#` comments are skipped.
//!
//! ```text
//! 0 1 invoke add    cart 7    @n1
//! 1 1 ok     add    cart 7    @n1
//! 2 9 invoke final-read cart  @n1
//! 3 9 ok     final-read cart [7] @n1
//! ```

use serde_json::Value;

use crate::history::{Op, OpType, Process};

pub fn h(text: &str) -> Vec<Op> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(op)
        .collect()
}

fn op(line: &str) -> Op {
    let mut tokens = line.split_whitespace();
    let mut next = |what: &str| {
        tokens
            .next()
            .unwrap_or_else(|| panic!("{line:?}: missing {what}"))
    };
    let index: u64 = next("index").parse().expect("index");
    let process = match next("process") {
        "nemesis" => Process::Nemesis,
        p => Process::Client(p.parse().expect("process")),
    };
    let kind = match next("type") {
        "invoke" => OpType::Invoke,
        "ok" => OpType::Ok,
        "fail" => OpType::Fail,
        "info" => OpType::Info,
        other => panic!("{line:?}: bad type {other}"),
    };
    let f = next("f").to_owned();
    let (mut key, mut value, mut node) = (None, Value::Null, None);
    for token in tokens {
        if let Some(n) = token.strip_prefix('@') {
            node = Some(n.to_owned());
        } else if key.is_none() && token == "_" {
            key = Some(String::new()); // placeholder: no key
        } else if key.is_none() {
            key = Some(token.to_owned());
        } else {
            value = serde_json::from_str(token).expect("value");
        }
    }
    if key.as_deref() == Some("") {
        key = None;
    }
    Op {
        index,
        time: index * 1_000_000,
        process,
        kind,
        f,
        key,
        value,
        node,
        error: None,
    }
}

/// The anomalies as `(kind, key, witnesses)`, for whole-result assertions.
pub fn found(result: &crate::CheckResult) -> Vec<(&'static str, &str, Vec<u64>)> {
    result
        .anomalies
        .iter()
        .map(|a| {
            (
                a.kind.name(),
                a.key.as_deref().unwrap_or(""),
                a.witnesses.clone(),
            )
        })
        .collect()
}
