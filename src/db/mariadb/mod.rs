//! `diverge run --db mariadb`: a real multi-leader database under test.
//!
//! Local `mariadbd` instances ([`server`]), each with its own datadir, port,
//! socket and pid file under the run directory, replicate as a ring or
//! all-to-all ([`replication`]) with every replication connection passing
//! through a TCP link ([`crate::net::tcp`]) so that partitions cut it. SQL
//! clients ([`sql`]) run the workload while the [`nemesis`] partitions,
//! crashes and pauses instances. At the end: heal, wait (bounded) until
//! every applier caught up or stopped, read every key on every instance,
//! stop the instances. Stopped appliers are findings; divergence, lost
//! updates, ids handed out twice and names granted twice are checked on
//! the history as for any run.

pub mod nemesis;
pub mod replication;
pub mod server;
pub mod sql;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::Mutex;

use crate::cluster::free_port;
use crate::config::TestConfig;
use crate::control::name_of;
use crate::db::findings;
use crate::history::Recorder;
use crate::net::tcp::TcpLinks;
use crate::results::{Results, RunInfo, fault_windows};
use server::{Layout, Server};
use sql::{SqlClient, SqlPlan};

/// Kills every instance still running and removes sockets and pid files
/// when dropped, whichever way the run ends (error, panic, Ctrl-C): the
/// nemesis task may still hold the servers then.
struct Leftovers {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let mut pids = Vec::new();
        for (socket, pid_file) in &self.files {
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|p| p.trim().parse::<libc::pid_t>().ok())
            {
                // SAFETY: signalling a process (group) we started; no memory is touched.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
                pids.push(pid);
            }
            let _ = std::fs::remove_file(socket);
            let _ = std::fs::remove_file(pid_file);
        }
        // Wait (briefly) until they are gone, so no datadir lock outlives the run.
        let deadline = Instant::now() + Duration::from_secs(3);
        // SAFETY: signal 0 only checks for existence.
        while pids
            .iter()
            .any(|&p| unsafe { libc::kill(p, 0) } == 0 && !is_zombie(p))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Run one test against MariaDB; `run_dir` exists and holds test.json.
