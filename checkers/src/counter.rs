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
//!
//! Amounts and read values are integers of `i64` or `u64` range, summed in
//! `i128` (fewer than 2^63 adds cannot overflow it), so every bound is
//! exact. Anything else (a string, a float, 2^70, which JSON readers turn
//! into a float) cannot be summed exactly: [`mistyped`] finds the first
//! such op, and `check_file` refuses the history naming its line.

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{Elem, OpType};
use crate::index::{HistoryIndex, KeyIndex};
use crate::model::{CValue, Hist, Val, fid};
use crate::reads::on;

/// `v` as an exact integer, if it is one of `i64` or `u64` range.
pub(crate) fn exact(hist: &Hist, v: Val) -> Option<i128> {
    match v.as_int() {
        Some(n) => Some(i128::from(n)),
        None => match hist.elem(v) {
            Elem::Int(n) => Some(i128::from(n)),
            Elem::Uint(n) => Some(i128::from(n)),
            Elem::Json(_) => None,
        },
    }
}

/// The first op of a counter history whose number cannot be judged
/// exactly: its position in `hist.ops` and what is wrong with it. An
/// `add`'s amount (on its invoke) and an `ok` read's value must be
/// integers of `i64` or `u64` range (a read may also be `null`).
pub fn mistyped(hist: &Hist) -> Option<(usize, String)> {
    hist.ops.iter().enumerate().find_map(|(pos, op)| {
        let (what, may_be_null) = match (op.f, op.kind) {
            (fid::ADD, OpType::Invoke) => ("the amount of an add", false),
            (fid::READ | fid::FINAL_READ, OpType::Ok) => ("a counter read", true),
            _ => return None,
        };
        if !op.is_client() {
            return None;
        }
        let fine = match op.value {
            CValue::Null => may_be_null,
            CValue::One(v) => exact(hist, v).is_some(),
            CValue::Many { .. } => false,
        };
        (!fine).then(|| {
            (
                pos,
                format!(
                    "{what} must be an integer between {} and {}, found {}",
                    i64::MIN,
                    u64::MAX,
                    hist.to_json(op.value)
                ),
            )
        })
    })
}

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let key_name = index.key_name(key as u32);
        // (invoke time, amount) of every add that may have applied.
        let mut adds: Vec<(u64, i128)> = Vec::new();
        let (mut lower, mut upper) = (0i128, 0i128);
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
            let Some(v) = exact(index.hist, v) else {
                continue;
            };
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
        let mut neg = vec![0i128; adds.len() + 1];
        let mut pos = vec![0i128; adds.len() + 1];
        for (i, &(_, a)) in adds.iter().enumerate() {
            neg[i + 1] = neg[i] + a.min(0);
            pos[i + 1] = pos[i] + a.max(0);
        }
        let _ = &pos;
        for read in index.reads().filter(|r| r.key == key as u32 && !r.is_final) {
            let CValue::One(v) = read.value else { continue };
            let Some(v) = exact(index.hist, v) else {
                continue;
            };
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

/// (invoke time, amount, outcome) of every add to key `k`, amounts exact
/// (only a history `mistyped` refuses has another amount).
pub(crate) fn outcomes(index: &HistoryIndex, k: &KeyIndex) -> Vec<(u64, i128, OpType)> {
    k.writes
        .iter()
        .map(|&id| index.write(id))
        .filter(|w| index.hist.ops[w.pair.invoke as usize].f == fid::ADD)
        .filter_map(|w| Some((w.invoke_time, exact(index.hist, w.value)?, w.outcome)))
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
    fn huge_amounts_are_summed_exactly() {
        // Two adds of i64::MAX: the sum is 2^64 - 2, not -2 (i64 wraps).
        let adds = "
            0 1 invoke add c 9223372036854775807 @n1
            1 1 ok     add c 9223372036854775807 @n1
            2 2 invoke add c 9223372036854775807 @n1
            3 2 ok     add c 9223372036854775807 @n1
            4 9 invoke final-read c @n1
        ";
        let wrapped = h(&format!("{adds}\n5 9 ok final-read c -2 @n1"));
        let result = check(&wrapped, Workload::Counter);
        assert_eq!(found(&result), [("lost-update", "c", vec![5])]);
        assert!(
            result.anomalies[0]
                .explanation
                .contains("[18446744073709551614, 18446744073709551614]"),
            "{}",
            result.anomalies[0].explanation
        );
        let exact = h(&format!(
            "{adds}\n5 9 ok final-read c 18446744073709551614 @n1"
        ));
        let result = check(&exact, Workload::Counter);
        assert_eq!(found(&result), []);
        assert_eq!(result.valid, crate::Validity::Valid);
    }

    #[test]
    fn amounts_that_are_not_exact_integers_are_refused_naming_their_line() {
        let dir = std::env::temp_dir().join(format!("diverge-counter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let op = |i: u32, kind: &str, value: &str| {
            format!(
                r#"{{"index":{i},"time":{i},"process":1,"type":"{kind}","f":"add","key":"c","value":{value}}}"#
            )
        };
        // Line 2 is blank: the line named is the file's, not the op's.
        // 2^70 is read as a float; its last digit depends on serde_json's
        // float parsing (the `float_roundtrip` feature another crate of the
        // workspace may turn on), so only the digits both agree on count.
        let huge = ("1180591620717411303424", "1.180591620717411");
        for (amount, found) in [(r#""5""#, r#""5""#), huge] {
            let text = format!(
                "{}\n\n{}\n{}\n",
                op(0, "invoke", "1"),
                op(1, "ok", "1"),
                op(2, "invoke", amount)
            );
            std::fs::write(&path, text).unwrap();
            let opts = crate::CheckOptions::new(Workload::Counter);
            let e = crate::check_file(&path, &opts).unwrap_err().to_string();
            let want = format!(
                "{}:4: the amount of an add must be an integer between {} and {}, found {found}",
                path.display(),
                i64::MIN,
                u64::MAX
            );
            assert!(e.starts_with(&want), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
