//! Ctrl-C at any moment of a run leaves no node process and no listening
//! socket behind; SIGTERM and SIGHUP stop a run the same way.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Node processes whose command line mentions `results`.
fn nodes_of(results: &Path) -> Vec<String> {
    let needle = results.to_str().unwrap().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(" node ") && c.contains(&needle))
        .collect()
}

/// Ports the nodes said they listen on, from their logs.
fn node_ports(results: &Path) -> Vec<u16> {
    let mut ports = Vec::new();
    let Ok(tests) = std::fs::read_dir(results) else {
        return ports;
    };
    for log in tests
        .flatten()
        .flat_map(|t| std::fs::read_dir(t.path()).into_iter().flatten().flatten())
        .flat_map(|run| {
            std::fs::read_dir(run.path().join("nodes"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|f| f.path().extension().is_some_and(|x| x == "log"))
    {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        ports.extend(text.lines().filter_map(|line| {
            let addr = line
                .split("listening on ")
                .nth(1)?
                .split_whitespace()
                .next()?;
            addr.rsplit(':').next()?.parse::<u16>().ok()
        }));
    }
    ports
}

/// Start a run, wait until its stdout shows `marker` (if any), interrupt it.
fn interrupt_at(marker: Option<&str>) {
    stop_at(marker, libc::SIGINT);
}

/// Start a run, wait until its stdout shows `marker` (if any), send it
/// `signal`: it exits 128 + the signal's number and leaves nothing.
fn stop_at(marker: Option<&str>, signal: i32) {
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(["run", "--time-limit", "30", "--nodes", "3", "--results"])
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    if let Some(marker) = marker {
        loop {
            let line = lines
                .next()
                .expect("the run ended before the marker")
                .unwrap();
            if line.contains(marker) {
                break;
            }
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the controller did not exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Once the controller has started it exits 130; a signal that arrives
    // before the process has installed its handler kills it (nothing had
    // been spawned yet).
    use std::os::unix::process::ExitStatusExt;
    match marker {
        Some(_) => assert_eq!(
            status.code(),
            Some(128 + signal),
            "exit code after the signal"
        ),
        None => assert!(
            status.code() == Some(128 + signal) || status.signal() == Some(signal),
            "unexpected exit after Ctrl-C: {status:?}"
        ),
    }
    // Orphans get SIGKILL from the kernel (PDEATHSIG); allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !nodes_of(results.path()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "nodes outlived the controller: {:?}",
            nodes_of(results.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ports = node_ports(results.path());
    if marker == Some("cluster:") {
        assert_eq!(
            ports.len(),
            3,
            "every node logged its port before the interrupt"
        );
    }
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still listening after Ctrl-C"
        );
    }
}

#[test]
fn ctrl_c_during_startup_leaves_nothing() {
    interrupt_at(Some("run directory"));
}

#[test]
fn ctrl_c_during_the_workload_leaves_nothing() {
    interrupt_at(Some("cluster:"));
}

#[test]
fn ctrl_c_at_once_leaves_nothing() {
    interrupt_at(None);
}

#[test]
fn sigterm_and_sighup_during_the_workload_leave_nothing() {
    stop_at(Some("cluster:"), libc::SIGTERM);
    stop_at(Some("cluster:"), libc::SIGHUP);
}
