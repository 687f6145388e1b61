//! One Galera node: a `mariadbd` with the Galera provider, its client
//! port, gcomm, IST and SST addresses all on 127.0.0.1 below the
//! ephemeral range (an outgoing connection there can take a gcomm port:
//! errno 98). Node 1 bootstraps the cluster (`--wsrep-new-cluster`, with
//! diverge's user and tables from the init file); every other start, and
//! every restart of node 1, joins the cluster through its peers.
//!
//! State transfer is `mariabackup`: rsync's daemon serves the datadir as
//! `nobody` when mariadbd runs as root, and fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use async_trait::async_trait;

use super::status;
use crate::cluster::NodeProcess;
use crate::system::instance::{self, Instance};
use crate::system::mariadb::server::{self, Layout, spec};

/// The Galera provider library Debian's `galera-4` installs.
pub const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// Fail early, with the fix, when Galera or MariaDB is missing.
pub fn require_installed() -> Result<()> {
    server::require_installed()?;
    if !Path::new(PROVIDER).is_file() {
        bail!("--db galera needs {PROVIDER} (Debian: apt-get install -y galera-4 mariadb-server)");
    }
    for tool in ["mariadb-backup", "socat"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            bail!(
                "--db galera needs {tool} for state transfer (Debian: apt-get install -y \
                 mariadb-backup socat)"
            );
        }
    }
    Ok(())
}

/// A node's addresses (all on 127.0.0.1).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub client: u16,
    pub gcomm: u16,
    pub ist: u16,
    pub sst: u16,
}

impl Ports {
    /// Four free ports per node.
    pub fn draw(n: usize) -> Result<Vec<Ports>> {
        let all = instance::ports(4 * n)?;
        Ok(all
            .chunks(4)
            .map(|p| Ports {
                client: p[0],
                gcomm: p[1],
                ist: p[2],
                sst: p[3],
            })
            .collect())
    }
}

/// One started node.
pub struct Node {
    pub id: String,
    pub port: u16,
    socket: PathBuf,
    pid_file: PathBuf,
    pub process: NodeProcess,
    /// The command every later start runs (joining, never bootstrapping).
    join: String,
    /// How many nodes the cluster has (ready means all of them).
    size: usize,
    sst_port: u16,
}

/// SIGKILL every process (not this one) whose command line contains one
/// of `marks`.
fn sweep(marks: &[String]) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if marks.iter().any(|m| cmdline.contains(m.as_str()))
            && let Ok(pid) = libc::pid_t::try_from(pid)
        {
            // SAFETY: signalling a helper of a node we started; no memory is touched.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Start node `i` (0-based) of the cluster whose nodes have `ports`.
pub async fn spawn(
    layout: &Layout<'_>,
    i: usize,
    id: &str,
    ports: &[Ports],
    sync_wait: Option<u8>,
) -> Result<Node> {
    let own = ports[i];
    let files = layout.files(id, own.client).await?;
    let mut flags = layout.common_flags(&files, i, own.client);
    let peers: Vec<String> = ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.gcomm))
        .collect();
    flags.extend([
        "--default-storage-engine=InnoDB".to_string(),
        "--innodb-autoinc-lock-mode=2".into(),
        "--wsrep-on=ON".into(),
        format!("--wsrep-provider={PROVIDER}"),
        "--wsrep-cluster-name=diverge".into(),
        format!("--wsrep-cluster-address=gcomm://{}", peers.join(",")),
        format!("--wsrep-node-name={id}"),
        format!("--wsrep-node-address=127.0.0.1:{}", own.gcomm),
        format!(
            "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{};gcache.size=32M",
            own.gcomm, own.ist
        ),
        "--wsrep-sst-method=mariabackup".into(),
        format!("--wsrep-sst-receive-address=127.0.0.1:{}", own.sst),
        // --id-step and --id-offset decide the ids, not the cluster size.
        "--wsrep-auto-increment-control=OFF".into(),
    ]);
    if let Some(mask) = sync_wait {
        flags.push(format!("--wsrep-sync-wait={mask}"));
    }
    let cnf = files.datadir.with_file_name("my.cnf");
    std::fs::write(&cnf, defaults_file(&flags))?;
    let mut flags = vec![format!("--defaults-file={}", cnf.display())];
    let join = server::command(&flags);
    if i == 0 {
        flags.push("--wsrep-new-cluster".into());
        flags.push(format!("--init-file={}", files.init.display()));
    }
    let process = NodeProcess::spawn(spec(id, own.client, &files, &flags))?;
    Ok(Node {
        id: id.to_string(),
        port: own.client,
        socket: files.socket,
        pid_file: files.pid_file,
        process,
        join,
        size: ports.len(),
        sst_port: own.sst,
    })
}

