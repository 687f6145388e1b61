//! End-to-end timing of `check_file` on a generated history.
//!
//! ```text
//! cargo run -p diverge-checkers --release --example check_timing -- register 1000000
//! ```
//! Arguments: workload (default register), ops (default 1,000,000), and an
//! optional file path (default /tmp/diverge-<workload>-<ops>.jsonl, generated
//! once and reused). Prints the parse and check wall times and the peak RSS
//! (VmHWM) of this process. The file is generated in a child process so the
//! generator's memory does not count towards the checker's peak.

use std::path::PathBuf;
use std::time::Instant;

use diverge_checkers::synth::{SynthSpec, synth_file};
use diverge_checkers::{Workload, check_hist, read_hist};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload: Workload = args
        .get(1)
        .map_or("register", String::as_str)
        .parse()
        .unwrap();
    let ops: usize = args
        .get(2)
        .map_or(1_000_000, |s| s.replace('_', "").parse().unwrap());
    let path = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/diverge-{workload}-{ops}.jsonl")));
    if std::env::var_os("DIVERGE_GENERATE_ONLY").is_some() {
        synth_file(&SynthSpec::new(workload, ops, 42), &path).unwrap();
        return;
    }
    if !path.exists() {
        let status = std::process::Command::new(&args[0])
            .args(&args[1..])
            .env("DIVERGE_GENERATE_ONLY", "1")
            .status()
            .unwrap();
        assert!(status.success());
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    let start = Instant::now();
    let (hist, torn) = read_hist(&path).unwrap();
    let parsed = start.elapsed();
    let result = check_hist(&hist, &diverge_checkers::CheckOptions::new(workload));
    let total = start.elapsed();
    assert!(!torn);
    println!(
        "{workload}: {} lines ({:.0} MB) parse {:.3} s + check {:.3} s = {:.3} s wall; \
         peak RSS {} MiB; valid {:?}, {} anomalies",
        hist.ops.len(),
        bytes as f64 / 1e6,
        parsed.as_secs_f64(),
        (total - parsed).as_secs_f64(),
        total.as_secs_f64(),
        peak_rss_kib() / 1024,
        result.valid,
        result.anomalies.len(),
    );
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
