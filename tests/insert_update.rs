//! `--workload insert-update` end to end: all-to-all under the reorder
//! nemesis, same seed, with and without causal delivery. Without it an
//! update overtakes its insert, the node skips it (as PostgreSQL skips an
//! UPDATE of a missing row) and the checkers see a lost update and
//! divergence; with it, never.

mod common;
use common::{count, run};

/// The flags of `workloads/update-overtakes-insert.toml`: two datacenters,
/// so an update written next to its insert races it to the far node, with
/// reordering on top.
const REORDERED: [&str; 22] = [
    "--workload",
    "insert-update",
    "--nodes",
    "3",
    "--datacenters",
    "2",
    "--dc-latency",
    "100",
    "--rate",
    "400",
    "--concurrency",
    "20",
    "--nemesis",
    "reorder",
    "--nemesis-interval",
    "0.5",
    "--fsync",
    "never",
    "--time-limit",
    "4",
    "--seed",
    "7",
];

#[test]
fn without_causal_delivery_updates_are_skipped_and_lost_with_it_never() {
    let handles: Vec<_> = ["off", "on"]
        .into_iter()
        .map(|causal| {
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut flags = REORDERED.to_vec();
                flags.extend(["--causal-delivery", causal]);
                (causal, run(dir.path(), &flags))
            })
        })
        .collect();
    for handle in handles {
        let (causal, (code, results)) = handle.join().unwrap();
        let skipped = results["run"]["skipped_updates"]
            .as_u64()
            .unwrap_or_else(|| panic!("no skipped_updates in {results}"));
        if causal == "off" {
            assert_eq!(code, 1, "causal delivery off: {results}");
            assert!(skipped > 0, "no update overtook its insert: {results}");
            assert!(count(&results, "lost-update") > 0, "{results}");
            assert!(count(&results, "divergence") > 0, "{results}");
            // Every lost update is a skipped one: nothing else loses here.
            assert!(count(&results, "lost-update") <= skipped, "{results}");
        } else {
            assert_eq!(code, 0, "causal delivery on: {results}");
            assert_eq!(skipped, 0, "{results}");
            assert_eq!(count(&results, "lost-update"), 0, "{results}");
            assert_eq!(count(&results, "divergence"), 0, "{results}");
        }
    }
}
