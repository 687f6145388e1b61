//! Every conflict strategy and topology end to end: `diverge run` with real
//! node processes under a partition nemesis, same seed, judged by exit code
//! and the results file.

mod common;
use common::{count, run};

const PARTITIONED_SET: [&str; 12] = [
    "--nodes",
    "3",
    "--workload",
    "set",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "1",
    "--time-limit",
    "4",
    "--seed",
    "11",
];

#[test]
fn under_partitions_only_the_keeping_strategies_lose_no_acknowledged_add() {
    let handles: Vec<_> = ["lww", "unique-id", "priority", "siblings", "merge", "crdt"]
        .into_iter()
        .map(|strategy| {
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut flags = PARTITIONED_SET.to_vec();
                flags.extend(["--strategy", strategy]);
                let (code, results) = run(dir.path(), &flags);
                (strategy, code, results)
            })
        })
        .collect();
    for handle in handles {
        let (strategy, code, results) = handle.join().unwrap();
        let keeps = matches!(strategy, "siblings" | "merge" | "crdt");
        assert_eq!(
            code,
            if keeps { 0 } else { 1 },
            "{strategy}: unexpected exit code; results: {results}"
        );
        assert_eq!(
            count(&results, "impossible-read"),
            0,
            "{strategy}: {results}"
        );
        assert_eq!(count(&results, "divergence"), 0, "{strategy}: {results}");
        assert_eq!(
            count(&results, "lost-update") > 0,
            !keeps,
            "{strategy}: {results}"
        );
    }
}

#[test]
fn single_leader_loses_nothing_and_refuses_writes_at_followers() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = PARTITIONED_SET.to_vec();
    flags.extend(["--strategy", "lww", "--topology", "single-leader"]);
    let (code, results) = run(dir.path(), &flags);
    assert_eq!(code, 0, "{results}");
    assert_eq!(results["run"]["topology"], "single-leader");
    assert_eq!(count(&results, "lost-update"), 0);
    assert_eq!(count(&results, "divergence"), 0);
    // Writes sent to followers are refused (421, a definite failure): the
    // price in availability.
    let fail = results["stats"]["fail"].as_u64().unwrap();
    let ok = results["stats"]["ok"].as_u64().unwrap();
    assert!(
        fail * 4 > ok,
        "too few refused writes: {fail} fail, {ok} ok"
    );
}
