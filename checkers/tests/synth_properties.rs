//! Properties over synthetic histories (`diverge_checkers::synth`): valid
//! ones check clean for every workload, and planting one anomaly kind makes
//! the checker find that kind and nothing else.

use diverge_checkers::synth::{SynthSpec, synth_history};
use diverge_checkers::{AnomalyKind, CheckOptions, Validity, Workload, check_with};
use proptest::prelude::*;

fn spec(
    workload: Workload,
    seed: u64,
    ops: usize,
    processes: usize,
    keys: usize,
    nodes: usize,
) -> SynthSpec {
    SynthSpec {
        processes,
        keys,
        nodes,
        ..SynthSpec::new(workload, ops, seed)
    }
}

/// The kinds each workload's planter can produce.
fn plantable(workload: Workload) -> Vec<AnomalyKind> {
    use AnomalyKind::*;
    match workload {
        Workload::Set | Workload::Register | Workload::InsertUpdate => {
            vec![
                LostUpdate,
                Divergence,
                ImpossibleRead,
                AbortedRead,
                StaleRead,
            ]
        }
        Workload::Counter => vec![LostUpdate, OverCount, Divergence, ImpossibleRead],
        Workload::ListAppend => vec![
            LostUpdate,
            Divergence,
            ImpossibleRead,
            AbortedRead,
            DuplicateElement,
            ReorderedAppend,
            StaleRead,
        ],
        Workload::Causal => vec![
            CausalViolation,
            SessionViolation,
            CausalCycle,
            ImpossibleRead,
            AbortedRead,
            Divergence,
            StaleRead,
        ],
        Workload::UniqueIds => vec![DuplicateId],
        Workload::Constraint => vec![ConstraintViolation],
        // Transactions and text are not synthesised (see the txn and text
        // modules' tests).
        Workload::TxnListAppend | Workload::Text => vec![],
        maelstrom => plantable(maelstrom.judged_as()),
    }
}

fn workload() -> impl Strategy<Value = Workload> {
    // Maelstrom's workloads are judged as the ones they map onto.
    let own: Vec<Workload> = Workload::all()
        .iter()
        .copied()
        .filter(|w| w.judged_as() == *w && !matches!(w, Workload::TxnListAppend | Workload::Text))
        .collect();
    proptest::sample::select(own)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn valid_histories_check_clean(
        workload in workload(),
        seed in any::<u64>(),
        ops in 200usize..3000,
        processes in 1usize..8,
        keys in 1usize..12,
        nodes in 1usize..4,
    ) {
        let history = synth_history(&spec(workload, seed, ops, processes, keys, nodes));
        let result = check_with(&history, &CheckOptions::new(workload));
        prop_assert!(result.anomalies.is_empty(), "{workload}: {:#?}", result.anomalies);
        prop_assert_ne!(result.valid, Validity::Invalid);
    }

    #[test]
    fn a_planted_anomaly_is_found_alone(
        workload in workload(),
        pick in any::<prop::sample::Index>(),
        seed in any::<u64>(),
        ops in 500usize..3000,
        processes in 2usize..8,
        keys in 1usize..12,
        nodes in 2usize..4,
    ) {
        let kinds = plantable(workload);
        let kind = kinds[pick.index(kinds.len())];
        let mut s = spec(workload, seed, ops, processes, keys, nodes);
        s.plant = vec![kind];
        let history = synth_history(&s);
        let result = check_with(&history, &CheckOptions::new(workload));
        let found: Vec<AnomalyKind> = result.anomalies.iter().map(|a| a.kind).collect();
        prop_assert!(!found.is_empty(), "{workload}: planted {kind} not found");
        prop_assert!(
            found.iter().all(|k| *k == kind),
            "{workload}: planted {kind}, found {:#?}",
            result.anomalies
        );
        prop_assert_eq!(result.valid, Validity::Invalid, "{:?}", result.inconclusive);
    }
}

#[test]
fn synthetic_histories_are_deterministic() {
    let s = SynthSpec::new(Workload::ListAppend, 2000, 7);
    assert_eq!(synth_history(&s), synth_history(&s));
    assert_ne!(
        synth_history(&s),
        synth_history(&SynthSpec { seed: 8, ..s })
    );
}

/// The checker tells the configurations apart: reordering replication
/// without causal delivery shows causal anomalies (inherent in that
/// configuration), causal delivery shows none; ids without per-node offsets
/// collide, with offsets they do not.
#[test]
fn configurations_make_the_difference() {
    let mut s = SynthSpec {
        keys: 3,
        ..SynthSpec::new(Workload::Causal, 20_000, 3)
    };
    let clean = check_with(&synth_history(&s), &CheckOptions::new(Workload::Causal));
    assert!(clean.anomalies.is_empty(), "{:#?}", clean.anomalies);

    s.causal_delivery = false;
    let opts = CheckOptions {
        topology: Some("all-to-all".into()),
        causal_delivery: Some(false),
        ..CheckOptions::new(Workload::Causal)
    };
    let broken = check_with(&synth_history(&s), &opts);
    let causal = |k: &&str| k.contains("causal") || k.contains("session");
    let found: Vec<&str> = broken.anomalies.iter().map(|a| a.kind.name()).collect();
    assert!(!found.is_empty() && found.iter().all(causal), "{found:?}");
    assert!(
        broken
            .anomalies
            .iter()
            .all(|a| a.expectation == diverge_checkers::Expectation::Inherent)
    );

    let mut ids = SynthSpec::new(Workload::UniqueIds, 5_000, 9);
    let opts = CheckOptions::new(Workload::UniqueIds);
    assert_eq!(
        check_with(&synth_history(&ids), &opts).valid,
        Validity::Valid
    );
    ids.id_offsets = false;
    let dup = check_with(&synth_history(&ids), &opts);
    assert!(dup.anomaly_counts["duplicate-id"] > 0);
    // Every one is counted; at most 100 (they name no key) are listed.
    let omitted = dup
        .anomalies_omitted
        .get("duplicate-id")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        dup.anomalies.len(),
        dup.anomaly_counts["duplicate-id"].min(100)
    );
    assert_eq!(
        dup.anomalies.len() + omitted,
        dup.anomaly_counts["duplicate-id"]
    );
}
