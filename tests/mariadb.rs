//! `--db mariadb`: a real multi-leader database (needs `mariadb-server`,
//! which `.ci/run` installs). Conflicting writes in a ring diverge or stop
//! its appliers; AUTO_INCREMENT without offsets hands out ids twice, with
//! per-node offsets it does not; nothing of MariaDB outlives a run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The runs of this file take turns: several MariaDB clusters at once on a
/// small CI machine make startup and catch-up times meaningless.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(flags: &[&str]) -> (i32, Value, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "mariadb", "--quiet", "--results"])
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

fn findings(json: &Value, kind: &str) -> usize {
    json["run"]["db_findings"]
        .as_array()
        .map_or(0, |f| f.iter().filter(|f| f["kind"] == kind).count())
}

/// mariadbd processes, socket and pid files of runs under `results`.
fn leftovers(results: &Path) -> Vec<String> {
    let needle = results.to_str().unwrap().to_string();
    let mut found: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("mariadbd") && c.contains(&needle))
        .collect();
    let mut dirs = vec![results.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "sock" || x == "pid") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_partitioned_ring_diverges_or_stops_its_appliers() {
    let _turn = serial();
    let (code, json, results) = run(&[
        "--workload",
        "register",
        "--topology",
        "ring",
        "--keys",
        "3",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1.5",
        "--time-limit",
        "6",
        // Seed 2 cuts n2's outgoing links at 1.5 s, then splits the ring.
        "--seed",
        "2",
    ]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["run"]["topology"], "ring");
    let divergence = json["anomaly_counts"]["divergence"].as_u64().unwrap();
    let stopped = findings(&json, "replication-stopped");
    assert!(divergence + stopped as u64 > 0, "{json}");
    if stopped > 0 {
        let first = &json["run"]["db_findings"][0];
        assert!(
            first["errno"].as_u64().is_some()
                && first["message"]
                    .as_str()
                    .unwrap()
                    .contains("thread stopped"),
            "{first}"
        );
    }
    assert!(
        leftovers(results.path()).is_empty(),
        "{:?}",
        leftovers(results.path())
    );
}

#[test]
fn auto_increment_collides_without_offsets_and_not_with_them() {
    let _turn = serial();
    let base = [
        "--workload",
        "unique-ids",
        "--time-limit",
        "4",
        "--seed",
        "2",
    ];
    let mut ring = base.to_vec();
    ring.extend(["--topology", "ring"]);
    let (code, json, _r) = run(&ring);
    assert_eq!(code, 1, "{json}");
    assert!(
        findings(&json, "duplicate-id") + findings(&json, "replication-stopped") > 0,
        "{json}"
    );

    let mut offsets = base.to_vec();
    offsets.extend([
        "--id-step",
        "3",
        "--id-offset",
        "per-node",
        "--topology",
        "all-to-all",
    ]);
    let (code, json, _r) = run(&offsets);
    assert_eq!(code, 0, "{json}");
    assert_eq!(findings(&json, "duplicate-id"), 0, "{json}");
}

#[test]
fn mariadb_takes_only_ring_or_all_to_all() {
    for topology in ["star", "tree", "single-leader"] {
        let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .args(["run", "--db", "mariadb", "--topology", topology])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{topology}: {stderr}");
        assert!(
            stderr.contains("topology") && stderr.contains("ring and all-to-all"),
            "{topology}: {stderr}"
        );
    }
}

#[test]
fn ctrl_c_leaves_no_mariadbd_socket_or_pid_file() {
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args([
            "run",
            "--db",
            "mariadb",
            "--time-limit",
            "60",
            "--nemesis",
            "crash",
            "--results",
        ])
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.unwrap().starts_with("mariadb: ") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !leftovers(results.path()).is_empty(),
        "the instances should be running"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers(results.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        leftovers(results.path()).is_empty(),
        "{:?}",
        leftovers(results.path())
    );
}
