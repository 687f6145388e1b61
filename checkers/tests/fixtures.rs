//! Hand-written history files checked end to end: parse, then check.

use std::path::PathBuf;

use diverge_checkers::{AnomalyKind, Validity, Workload, check, read_history_detailed};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Three nodes, one key; add 2 is acknowledged (op 3) but every final read
/// holds only [1].
#[test]
fn lost_add_fixture_reports_exactly_that_add() {
    let history = read_history_detailed(&fixture("lost-add.jsonl")).unwrap();
    assert_eq!(history.ops.len(), 10);
    assert!(!history.torn_tail);

    let result = check(&history.ops, Workload::Set);
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.anomalies.len(), 1, "{:#?}", result.anomalies);
    let lost = &result.anomalies[0];
    assert_eq!(lost.kind, AnomalyKind::LostUpdate);
    assert_eq!(lost.key.as_deref(), Some("cart"));
    assert_eq!(lost.witnesses, [3, 5, 7, 9]);
    assert!(lost.explanation.starts_with("add of 2 to key \"cart\""));
    assert_eq!(result.anomaly_counts["lost-update"], 1);
    assert_eq!(result.stats.ops, 2);
    assert_eq!(result.stats.final_reads, 3);
    assert!(result.inconclusive.is_empty());
}
