//! Tests that need a system from outside the Rust toolchain (a database, a
//! language runtime) ask [`require`] first. Where it is absent they skip
//! with one line naming what to install; under `CI` (whose `.ci/run`
//! installs it) they fail instead, so CI can never skip silently.

#![allow(dead_code, reason = "each test binary uses only part of it")]

/// Whether `program` is an executable on PATH or at the absolute path given.
pub fn on_path(program: &str) -> bool {
    let path = std::path::Path::new(program);
    if path.is_absolute() {
        return path.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `true` when the test may go on. With `present` false: outside CI, prints
/// `skipped <test>: needs <what> (<install>)` and returns `false`; under
/// `CI`, panics with the same words.
pub fn require(test: &str, present: bool, what: &str, install: &str) -> bool {
    if present {
        return true;
    }
    let line = format!("skipped {test}: needs {what} ({install})");
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so this test may not skip: {line}");
    }
    eprintln!("{line}");
    false
}
