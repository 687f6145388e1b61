use crate::testing::{found, h};
use crate::{Workload, check};

/// Clients 1 and 2 each type a streak of two runs at the end of an empty
/// document, concurrently (neither saw the other's start).
const STREAKS: &str = r#"
    0 1 invoke insert doc {"run":"AAA","place":"end"} @n1
    1 2 invoke insert doc {"run":"XXX","place":"end"} @n2
    2 1 ok     insert doc {"run":"AAA","after":null,"before":null} @n1
    3 2 ok     insert doc {"run":"XXX","after":null,"before":null} @n2
    4 1 invoke insert doc {"run":"BBB","after":"AAA"} @n1
    5 2 invoke insert doc {"run":"YYY","after":"XXX"} @n2
    6 1 ok     insert doc {"run":"BBB","after":"A","before":null} @n1
    7 2 ok     insert doc {"run":"YYY","after":"X","before":null} @n2
"#;

fn with_finals(ops: &str, n1: &str, n2: &str) -> Vec<crate::history::Op> {
    h(&format!(
        "{ops}
        20 9 invoke final-read doc @n1
        21 9 ok     final-read doc \"{n1}\" @n1
        22 9 invoke final-read doc @n2
        23 9 ok     final-read doc \"{n2}\" @n2"
    ))
}

#[test]
fn concurrent_streaks_kept_contiguous_are_not_interleaved() {
    let history = with_finals(STREAKS, "AAABBBXXXYYY", "AAABBBXXXYYY");
    let result = check(&history, Workload::Text);
    assert!(result.anomalies.is_empty(), "{:?}", found(&result));
}

#[test]
fn concurrent_streaks_mixed_run_by_run_are_flagged_with_their_inserts() {
    let history = with_finals(STREAKS, "AAAXXXBBBYYY", "AAAXXXBBBYYY");
    let result = check(&history, Workload::Text);
    // The four inserts in final-text order, then the final read.
    assert_eq!(
        found(&result),
        vec![("interleaving", "doc", vec![2, 3, 6, 7, 21])]
    );
}

#[test]
fn runs_mixed_character_by_character_are_flagged_once_per_pair() {
    let history = with_finals(STREAKS, "AXAXAXBBBYYY", "AXAXAXBBBYYY");
    let result = check(&history, Workload::Text);
    let kinds = found(&result);
    // The two runs, and the streaks, which alternate too.
    assert!(
        kinds.contains(&("interleaving", "doc", vec![2, 3, 21])),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("interleaving", "doc", vec![2, 3, 6, 7, 21])),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 2, "{kinds:?}");
}

#[test]
fn a_lost_insert_and_diverged_texts_are_found() {
    // n2 lost BBB; no delete removed it.
    let history = with_finals(STREAKS, "AAABBBXXXYYY", "AAAXXXYYY");
    let result = check(&history, Workload::Text);
    let kinds: Vec<&str> = found(&result).iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        ["divergence"],
        "on one node only: divergence, not lost"
    );
    let history = with_finals(STREAKS, "AAAXXXYYY", "AAAXXXYYY");
    let result = check(&history, Workload::Text);
    assert_eq!(
        found(&result),
        vec![("lost-update", "doc", vec![6, 21, 23])]
    );
}

#[test]
fn a_run_removed_by_an_acknowledged_delete_is_not_lost() {
    let ops = format!(
        r#"{STREAKS}
        8 3 invoke delete doc {{"pick":0.5}} @n1
        9 3 ok     delete doc {{"deleted":"B"}} @n1"#
    );
    let history = with_finals(&ops, "AAAXXXYYY", "AAAXXXYYY");
    let result = check(&history, Workload::Text);
    assert!(result.anomalies.is_empty(), "{:?}", found(&result));
}

#[test]
fn an_insert_away_from_its_surviving_neighbours_violates_intention() {
    // BBB was typed right after AAA, and ends up before it.
    let history = with_finals(STREAKS, "BBBAAAXXXYYY", "BBBAAAXXXYYY");
    let result = check(&history, Workload::Text);
    assert_eq!(
        found(&result),
        vec![("intention-violation", "doc", vec![6, 2, 21])]
    );
}
