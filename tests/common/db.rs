//! Helpers for the tests that run `diverge run --db <database>`: one run
//! into a temporary results directory, a run's database findings, a Ctrl-C
//! in the middle of a run, and turns (the clusters of one test file run one
//! at a time: several at once on a 2-core CI machine make start-up and
//! catch-up times meaningless).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

/// This test file's turn to run a cluster (held until dropped).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A finished run: exit code, results.json, stdout and the results
/// directory (removed when dropped). Each test file reads the fields it
/// needs, so some go unread in some files.
#[allow(dead_code)]
pub struct DbRun {
    pub code: i32,
    pub json: Value,
    pub stdout: String,
    /// The run directory lives as long as this.
    pub results: tempfile::TempDir,
}

/// `diverge run --db <db> --quiet <flags>` into a new temporary results
/// directory.
pub fn run(db: &str, flags: &[&str]) -> DbRun {
    let results = tempfile::tempdir().unwrap();
    let (code, json, stdout) = run_in(db, results.path(), flags);
    DbRun {
        code,
        json,
        stdout,
        results,
    }
}

/// `diverge run --db <db> --quiet <flags>` writing under `results`: exit
/// code, results.json and stdout.
pub fn run_in(db: &str, results: &Path, flags: &[&str]) -> (i32, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", db, "--quiet", "--results"])
        .arg(results)
        .args(flags)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let text = std::fs::read_to_string(results.join("latest/results.json")).unwrap_or_else(|_| {
        panic!(
            "no results; stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
        stdout,
    )
}

/// The database findings of `kind` in a run's results.json.
pub fn findings<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["run"]["db_findings"]
        .as_array()
        .map_or(Vec::new(), |f| {
            f.iter().filter(|f| f["kind"] == kind).collect()
        })
}

/// What is left of a run's database (processes, files, locks), per line.
pub type Leftovers = Box<dyn Fn() -> Vec<String>>;

/// Start `diverge run --db <db> <flags>`, wait for a stdout line starting
/// with `marker`, then `pause`; `running(results, stdout so far)` asserts
/// the database is up and returns what lists its leftovers. Then send
/// `signal`: the run must exit 128 + its number (130 for Ctrl-C, a shell's
/// code for a process the signal stopped) and leave nothing within 5 s.
pub fn stop_with(
    signal: i32,
    db: &str,
    flags: &[&str],
    marker: &str,
    pause: Duration,
    running: impl FnOnce(&Path, &str) -> Leftovers,
) {
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", db])
        .args(flags)
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        stdout.push_str(&line);
        stdout.push('\n');
        if line.starts_with(marker) {
            break;
        }
    }
    std::thread::sleep(pause);
    let leftovers = running(results.path(), &stdout);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + signal));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}
