//! diverge's history model and consistency checkers.
//!
//! Pure code: no async, no network. The controller writes histories with the
//! types in [`history`]; `diverge check` and the run's final phase read them
//! back ([`parse`]) and run [`check`].
//!
//! # Layout
//! - [`history`]: the op model (one line of `history.jsonl`).
//! - [`parse`]: streaming reader, [`HistoryError`] with file and line.
//! - [`pairing`]: invokes matched with their completions.
//! - [`index`]: the paired history indexed once (writes by value, final
//!   reads by key and node) for all checkers.
//! - [`lost_update`], [`divergence`], [`reads`]: one analysis each, each
//!   returning [`Anomaly`] values.
//! - [`coverage`]: why a verdict may be inconclusive.
//! - [`result`]: [`CheckResult`], the verdict as data (`results.json`).
//!
//! See `docs/history.md` for the format and `docs/anomalies.md` for what
//! each anomaly means.

pub mod anomaly;
pub mod chunked;
pub mod coverage;
pub mod divergence;
pub mod history;
pub mod index;
pub mod lost_update;
pub mod model;
pub mod pairing;
pub mod parse;
pub mod reads;
pub mod result;
pub mod workload;

#[cfg(test)]
mod testing;

pub use anomaly::{Anomaly, AnomalyKind};
pub use history::{Elem, Op, OpType, Process};
pub use model::Hist;
pub use parse::{
    History, HistoryError, parse_hist, parse_history, parse_history_detailed, read_hist,
    read_history, read_history_detailed,
};
pub use result::{CheckResult, Stats, Validity};
pub use workload::{UnknownWorkload, Workload};

use index::HistoryIndex;

/// Runs every analysis that applies to `workload` and returns the verdict.
/// Linear-ish: one indexing pass plus per-key sorts.
pub fn check(history: &[Op], workload: Workload) -> CheckResult {
    check_hist(&Hist::from_ops(history), workload)
}

/// [`check`] on a compact history (see [`read_hist`]).
pub fn check_hist(hist: &Hist, workload: Workload) -> CheckResult {
    let index = HistoryIndex::build(hist);
    let mut anomalies = match workload {
        Workload::Set => lost_update::set(&index),
        Workload::Register => lost_update::register(&index),
    };
    anomalies.extend(divergence::check(&index));
    anomalies.extend(reads::check(&index));
    CheckResult::new(anomalies, Stats::of_hist(hist), coverage::reasons(&index))
}

