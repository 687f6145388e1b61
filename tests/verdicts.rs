//! A history that ends early never gets a verdict stronger than what it
//! shows: `diverge check` of a run whose controller was SIGKILLed, of one
//! interrupted during its final reads, and of a recorded history cut at
//! random line boundaries gives `unknown` (exit 2) with what is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/histories");

fn check(target: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--quiet"])
        .arg(target)
        .output()
        .expect("running diverge check")
}

/// A run directory of `fixture` (its `test.json`) holding only the first
/// `lines` lines of its history and no `results.json`: what a controller
/// killed at that moment leaves.
fn cut_run(fixture: &str, lines: usize, into: &Path) -> PathBuf {
    let src = Path::new(FIXTURES).join(fixture);
    let dir = into.join(format!("{fixture}-{lines}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join("test.json"), dir.join("test.json")).unwrap();
    let history = std::fs::read_to_string(src.join("history.jsonl")).unwrap();
    let kept: String = history
        .lines()
        .take(lines)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("history.jsonl"), kept).unwrap();
    dir
}

fn history_lines(fixture: &str) -> Vec<String> {
    std::fs::read_to_string(Path::new(FIXTURES).join(fixture).join("history.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The verdict of the complete fixture run, as `diverge check` gives it.
fn complete_code(fixture: &str) -> i32 {
    check(&Path::new(FIXTURES).join(fixture))
        .status
        .code()
        .unwrap()
}

/// "Stronger" means claiming more than the evidence allows: a cut history
/// lacks ops (and its final reads, unless the cut falls after the last of
/// them), so it may only say what the complete history says, or `unknown`.
/// Exit codes: 0 valid, 1 invalid, 2 unknown. So a cut of an unknown
/// history is unknown, a cut of a valid one is valid or unknown (never
/// invalid: anomalies found in a prefix would be found in the whole), a cut
/// of an invalid one is invalid or unknown (never valid). A cut before the
/// last final read cannot tell lost updates from unread nodes: unknown.
#[test]
fn a_history_cut_anywhere_is_never_judged_stronger_than_the_whole() {
    let scratch = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    // One invalid, two valid (one under home routing), one counter.
    for fixture in ["set", "set-siblings", "register-home", "counter"] {
        let lines = history_lines(fixture);
        let last_final = lines
            .iter()
            .rposition(|l| l.contains("\"final-read\""))
            .unwrap();
        let whole = complete_code(fixture);
        for _ in 0..20 {
            let at = rng.random_range(1..lines.len());
            let output = check(&cut_run(fixture, at, scratch.path()));
            let code = output.status.code().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                code == whole || code == 2,
                "{fixture} cut after line {at}: exit {code}, the whole history gives {whole}\n{stdout}"
            );
            if at <= last_final {
                assert_eq!(code, 2, "{fixture} cut after line {at}:\n{stdout}");
            }
        }
    }
}

#[test]
fn a_run_interrupted_during_its_final_reads_is_unknown_and_says_what_is_missing() {
    // The `set` fixture is invalid (lost updates) when whole; cut after its
    // first final read (of one key, on one node) the others are missing.
    let scratch = tempfile::tempdir().unwrap();
    let lines = history_lines("set");
    let first_final_ok = lines
        .iter()
        .position(|l| l.contains("\"final-read\"") && l.contains("\"type\":\"ok\""))
        .unwrap();
    assert_eq!(complete_code("set"), 1);
    let output = check(&cut_run("set", first_final_ok + 1, scratch.path()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("but has no final read from"), "{stdout}");
    assert!(stdout.contains("the run did not finish"), "{stdout}");
    assert!(stdout.contains("verdict: UNKNOWN"), "{stdout}");
}

/// The directory holding `history.jsonl` under `results`, once it exists.
fn run_dir_under(results: &Path) -> Option<PathBuf> {
    let tests = std::fs::read_dir(results).ok()?;
    tests
        .flatten()
        .filter(|t| t.file_name() != "latest")
        .flat_map(|t| std::fs::read_dir(t.path()).into_iter().flatten().flatten())
        .map(|run| run.path())
        .find(|run| run.join("history.jsonl").is_file())
}

#[test]
fn a_sigkilled_run_is_unknown_and_says_what_is_missing() {
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--time-limit", "30", "--results"])
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the workload has recorded a few hundred lines.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let dir = loop {
        assert!(Instant::now() < deadline, "no history grew within 30 s");
        if let Some(dir) = run_dir_under(results.path()) {
            let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
            if text.lines().count() >= 300 {
                break dir;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended early ({status}): {:?}", stdout.next());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: the controller writes nothing more.
    child.wait().unwrap();
    assert!(!dir.join("results.json").exists());
    let output = check(&dir);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(report.contains("no final reads in the history"), "{report}");
    assert!(report.contains("the run did not finish"), "{report}");
    assert!(report.contains("verdict: UNKNOWN"), "{report}");
}

/// `diverge check` of `text` as a history file: (exit code, stderr).
fn check_text(text: &str, flags: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    std::fs::write(&path, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("check")
        .arg(&path)
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).replace(path.to_str().unwrap(), "H");
    (output.status.code(), stderr)
}

#[test]
fn a_counter_amount_that_cannot_be_summed_exactly_is_a_usage_error_naming_its_line() {
    let op = |i: u32, kind: &str, value: &str| {
        format!(
            r#"{{"index":{i},"time":{i},"process":1,"type":"{kind}","f":"add","key":"c","value":{value},"node":"n1"}}"#
        ) + "\n"
    };
    let read = r#"{"index":9,"time":9,"process":2,"type":"invoke","f":"final-read","key":"c","node":"n1"}
{"index":10,"time":10,"process":2,"type":"ok","f":"final-read","key":"c","value":0,"node":"n1"}
"#;
    for amount in [r#""5""#, "1180591620717411303424"] {
        let history = op(0, "invoke", amount) + &op(1, "ok", amount) + read;
        let (code, stderr) = check_text(&history, &["--workload", "counter"]);
        assert_eq!(code, Some(3), "{stderr}");
        assert!(
            stderr.contains("H:1: the amount of an add must be an integer between"),
            "{stderr}"
        );
    }
}

#[test]
fn a_history_line_that_is_an_array_is_named_as_such() {
    let (code, stderr) = check_text(
        "{\"index\":0,\"time\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"add\",\"key\":\"k\",\"value\":1}\n\n[1,2]\n",
        &["--workload", "set"],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("H:3: expected a JSON object (an op), found an array"),
        "{stderr}"
    );
    assert!(!stderr.contains("RawOp"), "{stderr}");
}
