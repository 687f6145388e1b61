//! Fault windows: when each fault was in effect, read back from the
//! nemesis ops of a history (`start-<fault>` ... `stop-<fault>`); and the
//! faults the system refused, which did not happen (a `fail` nemesis op) or
//! happened on some targets only (an `ok` whose value names the `refused`).

use diverge_checkers::{Op, OpType, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One fault, from the moment it took effect until it was undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub fault: String,
    /// Seconds since the test started.
    pub start_s: f64,
    /// `None` if the history ends while the fault is in effect.
    pub end_s: Option<f64>,
    /// The targets, as the nemesis recorded them.
    pub value: Value,
}

/// A fault change the system refused, wholly (it did not happen) or on some
/// targets (it happened on the others).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedFault {
    /// The nemesis op, e.g. `start-clock`.
    pub f: String,
    /// Seconds since the test started.
    pub at_s: f64,
    /// `false`: refused by every target, so the change did not happen.
    pub partial: bool,
    /// What the targets answered (per target for a partial refusal).
    pub answer: String,
}

/// The nemesis ops of a history file, reading only its nemesis lines (a
/// history can be large; the checkers read it separately).
pub fn nemesis_ops_in(path: &std::path::Path) -> anyhow::Result<Vec<Op>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)?;
    let mut nemesis_ops = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.contains("\"nemesis\"") {
            // A torn last line is skipped, as the checkers do.
            if let Ok(op) = serde_json::from_str::<Op>(&line) {
                nemesis_ops.push(op);
            }
        }
    }
    Ok(nemesis_ops)
}

/// Every fault change that was refused, wholly or in part.
pub fn fault_refusals(history: &[Op]) -> Vec<RefusedFault> {
    let nemesis = history.iter().filter(|op| op.process == Process::Nemesis);
    nemesis
        .filter_map(|op| {
            let at_s = op.time as f64 / 1e9;
            let refused = |partial, answer| RefusedFault {
                f: op.f.clone(),
                at_s,
                partial,
                answer,
            };
            match op.kind {
                OpType::Fail => Some(refused(false, op.error.clone().unwrap_or_default())),
                OpType::Ok => op
                    .value
                    .get("refused")
                    .and_then(Value::as_object)
                    .map(|by| {
                        let answers: Vec<String> = by
                            .iter()
                            .map(|(target, answer)| match answer.as_str() {
                                Some(text) => format!("{target}: {text}"),
                                None => format!("{target}: {answer}"),
                            })
                            .collect();
                        refused(true, answers.join("; "))
                    }),
                _ => None,
            }
        })
        .collect()
}

/// Pair each completed `start-X` with the next completed `stop-X`.
pub fn fault_windows(history: &[Op]) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    for op in history {
        if op.process != Process::Nemesis || op.kind != OpType::Ok {
            continue;
        }
        let seconds = op.time as f64 / 1e9;
        if let Some(fault) = op.f.strip_prefix("start-") {
            windows.push(FaultWindow {
                fault: fault.to_string(),
                start_s: seconds,
                end_s: None,
                value: op.value.clone(),
            });
        } else if let Some(fault) = op.f.strip_prefix("stop-")
            && let Some(open) = windows
                .iter_mut()
                .rev()
                .find(|w| w.fault == fault && w.end_s.is_none())
        {
            open.end_s = Some(seconds);
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nemesis(index: u64, time_s: f64, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index,
            time: (time_s * 1e9) as u64,
            process: Process::Nemesis,
            kind,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
        }
    }

    #[test]
    fn refusals_are_listed_and_open_no_window() {
        let mut refused = nemesis(1, 1.5, OpType::Fail, "start-clock", Value::Null);
        refused.error = Some("n1: 400 offset beyond a year".into());
        let partial = serde_json::json!({"offsets": {"n2": 5}, "refused": {"n1": "404"}});
        let history = vec![
            nemesis(0, 1.0, OpType::Invoke, "start-clock", Value::Null),
            refused,
            nemesis(2, 2.0, OpType::Ok, "start-clock", partial.clone()),
            nemesis(3, 2.5, OpType::Ok, "stop-clock", Value::Null),
        ];
        let refusals = fault_refusals(&history);
        assert_eq!(
            refusals,
            vec![
                RefusedFault {
                    f: "start-clock".into(),
                    at_s: 1.5,
                    partial: false,
                    answer: "n1: 400 offset beyond a year".into(),
                },
                RefusedFault {
                    f: "start-clock".into(),
                    at_s: 2.0,
                    partial: true,
                    answer: "n1: 404".into(),
                },
            ]
        );
        // Only the change that happened (on n2) is a window.
        let windows = fault_windows(&history);
        assert_eq!(windows.len(), 1);
        assert_eq!((windows[0].start_s, windows[0].end_s), (2.0, Some(2.5)));
    }

    #[test]
    fn windows_pair_starts_with_stops_of_the_same_fault() {
        let history = vec![
            nemesis(0, 1.0, OpType::Invoke, "start-partition", Value::Null),
            nemesis(
                1,
                1.1,
                OpType::Ok,
                "start-partition",
                serde_json::json!(["n1"]),
            ),
            nemesis(2, 2.0, OpType::Ok, "start-offline", Value::Null),
            nemesis(3, 3.0, OpType::Ok, "stop-partition", Value::Null),
        ];
        let windows = fault_windows(&history);
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].fault, "partition");
        assert_eq!(windows[0].start_s, 1.1);
        assert_eq!(windows[0].end_s, Some(3.0));
        assert_eq!(windows[0].value, serde_json::json!(["n1"]));
        assert_eq!(windows[1].end_s, None, "offline never stopped");
    }
}
