//! `diverge node`: the reference leader node, an HTTP shell around the
//! sans-IO core of `diverge-replica`.
//!
//! # Layout
//! - [`args`]: the command line and its validation into a [`NodeConfig`].
//! - [`log`]: the durable replication log (framing, segments, recovery, group commit).
//! - [`checkpoint`]: periodic checkpoints of the core, so a restart replays
//!   only the log written since.
//! - [`shell`]: the shared [`Node`]: one lock orders core steps and log appends.
//! - [`http`]: the HTTP API, its extractors and JSON error mapping.
//! - [`serve`]: the accept loop and per-connection timeouts.
//! - [`api_error`]: the error response every route and guard answers with.
//! - [`body_budget`]: the size and in-flight byte bounds of `/replicate` bodies.
//! - [`naming`]: the layer naming the node on every response.
//! - [`replicator`]: posting batches to peers, the tick and persisted loops.
//! - [`validate`]: keys, node ids, contexts and batches checked at the edge.
//! - [`clock`]: the wall clock.
//! - [`handler`]: user conflict handlers as sandboxed rhai scripts.
//!
//! # Lifecycle
//! [`run`] loads the checkpoint (if any), opens the log, rebuilds the core
//! from the checkpoint and the records written after it, binds the
//! listener, writes the bound port to `<data-dir>/port` (the readiness
//! signal), logs `listening on ADDR`, and serves until SIGTERM or SIGINT;
//! then it stops accepting, finishes in-flight requests, flushes the log and
//! returns. With `DIVERGE_PARENT_PID` set it also exits when its parent dies.

pub mod api_error;
pub mod args;
pub mod body_budget;
pub mod checkpoint;
pub mod clock;
pub mod compound;
pub mod handler;
pub mod http;
pub mod log;
pub mod naming;
pub mod replicator;
pub mod serve;
pub mod shell;
pub mod validate;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use diverge_replica::Replica;

pub use args::{NodeArgs, NodeConfig};
use body_budget::BodyBudget;
pub use shell::Node;

/// Name of the file, in the data dir, holding the bound port once the node
/// accepts connections.
pub const PORT_FILE_NAME: &str = "port";
/// The environment variable naming the pid whose death stops the node.
pub const PARENT_PID_ENV: &str = "DIVERGE_PARENT_PID";

/// Longest wait for in-flight requests after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Run a node until SIGTERM/SIGINT.
pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    // Restart time (log replay included) is a benchmark figure: logged below.
    let started = std::time::Instant::now();
    init_tracing();
    let config = args.validate()?;
    install_fail_stop_panic_hook();
    watch_parent();

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let port_file = config.data_dir.join(PORT_FILE_NAME);
    match std::fs::remove_file(&port_file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("removing stale {}", port_file.display())),
    }

    let checkpoint = checkpoint::load(&config.data_dir, &config.replica.id);
    let checkpointed = checkpoint.as_ref().map_or(0, |c| c.log_end);
    let (log, mut replay) = log::open_dir(&config.data_dir, config.fsync, checkpointed)
        .with_context(|| format!("opening the log in {}", config.data_dir.display()))?;
    let mut recovered = 0u64;
    let records = replay.records().inspect(|_| recovered += 1);
    let core = Replica::recover_from(config.replica.clone(), checkpoint, records);
    replay
        .finish()
        .with_context(|| format!("replaying the log in {}", config.data_dir.display()))?;
    log.recovered_through(core.log_end());
    let replicator = replicator::Replicator::new(config.peer_urls.clone())?;
    let checkpoints = checkpoint::Checkpoints::new(
        config.data_dir.clone(),
        config.checkpoint_every,
        checkpointed,
    );
    let node = Node::new(
        core,
        log,
        replicator,
        config.ids,
        checkpoints,
        config.data_dir.clone(),
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    write_port_file(&port_file, addr.port())?;
    tracing::info!(
        node = %node.id(),
        %addr,
        peers = ?config.peer_urls,
        fsync = ?config.fsync,
        checkpoint_log_end = checkpointed,
        recovered_records = recovered,
        startup_ms = started.elapsed().as_millis() as u64,
        "listening on {addr}"
    );

    let ticker = replicator::spawn_ticker(node.clone());
    let persisted_feed = replicator::spawn_persisted_feed(node.clone());
    let limits = http::RequestLimits {
        max_body_bytes: config.max_body_bytes,
        replicate: Arc::new(BodyBudget::new(
            args::replicate_body_bytes_max(config.replica.batch_bytes_max, config.max_body_bytes),
            config.replicate_buffer_bytes,
        )),
        body_timeout: config.read_timeout,
    };
    let app = http::router(node.clone(), &limits);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(listener, app, config.read_timeout, async {
        let _ = stop_rx.await;
    }));

    let signal = shutdown_signal().await?;
    tracing::info!(node = %node.id(), %signal, "shutting down");
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined?,
        Err(_) => tracing::warn!("in-flight requests did not finish in time"),
    }
    ticker.abort();
    persisted_feed.abort();
    let closing = node.clone();
    tokio::task::spawn_blocking(move || closing.log().close())
        .await?
        .context("flushing the log")?;
    tracing::info!(node = %node.id(), "stopped");
    Ok(())
}

/// Log to stderr, `RUST_LOG`-style filter, `info` by default. A no-op if
/// the process already installed a subscriber.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// A panic means the core's state can no longer be trusted: log it and stop
/// the process instead of serving on with a half-applied step.
fn install_fail_stop_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        tracing::error!(%info, "panic; stopping the node");
        std::process::exit(shell::EXIT_PANIC);
    }));
}

/// If `DIVERGE_PARENT_PID` is set, exit as soon as the parent is gone.
fn watch_parent() {
    let Ok(value) = std::env::var(PARENT_PID_ENV) else {
        return;
    };
    let Ok(parent) = value.trim().parse::<libc::pid_t>() else {
        tracing::warn!(%value, "ignoring {PARENT_PID_ENV}: not a pid");
        return;
    };
    std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            loop {
                // SAFETY: getppid has no preconditions and cannot fail.
                let current = unsafe { libc::getppid() };
                if current != parent {
                    tracing::warn!(parent, current, "parent process is gone; exiting");
                    std::process::exit(0);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .expect("spawn the parent-watch thread");
}

/// Write the port atomically (temp file + rename) so a reader never sees a
/// partial number.
fn write_port_file(path: &Path, port: u16) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{port}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
