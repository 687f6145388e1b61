//! One test's lifecycle, the same for every system under test, in stages:
//! start the system; record the history while the workload's clients run
//! and the nemesis executes its plan; heal and settle; take the final
//! reads; ask the system what it reports about itself; stop it; check the
//! history and fold in what the run observed ([`super::judge`]).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::judge::{self, RunFacts};
use super::progress::Display;
use crate::config::TestConfig;
use crate::domain::RoutingMode;
use crate::history::{Clock, HistoryHandle, Progress, Recorder, SinceStart};
use crate::nemesis::{self, FaultObserver, NemesisSpec};
use crate::results::Results;
use crate::system::{self, Settled, System, SystemKind};
use crate::workload::failover::HomeRoutes;
use crate::workload::on_read::OnRead;
use crate::workload::{self, Bundle, ClientPlan, ClientTotals, Conn, Protocol};

/// How a test is run: which kind of system starts, the history's clock,
/// and whether the live progress line shows. Real runs take the system the
/// config names on real time; `diverge sim` its simulated cluster on
/// virtual time.
pub struct Harness {
    pub kind: &'static dyn SystemKind,
    /// Makes the history's clock when recording starts (its time zero).
    pub clock: fn() -> Arc<dyn Clock>,
    pub display: bool,
}

impl Harness {
    /// The system `config` names, on the wall clock, with the progress line.
    pub fn real(config: &TestConfig) -> Harness {
        Harness {
            kind: system::kind(config.db.name),
            clock: || Arc::new(SinceStart::now()),
            display: true,
        }
    }
}

/// Run the test `config` describes in `run_dir` (which exists).
pub async fn run_test(config: &TestConfig, run_dir: &Path, harness: &Harness) -> Result<Results> {
    let kind = harness.kind;
    let bundle = workload::bundle_of(config.workload);
    // A script that does not compile stops the run before any node starts.
    let on_read = match &config.options.on_read {
        Some(path) => Some(Arc::new(OnRead::load(path)?)),
        None => None,
    };
    let started_at = chrono::Local::now().to_rfc3339();
    // Absolute: systems hand the path to processes that run elsewhere.
    let run_dir = &std::path::absolute(run_dir).context("locating the run directory")?;
    let system = start(kind, config, run_dir).await?;
    let history_path = run_dir.join("history.jsonl");
    let mut recorder = Recorder::create(&history_path, (harness.clock)())?;
    let ran = run_workload(
        config,
        bundle,
        system.as_ref(),
        &mut recorder,
        on_read.clone(),
        harness.display,
    )
    .await?;
    let facts = finish(config, bundle, system, &recorder.handle(), ran).await;
    let written = recorder.finish()?;
    tracing::debug!(written, "history closed");
    judge::judge(
        config,
        kind,
        &history_path,
        facts,
        started_at,
        on_read.as_deref(),
    )
}

/// Start the system and say how long it took to be ready.
async fn start(
    kind: &dyn SystemKind,
    config: &TestConfig,
    run_dir: &Path,
) -> Result<Box<dyn System>> {
    let ready_start = Instant::now();
    let system = kind.start(config, run_dir).await?;
    crate::say!(
        "cluster: {} nodes ready in {:.0} ms{}",
        system.ids().len(),
        ready_start.elapsed().as_secs_f64() * 1000.0,
        system.describe()
    );
    Ok(system)
}

/// What the workload stage leaves for the next ones.
struct Ran {
    totals: ClientTotals,
    workload_s: f64,
}

/// Hold the `--down` nodes down, then run the clients and the nemesis
/// together until the time limit (the nemesis heals everything at its end).
async fn run_workload(
    config: &TestConfig,
    bundle: &'static dyn Bundle,
    system: &dyn System,
    recorder: &mut Recorder,
    on_read: Option<Arc<OnRead>>,
    show_progress: bool,
) -> Result<Ran> {
    let progress = Arc::new(Progress::default());
    recorder.observe(progress.clone());
    let history = recorder.handle();
    let display = show_progress.then(|| Display::start(progress, config.time_limit()));
    let test_start = Instant::now();
    let targets = system.fault_targets();
    let down: Vec<usize> = (0..config.nodes).filter(|&i| config.is_down(i)).collect();
    if !down.is_empty() {
        nemesis::execute::hold_down(&down, &targets, &history).await;
    }
    let failover = (config.routing == RoutingMode::HomeFailover).then(|| {
        let routes = HomeRoutes::new(system.ids()[..config.nodes].to_vec());
        routes.apply(&down, true, &history);
        routes
    });
    let plan = nemesis::plan(&NemesisSpec {
        kinds: config.nemesis.kinds().to_vec(),
        interval: config.nemesis_interval(),
        time_limit: config.time_limit(),
        seed: config.seed,
        nodes: targets.ids.len(),
        max_clock_skew_ms: config.max_clock_skew_ms as i64,
    });
    let observer = failover.clone().map(|r| r as Arc<dyn FaultObserver>);
    let nemesis_history = history.clone();
    // Dropped with the run (Ctrl-C): the task must not hold the system.
    let nemesis = AbortOnDrop(tokio::spawn(async move {
        nemesis::execute::run(&plan, &targets, &nemesis_history, observer.as_deref()).await;
    }));
    let clients = ClientPlan {
        bundle,
        seed: config.seed,
        concurrency: config.concurrency,
        keys: config.key_names(),
        ops_per_key: config.ops_per_key,
        routing: config.routing,
        rate: config.rate,
        time_limit: config.time_limit(),
        on_read,
        nodes: system.conns(),
        leaders: config.nodes,
        followers: system.followers(),
        failover,
    };
    let totals = workload::run_clients(clients, history).await;
    let workload_s = test_start.elapsed().as_secs_f64();
    drop(display);
    nemesis.join().await.context("the nemesis task failed")?;
    crate::say!(
        "workload: {workload_s:.1}s, {} ok, {} fail, {} info",
        totals.ok,
        totals.fail,
        totals.info
    );
    Ok(Ran { totals, workload_s })
}

/// Settle, read every key on every live node, ask the system what it
/// reports about itself, and stop it.
async fn finish(
    config: &TestConfig,
    bundle: &dyn Bundle,
    system: Box<dyn System>,
    history: &HistoryHandle,
    ran: Ran,
) -> RunFacts {
    // Nodes held down are neither waited for nor read.
    let live: Vec<usize> = (0..system.ids().len())
        .filter(|&i| !config.is_down(i))
        .collect();
    let conns = system.conns();
    let protocol = conns.first().map_or(Protocol::Kv, Conn::protocol);
    let keys = bundle.final_keys_over(protocol, &config.key_names(), &ran.totals.keys);
    // With nothing to read at the end there is nothing to wait for (and
    // such nodes may answer no read to settle with).
    let settled = if keys.is_empty() {
        Settled {
            quiesced: true,
            waited: Duration::ZERO,
            notes: vec!["no final reads: the workload is judged on its ops alone".into()],
        }
    } else {
        system.settle(config.quiesce_timeout(), &config.down).await
    };
    let live_conns: Vec<_> = live.iter().map(|&i| conns[i].clone()).collect();
    let final_reads_ok = workload::final_reads(bundle, &live_conns, &keys, history).await;
    let report = system.report(&live).await;
    drop(live_conns);
    drop(conns);
    let links = system.stop().await;
    RunFacts {
        workload_s: ran.workload_s,
        settled,
        final_reads_ok,
        final_reads_expected: keys.len() * live.len(),
        report,
        links,
    }
}

/// A task aborted when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    async fn join(mut self) -> Result<(), tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
