//! `diverge run`: the whole lifecycle of one test.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::testbed::Testbed;
use super::{EXIT_INTERRUPTED, quiesce, rundir};
use crate::cli::{RunArgs, WorkloadName};
use crate::config::TestConfig;
use crate::history::Recorder;
use crate::nemesis::faults::Targets;
use crate::nemesis::{NemesisPlan, run_nemesis};
use crate::report;
use crate::results::fault_windows;
use crate::results::{Results, RunInfo};
use crate::workload::{self, ClientPlan, client::NodeClient};

/// Run a test; returns the process exit code.
pub async fn run(args: RunArgs) -> Result<i32> {
    let config = TestConfig::from_args(&args, rand::random())?;
    // The seed comes first, so even a run that dies can be replayed.
    println!("seed: {} (replay: {})", config.seed, config.replay);
    let run_dir = rundir::create(&config.results_dir, &config.test_name)?;
    std::fs::write(
        run_dir.join("test.json"),
        serde_json::to_string_pretty(&config)? + "\n",
    )?;
    println!("run directory: {}", run_dir.display());

    let outcome = tokio::select! {
        outcome = run_test(&config, &run_dir) => outcome,
        _ = tokio::signal::ctrl_c() => {
            // Dropping run_test's future dropped the cluster: nodes are killed.
            eprintln!("diverge: interrupted; nodes stopped; the history so far is in {}", run_dir.display());
            return Ok(EXIT_INTERRUPTED);
        }
    };
    let results = outcome?;
    rundir::link_latest(&config.results_dir, &config.test_name, &run_dir)?;
    let text = report::text::render(&results, !args.quiet);
    let full = report::text::render(&results, true);
    std::fs::write(run_dir.join("report.txt"), &full)?;
    report::json::write(&results, &run_dir.join("results.json"))?;
    println!("\n{text}");
    Ok(results.exit_code())
}

async fn run_test(config: &TestConfig, run_dir: &Path) -> Result<Results> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.concurrency.max(16))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let started_at = chrono::Local::now().to_rfc3339();
    let ready_start = Instant::now();
    let testbed = Testbed::start(config, run_dir, http.clone()).await?;
    println!(
        "cluster: {} nodes ready in {:.0} ms",
        config.nodes,
        ready_start.elapsed().as_secs_f64() * 1000.0
    );
    let Testbed {
        cluster,
        links,
        ids,
        urls,
    } = testbed;

    let test_start = Instant::now();
    let recorder = Recorder::create(&run_dir.join("history.jsonl"), test_start)?;
    let clients: Vec<NodeClient> = ids
        .iter()
        .zip(&urls)
        .map(|(id, url)| {
            NodeClient::new(id.clone(), url.clone(), http.clone(), config.op_timeout())
        })
        .collect();
    let plan = ClientPlan {
        workload: config.workload,
        seed: config.seed,
        concurrency: config.concurrency,
        keys: config.key_names(),
        routing: config.routing,
        rate: config.rate,
        time_limit: config.time_limit(),
    };
    let nemesis = (!config.nemesis.is_empty()).then(|| {
        let plan = NemesisPlan {
            faults: config.nemesis.clone(),
            interval: config.nemesis_interval(),
            time_limit: config.time_limit(),
            seed: config.seed,
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
    let totals = workload::run_clients(plan, clients.clone(), recorder.handle()).await;
    let workload_s = test_start.elapsed().as_secs_f64();
    if let Some(nemesis) = nemesis {
        nemesis.await.context("the nemesis task failed")?;
    }
    println!(
        "workload: {:.1}s, {} ok, {} fail, {} info",
        workload_s, totals.ok, totals.fail, totals.info
    );

    let quiescence = quiesce::wait_quiescent(&http, &urls, config.quiesce_timeout()).await;
    let keys = config.key_names();
    let final_reads_ok =
        workload::final_reads(config.workload, &clients, &keys, &recorder.handle()).await;
    cluster.lock().await.stop().await;
    let link_counters = links.counters();
    if let Ok(links) = Arc::try_unwrap(links) {
        links.shutdown().await;
    }
    let written = recorder.finish()?;
    tracing::debug!(written, "history closed");

    let history = diverge_checkers::read_history(&run_dir.join("history.jsonl"))?;
    let check = diverge_checkers::check(&history, checker_workload(config.workload));
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
        final_reads_expected: keys.len() * config.nodes,
        replay: config.replay.clone(),
        faults: fault_windows(&history),
        links: link_counters,
    };
    Ok(Results::from_run(check, run))
}

pub fn checker_workload(workload: WorkloadName) -> diverge_checkers::Workload {
    match workload {
        WorkloadName::Set => diverge_checkers::Workload::Set,
        WorkloadName::Register => diverge_checkers::Workload::Register,
    }
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
