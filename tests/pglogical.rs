//! `--db pglogical`: PostgreSQL 15 with pglogical 2 (needs
//! `postgresql-15-pglogical`, which `.ci/run` installs). Under partitions
//! `apply-remote` leaves the nodes diverged, `lww` converges and `error`
//! stops apply workers (findings naming the blocked origin); a ring that
//! forwards every origin loops, reported as a finding while the run still
//! ends; the catalogue's causal scenarios lose updates under `keep-local`
//! and `first-wins` and none under `lww`; nothing of PostgreSQL (process,
//! socket, pid file, shared memory, data dir) outlives a run, Ctrl-C
//! included.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "common/outside.rs"]
mod outside;
#[path = "common/overtaken.rs"]
mod overtaken;

fn pglogical_present(test: &str) -> bool {
    let present = Path::new("/usr/lib/postgresql/15/bin/postgres").is_file()
        && Path::new("/usr/lib/postgresql/15/lib/pglogical.so").is_file();
    outside::require(
        test,
        present,
        "PostgreSQL 15 with pglogical",
        "apt-get install postgresql-15 postgresql-15-pglogical",
    )
}

/// The clusters of this file take turns (2 cores).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run's exit code, results.json, stdout and results directory.
fn run(flags: &[&str]) -> (i32, Value, String, tempfile::TempDir) {
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "pglogical", "--quiet", "--results"])
        .arg(results.path())
        .args(flags)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let text =
        std::fs::read_to_string(results.path().join("latest/results.json")).unwrap_or_else(|_| {
            panic!(
                "no results; stdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (
        output.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
        stdout,
        results,
    )
}

fn findings<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["run"]["db_findings"]
        .as_array()
        .map_or(Vec::new(), |f| {
            f.iter().filter(|f| f["kind"] == kind).collect()
        })
}

/// The directory holding the instances' data dirs and sockets, from the
/// `cluster:` line (`...; data under DIR)`).
fn data_base(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("cluster: "))
        .unwrap_or_else(|| panic!("no cluster line: {stdout}"));
    let dir = line
        .split("data under ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    PathBuf::from(dir)
}

