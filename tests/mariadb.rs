//! `--db mariadb`: a real multi-leader database (needs `mariadb-server`,
//! which `.ci/run` installs). Conflicting writes in a ring diverge or stop
//! its appliers; AUTO_INCREMENT without offsets hands out ids twice, with
//! per-node offsets it does not; an update never overtakes its insert
//! (each binlog carries the insert ahead of the update); a unique name is granted twice, reported
//! once; `diverge check` of a stored run agrees with the run; `compare`
//! sets ring against all-to-all; the reports show the findings, every
//! instance's final values and the TCP links' counters; nothing of MariaDB
//! (process, socket, pid file, datadir lock) outlives a run, Ctrl-C included.

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

/// Whether MariaDB is here to test (see [`outside::require`]).
fn mariadb_present(test: &str) -> bool {
    let present = outside::on_path("mariadbd") || Path::new("/usr/sbin/mariadbd").is_file();
    outside::require(
        test,
        present,
        "mariadb-server",
        "apt-get install mariadb-server",
    )
}

use db::serial;

fn run(flags: &[&str]) -> (i32, Value, tempfile::TempDir) {
    let run = db::run("mariadb", flags);
    (run.code, run.json, run.results)
}

fn findings(json: &Value, kind: &str) -> usize {
    db::findings(json, kind).len()
}

/// `diverge check --out` of a stored run directory must give the run's own
/// exit code, verdict, counts and each anomaly's expectation (it judges with
/// what test.json recorded: MariaDB's own resolution, the topology).
fn recheck_agrees(run_dir: &Path, code: i32, json: &Value) {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["check", "--quiet", "--out"])
        .arg(out.path())
        .arg(run_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(code), "{stdout}");
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    for field in ["valid", "anomaly_counts", "unexpected_counts"] {
        assert_eq!(again[field], json[field], "{field}: {stdout}");
    }
    let judged = |j: &Value| -> Vec<(Value, Value, Value)> {
        j["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["kind"].clone(),
                    a["key"].clone(),
                    a["expectation"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(judged(&again), judged(json));
    assert_eq!(again["run"]["db_findings"], json["run"]["db_findings"]);
    assert!(stdout.contains("strategy mariadb"), "{stdout}");
}

/// Every link carried replication, and the partitions closed or refused
/// connections: the TCP links count what they do.
fn assert_tcp_links_counted(json: &Value) {
    let links = json["run"]["links"].as_array().unwrap();
    assert!(!links.is_empty(), "{json}");
    let mut cut = 0;
    for link in links {
        let tcp = &link["tcp"];
        assert!(tcp["connections"].as_u64().unwrap() >= 1, "{link}");
        assert!(tcp["bytes"].as_u64().unwrap() > 0, "{link}");
        assert!(link["passed"].as_u64().unwrap() > 0, "{link}");
        cut += tcp["refused"].as_u64().unwrap() + tcp["cut"].as_u64().unwrap();
    }
    assert!(cut > 0, "no partition closed a connection: {links:?}");
}

/// Files under `results` that some process holds a lock on (`/proc/locks`
/// names them by device and inode): a running mariadbd locks `ibdata1` and
/// `aria_log_control` in its datadir.
fn locked_files(results: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let held: std::collections::HashSet<String> = locks
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect();
    let mut found = Vec::new();
    let mut dirs = vec![results.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() {
                let id = format!(
                    "{:02x}:{:02x}:{}",
                    libc::major(meta.dev()),
                    libc::minor(meta.dev()),
                    meta.ino()
                );
                if held.contains(&id) {
                    found.push(format!("lock on {}", path.display()));
                }
            }
        }
    }
    found
}

/// mariadbd processes, socket and pid files of runs under `results`, and
/// locks on their files.
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
    found.extend(locked_files(results));
    found
}

/// All to all, an update written at another instance than its insert
/// reaches the third instance after the insert: `--log-slave-updates`
/// puts the insert ahead of the update in the updating instance's binlog,
/// and `--gtid-ignore-duplicates` applies it once from either link. So
/// no update is skipped for want of its row, as PostgreSQL skips them.
#[test]
fn an_update_never_overtakes_its_insert() {
    if !mariadb_present("an_update_never_overtakes_its_insert") {
        return;
    }
    let _turn = serial();
    let (code, json, results) = run(&overtaken::RACED);
    let run_dir = results.path().join("latest");
    assert!(overtaken::updates_elsewhere(&run_dir) > 0, "{json}");
    assert_eq!(code, 0, "{json}");
    assert!(overtaken::lost_updates(&json).is_empty(), "{json}");
    assert_eq!(
        json["run"]["db_findings"].as_array().map_or(0, Vec::len),
        0,
        "{json}"
    );
    recheck_agrees(&run_dir, code, &json);
}

