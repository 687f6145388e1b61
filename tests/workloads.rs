//! Every workload end to end: real nodes, real HTTP, the checkers' verdict.

use std::process::Command;

use serde_json::Value;

fn run(flags: &[&str]) -> (i32, Value) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--quiet", "--time-limit", "3", "--results"])
        .arg(results.path())
        .args(flags)
        .output()
        .unwrap();
    let run_dir = std::fs::canonicalize(results.path().join("latest"))
        .unwrap_or_else(|_| panic!("no run: {}", String::from_utf8_lossy(&output.stderr)));
    let json =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
            .unwrap();
    (output.status.code().unwrap(), json)
}

fn count(json: &Value, kind: &str) -> u64 {
    json["anomaly_counts"][kind].as_u64().unwrap()
}

#[test]
fn autoincrement_ids_collide_across_leaders_unless_each_has_its_offset() {
    let (code, json) = run(&["--workload", "unique-ids", "--rate", "500", "--seed", "4"]);
    assert_eq!(code, 1, "{json}");
    assert!(count(&json, "duplicate-id") > 0, "{json}");
    assert_eq!(
        json["unexpected_counts"]["duplicate-id"], 0,
        "collisions without offsets are inherent"
    );
    let (code, json) = run(&[
        "--workload",
        "unique-ids",
        "--rate",
        "500",
        "--seed",
        "4",
        "--id-step",
        "3",
        "--id-offset",
        "per-node",
    ]);
    assert_eq!(count(&json, "duplicate-id"), 0, "{json}");
    assert!(json["stats"]["ok"].as_u64().unwrap() > 100);
    assert_eq!(code, 0, "{json}");
}

#[test]
fn two_leaders_accept_the_same_unique_name() {
    let (code, json) = run(&["--workload", "constraint", "--rate", "0", "--seed", "4"]);
    assert_eq!(code, 1, "{json}");
    assert!(count(&json, "constraint-violation") > 0, "{json}");
    assert!(
        json["inconclusive"].as_array().unwrap().is_empty(),
        "every claimed name has final reads: {json}"
    );
}

#[test]
fn counter_and_list_append_hold_under_conflict_avoidance_and_lose_without_it() {
    for workload in ["counter", "list-append"] {
        let (code, json) = run(&[
            "--workload",
            workload,
            "--rate",
            "0",
            "--keys",
            "3",
            "--routing",
            "home",
            "--seed",
            "5",
        ]);
        assert_eq!(code, 0, "{workload} with home routing: {json}");
        assert!(json["stats"]["ok"].as_u64().unwrap() > 100, "{json}");
        let (code, json) = run(&[
            "--workload",
            workload,
            "--rate",
            "0",
            "--keys",
            "1",
            "--seed",
            "5",
        ]);
        assert_eq!(
            code, 1,
            "{workload} with random routing on one hot key: {json}"
        );
        assert!(count(&json, "lost-update") > 0, "{json}");
    }
}

/// Issue 5's "Must show", same seed both times: all-to-all with reordering
/// links and causal delivery off, effects written at one leader overtake
/// their causes written at another (causal violations, inherent in that
/// configuration); with causal delivery on, none.
#[test]
fn causal_violations_without_causal_delivery_and_none_with_it() {
    let flags = |delivery| {
        [
            "--workload",
            "causal",
            "--nemesis",
            "reorder",
            "--nemesis-interval",
            "0.5",
            "--rate",
            "0",
            "--seed",
            "6",
            "--causal-delivery",
            delivery,
        ]
    };
    let (code, off) = run(&flags("off"));
    assert!(count(&off, "causal-violation") > 0, "{off}");
    assert_eq!(off["unexpected_counts"]["causal-violation"], 0, "inherent");
    assert_eq!(code, 1, "{off}");
    // Reads elsewhere lag behind (a figure, not an anomaly), and the ops are
    // counted per reorder window and outside them.
    assert!(off["staleness"]["stale"].as_u64().unwrap() > 0, "{off}");
    assert_eq!(count(&off, "stale-read"), 0, "{off}");
    let windows = off["availability_windows"].as_array().unwrap();
    assert_eq!(windows[0]["fault"], "none", "{off}");
    assert!(windows.len() >= 3 && windows[1..].iter().all(|w| w["fault"] == "reorder"));
    let ok: u64 = windows
        .iter()
        .map(|w| w["total"]["ok"].as_u64().unwrap())
        .sum();
    assert_eq!(
        ok,
        off["stats"]["ok"].as_u64().unwrap(),
        "every op in one window"
    );

    let (code, on) = run(&flags("on"));
    for kind in ["causal-violation", "causal-cycle", "session-violation"] {
        assert_eq!(count(&on, kind), 0, "{kind}: {on}");
    }
    assert!(on["stats"]["ok"].as_u64().unwrap() > 1000, "{on}");
    assert_eq!(code, 0, "{on}");
}