/// System V shared memory segment ids that exist now.
fn shm_ids() -> Vec<String> {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// postgres processes, files and shared memory of the instances under `base`.
fn leftovers(base: &Path, shm: &[String]) -> Vec<String> {
    let needle = base.to_str().unwrap().to_string();
    let mut found: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect();
    if base.exists() {
        found.push(format!("{} still exists", base.display()));
    }
    let now = shm_ids();
    found.extend(
        shm.iter()
            .filter(|id| now.contains(id))
            .map(|id| format!("shared memory segment {id}")),
    );
    found
}

/// The shared memory segment ids the running instances under `base` hold
/// (line 7 of each `postmaster.pid`).
fn running_shm(base: &Path) -> Vec<String> {
    std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("postmaster.pid")).ok())
        .filter_map(|t| {
            t.lines()
                .nth(6)
                .and_then(|l| l.split_whitespace().nth(1))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn partitions_diverge_under_apply_remote_converge_under_lww_and_stop_workers_under_error() {
    if !pglogical_present(
        "partitions_diverge_under_apply_remote_converge_under_lww_and_stop_workers_under_error",
    ) {
        return;
    }
    let _turn = serial();
    // Seed 7 cuts n1<->n3 from 3 s to 6 s, then holds n3 apart at 9 s.
    let flags = |resolution: &'static str| {
        vec![
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--time-limit",
            "10",
            "--seed",
            "7",
            "--resolution",
            resolution,
        ]
    };
    let (code, json, stdout, _results) = run(&flags("apply-remote"));
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(json["run"]["strategy"], "pglogical-apply-remote");
    assert!(
        json["anomaly_counts"]["divergence"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    let notes = json["run"]["notes"].to_string();
    assert!(notes.contains("resolved apply_remote"), "{notes}");
    assert!(leftovers(&data_base(&stdout), &[]).is_empty());

    let (code, json, stdout, _results) = run(&flags("lww"));
    assert_eq!(json["anomaly_counts"]["divergence"], 0, "{stdout}");
    assert_eq!(json["anomaly_counts"]["lost-update"], 0, "{stdout}");
    assert!(findings(&json, "apply-worker-down").is_empty(), "{stdout}");
    assert_eq!(code, 0, "{stdout}");

    let (code, json, stdout, _results) = run(&flags("error"));
    assert_eq!(code, 1, "{stdout}");
    let down = findings(&json, "apply-worker-down");
    assert!(!down.is_empty(), "{stdout}");
    let message = down[0]["message"].as_str().unwrap();
    assert!(
        message.contains("is blocked") && message.contains("conflicting row"),
        "{message}"
    );
    assert!(
        down[0]["channel"]
            .as_str()
            .unwrap()
            .starts_with("replicating from n"),
        "{}",
        down[0]
    );
}

#[test]
fn a_ring_forwarding_every_origin_loops_and_the_run_still_ends() {
    if !pglogical_present("a_ring_forwarding_every_origin_loops_and_the_run_still_ends") {
        return;
    }
    let _turn = serial();
    let started = Instant::now();
    let (code, json, stdout, _results) = run(&[
        "--topology",
        "ring",
        "--workload",
        "register",
        "--time-limit",
        "3",
        "--quiesce-timeout",
        "6",
        "--seed",
        "3",
    ]);
    assert!(started.elapsed() < Duration::from_secs(90), "{stdout}");
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(json["run"]["quiesced"], false, "{stdout}");
    let looped = findings(&json, "replication-never-quiesced");
    assert_eq!(looped.len(), 1, "{stdout}");
    assert!(
        looped[0]["message"]
            .as_str()
            .unwrap()
            .contains("WAL kept growing with no client writing"),
        "{}",
        looped[0]
    );
}

#[test]
fn the_causal_catalogue_loses_updates_under_keep_local_and_first_wins_and_none_under_lww() {
    if !pglogical_present(
        "the_causal_catalogue_loses_updates_under_keep_local_and_first_wins_and_none_under_lww",
    ) {
        return;
    }
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/pglogical");
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .arg("suite")
        .arg(&catalogue)
        .arg("--results")
        .arg(results.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
}

/// pglogical logs an UPDATE whose row it does not hold as a conflict
/// resolved `skip`; the insert arrives after it, so that node keeps the
/// inserted value: every skip is a lost update there, and nothing else is.
#[test]
fn an_update_overtaking_its_insert_is_skipped_and_lost() {
    if !pglogical_present("an_update_overtaking_its_insert_is_skipped_and_lost") {
        return;
    }
    let _turn = serial();
    let (code, json, _, results) = run(&overtaken::RACED);
    let log = overtaken::SkipLog {
        marker: "(tuple not found). Resolution: skip.",
        key_before: "k[varchar]:",
        key_after: ' ',
    };
    overtaken::assert_lost_updates_are_the_logged_skips(
        code,
        &json,
        &results.path().join("latest"),
        &log,
    );
}

#[test]
fn resolution_is_refused_for_other_systems() {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "mariadb", "--resolution", "lww"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("--resolution") && stderr.contains("only applies to --db pglogical"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_leaves_no_postgres_process_socket_pid_file_or_shared_memory() {
    if !pglogical_present("ctrl_c_leaves_no_postgres_process_socket_pid_file_or_shared_memory") {
        return;
    }
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args([
            "run",
            "--db",
            "pglogical",
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
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        stdout.push_str(&line);
        stdout.push('\n');
        if line.starts_with("cluster: ") {
            break;
        }
    }
    let base = data_base(&stdout);
    std::thread::sleep(Duration::from_secs(2));
    let shm = running_shm(&base);
    assert_eq!(shm.len(), 3, "three instances hold shared memory: {shm:?}");
    assert!(
        !leftovers(&base, &shm).is_empty(),
        "the instances should be running"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers(&base, &shm).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        leftovers(&base, &shm).is_empty(),
        "{:?}",
        leftovers(&base, &shm)
    );
}
