//! Findings for the `unique-ids` and `constraint` workloads, read off the
//! history: an id handed out more than once, a name two claimants were told
//! they own. The checkers judge these workloads too (`unique-ids`,
//! `constraint`); the findings name the instances involved, next to the
//! replication errors of the run.

use std::collections::BTreeMap;

use diverge_checkers::{Op, OpType, Process};
use serde_json::Value;

use crate::results::DbFinding;

/// Ids that more than one `ok` `generate` returned.
pub fn duplicate_ids(history: &[Op]) -> Vec<DbFinding> {
    let mut by_id: BTreeMap<String, Vec<&Op>> = BTreeMap::new();
    for op in history {
        if op.kind == OpType::Ok && op.f == "generate" && !op.value.is_null() {
            by_id.entry(op.value.to_string()).or_default().push(op);
        }
    }
    by_id
        .into_iter()
        .filter(|(_, ops)| ops.len() > 1)
        .map(|(id, ops)| DbFinding {
            node: nodes_of(&ops),
            kind: "duplicate-id".into(),
            channel: None,
            errno: None,
            message: format!(
                "id {id} was handed out {} times: {}",
                ops.len(),
                witnesses(&ops)
            ),
        })
        .collect()
}

/// Names that more than one `ok` `claim` was granted.
pub fn double_claims(history: &[Op]) -> Vec<DbFinding> {
    // The claimant is on the invoke; the completion repeats it.
    let mut by_name: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history {
        if op.kind == OpType::Ok
            && op.f == "claim"
            && let Some(name) = op.key.as_deref()
        {
            by_name.entry(name).or_default().push(op);
        }
    }
    by_name
        .into_iter()
        .filter(|(_, ops)| ops.len() > 1)
        .map(|(name, ops)| DbFinding {
            node: nodes_of(&ops),
            kind: "double-claim".into(),
            channel: None,
            errno: None,
            message: format!(
                "name {name:?} was granted to {} claimants: {}",
                ops.len(),
                witnesses(&ops)
            ),
        })
        .collect()
}

fn nodes_of(ops: &[&Op]) -> String {
    let mut nodes: Vec<&str> = ops.iter().filter_map(|o| o.node.as_deref()).collect();
    nodes.sort();
    nodes.dedup();
    nodes.join(",")
}

fn witnesses(ops: &[&Op]) -> String {
    ops.iter()
        .map(|o| {
            let who = match (&o.value, o.f.as_str()) {
                (Value::Null, _) | (_, "generate") => String::new(),
                (v, _) => format!("claimant {v} "),
            };
            let process = match o.process {
                Process::Client(p) => format!("process {p}"),
                Process::Nemesis => "nemesis".into(),
            };
            format!(
                "{who}on {} (op {}, {process})",
                o.node.as_deref().unwrap_or("?"),
                o.index
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &str) -> Vec<Op> {
        diverge_checkers::parse_history(lines, "test").unwrap()
    }

    #[test]
    fn an_id_returned_twice_is_a_finding() {
        let history = parse(concat!(
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"generate","node":"n1"}"#,
            "\n",
            r#"{"index":1,"time":2,"process":0,"type":"ok","f":"generate","value":1,"node":"n1"}"#,
            "\n",
            r#"{"index":2,"time":3,"process":1,"type":"invoke","f":"generate","node":"n2"}"#,
            "\n",
            r#"{"index":3,"time":4,"process":1,"type":"ok","f":"generate","value":1,"node":"n2"}"#,
            "\n",
            r#"{"index":4,"time":5,"process":1,"type":"invoke","f":"generate","node":"n2"}"#,
            "\n",
            r#"{"index":5,"time":6,"process":1,"type":"ok","f":"generate","value":2,"node":"n2"}"#,
            "\n",
        ));
        let found = duplicate_ids(&history);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].node, "n1,n2");
        assert_eq!(
            found[0].message,
            "id 1 was handed out 2 times: on n1 (op 1, process 0); on n2 (op 3, process 1)"
        );
    }

    #[test]
    fn a_name_granted_twice_is_a_finding_and_a_refusal_is_not() {
        let history = parse(concat!(
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"claim","key":"alice","value":10,"node":"n1"}"#,
            "\n",
            r#"{"index":1,"time":2,"process":0,"type":"ok","f":"claim","key":"alice","value":10,"node":"n1"}"#,
            "\n",
            r#"{"index":2,"time":3,"process":1,"type":"invoke","f":"claim","key":"alice","value":20,"node":"n2"}"#,
            "\n",
            r#"{"index":3,"time":4,"process":1,"type":"ok","f":"claim","key":"alice","value":20,"node":"n2"}"#,
            "\n",
            r#"{"index":4,"time":5,"process":2,"type":"invoke","f":"claim","key":"bob","value":30,"node":"n2"}"#,
            "\n",
            r#"{"index":5,"time":6,"process":2,"type":"ok","f":"claim","key":"bob","value":30,"node":"n2"}"#,
            "\n",
            r#"{"index":6,"time":7,"process":3,"type":"invoke","f":"claim","key":"bob","value":40,"node":"n1"}"#,
            "\n",
            r#"{"index":7,"time":8,"process":3,"type":"fail","f":"claim","key":"bob","value":40,"node":"n1","error":"taken"}"#,
            "\n",
        ));
        let found = double_claims(&history);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].message,
            "name \"alice\" was granted to 2 claimants: claimant 10 on n1 (op 1, process 0); claimant 20 on n2 (op 3, process 1)"
        );
    }
}