/// `flags` as a defaults file: the state-transfer scripts read the node's
/// settings from it (with `--no-defaults` they would read the system's
/// `/etc/mysql`), and `[sst]` has them log to the node's log, not syslog.
fn defaults_file(flags: &[String]) -> String {
    let mut text = String::from("[mysqld]\n");
    for flag in flags.iter().filter(|f| *f != "--no-defaults") {
        let line = flag.trim_start_matches("--");
        match line.split_once('=') {
            Some((key, value)) if value.contains(';') => {
                text.push_str(&format!("{key}=\"{value}\"\n"));
            }
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text.push_str("\n[sst]\nsst-syslog=-1\nsst-log-archive=0\n");
    text
}

impl Node {
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn pid_file(&self) -> &Path {
        &self.pid_file
    }

    /// What only this node's state-transfer helpers have in their command
    /// line: its datadir, or its state-transfer address.
    fn helper_marks(&self) -> Vec<String> {
        vec![
            self.process.spec.data_dir.display().to_string(),
            format!("TCP-LISTEN:{},", self.sst_port),
            format!("TCP:127.0.0.1:{}", self.sst_port),
        ]
    }

    /// From now on, (re)start by joining the cluster.
    pub fn join_from_now(&mut self) {
        self.process.spec.template = Some(self.join.clone());
    }

    /// Wait until the node serves clients as a synced member of a primary
    /// component of `size` nodes (`wsrep_ready`, `Synced`).
    pub async fn wait_synced_of(&mut self, timeout: Duration, size: usize) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let what = format!("galera node {} (127.0.0.1:{})", self.id, self.port);
        server::wait_connectable(&what, &mut self.process, server::opts(self.port), timeout)
            .await?;
        loop {
            let last = match status::of(self.port).await {
                Ok(s) if s.synced(size) => return Ok(()),
                Ok(s) => s.describe(),
                Err(e) => format!("{e:#}"),
            };
            if let Some(exit) = self.process.exited() {
                bail!(
                    "{what} exited ({exit}) before it synced; last lines of {}:\n{}",
                    self.process.spec.log_path.display(),
                    self.process.log_tail(20)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{what} did not sync in a cluster of {size} within {:.0}s ({last}); last \
                     lines of {}:\n{}",
                    timeout.as_secs_f64(),
                    self.process.spec.log_path.display(),
                    self.process.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[async_trait]
impl Instance for Node {
    fn id(&self) -> &str {
        &self.id
    }

    fn process(&mut self) -> &mut NodeProcess {
        &mut self.process
    }

    /// Also the state-transfer helpers of a killed node: its script dies
    /// with the node's process group, but the `timeout socat` it started
    /// leads a group of its own, and a donor's socat or mariabackup may be
    /// left mid-transfer.
    fn remove_leftovers(&self) {
        sweep(&self.helper_marks());
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.pid_file);
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        self.wait_synced_of(timeout, self.size).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Error, panic and Ctrl-C paths: kill the process group (with any
        // state-transfer script and its socat or mariabackup), then remove
        // the socket and pid file it cannot remove itself.
        self.process.kill_now();
        self.process
            .reap_by(Instant::now() + Duration::from_secs(3));
        self.remove_leftovers();
    }
}
