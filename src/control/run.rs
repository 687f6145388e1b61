//! `diverge run`: the whole lifecycle of one test.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::progress::Display;
use super::testbed::Testbed;
use super::{EXIT_INTERRUPTED, quiesce, rundir};
use crate::cli::{RoutingMode, RunArgs, WorkloadName};
use crate::cluster::Cluster;
use crate::config::{IdOffset, TestConfig};
use crate::history::{HistoryHandle, Progress, Recorder};
use crate::nemesis::faults::Targets;
use crate::nemesis::{NemesisPlan, run_nemesis};
use crate::report;
use crate::results::fault_windows_in;
use crate::results::{Results, RunInfo};
use crate::workload::failover::HomeRoutes;
use crate::workload::{self, ClientPlan, client::NodeClient};
use diverge_checkers::{OpType, Process};
use tokio::sync::Mutex;

/// A finished test: its results and where they were written.
pub struct Executed {
    pub results: Results,
    pub run_dir: PathBuf,
}

/// `diverge run`: run one test; returns the process exit code.
pub async fn run(args: RunArgs) -> Result<i32> {
    // Take over Ctrl-C before anything is started, so that from here on an
    // interrupt always stops the nodes instead of killing the controller.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    let config = TestConfig::from_args(&args, rand::random())?;
    // The seed comes first, so even a run that dies can be replayed.
    crate::say!("seed: {} (replay: {})", config.seed, config.replay);
    let executed = tokio::select! {
        executed = execute(&config) => executed?,
        _ = interrupt.recv() => {
            // Dropping execute's future dropped the cluster: nodes are killed.
            eprintln!("diverge: interrupted; nodes stopped; the history so far stays in {}", config.results_dir.display());
            return Ok(EXIT_INTERRUPTED);
        }
    };
    crate::say!("\n{}", report::text::render(&executed.results, !args.quiet));
    Ok(executed.results.exit_code())
}

/// Run the test `config` describes from start to finish: run directory,
/// cluster, workload and nemesis, quiescence, final reads, checks, and every
/// report file. `compare` and `suite` run their tests through this too.
pub async fn execute(config: &TestConfig) -> Result<Executed> {
    let run_dir = rundir::create(&config.results_dir, &config.test_name)?;
    std::fs::write(
        run_dir.join("test.json"),
        serde_json::to_string_pretty(config)? + "\n",
    )?;
    crate::say!("run directory: {}", run_dir.display());
    let results = run_test(config, &run_dir).await?;
    rundir::link_latest(&config.results_dir, &config.test_name, &run_dir)?;
    std::fs::write(
        run_dir.join("report.txt"),
        report::text::render(&results, true),
    )?;
    report::json::write(&results, &run_dir.join("results.json"))?;
    report::html::write(&results, &run_dir)?;
    Ok(Executed { results, run_dir })
}

