//! Counter workload: `add` an integer amount (may be negative), `read` the
//! sum.
//!
//! Per key, from the adds: `ok` adds certainly applied, `fail` adds never,
//! `info` (and never-completed) adds maybe. A final value must lie in
//! `[lower, upper]` where `lower = sum(ok) + sum(negative maybe)` and
//! `upper = sum(ok) + sum(positive maybe)`: below is `lost-update` (an
//! acknowledged increment vanished), above is `over-count` (an increment
//! applied twice, or a failed one applied). A read (not final) may see any
//! subset of the non-failed adds invoked before it completed (replication is
//! asynchronous), so it must lie between the sum of their negative amounts
//! and the sum of their positive ones; outside is `impossible-read`.

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::OpType;
use crate::index::{HistoryIndex, KeyIndex};
use crate::model::{CValue, fid};
use crate::reads::on;

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let key_name = index.key_name(key as u32);
        // (invoke time, amount) of every add that may have applied.
        let mut adds: Vec<(u64, i64)> = Vec::new();
        let (mut lower, mut upper) = (0i64, 0i64);
        for (time, amount, outcome) in outcomes(index, k) {
            match outcome {
                OpType::Ok => {
                    lower += amount;
                    upper += amount;
                }
                OpType::Fail => continue,
                _ => {
                    lower += amount.min(0);
                    upper += amount.max(0);
                }
            }
            adds.push((time, amount));
        }
        for r in &k.final_reads {
            let CValue::One(v) = r.value else { continue };
            let Some(v) = v.as_int() else { continue };
            let (kind, bound, rel) = if v < lower {
                (AnomalyKind::LostUpdate, lower, "below")
            } else if v > upper {
                (AnomalyKind::OverCount, upper, "above")
            } else {
                continue;
            };
            out.push(Anomaly::new(
                kind,
                key_name,
                vec![r.witness],
                format!(
                    "final read of counter {key_name:?} on {} (op {}) returned {v}, {rel} the \
                     {} bound {bound} the adds allow (acknowledged and possibly-applied adds \
                     give [{lower}, {upper}])",
                    index.node_name(r.node),
                    r.witness,
                    if v < lower { "lower" } else { "upper" },
                ),
            ));
        }
        // Reads: prefix sums over adds by invoke time.
        adds.sort_unstable();
        let mut neg = vec![0i64; adds.len() + 1];
        let mut pos = vec![0i64; adds.len() + 1];
        for (i, &(_, a)) in adds.iter().enumerate() {
            neg[i + 1] = neg[i] + a.min(0);
            pos[i + 1] = pos[i] + a.max(0);
        }
        let _ = &pos;
        for read in index.reads().filter(|r| r.key == key as u32 && !r.is_final) {
            let CValue::One(v) = read.value else { continue };
            let Some(v) = v.as_int() else { continue };
            let n = adds.partition_point(|&(t, _)| t < read.end_time);
            let (lo, hi) = (neg[n], pos[n]);
            if v < lo || v > hi {
                out.push(Anomaly::new(
                    AnomalyKind::ImpossibleRead,
                    key_name,
                    vec![read.witness],
                    format!(
                        "read of counter {key_name:?}{} (op {}) returned {v}, outside [{lo}, \
                         {hi}], the range the {n} add(s) invoked before it completed allow",
                        on(index, read.node),
                        read.witness,
                    ),
                ));
            }
        }
    }
    out
}

/// (invoke time, amount, outcome) of every add to key `k`.
pub(crate) fn outcomes(index: &HistoryIndex, k: &KeyIndex) -> Vec<(u64, i64, OpType)> {
    k.writes
        .iter()
        .map(|&id| index.write(id))
        .filter(|w| index.hist.ops[w.pair.invoke as usize].f == fid::ADD)
        .filter_map(|w| Some((w.invoke_time, w.value.as_int()?, w.outcome)))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Workload, check};

    #[test]
    fn final_value_below_acknowledged_adds_is_a_lost_update() {
        let history = h("
            0 1 invoke add c 5 @n1
            1 1 ok     add c 5 @n1
            2 2 invoke add c 3 @n2
            3 2 info   add c 3 @n2
            4 3 invoke add c -2 @n2
            5 3 info   add c -2 @n2
            6 9 invoke final-read c @n1
            7 9 ok     final-read c 2 @n1
            8 9 invoke final-read c @n2
            9 9 ok     final-read c 2 @n2
        ");
        // Bounds: 5 + (-2) = 3 .. 5 + 3 = 8.
        let result = check(&history, Workload::Counter);
        assert_eq!(
            found(&result),
            [("lost-update", "c", vec![7]), ("lost-update", "c", vec![9])]
        );
        assert!(result.anomalies[0].explanation.contains("[3, 8]"));
    }

    #[test]
    fn final_value_above_every_possible_add_is_an_over_count() {
        let history = h("
            0 1 invoke add c 5 @n1
            1 1 ok     add c 5 @n1
            2 2 invoke add c 4 @n2
            3 2 fail   add c 4 @n2
            4 9 invoke final-read c @n1
            5 9 ok     final-read c 9 @n1
        ");
        assert_eq!(
            found(&check(&history, Workload::Counter)),
            [("over-count", "c", vec![5])]
        );
    }

    #[test]
    fn info_adds_make_a_range_and_reads_may_lag() {
        let history = h("
            0 1 invoke add c 5 @n1
            1 1 ok     add c 5 @n1
            2 2 invoke add c 3 @n2
            3 2 info   add c 3 @n2
            4 3 invoke read c @n3
            5 3 ok     read c 0 @n3
            6 3 invoke read c @n3
            7 3 ok     read c 8 @n3
            8 9 invoke final-read c @n1
            9 9 ok     final-read c 8 @n1
            10 9 invoke final-read c @n2
            11 9 ok     final-read c 5 @n2
        ");
        // 0 (nothing replicated yet) and 8 are possible; n1 and n2 diverge.
        assert_eq!(
            found(&check(&history, Workload::Counter)),
            [("divergence", "c", vec![9, 11])]
        );
    }

    #[test]
    fn read_beyond_the_adds_invoked_before_it_is_impossible() {
        let history = h("
            0 3 invoke read c @n3
            1 3 ok     read c 5 @n3
            2 1 invoke add c 5 @n1
            3 1 ok     add c 5 @n1
            4 9 invoke final-read c @n1
            5 9 ok     final-read c 5 @n1
        ");
        let result = check(&history, Workload::Counter);
        assert_eq!(found(&result), [("impossible-read", "c", vec![1])]);
        assert!(result.anomalies[0].explanation.contains("outside [0, 0]"));
    }
}