/// Reads a history file and checks it: the fast path (parallel parse
/// straight into the compact form). Also returns whether a torn last line
/// was skipped.
pub fn check_file(
    path: &std::path::Path,
    workload: Workload,
) -> Result<(CheckResult, bool), HistoryError> {
    let (hist, torn_tail) = read_hist(path)?;
    Ok((check_hist(&hist, workload), torn_tail))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::h;

    const VALID_SET: &str = "
        0 nemesis info partition
        1 1 invoke add cart 1 @n1
        2 2 invoke add cart 2 @n2
        3 1 ok     add cart 1 @n1
        4 2 info   add cart 2 @n2
        5 3 invoke add cart 3 @n1
        6 3 fail   add cart 3 @n1
        7 1 invoke read cart @n2
        8 1 ok     read cart [1] @n2
        9 nemesis info heal
        10 9 invoke final-read cart @n1
        11 9 ok    final-read cart [1,2] @n1
        12 9 invoke final-read cart @n2
        13 9 ok    final-read cart [2,1] @n2
    ";

    #[test]
    fn valid_history_has_no_anomaly_and_full_stats() {
        let result = check(&h(VALID_SET), Workload::Set);
        assert_eq!(
            result,
            CheckResult {
                valid: Validity::Valid,
                anomaly_counts: [
                    ("aborted-read", 0),
                    ("divergence", 0),
                    ("impossible-read", 0),
                    ("lost-update", 0)
                ]
                .map(|(k, n)| (k.to_owned(), n))
                .into(),
                anomalies: vec![],
                stats: Stats {
                    ops: 4,
                    ok: 2,
                    fail: 1,
                    info: 1,
                    // 4 ops over ops 1..8, i.e. 7 ms.
                    ops_per_s: 4.0 / 0.007,
                    final_reads: 2,
                },
                inconclusive: vec![],
            }
        );
    }

    #[test]
    fn no_final_reads_is_unknown_with_a_reason() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            ["no final reads in the history: lost updates and divergence cannot be judged"]
        );
    }

    #[test]
    fn failed_final_reads_are_no_final_reads() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 9 invoke final-read cart @n1
            3 9 info   final-read cart @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            [
                "none of the 1 final reads completed ok: lost updates and divergence cannot be judged"
            ]
        );
    }

    #[test]
    fn written_key_missing_a_node_final_read_is_unknown_naming_both() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 2 invoke add other 2 @n3
            3 2 ok     add other 2 @n3
            4 9 invoke final-read cart @n1
            5 9 ok     final-read cart [1] @n1
            6 9 invoke final-read cart @n3
            7 9 ok     final-read cart [1] @n3
            8 9 invoke final-read other @n1
            9 9 ok     final-read other [2] @n1
            10 9 invoke final-read other @n3
            11 9 fail   final-read other @n3
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(result.valid, Validity::Unknown);
        assert_eq!(
            result.inconclusive,
            ["key \"other\" was written but has no final read from n3"]
        );
    }

    #[test]
    fn orphan_completions_make_the_verdict_unknown() {
        let mut history = h(VALID_SET);
        history.insert(0, h("0 7 ok add cart 9 @n1").remove(0));
        for (i, op) in history.iter_mut().enumerate() {
            op.index = i as u64;
        }
        let result = check(&history, Workload::Set);
        assert_eq!(result.valid, Validity::Unknown);
        assert!(result.inconclusive[0].starts_with("1 completion(s) matched no open invoke"));
    }

    #[test]
    fn results_json_shape() {
        let history = h("
            0 1 invoke add cart 3 @n1
            1 1 fail   add cart 3 @n1
            2 9 invoke final-read cart @n1
            3 9 ok     final-read cart [3] @n1
        ");
        let result = check(&history, Workload::Set);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["valid"], json!(false));
        assert_eq!(
            json["anomaly_counts"],
            json!({"lost-update": 0, "divergence": 0, "impossible-read": 0, "aborted-read": 1})
        );
        assert_eq!(json["anomalies"][0]["kind"], json!("aborted-read"));
        assert_eq!(json["anomalies"][0]["key"], json!("cart"));
        assert_eq!(json["anomalies"][0]["witnesses"], json!([1, 3]));
        assert_eq!(json["anomalies"][0]["nodes"], json!({}));
        assert_eq!(json["stats"]["final_reads"], json!(1));
        assert_eq!(json["inconclusive"], json!([]));
        let back: CheckResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }

    #[test]
    fn validity_serializes_jepsen_style() {
        for (v, text) in [
            (Validity::Valid, "true"),
            (Validity::Invalid, "false"),
            (Validity::Unknown, "\"unknown\""),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), text);
            assert_eq!(serde_json::from_str::<Validity>(text).unwrap(), v);
        }
        assert!(serde_json::from_str::<Validity>("\"maybe\"").is_err());
    }

    #[test]
    fn anomaly_kinds_have_kebab_names() {
        let names: Vec<String> = AnomalyKind::all()
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "lost-update",
                "divergence",
                "impossible-read",
                "aborted-read"
            ]
        );
        for kind in AnomalyKind::all() {
            assert_eq!(kind.name(), serde_json::to_value(kind).unwrap());
        }
    }

    #[test]
    fn workload_names() {
        assert_eq!("set".parse(), Ok(Workload::Set));
        assert_eq!("register".parse(), Ok(Workload::Register));
        assert_eq!(
            "counter".parse::<Workload>().unwrap_err().to_string(),
            "unknown workload \"counter\": expected \"set\" or \"register\""
        );
        assert_eq!(
            serde_json::to_string(&Workload::Register).unwrap(),
            "\"register\""
        );
    }

    #[test]
    fn anomalies_are_sorted_by_kind_key_then_witness() {
        let history = h("
            0 1 invoke add b 1 @n1
            1 1 ok     add b 1 @n1
            2 2 invoke add a 2 @n1
            3 2 ok     add a 2 @n1
            4 9 invoke final-read b @n1
            5 9 ok     final-read b [7] @n1
            6 9 invoke final-read a @n1
            7 9 ok     final-read a [8] @n1
        ");
        let result = check(&history, Workload::Set);
        let kinds: Vec<(&str, Option<&str>)> = result
            .anomalies
            .iter()
            .map(|a| (a.kind.name(), a.key.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("lost-update", Some("a")),
                ("lost-update", Some("b")),
                ("impossible-read", Some("a")),
                ("impossible-read", Some("b")),
            ]
        );
    }
}
