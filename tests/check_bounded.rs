//! `diverge check` counts every anomaly but lists a bounded number of each
//! kind per key in `results.json` (`anomalies_omitted` says how many were
//! left out); `--all-anomalies FILE` writes every one as JSON lines.

use std::process::Command;

use serde_json::Value;

#[test]
fn results_list_a_bounded_number_per_kind_and_key_and_the_file_has_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    // One acknowledged add, then a final read of 250 values never written.
    let junk: Vec<String> = (1000..1250).map(|v| v.to_string()).collect();
    let text = format!(
        concat!(
            r#"{{"index":0,"time":0,"process":1,"type":"invoke","f":"add","key":"k","value":1,"node":"n1"}}"#,
            "\n",
            r#"{{"index":1,"time":1,"process":1,"type":"ok","f":"add","key":"k","value":1,"node":"n1"}}"#,
            "\n",
            r#"{{"index":2,"time":2,"process":9,"type":"invoke","f":"final-read","key":"k","node":"n1"}}"#,
            "\n",
            r#"{{"index":3,"time":3,"process":9,"type":"ok","f":"final-read","key":"k","value":[1,{}],"node":"n1"}}"#,
            "\n"
        ),
        junk.join(",")
    );
    std::fs::write(&history, text).unwrap();
    let out = dir.path().join("out");
    let all = dir.path().join("all.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--workload", "set", "--quiet", "--out"])
        .arg(&out)
        .arg("--all-anomalies")
        .arg(&all)
        .arg(&history)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    let with_all: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // Without the flag the 150 are never built, only counted: same results.
    let bounded = dir.path().join("bounded");
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--workload", "set", "--quiet", "--out"])
        .arg(&bounded)
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(bounded.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results, with_all);
    assert_eq!(results["anomaly_counts"]["impossible-read"], 250);
    assert_eq!(results["anomalies"].as_array().unwrap().len(), 100);
    assert_eq!(results["anomalies_omitted"]["impossible-read"], 150);
    // The listed ones are those of the smallest values (one read, so one
    // witness: the values order them).
    assert!(
        results["anomalies"][0]["explanation"]
            .as_str()
            .unwrap()
            .contains("returned 1000,")
    );
    let lines: Vec<Value> = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 250);
    assert!(lines.iter().all(|a| a["kind"] == "impossible-read"));
    let text = std::fs::read_to_string(out.join("report.txt")).unwrap();
    assert!(text.contains("100 listed in results.json"), "{text}");
}
