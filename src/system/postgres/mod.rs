//! `--db pglogical`: PostgreSQL 15 instances replicating multi-leader with
//! pglogical 2, the extension BDR grew from; `--db postgres`: PostgreSQL
//! 16 or later replicating all-to-all with its own logical replication
//! ([`native`], `origin = none`). Both share everything but the
//! replication's setup and status ([`Flavour`]).
//!
//! Local instances ([`server`], found by [`binaries`]), each with its own
//! data dir, port and socket dir, run as the `postgres` user. pglogical
//! ([`pglogical`]) subscribes each to its providers (all-to-all, or a ring
//! that forwards every origin), every subscription's connection passing
//! through a TCP link ([`crate::net::tcp`]) so that partitions cut it. The
//! conflict resolution is `--strategy`. Workloads reach the instances
//! over SQL ([`client`]); faults act on processes and links ([`faults`]).
//! Settling waits (bounded) until every slot confirmed its provider's WAL
//! position ([`catchup`]); conflicts, stopped apply workers and a loop are
//! findings ([`findings`]).

pub mod binaries;
pub mod catchup;
pub mod client;
pub mod faults;
pub mod findings;
pub mod native;
pub mod pglogical;
pub mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;

use super::instance::{self, Instances};
use super::leftovers::Leftovers;
use super::{Settled, Supports, System, SystemKind, SystemReport};
use crate::config::TestConfig;
use crate::domain::{FaultKind, Named, SystemName, Topology};
use crate::nemesis::FaultTargets;
use crate::net::LinkCounters;
use crate::net::tcp::TcpLinks;
use crate::workload::{Conn, Dialect, Protocol, sql};
use client::PgClient;
use server::{Layout, Server};

/// pglogical as a kind of system.
pub struct Pglogical;

#[async_trait]
impl SystemKind for Pglogical {
    fn name(&self) -> SystemName {
        SystemName::Pglogical
    }

    fn supports(&self) -> Supports {
        Supports {
            faults: vec![FaultKind::Partition, FaultKind::Crash, FaultKind::Pause],
            protocol: Protocol::Sql,
            topologies: vec![Topology::Ring, Topology::AllToAll],
            strategies: false,
            followers: false,
            down: false,
            failover: false,
            node_cmd: false,
            max_id_step: 1 << 40,
        }
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        let bins = binaries::pglogical()?;
        Ok(Box::new(
            start(config, run_dir, &bins, Flavour::Pglogical).await?,
        ))
    }
}

/// Native logical replication as a kind of system.
pub struct Postgres;

#[async_trait]
impl SystemKind for Postgres {
    fn name(&self) -> SystemName {
        SystemName::Postgres
    }

    fn supports(&self) -> Supports {
        Supports {
            // `origin = none` forwards nothing: a ring would not replicate
            // around, and forwarding every origin loops.
            topologies: vec![Topology::AllToAll],
            ..Pglogical.supports()
        }
    }

    async fn start(&self, config: &TestConfig, run_dir: &Path) -> Result<Box<dyn System>> {
        let bins = binaries::native(config.db.pg_bin.as_deref())?;
        Ok(Box::new(
            start(config, run_dir, &bins, Flavour::Native).await?,
        ))
    }
}

/// Which replication the instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Pglogical,
    Native,
}

/// The workloads' tables, and `ids` counting by `--id-step` from node
/// `i`'s `--id-offset`.
pub fn tables_sql(config: &TestConfig, i: usize) -> String {
    let mut sql = String::new();
    for table in sql::schema(Dialect::Postgres) {
        sql.push_str(table);
        sql.push_str(";\n");
    }
    let offset = config.id_offset.of(i);
    sql.push_str(&format!(
        "ALTER TABLE ids ALTER COLUMN id SET INCREMENT BY {} SET START WITH {offset} \
         RESTART WITH {offset};\n",
        config.id_step
    ));
    sql
}

/// Started instances.
struct PgSystem {
    flavour: Flavour,
    major: u32,
    ids: Vec<String>,
    ports: Vec<u16>,
    topology: Topology,
    targets: Arc<faults::Targets>,
    instances: Arc<Instances<Server>>,
    clients: Vec<PgClient>,
    run_dir: PathBuf,
    /// Where the data dirs and sockets are (removed at the end).
    base: PathBuf,
    /// The last settle's outcome, for the report.
    catch_up: SyncMutex<Option<catchup::CatchUp>>,
    /// Native: the subscriptions whose apply worker kept failing during
    /// the last settle (each a finding).
    blocked: SyncMutex<Vec<String>>,
    /// Last, so it runs after the servers' own cleanup.
    _leftovers: Leftovers,
}

