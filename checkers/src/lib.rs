//! diverge's history model and consistency checkers.
//!
//! Pure code: no async, no network. The controller writes histories with the
//! types in [`history`]; `diverge check` and the run's final phase read them
//! back and run [`check`] / [`check_with`], or [`check_file`] (the fast path:
//! parse and check a JSONL file).
//!
//! # Layout
//! - [`history`]: the op model (one line of `history.jsonl`), the exchange
//!   format.
//! - [`model`]: [`Hist`], the compact interned form every checker runs on,
//!   its array values in the [`pool`] (read prefixes shared).
//! - [`parse`] (over [`chunked`]): block-wise parallel reader, into [`Op`]s
//!   or straight into a [`Hist`]; [`HistoryError`] with file and line.
//! - [`pairing`]: invokes matched with their completions.
//! - [`index`]: the paired history indexed once (writes by value, reads,
//!   final reads by key and node) for all checkers.
//! - One module per analysis, each returning [`Anomaly`] values:
//!   [`lost_update`], [`divergence`], [`reads`] (impossible/aborted),
//!   [`counter`], [`list_append`], [`causal`], [`unique_ids`],
//!   [`constraint`]; for Maelstrom's workloads [`everywhere`] (every add on
//!   every node) and [`exact_counter`] (subset sums of unknown adds);
//!   [`txn`] for transactions (Elle-style dependency cycles).
//! - [`expectation`]: the table marking anomalies inherent or unexpected for
//!   a strategy and topology ([`CheckOptions`]).
//! - [`stale`]: stale reads (the `stale-read` anomaly on one node, the
//!   staleness figure anywhere).
//! - [`observe`]: replication lag and availability per node and per fault
//!   window (measurements).
//! - [`coverage`]: why a verdict may be inconclusive.
//! - [`result`]: [`CheckResult`], the verdict as data (`results.json`).
//! - [`synth`]: seeded synthetic histories, valid or with planted anomalies.
//!
//! See `docs/history.md` for the format and `docs/anomalies.md` for what
//! each anomaly means.

pub mod anomaly;
pub mod causal;
pub mod chunked;
pub mod constraint;
pub mod counter;
pub mod coverage;
pub mod divergence;
pub mod everywhere;
pub mod exact_counter;
pub mod expectation;
pub mod facts;
mod fastline;
pub mod history;
pub mod index;
pub mod list_append;
pub mod lost_update;
pub mod model;
pub mod observe;
mod op_index;
pub mod pairing;
pub mod parse;
mod plant;
mod plant_more;
pub mod pool;
pub mod reads;
pub mod result;
pub mod stale;
pub mod synth;
pub mod text;
pub mod txn;
pub mod unique_ids;
pub mod workload;

#[cfg(test)]
mod testing;

pub use anomaly::{Anomaly, AnomalyKind, Expectation};
pub use expectation::CheckOptions;
pub use history::{Elem, Op, OpType, Process};
pub use model::Hist;
pub use parse::{
    History, HistoryError, parse_hist, parse_history, parse_history_detailed, read_hist,
    read_history, read_history_detailed,
};
pub use result::{
    CheckResult, LagBin, LagStats, NeverReplicated, OutcomeCounts, StalenessStats, Stats, Validity,
    WindowAvailability,
};
pub use synth::{SynthSpec, synth_history};
pub use workload::{UnknownWorkload, Workload};

use index::HistoryIndex;

/// Runs every analysis that applies to `workload` and returns the verdict.
/// Every anomaly is `unexpected`: see [`check_with`] to pass the strategy.
pub fn check(history: &[Op], workload: Workload) -> CheckResult {
    check_with(history, &CheckOptions::new(workload))
}

/// [`check`] knowing the run's configuration: anomalies the configuration
/// explains are marked `inherent` (see [`expectation`]).
pub fn check_with(history: &[Op], opts: &CheckOptions) -> CheckResult {
    check_hist(&Hist::from_ops(history), opts)
}

/// [`check_with`] on a compact history (see [`read_hist`]). Linear-ish: one
/// indexing pass plus per-key sorts.
pub fn check_hist(hist: &Hist, opts: &CheckOptions) -> CheckResult {
    judge(hist, opts, &mut |_| {}, Some(result::KEPT_PER_KIND_AND_KEY))
}

/// [`check_hist`], handing every anomaly to `each` (sorted) before the
/// result keeps only the first [`result::KEPT_PER_KIND_AND_KEY`] of each
/// kind and key (see `anomalies_omitted`). Every anomaly is built, so the
/// memory grows with their number ([`check_hist`] builds a bounded number).
pub fn check_hist_all(
    hist: &Hist,
    opts: &CheckOptions,
    each: &mut dyn FnMut(&Anomaly),
) -> CheckResult {
    judge(hist, opts, each, None)
}