pub async fn run_test(config: &TestConfig, run_dir: &Path) -> Result<Results> {
    server::require_installed()?;
    let started_at = chrono::Local::now().to_rfc3339();
    let ids = config.node_ids();
    let n = ids.len();
    let topology = config.db.topology;
    let ready_timeout = config.ready_timeout().max(Duration::from_secs(30));
    let ready_start = Instant::now();
    let nodes_dir = run_dir.join("nodes");
    std::fs::create_dir_all(&nodes_dir)?;
    let template = server::install_template(&nodes_dir).await?;
    let ports = ids
        .iter()
        .map(|_| free_port())
        .collect::<Result<Vec<u16>>>()?;
    let layout = Layout {
        run_dir,
        template: &template,
        config,
    };
    let mut servers: Vec<Server> = Vec::with_capacity(n);
    let mut leftovers = Leftovers { files: Vec::new() };
    for (i, id) in ids.iter().enumerate() {
        let server = layout.spawn(i, id, ports[i]).await?;
        leftovers
            .files
            .push((server.socket.clone(), server.pid_file.clone()));
        servers.push(server);
    }
    for server in &mut servers {
        server::wait_ready(server, ready_timeout).await?;
    }
    let _ = std::fs::remove_dir_all(&template);

    // One TCP link per replication connection: replica r reads master m's
    // binlog through link m->r.
    let mut routes = Vec::new();
    for r in 0..n {
        for m in replication::masters_of(topology, n, r) {
            routes.push((
                ids[m].clone(),
                ids[r].clone(),
                SocketAddr::from(([127, 0, 0, 1], ports[m])),
            ));
        }
    }
    let links = Arc::new(TcpLinks::start(&routes).await?);
    for (r, id) in ids.iter().enumerate() {
        for m in replication::masters_of(topology, n, r) {
            let link = links.get(&ids[m], id).context("missing replication link")?;
            replication::connect(ports[r], &ids[m], link.addr().port())
                .await
                .with_context(|| format!("configuring {id} to replicate from {}", ids[m]))?;
        }
    }
    crate::say!(
        "mariadb: {n} instances, {}, ready in {:.0} ms",
        config.topology,
        ready_start.elapsed().as_secs_f64() * 1000.0
    );

    let test_start = Instant::now();
    let recorder = Recorder::create(&run_dir.join("history.jsonl"), test_start)?;
    let clients: Vec<SqlClient> = ids
        .iter()
        .zip(&ports)
        .map(|(id, port)| {
            SqlClient::new(id.clone(), *port, config.concurrency, config.op_timeout())
        })
        .collect();
    let servers = Arc::new(Mutex::new(servers));
    let targets = Arc::new(nemesis::Targets {
        servers: servers.clone(),
        links: links.clone(),
        ids: ids.clone(),
        ready_timeout,
    });
    let nemesis = tokio::spawn(nemesis::run(
        config.nemesis.0.clone(),
        config.nemesis_interval(),
        config.time_limit(),
        config.seed,
        targets.clone(),
        recorder.handle(),
    ));
    // Dropping the run (Ctrl-C) must not leave the nemesis holding the servers.
    let nemesis = AbortOnDrop::new(nemesis);
    let plan = SqlPlan {
        workload: config.workload,
        seed: config.seed,
        concurrency: config.concurrency,
        keys: config.key_names(),
        routing: config.routing.driver_routing(),
        rate: config.rate,
        time_limit: config.time_limit(),
    };
    let (ok, fail, info) = sql::run_clients(plan, clients.clone(), recorder.handle()).await;
    let workload_s = test_start.elapsed().as_secs_f64();
    (&mut *nemesis.0.lock().await)
        .await
        .context("the nemesis task failed")?;
    crate::say!("workload: {workload_s:.1}s, {ok} ok, {fail} fail, {info} info");

    let addrs: Vec<(String, u16)> = ids.iter().cloned().zip(ports.iter().copied()).collect();
    let catch_up = replication::wait_caught_up(&addrs, config.quiesce_timeout()).await;
    let mut db_findings = replication::stopped_appliers(&catch_up.states);
    let keys = sql::final_keys(config.workload, &config.key_names());
    let final_reads_ok =
        sql::final_reads(config.workload, &clients, &keys, &recorder.handle()).await;
    for client in clients {
        client.disconnect().await;
    }
    stop_all(&servers).await;
    let tcp_links = links.counters();
    let written = recorder.finish()?;
    tracing::debug!(written, "history closed");

    let history = diverge_checkers::read_history(&run_dir.join("history.jsonl"))?;
    // MariaDB applies replicated rows in arrival order, not by any conflict
    // strategy: `check_options` names the strategy `mariadb`, which makes no
    // anomaly inherent to a strategy (`diverge check` does the same).
    let check = diverge_checkers::check_with(&history, &crate::control::check_options(config));
    // Ids handed out twice and names granted twice are the checkers'
    // anomalies; an applier that stopped on one says so instead of
    // repeating it.
    findings::relate(&mut db_findings, &check.anomalies);
    let notes = vec![format!(
        "replication positions (gtid_binlog_pos) at the end: {}",
        catch_up
            .states
            .iter()
            .map(|(id, s)| format!("{id}=[{}]", s.gtid_binlog_pos))
            .collect::<Vec<_>>()
            .join(" ")
    )];
    let run = RunInfo {
        test_name: config.test_name.clone(),
        seed: config.seed,
        workload: name_of(&config.workload),
        strategy: "mariadb".into(),
        topology: config.topology.clone(),
        nodes: n,
        started_at,
        workload_s,
        quiesced: catch_up.settled,
        quiesce_s: catch_up.waited.as_secs_f64(),
        final_reads_ok,
        final_reads_expected: keys.len() * n,
        replay: config.replay.clone(),
        faults: fault_windows(&history),
        links: tcp_links,
        notes,
        skipped_updates: None,
        resolutions: None,
        db_findings,
    };
    // Findings (stopped appliers) make the verdict invalid there.
    let results = Results::from_run(check, run);
    drop(leftovers);
    Ok(results)
}

/// Aborts the task when dropped.
struct AbortOnDrop(Mutex<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    fn new(handle: tokio::task::JoinHandle<()>) -> Self {
        AbortOnDrop(Mutex::new(handle))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.get_mut().abort();
    }
}

/// Stop every instance gracefully (SIGTERM: it removes its socket and pid
/// file), killing any that takes longer than 30 s.
async fn stop_all(servers: &Mutex<Vec<Server>>) {
    let mut servers = servers.lock().await;
    for server in servers.iter_mut() {
        server.process.resume();
        server.process.terminate();
    }
    for server in servers.iter_mut() {
        server.process.wait_or_kill(Duration::from_secs(30)).await;
        server.remove_leftovers();
    }
}