async fn run_test(config: &TestConfig, run_dir: &Path) -> Result<Results> {
    if config.db.name == crate::db::DbName::Mariadb {
        return crate::db::mariadb::run_test(config, run_dir).await;
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.concurrency.max(16))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    // A script that does not compile stops the run before any node starts.
    let on_read = match &config.options.on_read {
        Some(path) => Some(Arc::new(workload::on_read::OnRead::load(path)?)),
        None => None,
    };
    let started_at = chrono::Local::now().to_rfc3339();
    let ready_start = Instant::now();
    let testbed = Testbed::start(config, run_dir, http.clone()).await?;
    let followers = match config.followers {
        0 => String::new(),
        k => format!(
            " ({} nodes with {k} read-only followers each)",
            config.nodes
        ),
    };
    crate::say!(
        "cluster: {} nodes ready in {:.0} ms{followers}",
        testbed.ids.len(),
        ready_start.elapsed().as_secs_f64() * 1000.0
    );
    let Testbed {
        cluster,
        links,
        ids,
        urls,
    } = testbed;

    let test_start = Instant::now();
    let mut recorder = Recorder::create(&run_dir.join("history.jsonl"), test_start)?;
    let progress = Arc::new(Progress::default());
    recorder.observe(progress.clone());
    let display = Display::start(progress, config.time_limit());
    let clients: Vec<NodeClient> = ids
        .iter()
        .zip(&urls)
        .map(|(id, url)| NodeClient::new(id.clone(), url, config.op_timeout()))
        .collect::<anyhow::Result<_>>()?;
    hold_down(config, &cluster, &recorder.handle()).await;
    let failover = (config.routing == RoutingMode::HomeFailover).then(|| {
        let routes = HomeRoutes::new(ids[..config.nodes].to_vec());
        let down: Vec<usize> = (0..ids.len()).filter(|&i| config.is_down(i)).collect();
        routes.apply(&down, true, &recorder.handle());
        routes
    });
    let plan = ClientPlan {
        workload: config.workload,
        seed: config.seed,
        concurrency: config.concurrency,
        keys: config.key_names(),
        routing: config.routing.driver_routing(),
        rate: config.rate,
        time_limit: config.time_limit(),
        on_read: on_read.clone(),
        followers: (0..config.nodes)
            .map(|l| {
                (config.nodes..ids.len())
                    .filter(|&f| config.leader_of(f) == l)
                    .map(|f| clients[f].clone())
                    .collect()
            })
            .collect(),
    };
    let nemesis = (!config.nemesis.is_empty()).then(|| {
        let plan = NemesisPlan {
            faults: config.nemesis.clone(),
            interval: config.nemesis_interval(),
            time_limit: config.time_limit(),
            seed: config.seed,
            failover: failover.clone(),
        };
        let targets = Targets {
            cluster: cluster.clone(),
            links: links.clone(),
            ids: ids.clone(),
            http: http.clone(),
            max_clock_skew_ms: config.max_clock_skew_ms as i64,
        };
        tokio::spawn(run_nemesis(plan, targets, recorder.handle()))
    });
    // Writes go to the leaders only; reads also reach their followers
    // (`ClientPlan::followers`).
    let leaders = &clients[..config.nodes];
    let driven = match &failover {
        Some(routes) => NodeClient::with_failover(leaders, routes),
        None => leaders.to_vec(),
    };
    let totals = workload::run_clients(plan, driven, recorder.handle()).await;
    let workload_s = test_start.elapsed().as_secs_f64();
    drop(display);
    if let Some(nemesis) = nemesis {
        nemesis.await.context("the nemesis task failed")?;
    }
    crate::say!(
        "workload: {:.1}s, {} ok, {} fail, {} info",
        workload_s,
        totals.ok,
        totals.fail,
        totals.info
    );

    // Nodes held down are neither waited for nor read.
    let live = |i: &usize| !config.is_down(*i);
    let live_ids: Vec<String> = (0..ids.len())
        .filter(live)
        .map(|i| ids[i].clone())
        .collect();
    let live_urls: Vec<String> = (0..ids.len())
        .filter(live)
        .map(|i| urls[i].clone())
        .collect();
    let live_clients: Vec<NodeClient> = (0..ids.len())
        .filter(live)
        .map(|i| clients[i].clone())
        .collect();
    let (quiescence, quiesce_note) = quiesce::wait_quiescent_or_settle(
        &http,
        &live_ids,
        &live_urls,
        &config.down,
        config.quiesce_timeout(),
        std::time::Duration::from_secs_f64(config.settle_s),
    )
    .await;
    let mut keys = config.key_names();
    keys.extend(
        totals
            .keys
            .iter()
            .filter(|k| !keys.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let final_reads_ok =
        workload::final_reads(config.workload, &live_clients, &keys, &recorder.handle()).await;
    let skipped_updates =
        super::node_counters::sum_status_field(&http, &live_urls, "skipped_updates").await;
    cluster.lock().await.stop().await;
    let link_counters = links.counters();
    if let Ok(links) = Arc::try_unwrap(links) {
        links.shutdown().await;
    }
    let written = recorder.finish()?;
    tracing::debug!(written, "history closed");

    let history_path = run_dir.join("history.jsonl");
    let (check, _) = diverge_checkers::check_file(&history_path, &check_options(config))?;
    let run = RunInfo {
        test_name: config.test_name.clone(),
        seed: config.seed,
        workload: name_of(&config.workload),
        strategy: name_of(&config.strategy),
        topology: config.topology.clone(),
        nodes: config.nodes,
        started_at,
        workload_s,
        quiesced: quiescence.quiesced,
        quiesce_s: quiescence.waited.as_secs_f64(),
        final_reads_ok,
        final_reads_expected: keys.len() * live_ids.len(),
        replay: config.replay.clone(),
        faults: fault_windows_in(&history_path)?,
        links: link_counters,
        notes: quiesce_note
            .into_iter()
            .chain((!config.interposes_links()).then(|| {
                "nodes peered directly: no fault of this run acts on the network, so no links were interposed (--links on routes and counts every message)".to_string()
            }))
            .chain(on_read.as_ref().filter(|r| r.failures() > 0).map(|r| {
                format!(
                    "the on-read resolver failed {} times (see the log); the clients merged those siblings themselves",
                    r.failures()
                )
            }))
            .collect(),
        db_findings: Vec::new(),
        skipped_updates,
        resolutions: on_read.as_ref().map(|r| r.resolutions()),
    };
    Ok(Results::from_run(check, run))
}

/// `--down`: stop the nodes held down before the workload starts, recorded
/// as a `start-down` nemesis op that is never stopped (the checkers then
/// expect no final read from them).
async fn hold_down(config: &TestConfig, cluster: &Mutex<Cluster>, history: &HistoryHandle) {
    if config.down.is_empty() {
        return;
    }
    let record = |kind, value| {
        history.record(
            Process::Nemesis,
            kind,
            "start-down",
            None,
            value,
            None,
            None,
        )
    };
    record(OpType::Invoke, serde_json::Value::Null);
    let mut cluster = cluster.lock().await;
    for i in (0..config.nodes).filter(|&i| config.is_down(i)) {
        cluster.hold_down(i).await;
    }
    record(OpType::Ok, serde_json::json!(config.down));
}

/// What the checkers need to know of the run to judge its anomalies; the
/// run and `diverge check` of its directory both use this.
pub fn check_options(config: &TestConfig) -> diverge_checkers::CheckOptions {
    // MariaDB has no conflict strategy of diverge's: it applies replicated
    // rows as they arrive (`mariadb`, unknown to the checkers, makes no
    // anomaly inherent to a strategy).
    let strategy = match config.db.name {
        crate::db::DbName::Mariadb => "mariadb".to_string(),
        crate::db::DbName::Reference => name_of(&config.strategy),
    };
    diverge_checkers::CheckOptions {
        workload: checker_workload(config.workload),
        strategy: Some(strategy),
        topology: Some(config.topology.clone()),
        causal_delivery: Some(config.options.causal_delivery),
        id_offsets: Some(config.id_offset == IdOffset::PerNode),
    }
}

pub fn checker_workload(workload: WorkloadName) -> diverge_checkers::Workload {
    use diverge_checkers::Workload;
    match workload {
        WorkloadName::Set => Workload::Set,
        WorkloadName::Register => Workload::Register,
        WorkloadName::Counter => Workload::Counter,
        WorkloadName::ListAppend => Workload::ListAppend,
        WorkloadName::Causal => Workload::Causal,
        WorkloadName::UniqueIds => Workload::UniqueIds,
        WorkloadName::Constraint => Workload::Constraint,
        // Inserts and updates are register writes: the update must win.
        WorkloadName::InsertUpdate => Workload::Register,
    }
}

pub fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