async fn start(
    config: &TestConfig,
    run_dir: &Path,
    bins: &binaries::Binaries,
    flavour: Flavour,
) -> Result<PgSystem> {
    let ids = config.node_ids();
    let ready_timeout = config.ready_timeout().max(Duration::from_secs(30));
    let base = server::make_base()?;
    let leftovers = leftovers_of(&base, &ids);
    let ports = instance::ports(ids.len())?;
    let layout = Layout {
        bins,
        base: &base,
        run_dir,
        config,
        settings: match flavour {
            Flavour::Pglogical => pglogical::settings(config.db.resolution.unwrap_or_default()),
            Flavour::Native => native::settings(),
        },
    };
    let mut servers: Vec<Server> = Vec::with_capacity(ids.len());
    for (id, &port) in ids.iter().zip(&ports) {
        servers.push(layout.spawn(id, port).await?);
    }
    instance::wait_all(&mut servers, ready_timeout).await?;
    for i in 0..ids.len() {
        let made = match flavour {
            Flavour::Pglogical => pglogical::create_node(config, i, &ids[i], ports[i]).await,
            Flavour::Native => native::create_node(config, i, &ids[i], ports[i]).await,
        };
        made.with_context(|| format!("setting up replication on {}", ids[i]))?;
    }
    let links = Arc::new(subscribe(flavour, config.topology, &ids, &ports, ready_timeout).await?);
    let clients = ids
        .iter()
        .zip(&ports)
        .map(|(id, &port)| PgClient::new(id.clone(), port, config.op_timeout()))
        .collect();
    let targets = Arc::new(faults::Targets {
        links,
        cut: SyncMutex::new(BTreeSet::new()),
        restarts: SyncMutex::new(Vec::new()),
        nodes: ids.iter().cloned().zip(ports.iter().copied()).collect(),
        restart_apply: flavour == Flavour::Pglogical,
    });
    let instances =
        Instances::new(servers, ready_timeout, "PostgreSQL").with_hooks(targets.clone());
    Ok(PgSystem {
        flavour,
        major: bins.major,
        ids,
        ports,
        topology: config.topology,
        targets,
        instances: Arc::new(instances),
        clients,
        run_dir: run_dir.to_path_buf(),
        base,
        catch_up: SyncMutex::new(None),
        blocked: SyncMutex::new(Vec::new()),
        _leftovers: leftovers,
    })
}

/// Kill what is left of every instance under `base` and remove `base`
/// (data dirs, sockets) with each instance's shared memory.
fn leftovers_of(base: &Path, ids: &[String]) -> Leftovers {
    let data_dirs: Vec<PathBuf> = ids.iter().map(|id| base.join(id)).collect();
    let base = base.to_path_buf();
    Leftovers {
        pid_files: data_dirs.iter().map(|d| d.join("postmaster.pid")).collect(),
        files: Vec::new(),
        after: Some(Box::new(move || {
            for dir in &data_dirs {
                server::remove_leftovers(dir);
            }
            let _ = std::fs::remove_dir_all(&base);
        })),
    }
}

/// The providers instance `i` of `n` subscribes to.
pub fn providers_of(topology: Topology, n: usize, i: usize) -> Vec<usize> {
    super::mariadb::replication::masters_of(topology, n, i)
}

/// One TCP link per subscription (subscriber s reads provider p through
/// link p->s), each subscription created through its link.
async fn subscribe(
    flavour: Flavour,
    topology: Topology,
    ids: &[String],
    ports: &[u16],
    timeout: Duration,
) -> Result<TcpLinks> {
    let n = ids.len();
    let mut routes = Vec::new();
    for s in 0..n {
        for p in providers_of(topology, n, s) {
            let provider = SocketAddr::from(([127, 0, 0, 1], ports[p]));
            routes.push((ids[p].clone(), ids[s].clone(), provider));
        }
    }
    let links = TcpLinks::start(&routes).await?;
    for (s, id) in ids.iter().enumerate() {
        for p in providers_of(topology, n, s) {
            let link = links.get(&ids[p], id).context("missing replication link")?;
            let port = link.addr().port();
            let done = match flavour {
                Flavour::Pglogical => {
                    pglogical::subscribe(ports[s], id, &ids[p], port, topology).await
                }
                Flavour::Native => native::subscribe(ports[s], id, &ids[p], port).await,
            };
            done.with_context(|| format!("subscribing {id} to {}", ids[p]))?;
        }
    }
    match flavour {
        Flavour::Pglogical => pglogical::wait_replicating(ports, routes.len(), timeout).await?,
        Flavour::Native => native::wait_streaming(ports, routes.len(), timeout).await?,
    }
    Ok(links)
}

impl PgSystem {
    /// The subscriptions (by name) whose apply worker is down (pglogical)
    /// or keeps failing (native: its `apply_error_count` grew past the
    /// count `seen` first recorded in this wait; a worker that failed
    /// once, on a cut connection, and recovered does not), on every
    /// reachable node.
    async fn down_subscriptions(
        flavour: Flavour,
        ports: &[u16],
        seen: &SyncMutex<BTreeMap<String, i64>>,
    ) -> Vec<String> {
        let mut down = Vec::new();
        for &port in ports {
            match flavour {
                Flavour::Pglogical => {
                    if let Ok(subs) = pglogical::status(port).await {
                        down.extend(
                            subs.into_iter()
                                .filter(|s| s.status == "down")
                                .map(|s| s.name),
                        );
                    }
                }
                Flavour::Native => {
                    if let Ok(subs) = native::stats(port).await {
                        let mut seen = seen.lock().expect("seen");
                        for sub in subs {
                            let first = *seen.entry(sub.name.clone()).or_insert(sub.apply_errors);
                            if sub.apply_errors > first {
                                down.push(sub.name);
                            }
                        }
                    }
                }
            }
        }
        down
    }

