//! Reading what a `diverge run` left: its results file, and its output
//! for an assertion's message.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// `results.json` of the latest run under `results`.
pub fn results_json(results: &Path) -> Value {
    let text = std::fs::read_to_string(results.join("latest/results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Exit code, stdout and stderr, for an assertion's message.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
