//! `--db galera`: MariaDB Galera, the synchronous multi-master baseline
//! (needs `galera-4`, `mariadb-server`, `mariadb-backup` and `socat`, which
//! `.ci/run` installs). Under pauses a set loses no acknowledged element
//! and no node diverges; conflicting writes abort with 1213, recorded as
//! definite failures; link partitions are refused naming the faults Galera
//! takes; an isolated node's unavailability shows in its fault window; no
//! process of the cluster (mariadbd, state-transfer script, socat,
//! mariabackup) outlives a run, Ctrl-C included.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "common/outside.rs"]
mod outside;

/// Whether Galera is here to test (see [`outside::require`]).
fn galera_present(test: &str) -> bool {
    let present = Path::new("/usr/lib/galera/libgalera_smm.so").is_file()
        && (outside::on_path("mariadbd") || Path::new("/usr/sbin/mariadbd").is_file())
        && outside::on_path("mariadb-backup")
        && outside::on_path("socat");
    outside::require(
        test,
        present,
        "galera-4 and mariadb-server",
        "apt-get install galera-4 mariadb-server mariadb-backup socat",
    )
}

/// One Galera cluster at a time: several on a small machine make state
/// transfers and timeouts meaningless.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(flags: &[&str]) -> (i32, Value, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "galera", "--quiet", "--results"])
        .arg(results.path())
        .args(flags)
        .output()
        .unwrap();
    let text =
        std::fs::read_to_string(results.path().join("latest/results.json")).unwrap_or_else(|_| {
            panic!(
                "no results; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (
        output.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
        results,
    )
}

fn anomalies(json: &Value, kind: &str) -> u64 {
    json["anomaly_counts"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no count of {kind}: {json}"))
}

fn history(run_dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(run_dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_paused_set_loses_nothing_and_never_diverges() {
    if !galera_present("a_paused_set_loses_nothing_and_never_diverges") {
        return;
    }
    let _turn = serial();
    let (code, json, results) = run(&[
        "--workload",
        "set",
        "--nemesis",
        "pause",
        "--nemesis-interval",
        "4",
        "--time-limit",
        "16",
        "--seed",
        "11",
    ]);
    assert!(json["run"]["quiesced"].as_bool().unwrap(), "{json}");
    for kind in ["lost-update", "divergence"] {
        assert_eq!(anomalies(&json, kind), 0, "{kind}: {json}");
    }
    assert_ne!(code, 1, "{json}");
    let ops = history(&results.path().join("latest"));
    let paused = ops
        .iter()
        .filter(|op| op["f"] == "start-pause" && op["type"] == "ok")
        .count();
    assert!(paused > 0, "no pause took effect");
}

#[test]
fn certification_failures_are_definite_fails() {
    if !galera_present("certification_failures_are_definite_fails") {
        return;
    }
    let _turn = serial();
    // Every node writes the same two keys: the losers of certification
    // get 1213 at commit.
    let (_, json, results) = run(&[
        "--workload",
        "register",
        "--keys",
        "2",
        "--concurrency",
        "4",
        "--time-limit",
        "8",
        "--seed",
        "5",
    ]);
    let ops = history(&results.path().join("latest"));
    let aborted: Vec<&Value> = ops
        .iter()
        .filter(|op| {
            op["error"]
                .as_str()
                .is_some_and(|e| e.contains("error 1213"))
        })
        .collect();
    assert!(!aborted.is_empty(), "no write lost certification: {json}");
    for op in aborted {
        assert_eq!(op["type"], "fail", "{op}");
    }
}

#[test]
fn link_partitions_are_refused_naming_the_faults_galera_takes() {
    // A config error: refused before anything starts, Galera or not.
    for (nemesis, kind) in [("partition", "partition"), ("offline", "offline")] {
        let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .args(["run", "--db", "galera", "--nemesis", nemesis])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{kind} is not available with --db galera (crash, pause, isolate are)"
            )),
            "{stderr}"
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "galera", "--nodes", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--nodes"), "{stderr}");
    assert!(stderr.contains("at least 3"), "{stderr}");
}

#[test]
fn an_isolated_node_is_unavailable_in_its_window() {
    if !galera_present("an_isolated_node_is_unavailable_in_its_window") {
        return;
    }
    let _turn = serial();
    let (_, json, results) = run(&[
        "--workload",
        "set",
        "--nemesis",
        "isolate",
        "--nemesis-interval",
        "12",
        "--time-limit",
        "26",
        "--seed",
        "2",
    ]);
    let ops = history(&results.path().join("latest"));
    let isolated: Vec<String> = ops
        .iter()
        .filter(|op| op["f"] == "start-isolate" && op["type"] == "ok")
        .flat_map(|op| op["value"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(!isolated.is_empty(), "no isolation took effect: {json}");
    let notes: Vec<&str> = json["run"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let window = notes
        .iter()
        .find(|n| n.starts_with("availability, fault window 1 (isolate"))
        .unwrap_or_else(|| panic!("no isolation window in the notes: {notes:?}"));
    // The isolated node served nothing for the window's length, once the
    // others dropped it: some of its calls were refused or unknown.
    let node = &isolated[0];
    let counts = window
        .split("; ")
        .find_map(|part| {
            part.split(": ")
                .last()?
                .strip_prefix(&format!("{node} ok "))
        })
        .or_else(|| {
            window
                .split("; ")
                .find_map(|part| part.strip_prefix(&format!("{node} ok ")))
        })
        .unwrap_or_else(|| panic!("no counts of {node}: {window}"));
    let words: Vec<u64> = counts.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert!(words.len() >= 3, "{window}");
    assert!(words[1] + words[2] > 0, "{node} never refused: {window}");
    assert!(json["run"]["quiesced"].as_bool().unwrap(), "{json}");
}

/// The pids of `root`'s descendants.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` is alive (not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn ctrl_c_during_a_state_transfer_leaves_no_process() {
    if !galera_present("ctrl_c_during_a_state_transfer_leaves_no_process") {
        return;
    }
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "galera", "--time-limit", "60", "--results"])
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.unwrap().starts_with("run directory") {
            break;
        }
    }
    // Interrupt while a joiner's state transfer runs: its script and the
    // donor's are children of the mariadbd processes.
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = loop {
        let all = descendants(child.id());
        if all
            .iter()
            .any(|&p| cmdline(p).contains("wsrep_sst_mariabackup"))
        {
            break all;
        }
        assert!(Instant::now() < deadline, "no state transfer seen");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // What was started meanwhile counts too: every process with the run's
    // directory in its command line.
    let needle = results.path().to_str().unwrap().to_string();
    let by_path = |_: ()| -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| alive(p) && cmdline(p).contains(&needle))
            .map(cmdline)
            .collect()
    };
    let left = |_: ()| -> Vec<String> {
        let mut left: Vec<String> = started
            .iter()
            .filter(|&&p| alive(p))
            .map(|&p| cmdline(p))
            .collect();
        left.extend(by_path(()));
        left
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !left(()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(left(()).is_empty(), "{:?}", left(()));
}
