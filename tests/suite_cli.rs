//! `diverge suite` on the shipped catalogue, a changed expectation, a
//! malformed scenario, and `diverge compare`: real runs, real files.

use std::path::Path;
use std::process::{Command, Output};

use quick_xml::events::Event;

fn diverge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(args)
        .output()
        .expect("running diverge")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A JUnit file, parsed: (test case names, (case, failure message) pairs).
fn junit(path: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (Vec::new(), Vec::new());
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned()
            })
    };
    loop {
        match reader
            .read_event()
            .expect("the JUnit file is well-formed XML")
        {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "testcase" => cases.push(attr(&e, "name").expect("a testcase has a name")),
                "failure" => failures.push((
                    cases.last().cloned().unwrap_or_default(),
                    attr(&e, "message").expect("a failure has a message"),
                )),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    (cases, failures)
}

fn catalogue() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads")
}

#[test]
fn the_shipped_catalogue_passes_with_one_junit_case_per_scenario() {
    let results = tempfile::tempdir().unwrap();
    let junit_path = results.path().join("junit.xml");
    let output = diverge(&[
        "suite",
        catalogue().to_str().unwrap(),
        "--results",
        results.path().to_str().unwrap(),
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let scenarios = std::fs::read_dir(catalogue())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    let (cases, failures) = junit(&junit_path);
    assert_eq!(cases.len(), scenarios, "{cases:?}");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(cases.contains(&"lww-loses-acknowledged-adds".to_string()));
    // Every scenario's run has its report.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("suite: {scenarios} passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn a_changed_expectation_fails_naming_the_scenario_and_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    let original =
        std::fs::read_to_string(catalogue().join("home-routing-avoids-conflicts.toml")).unwrap();
    let changed = original.replace("lost-update = 0", "lost-update = \">0\"");
    assert_ne!(original, changed);
    std::fs::write(
        scenarios.join("home-routing-avoids-conflicts.toml"),
        changed,
    )
    .unwrap();
    let junit_path = dir.path().join("junit.xml");
    let output = diverge(&[
        "suite",
        scenarios.to_str().unwrap(),
        "--results",
        dir.path().join("results").to_str().unwrap(),
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output)
            .contains("FAILED home-routing-avoids-conflicts: lost-update = 0, expected >0"),
        "{}",
        text(&output)
    );
    let (cases, failures) = junit(&junit_path);
    assert_eq!(cases, ["home-routing-avoids-conflicts"]);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "home-routing-avoids-conflicts");
    assert_eq!(
        failures[0].1,
        "scenario home-routing-avoids-conflicts: lost-update = 0, expected >0"
    );
}

#[test]
fn a_malformed_scenario_names_file_line_and_field_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "workload = \"set\"\ntime-limit = 2\nrouting = \"sideways\"\n\n[expect]\ndivergence = 0\n",
    )
    .unwrap();
    let output = diverge(&["suite", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3: routing: ", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("sideways"), "{stderr}");

    std::fs::write(
        &bad,
        "time-limit = 2\n\n[expect]\ndivergence = 0\nlost-updates = 0\n",
    )
    .unwrap();
    let output = diverge(&["suite", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:5: expect.lost-updates: unknown figure",
            bad.display()
        )),
        "{stderr}"
    );
}

#[test]
fn compare_runs_every_strategy_with_one_seed_and_writes_its_files() {
    let results = tempfile::tempdir().unwrap();
    let output = diverge(&[
        "compare",
        "--results",
        results.path().to_str().unwrap(),
        "--time-limit",
        "2",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.5",
        "--seed",
        "9",
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let dir = std::fs::canonicalize(results.path().join("latest-compare")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    // Every strategy but `custom`, which needs handler files.
    let strategies = diverge::domain::Strategy::ALL.len() - 1;
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), strategies, "{json}");
    assert_eq!(json["seed"], 9);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for row in rows {
        let strategy = row["strategy"].as_str().unwrap();
        assert!(
            stdout.contains(&format!("{strategy} / all-to-all")),
            "{stdout}"
        );
        assert!(row["figures"]["acknowledged_writes"].as_u64().unwrap() > 0);
        let run_dir = results.path().join(row["run_dir"].as_str().unwrap());
        assert!(run_dir.join("report.html").is_file());
        let test: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join("test.json")).unwrap())
                .unwrap();
        assert_eq!(test["seed"], 9);
    }
    for header in ["lost updates", "divergent keys", "siblings seen", "verdict"] {
        assert!(stdout.contains(header), "{stdout}");
    }
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    let href = format!("../../{}/report.html", rows[0]["run_dir"].as_str().unwrap());
    assert!(html.contains(&href), "compare.html links the run");
    assert!(dir.join(&href).is_file(), "the link resolves");
}

#[test]
fn a_single_scenario_file_runs_alone() {
    let results = tempfile::tempdir().unwrap();
    let file = catalogue().join("followers-serve-reads.toml");
    let output = diverge(&[
        "suite",
        file.to_str().unwrap(),
        "--results",
        results.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("suite: 1 passed, 0 failed"), "{stdout}");
}