/// The analyses; with `per_key`, the read checks build at most that many
/// anomalies of a kind per key and only count the rest (bounded memory).
fn judge(
    hist: &Hist,
    opts: &CheckOptions,
    each: &mut dyn FnMut(&Anomaly),
    per_key: Option<usize>,
) -> CheckResult {
    let index = HistoryIndex::build(hist);
    let judging = opts.workload.judging();
    let mut inconclusive = coverage::reasons(&index, opts.workload);
    if let Some((pos, problem)) = mistyped(hist, opts.workload) {
        // `check_file` refuses such a history; an in-memory one is judged
        // without the op, which may hide an anomaly.
        let index = hist.index_of(pos as u32);
        inconclusive.push(format!("op {index}: {problem}; it was ignored"));
    }
    let (mut anomalies, skipped) = opts.workload.analyse(&index);
    inconclusive.extend(skipped);
    if judging.set_divergence {
        anomalies.extend(divergence::check(&index));
    }
    let mut lag = None;
    let mut lag_over_time = Vec::new();
    let mut staleness = None;
    let mut read_omitted = reads::Omitted::new();
    if judging.reads != workload::ReadChecks::None {
        let facts = facts::build(&index);
        // One pass over the read elements feeds both read checks.
        let mut stale = match judging.reads {
            workload::ReadChecks::Stale(mode) => Some(stale::Checker::new(
                &index,
                &facts,
                mode,
                opts.workload == Workload::Causal,
            )),
            _ => None,
        };
        let (read_anomalies, seen_at, omitted) =
            reads::check_and_observe(&index, &facts, stale.as_mut(), per_key);
        read_omitted = omitted;
        anomalies.extend(read_anomalies);
        // The stale tables go first: the times are wider than the positions.
        if let Some(stale) = stale {
            let (stale_anomalies, stats) = stale.finish();
            anomalies.extend(stale_anomalies);
            staleness = stats;
        }
        drop(facts);
        let first_seen = reads::seen_times(&index, &seen_at);
        drop(seen_at);
        lag = observe::lag(&index, &first_seen);
        lag_over_time = observe::lag_over_time(&index, &first_seen);
    }
    let clock_faults: Vec<(u64, u64)> = observe::fault_windows(&index)
        .into_iter()
        .filter(|(fault, _, _)| fault == "clock")
        .map(|(_, start, end)| (start, end))
        .collect();
    for anomaly in &mut anomalies {
        anomaly.expectation = expectation::of(anomaly, opts, &clock_faults);
    }
    let stats = Stats::of_hist(hist);
    inconclusive.extend(coverage::nothing_acknowledged(&stats));
    let mut result = CheckResult::new(anomalies, stats, inconclusive);
    result.anomalies.iter().for_each(&mut *each);
    result.bound_anomalies(result::KEPT_PER_KIND_AND_KEY);
    for (kind, count) in read_omitted {
        result.count_omitted(kind, count, expectation::expectation(kind, opts));
    }
    result.lag = lag;
    result.lag_over_time = lag_over_time;
    result.availability = observe::availability(&index);
    result.never_replicated = observe::never_replicated(&index, judging.accumulates);
    result.availability_windows = observe::availability_windows(&index);
    result.staleness = staleness;
    if opts.workload == Workload::TxnListAppend {
        let found = AnomalyKind::all()
            .into_iter()
            .filter(|k| result.anomaly_counts.get(k.name()).is_some_and(|&n| n > 0));
        result.ruled_out = txn::ruled_out(found)
            .into_iter()
            .map(String::from)
            .collect();
    }
    result
}

/// Reads a history file and checks it: the fast path (parallel parse
/// straight into the compact form). Also returns whether a torn last line
/// was skipped.
pub fn check_file(
    path: &std::path::Path,
    opts: &CheckOptions,
) -> Result<(CheckResult, bool), HistoryError> {
    let hist = read_judgeable(path, opts)?;
    Ok((check_hist(&hist.0, opts), hist.1))
}

/// [`read_hist`], refusing what the workload cannot judge exactly.
fn read_judgeable(
    path: &std::path::Path,
    opts: &CheckOptions,
) -> Result<(Hist, bool), HistoryError> {
    let (hist, torn_tail) = read_hist(path)?;
    if let Some((pos, problem)) = mistyped(&hist, opts.workload) {
        return Err(parse::op_error(path, pos, problem));
    }
    Ok((hist, torn_tail))
}

/// [`check_file`] handing every anomaly to `each` ([`check_hist_all`]).
pub fn check_file_all(
    path: &std::path::Path,
    opts: &CheckOptions,
    each: &mut dyn FnMut(&Anomaly),
) -> Result<(CheckResult, bool), HistoryError> {
    let (hist, torn_tail) = read_judgeable(path, opts)?;
    Ok((check_hist_all(&hist, opts, each), torn_tail))
}

