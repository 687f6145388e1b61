//! `mariadbd` instances: one datadir, port, socket and pid file each, all
//! under the run directory; started as node processes (own process group,
//! killed with the controller) so crash, pause and restart work as for any
//! node; stopped gracefully at the end, and cleaned up after on every path.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use crate::cluster::{NodeProcess, NodeSpec};
use crate::config::{TestConfig, shell_quote};
use crate::domain::{FsyncMode, Topology};
use crate::system::instance::Instance;
use crate::workload::{Dialect, sql};

/// The SQL user diverge connects as (created locally on every instance,
/// never replicated), and the schema every workload uses.
pub const USER: &str = "diverge";
pub const SCHEMA: &str = "diverge";

/// Run once at every start, before connections are accepted; `sql_log_bin=0`
/// keeps it out of the binlog, so no instance replicates it: diverge's
/// user, its schema and the SQL workloads' tables.
fn init_sql() -> String {
    let mut init = String::from(
        "SET sql_log_bin = 0;\n\
         CREATE USER IF NOT EXISTS 'diverge'@'%';\n\
         GRANT ALL ON *.* TO 'diverge'@'%';\n\
         CREATE DATABASE IF NOT EXISTS diverge;\n\
         USE diverge;\n",
    );
    for table in sql::schema(Dialect::MySql) {
        init.push_str(table);
        init.push_str(";\n");
    }
    init
}

/// Unix socket paths are limited to 108 bytes.
const MAX_SOCKET_PATH: usize = 100;

/// One instance.
pub struct Server {
    pub id: String,
    pub port: u16,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub process: NodeProcess,
}

impl Server {
    pub fn opts(&self) -> OptsBuilder {
        opts(self.port)
    }
}

/// Connection options for the instance on `port`.
pub fn opts(port: u16) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(USER))
        .db_name(Some(SCHEMA))
        .prefer_socket(false)
}

/// Fail early, with the fix, when MariaDB is not installed.
pub fn require_installed() -> Result<()> {
    for tool in ["mariadbd", "mariadb-install-db"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
            || Path::new("/usr/sbin").join(tool).is_file();
        if !found {
            bail!("--db mariadb needs {tool} (Debian: apt-get install -y mariadb-server)");
        }
    }
    Ok(())
}

fn tool(name: &str) -> String {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.is_file() {
        sbin.display().to_string()
    } else {
        name.to_string()
    }
}

/// Kills a process group when dropped, unless disarmed: the run can be
/// dropped (Ctrl-C) while `mariadb-install-db` runs, and the bootstrap
/// `mariadbd` it starts must not outlive it.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: signalling the process group we started; no memory is touched.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// Make one initialised datadir under `dir` (system tables), to copy per instance.
pub async fn install_template(dir: &Path) -> Result<PathBuf> {
    let template = dir.join("template");
    let child = tokio::process::Command::new(tool("mariadb-install-db"))
        .arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", template.display()))
        .arg("--skip-test-db")
        // Its own group, so the guard reaches the bootstrap server too.
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running mariadb-install-db")?;
    let mut group = GroupGuard(child.id());
    let output = child
        .wait_with_output()
        .await
        .context("running mariadb-install-db")?;
    group.0 = None;
    if !output.status.success() {
        bail!(
            "mariadb-install-db failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(template)
}

/// What an instance needs to start.
pub struct Layout<'a> {
    pub run_dir: &'a Path,
    pub template: &'a Path,
    pub config: &'a TestConfig,
}

/// Where one instance keeps its files.
pub struct Files {
    pub datadir: PathBuf,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    /// The SQL run at start (`--init-file`): diverge's user and tables.
    pub init: PathBuf,
    pub log: PathBuf,
}

impl Layout<'_> {
    /// Copy the template datadir for instance `id` on `port`, and write its
    /// init file.
    pub async fn files(&self, id: &str, port: u16) -> Result<Files> {
        let base = self.run_dir.join("nodes").join(id);
        let datadir = base.join("data");
        std::fs::create_dir_all(&base)?;
        let status = tokio::process::Command::new("cp")
            .arg("-a")
            .arg(self.template)
            .arg(&datadir)
            .status()
            .await?;
        if !status.success() {
            bail!("copying the template datadir to {}", datadir.display());
        }
        let init = base.join("init.sql");
        std::fs::write(&init, init_sql())?;
        let mut socket = base.join("mysqld.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            socket = std::env::temp_dir()
                .join(format!("diverge-{}-{id}-{port}.sock", std::process::id()));
        }
        Ok(Files {
            datadir,
            socket,
            pid_file: base.join("mysqld.pid"),
            init,
            log: self.run_dir.join("nodes").join(format!("{id}.log")),
        })
    }

    /// The flags every instance `i` (0-based) on `port` takes, MariaDB
    /// replication or Galera.
    pub fn common_flags(&self, files: &Files, i: usize, port: u16) -> Vec<String> {
        vec![
            "--no-defaults".to_string(),
            "--user=root".into(),
            format!("--datadir={}", files.datadir.display()),
            format!("--port={port}"),
            format!("--socket={}", files.socket.display()),
            format!("--pid-file={}", files.pid_file.display()),
            "--bind-address=127.0.0.1".into(),
            "--skip-name-resolve".into(),
            "--binlog-format=ROW".into(),
            format!("--auto-increment-increment={}", self.config.id_step),
            format!("--auto-increment-offset={}", self.config.id_offset.of(i)),
            "--innodb-buffer-pool-size=16M".into(),
            "--innodb-log-file-size=8M".into(),
            // Commits reach the OS at once: they survive SIGKILL (not a power cut).
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--performance-schema=OFF".into(),
            "--max-connections=500".into(),
        ]
    }

    /// Copy the template datadir and spawn instance `i` (0-based) on `port`.
    pub async fn spawn(&self, i: usize, id: &str, port: u16) -> Result<Server> {
        let files = self.files(id, port).await?;
        let mut flags = self.common_flags(&files, i, port);
        flags.extend([
            format!("--init-file={}", files.init.display()),
            format!("--server-id={}", i + 1),
            format!("--gtid-domain-id={}", i + 1),
            "--log-bin=binlog".into(),
            "--log-slave-updates".into(),
            "--slave-net-timeout=4".into(),
        ]);
        if self.config.topology == Topology::AllToAll {
            flags.push("--gtid-ignore-duplicates=ON".into());
        }
        let process = NodeProcess::spawn(spec(id, port, &files, &flags))?;
        Ok(Server {
            id: id.to_string(),
            port,
            socket: files.socket,
            pid_file: files.pid_file,
            process,
        })
    }
}

