//! `--db pglogical`: PostgreSQL 15 with pglogical 2 (needs
//! `postgresql-15-pglogical`, which `.ci/run` installs). Under partitions
//! `apply-remote` leaves the nodes diverged, `lww` converges and `error`
//! stops apply workers (findings naming the blocked origin); a ring that
//! forwards every origin loops, reported as a finding while the run still
//! ends; the catalogue's causal scenarios lose updates under `keep-local`
//! and `first-wins` and none under `lww`; nothing of PostgreSQL (process,
//! socket, pid file, shared memory, data dir) outlives a run, Ctrl-C
//! included.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "common/db.rs"]
mod db;
#[path = "common/outside.rs"]
mod outside;
#[path = "common/overtaken.rs"]
mod overtaken;
#[path = "common/pg.rs"]
mod pg;

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

use db::{findings, serial};

/// A run's exit code, results.json, stdout and results directory.
fn run(flags: &[&str]) -> (i32, Value, String, tempfile::TempDir) {
    let run = db::run("pglogical", flags);
    (run.code, run.json, run.stdout, run.results)
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
            "--strategy",
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
    assert!(pg::leftovers(&pg::data_base(&stdout), &[]).is_empty());

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
fn a_pglogical_resolution_is_refused_for_other_systems_and_a_node_strategy_for_pglogical() {
    let refused = |flags: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .arg("run")
            .args(flags)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{flags:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = refused(&["--db", "reference", "--strategy", "keep-local"]);
    assert!(
        stderr.contains("--strategy") && stderr.contains("pglogical's conflict resolutions"),
        "{stderr}"
    );
    let stderr = refused(&["--db", "pglogical", "--strategy", "merge"]);
    assert!(
        stderr.contains("merge is not one of pglogical's conflict resolutions"),
        "{stderr}"
    );
    let stderr = refused(&["--db", "reference,mariadb"]);
    assert!(
        stderr.contains("diverge compare --db takes a list"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_leaves_no_postgres_process_socket_pid_file_or_shared_memory() {
    if !pglogical_present("ctrl_c_leaves_no_postgres_process_socket_pid_file_or_shared_memory") {
        return;
    }
    let _turn = serial();
    pg::stopping_leaves_nothing("pglogical", libc::SIGINT);
}