/// The first op (its position) whose value the workload's checker cannot
/// judge exactly, and why: for now a counter's amounts and reads.
fn mistyped(hist: &Hist, workload: Workload) -> Option<(usize, String)> {
    match workload {
        Workload::Counter => counter::mistyped(hist),
        _ => None,
    }
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
                anomaly_counts: zero_counts(),
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
                unexpected_counts: zero_counts(),
                // Add 1: ok at 3 ms on n1, read on n2 at 8 ms.
                lag: Some(LagStats {
                    observed: 1,
                    never_observed: 0,
                    p50_ms: 5.0,
                    p99_ms: 5.0,
                    max_ms: 5.0,
                }),
                availability: [
                    (
                        "n1",
                        OutcomeCounts {
                            ok: 1,
                            fail: 1,
                            info: 0
                        }
                    ),
                    (
                        "n2",
                        OutcomeCounts {
                            ok: 1,
                            fail: 0,
                            info: 1
                        }
                    ),
                ]
                .map(|(n, c)| (n.to_owned(), c))
                .into(),
                never_replicated: Some(NeverReplicated {
                    count: 0,
                    acknowledged: 1
                }),
                lag_over_time: vec![LagBin {
                    start_s: 0.003,
                    width_s: 0.001,
                    values: 1,
                    p50_ms: 5.0,
                    p99_ms: 5.0,
                    max_ms: 5.0,
                }],
                // The read on n2 (invoked at 7 ms) holds add 1 (acked at 3).
                staleness: Some(StalenessStats {
                    reads: 1,
                    ..StalenessStats::default()
                }),
                // "partition" / "heal" are not start-/stop- windows.
                availability_windows: vec![],
                anomalies_omitted: std::collections::BTreeMap::new(),
                ruled_out: vec![],
            }
        );
    }

    fn zero_counts() -> std::collections::BTreeMap<String, usize> {
        AnomalyKind::all()
            .iter()
            .map(|k| (k.name().to_owned(), 0))
            .collect()
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
            2 1 invoke add cart 4 @n1
            3 1 ok     add cart 4 @n1
            4 9 invoke final-read cart @n1
            5 9 ok     final-read cart [3,4] @n1
        ");
        let result = check(&history, Workload::Set);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["valid"], json!(false));
        let mut counts = json!(zero_counts());
        counts["aborted-read"] = json!(1);
        assert_eq!(json["anomaly_counts"], counts);
        assert_eq!(json["unexpected_counts"], counts);
        assert_eq!(json["anomalies"][0]["expectation"], json!("unexpected"));
        assert_eq!(json["anomalies"][0]["kind"], json!("aborted-read"));
        assert_eq!(json["anomalies"][0]["key"], json!("cart"));
        assert_eq!(json["anomalies"][0]["witnesses"], json!([1, 5]));
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
                "aborted-read",
                "over-count",
                "duplicate-element",
                "reordered-append",
                "causal-cycle",
                "causal-violation",
                "session-violation",
                "duplicate-id",
                "constraint-violation",
                "stale-read",
                "g0",
                "g1a",
                "g1b",
                "g1c",
                "g-single",
                "g2",
                "incompatible-order",
                "internal-inconsistency",
                "realtime-cycle",
                "interleaving",
                "intention-violation",
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
        for &w in Workload::all() {
            assert_eq!(w.name().parse(), Ok(w));
            assert_eq!(serde_json::to_value(w).unwrap(), w.name());
        }
        assert_eq!("list-append".parse(), Ok(Workload::ListAppend));
        assert_eq!(
            "bank".parse::<Workload>().unwrap_err().to_string(),
            "unknown workload \"bank\": expected one of set, register, counter, list-append, \
             causal, unique-ids, constraint, insert-update, g-set, g-counter, pn-counter, \
             broadcast, lin-kv, txn-list-append, text"
        );
        assert_eq!(
            serde_json::to_string(&Workload::Register).unwrap(),
            "\"register\""
        );
    }

    #[test]
    fn strategy_marks_inherent_anomalies_and_sorts_unexpected_first() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 2 invoke write r 2 @n2
            3 2 ok     write r 2 @n2
            4 3 invoke read r @n2
            5 3 ok     read r [7] @n2
            6 9 invoke final-read r @n1
            7 9 ok     final-read r [1] @n1
            8 9 invoke final-read r @n2
            9 9 ok     final-read r [1] @n2
        ");
        // unique-id keeps the highest id, whatever the writes' real-time
        // order (lww would keep 2 here: see expectation::of).
        let opts = CheckOptions {
            strategy: Some("unique-id".into()),
            ..CheckOptions::new(Workload::Register)
        };
        let result = check_with(&history, &opts);
        let kinds: Vec<(&str, Expectation)> = result
            .anomalies
            .iter()
            .map(|a| (a.kind.name(), a.expectation))
            .collect();
        assert_eq!(
            kinds,
            [
                ("impossible-read", Expectation::Unexpected),
                ("lost-update", Expectation::Inherent),
            ]
        );
        assert_eq!(result.valid, Validity::Invalid);
        assert_eq!(result.anomaly_counts["lost-update"], 1);
        assert_eq!(result.unexpected_counts["lost-update"], 0);
        assert_eq!(result.unexpected_counts["impossible-read"], 1);
        // Without a strategy everything is unexpected.
        let plain = check(&history, Workload::Register);
        assert_eq!(plain.unexpected_counts["lost-update"], 1);
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