/// `mariadbd` with `flags`, as a node process.
pub fn spec(id: &str, port: u16, files: &Files, flags: &[String]) -> NodeSpec {
    NodeSpec {
        id: id.to_string(),
        port,
        data_dir: files.datadir.clone(),
        log_path: files.log.clone(),
        peers: Vec::new(),
        followers: Vec::new(),
        strategy: String::new(),
        fsync: FsyncMode::Always,
        node_bin: PathBuf::from("mariadbd"),
        template: Some(command(flags)),
        // Set as server flags; the template does not use them.
        id_step: 1,
        id_offset: 1,
        forward_remote: false,
        extra_args: Vec::new(),
    }
}

/// The shell command running `mariadbd` with `flags`.
pub fn command(flags: &[String]) -> String {
    std::iter::once(tool("mariadbd"))
        .chain(flags.iter().cloned())
        .map(|f| shell_quote(&f))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wait until `server` accepts SQL connections as diverge's user.
pub async fn wait_ready(server: &mut Server, timeout: Duration) -> Result<()> {
    let what = format!("mariadbd {} (127.0.0.1:{})", server.id, server.port);
    let opts = server.opts();
    wait_connectable(&what, &mut server.process, opts, timeout).await
}

/// Wait until a `mariadbd` (`what`) accepts connections with `opts`,
/// failing with its log tail when it exits or `timeout` passes.
pub async fn wait_connectable(
    what: &str,
    process: &mut NodeProcess,
    opts: OptsBuilder,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.exited() {
            bail!(
                "{what} exited during startup ({status}); last lines of {}:\n{}",
                process.spec.log_path.display(),
                process.log_tail(20)
            );
        }
        let last = match tokio::time::timeout(Duration::from_secs(2), Conn::new(opts.clone())).await
        {
            Ok(Ok(conn)) => {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_string(),
        };
        if Instant::now() >= deadline {
            bail!(
                "{what} did not accept connections within {:.0}s ({last}); last lines of {}:\n{}",
                timeout.as_secs_f64(),
                process.spec.log_path.display(),
                process.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Run one statement on `port`, with a bound.
pub async fn exec(port: u16, sql: &str) -> Result<()> {
    let work = async {
        let mut conn = Conn::new(opts(port)).await?;
        conn.query_drop(sql).await?;
        conn.disconnect().await
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .with_context(|| format!("timeout on 127.0.0.1:{port}: {sql}"))?
        .with_context(|| format!("on 127.0.0.1:{port}: {sql}"))
}

impl Server {
    /// Remove what a killed mariadbd leaves behind (socket, pid file).
    pub fn remove_leftovers(&self) {
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

#[async_trait::async_trait]
impl Instance for Server {
    fn id(&self) -> &str {
        &self.id
    }

    fn process(&mut self) -> &mut NodeProcess {
        &mut self.process
    }

    fn remove_leftovers(&self) {
        Server::remove_leftovers(self);
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        wait_ready(self, timeout).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Error, panic and Ctrl-C paths: kill (the process group), then
        // remove the socket and pid file it cannot remove itself.
        self.process.kill_now();
        self.remove_leftovers();
    }
}