#[test]
fn a_partitioned_ring_diverges_or_stops_its_appliers() {
    if !mariadb_present("a_partitioned_ring_diverges_or_stops_its_appliers") {
        return;
    }
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
    assert_tcp_links_counted(&json);
    let report = std::fs::read_to_string(results.path().join("latest/report.txt")).unwrap();
    assert!(report.contains("tcp links:"), "{report}");
    recheck_agrees(&results.path().join("latest"), code, &json);
}

#[test]
fn auto_increment_collides_without_offsets_and_not_with_them() {
    if !mariadb_present("auto_increment_collides_without_offsets_and_not_with_them") {
        return;
    }
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
    let duplicates = json["anomaly_counts"]["duplicate-id"].as_u64().unwrap();
    assert!(
        duplicates as usize + findings(&json, "replication-stopped") > 0,
        "{json}"
    );
    // An id handed out twice is the checkers' anomaly, reported once.
    assert_eq!(findings(&json, "duplicate-id"), 0, "{json}");

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
    assert_eq!(json["anomaly_counts"]["duplicate-id"], 0, "{json}");
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

/// Ctrl-C a 60 s crash run once `marker` is printed and `pause` has passed;
/// `running` sees the instances up.
fn interrupt_after(marker: &str, pause: Duration, running: impl Fn(&Path)) {
    let flags = ["--time-limit", "60", "--nemesis", "crash"];
    db::stop_with(
        libc::SIGINT,
        "mariadb",
        &flags,
        marker,
        pause,
        |results, _| {
            running(results);
            let results = results.to_path_buf();
            Box::new(move || leftovers(&results))
        },
    );
}

#[test]
fn ctrl_c_leaves_no_mariadbd_socket_pid_file_or_datadir_lock() {
    if !mariadb_present("ctrl_c_leaves_no_mariadbd_socket_pid_file_or_datadir_lock") {
        return;
    }
    let _turn = serial();
    interrupt_after("cluster: ", Duration::from_secs(2), |results| {
        let found = leftovers(results);
        assert!(!found.is_empty(), "the instances should be running");
        // The lock check sees what it must see gone afterwards.
        assert!(
            found.iter().any(|f| f.starts_with("lock on ")),
            "no datadir lock seen while running: {found:?}"
        );
    });
}

#[test]
fn ctrl_c_while_the_datadir_is_installed_leaves_no_bootstrap_server() {
    if !mariadb_present("ctrl_c_while_the_datadir_is_installed_leaves_no_bootstrap_server") {
        return;
    }
    let _turn = serial();
    // mariadb-install-db runs a bootstrap mariadbd right after the run
    // directory is printed; interrupt while it runs.
    interrupt_after("run directory", Duration::ZERO, |results| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !leftovers(results).iter().any(|p| p.contains("--bootstrap")) {
            assert!(
                Instant::now() < deadline,
                "no bootstrap mariadbd seen: {:?}",
                leftovers(results)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

/// The first `n` keys the final reads read, in the order they were read.
fn first_final_keys(run_dir: &Path, n: usize) -> Vec<String> {
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    let mut keys: Vec<String> = Vec::new();
    for op in history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
    {
        if op["f"] == "final-read" && op["type"] == "invoke" {
            let key = op["key"].as_str().unwrap().to_string();
            if !keys.contains(&key) && keys.len() < n {
                keys.push(key);
            }
        }
    }
    keys
}

/// The `ok` final read of `key` on `node`, from the run's history.
fn final_read(run_dir: &Path, key: &str, node: &str) -> Value {
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|op| {
            op["f"] == "final-read" && op["type"] == "ok" && op["key"] == key && op["node"] == node
        })
        .map(|op| op["value"].clone())
        .unwrap_or_else(|| panic!("no final read of {key} on {node}"))
}

#[test]
fn a_name_claimed_on_both_sides_of_a_partitioned_ring_is_reported_once() {
    if !mariadb_present("a_name_claimed_on_both_sides_of_a_partitioned_ring_is_reported_once") {
        return;
    }
    let _turn = serial();
    let (code, json, results) = run(&[
        "--workload",
        "constraint",
        "--nodes",
        "2",
        "--topology",
        "ring",
        // Many fresh names at full speed: claims race while the ring is
        // cut (seed 3 cuts both links from 3 s) and while it replicates.
        "--keys",
        "300",
        "--rate",
        "0",
        "--concurrency",
        "6",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--time-limit",
        "4",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 1, "{json}");
    let violations: Vec<&Value> = json["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "constraint-violation")
        .collect();
    assert!(!violations.is_empty(), "{json}");
    let first = violations[0];
    assert_eq!(first["witnesses"].as_array().unwrap().len(), 2, "{first}");
    // Reported once: the anomaly; no finding repeats it.
    assert_eq!(findings(&json, "double-claim"), 0, "{json}");
    let violated = |name: &str| violations.iter().any(|a| a["key"] == name);
    for f in json["run"]["db_findings"].as_array().into_iter().flatten() {
        if f["errno"] != 1062 {
            continue;
        }
        let message = f["message"].as_str().unwrap();
        assert!(message.contains("Duplicate entry"), "{f}");
        // The applier's error is what the finding adds; it names the anomaly.
        let anomaly = f["anomaly"].as_str().unwrap_or_else(|| panic!("{f}"));
        let name = anomaly
            .strip_prefix("constraint-violation: name ")
            .unwrap_or_else(|| panic!("{f}"));
        assert!(violated(name), "{f} names no reported violation");
        assert!(message.contains(&format!("'{name}'")), "{f}");
    }

    let run_dir = results.path().join("latest");
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains(r#"id="db-findings""#), "no findings section");
    let stopped = findings(&json, "replication-stopped");
    if stopped > 0 {
        assert!(
            html.contains("Duplicate entry"),
            "the applier error is shown"
        );
    } else {
        assert!(html.contains("reported no problem of its own"));
    }
    // Every instance's final value of a name granted twice, as read (the
    // page shows the first 100 names read).
    assert!(html.contains(r#"id="final-values""#), "no final values");
    let shown = first_final_keys(&run_dir, 100);
    let name = violations
        .iter()
        .filter_map(|a| a["key"].as_str())
        .find(|k| shown.iter().any(|s| s == k))
        .unwrap_or_else(|| panic!("no violation among the names shown {shown:?}: {json}"));
    let cell = |node: &str| {
        let v = final_read(&run_dir, name, node);
        format!("<td><code>{v}</code></td>")
    };
    let row = format!("<td>{name}</td>{}{}</tr>", cell("n1"), cell("n2"));
    assert!(html.contains(&row), "missing row {row}");
    assert_tcp_links_counted(&json);
    recheck_agrees(&run_dir, code, &json);
}

#[test]
fn compare_sets_a_ring_against_all_to_all() {
    if !mariadb_present("compare_sets_a_ring_against_all_to_all") {
        return;
    }
    let _turn = serial();
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["compare", "--db", "mariadb", "--workload", "unique-ids"])
        .args([
            "--nodes",
            "2",
            "--time-limit",
            "2",
            "--seed",
            "2",
            "--quiet",
        ])
        .arg("--results")
        .arg(results.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = results.path().join("latest-compare");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let configurations: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["strategy"].as_str().unwrap(),
                r["topology"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        configurations,
        [("mariadb", "ring"), ("mariadb", "all-to-all")]
    );
    for row in rows {
        let figures = &row["figures"];
        assert!(figures["ops"].as_u64().unwrap() > 0, "{row}");
        assert!(figures["db_findings"].is_u64(), "{row}");
        let run_dir = results.path().join(row["run_dir"].as_str().unwrap());
        let run: Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(run["run"]["topology"], row["topology"]);
        assert_eq!(
            figures["db_findings"].as_u64().unwrap() as usize,
            run["run"]["db_findings"].as_array().map_or(0, Vec::len)
        );
        assert_eq!(
            figures["verdict"],
            run["valid"]
                .as_bool()
                .map_or("unknown", |v| if v { "valid" } else { "invalid" })
        );
    }
    assert!(stdout.contains("mariadb / ring"), "{stdout}");
    assert!(stdout.contains("db findings"), "{stdout}");
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert!(html.contains("<th>db findings</th>"), "{html}");
    assert!(leftovers(results.path()).is_empty());
}

#[test]
fn compare_refuses_strategies_mariadb_does_not_have() {
    let output = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["compare", "--db", "mariadb", "--strategies", "lww,merge"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("--strategies") && stderr.contains("--topologies ring,all-to-all"),
        "{stderr}"
    );
}