    fn log(&self, id: &str) -> String {
        std::fs::read_to_string(self.run_dir.join("nodes").join(format!("{id}.log")))
            .unwrap_or_default()
    }
}

#[async_trait]
impl System for PgSystem {
    fn describe(&self) -> String {
        let replication = match self.flavour {
            Flavour::Pglogical => "pglogical",
            Flavour::Native => "native logical replication",
        };
        format!(
            " (PostgreSQL {} with {replication}, {}; data under {})",
            self.major,
            self.topology.name(),
            self.base.display()
        )
    }

    fn ids(&self) -> &[String] {
        &self.ids
    }

    fn conns(&self) -> Vec<Conn> {
        self.clients
            .iter()
            .map(|c| Conn::Sql(Arc::new(c.clone())))
            .collect()
    }

    fn fault_targets(&self) -> FaultTargets {
        FaultTargets {
            processes: Some(self.instances.clone()),
            links: Some(self.targets.clone()),
            ..FaultTargets::new(self.ids.clone())
        }
    }

    async fn settle(&self, timeout: Duration, _: &[String]) -> Settled {
        self.targets.restarted().await;
        let nodes: Vec<(String, u16)> = self.ids.iter().cloned().zip(self.ports.clone()).collect();
        let (ports, flavour) = (self.ports.clone(), self.flavour);
        let seen = Arc::new(SyncMutex::new(BTreeMap::new()));
        let last_down = Arc::new(SyncMutex::new(Vec::new()));
        let catch_up = catchup::wait(&nodes, timeout, || {
            let (ports, seen, last_down) = (ports.clone(), seen.clone(), last_down.clone());
            async move {
                let down = Self::down_subscriptions(flavour, &ports, &seen).await;
                last_down.lock().expect("last_down").clone_from(&down);
                down
            }
        })
        .await;
        *self.blocked.lock().expect("blocked") = last_down.lock().expect("last_down").clone();
        let settled = Settled {
            quiesced: catch_up.settled,
            waited: catch_up.waited,
            notes: Vec::new(),
        };
        *self.catch_up.lock().expect("catch_up") = Some(catch_up);
        settled
    }

    async fn report(&self, _: &[usize]) -> SystemReport {
        let mut report = SystemReport::default();
        let mut skipped = 0;
        for (id, &port) in self.ids.iter().zip(&self.ports) {
            let log = self.log(id);
            skipped += findings::skipped_updates(&log);
            match self.flavour {
                Flavour::Pglogical => {
                    if let Ok(subs) = pglogical::status(port).await {
                        report.findings.extend(findings::stopped(id, &subs, &log));
                    }
                    report.notes.extend(findings::conflicts(id, &log));
                }
                Flavour::Native => {
                    if let Ok(subs) = native::stats(port).await {
                        let blocked = self.blocked.lock().expect("blocked").clone();
                        let failing: Vec<native::SubStats> = subs
                            .iter()
                            .filter(|s| blocked.contains(&s.name))
                            .cloned()
                            .collect();
                        report
                            .findings
                            .extend(findings::apply_errors(id, &failing, &log));
                        report.notes.extend(findings::native_conflicts(id, &log));
                    }
                }
            }
        }
        report.skipped_updates = Some(skipped);
        if let Some(catch_up) = self.catch_up.lock().expect("catch_up").as_ref() {
            report.findings.extend(findings::never_quiesced(catch_up));
        }
        if self.flavour == Flavour::Pglogical {
            report.notes.push(format!(
                "pglogical conflict resolution: {}",
                self.resolution_note().await
            ));
        }
        report
    }

    async fn stop(self: Box<Self>) -> Vec<LinkCounters> {
        for client in &self.clients {
            client.disconnect().await;
        }
        // Gracefully (SIGTERM: smart shutdown would wait for clients, so
        // SIGINT, fast shutdown, which removes its socket, pid file and
        // shared memory).
        let mut servers = self.instances.servers.lock().await;
        instance::stop_all(&mut servers, libc::SIGINT).await;
        self.targets.links.counters()
    }
}

impl PgSystem {
    /// `pglogical.conflict_resolution` as the first instance reports it.
    async fn resolution_note(&self) -> String {
        match client::query_one(self.ports[0], "SHOW pglogical.conflict_resolution").await {
            Ok(rows) => rows
                .first()
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_default(),
            Err(e) => format!("unknown ({e:#})"),
        }
    }
}
