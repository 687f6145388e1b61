//! The `diverge` binary: parse the command line, dispatch, map outcomes to
//! exit codes (0 valid, 1 anomalies, 2 inconclusive, 3 usage or harness error).

use clap::Parser;
use diverge::cli::{Cli, Command};
use diverge::control::{self, EXIT_HARNESS_ERROR};

/// mimalloc instead of glibc malloc: the node and the controller allocate a
/// request's worth of small buffers per op, and glibc's malloc/free was ~15%
/// of both profiles under load (perf); mimalloc's thread-local free lists
/// cut that to a few percent.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_HARNESS_ERROR
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Some(delay_ms) = purge_delay_ms(&cli.command) {
        // SAFETY: a plain option store, made before any other thread exists.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, delay_ms) };
    }
    let code = match cli.command {
        Command::Node(args) => exit_code(
            node_runtime()
                .block_on(diverge::node::run(args))
                .map(|()| 0),
        ),
        Command::Run(args) => exit_code(controller_runtime().block_on(control::run(args))),
        Command::Check(args) => exit_code(control::check(args)),
        Command::Compare(args) => exit_code(controller_runtime().block_on(control::compare(args))),
        Command::Suite(args) => exit_code(controller_runtime().block_on(control::suite(args))),
        Command::Serve(args) => exit_code(runtime().block_on(diverge::serve::serve(args))),
        Command::Sim(args) => exit_code(control::sim::run(args)),
    };
    std::process::exit(code);
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3 alike);
/// libmimalloc-sys exports the function but only names this option behind a
/// feature that needs another crate.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// How long mimalloc keeps freed pages before returning them to the OS
/// (its default: 10 ms), by command; `None` keeps the default.
///
/// - `diverge check` frees large buffers (parse blocks, per-thread parts,
///   checker scratch) while the history is still live; keeping them 10 ms
///   held over 200 MiB extra at the peak of a 10M-op history. Purging at
///   once (0) costs no measurable time there: a few big frees.
/// - Nodes and the controller of a run free and reallocate a request's
///   worth of small buffers per op, tens of thousands of times a second;
///   purged pages were faulted back in (and zeroed) moments later:
///   `clear_page_erms` was ~5% of all CPU samples of a saturated register
///   run, ~2% without purging (what remains is the node's growing log).
///   Their memory only grows over a run anyway, so they never purge (-1).
fn purge_delay_ms(command: &Command) -> Option<std::ffi::c_long> {
    match command {
        Command::Check(_) => Some(0),
        Command::Node(_)
        | Command::Run(_)
        | Command::Compare(_)
        | Command::Suite(_)
        | Command::Sim(_) => Some(-1),
        Command::Serve(_) => None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// The node runs on one thread: a cluster puts several nodes and the
/// controller on the same few cores, and one worker per node avoids the
/// cross-thread wake-ups (and context switches) of a work-stealing pool
/// without losing throughput; its log's fsyncs run on their own thread.
fn node_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// The controller of a run (also within compare and suite) runs on one
/// thread too: its work per op (a client request, a link forward, a history
/// record) is small and the nodes need the other cores. Against a
/// work-stealing pool it measured ~13% more acknowledged ops/s on two cores
/// (`diverge run --workload register --rate 0 --concurrency 64`), as tasks
/// no longer wake each other across threads.
fn controller_runtime() -> tokio::runtime::Runtime {
    node_runtime()
}

fn exit_code(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("diverge: error: {e:#}");
            EXIT_HARNESS_ERROR
        }
    }
}
