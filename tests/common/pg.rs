//! What PostgreSQL leaves behind, for the `--db pglogical` and `--db
//! postgres` tests: the instances' processes, data directory and System V
//! shared memory, and a Ctrl-C in the middle of a run that must leave none
//! of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::db;

/// The directory holding the instances' data dirs and sockets, from the
/// `cluster:` line (`...; data under DIR)`).
pub fn data_base(stdout: &str) -> PathBuf {
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
pub fn shm_ids() -> Vec<String> {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// postgres processes, files and shared memory of the instances under `base`.
pub fn leftovers(base: &Path, shm: &[String]) -> Vec<String> {
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
pub fn running_shm(base: &Path) -> Vec<String> {
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

/// Stop a 60 s crash run of `db` with `signal` two seconds after its
/// cluster is up: nothing of its three instances may remain.
pub fn stopping_leaves_nothing(db: &str, signal: i32) {
    let flags = ["--time-limit", "60", "--nemesis", "crash"];
    let up = Duration::from_secs(2);
    db::stop_with(signal, db, &flags, "cluster: ", up, |_, stdout| {
        let base = data_base(stdout);
        let shm = running_shm(&base);
        assert_eq!(shm.len(), 3, "three instances hold shared memory: {shm:?}");
        assert!(
            !leftovers(&base, &shm).is_empty(),
            "the instances should be running"
        );
        Box::new(move || leftovers(&base, &shm))
    });
}
