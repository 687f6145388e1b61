//! PostgreSQL instances: one data directory, port and socket directory
//! each, under a private directory the `postgres` user owns (postgres
//! refuses to run as root). Each runs as a node process (own process
//! group, killed with the controller) so crash, pause and restart work as
//! for any node; it is stopped gracefully at the end, and on every other
//! path killed with its System V shared memory segment removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::binaries::Binaries;
use crate::cluster::{NodeProcess, NodeSpec};
use crate::config::{TestConfig, shell_quote};
use crate::domain::FsyncMode;
use crate::system::instance::Instance;

/// The user postgres runs as when the controller is root.
const OS_USER: &str = "postgres";

/// One instance.
pub struct Server {
    pub id: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub process: NodeProcess,
}

/// Where the instances live: `base` (owned by the postgres user, outside
/// the run directory, whose parents that user may not be able to enter)
/// holds every data directory and socket; logs go to the run directory.
pub struct Layout<'a> {
    pub bins: &'a Binaries,
    pub base: &'a Path,
    pub run_dir: &'a Path,
    pub config: &'a TestConfig,
    /// Extra `postgresql.conf` lines (the replication's own settings).
    pub settings: Vec<String>,
}

/// The private base directory for one run's instances.
pub fn make_base() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "diverge-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    ));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    chown_to_postgres(&base)?;
    Ok(base)
}

/// Whether the controller must drop to the postgres user.
fn as_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn chown_to_postgres(path: &Path) -> Result<()> {
    if !as_root() {
        return Ok(());
    }
    let status = std::process::Command::new("chown")
        .arg(OS_USER)
        .arg(path)
        .status()
        .context("running chown")?;
    if !status.success() {
        bail!(
            "chown {OS_USER} {} failed: postgres refuses to run as root, so diverge runs it as \
             the '{OS_USER}' user (Debian: apt-get install -y postgresql-common creates it)",
            path.display()
        );
    }
    Ok(())
}

/// `argv` as the postgres user: `setpriv` (no fork, unlike runuser) so the
/// process stays the node process, and with a parent-death signal, which
/// changing user would otherwise clear.
pub fn as_postgres(argv: &[String]) -> Vec<String> {
    if !as_root() {
        return argv.to_vec();
    }
    let mut full = vec![
        "setpriv".to_string(),
        format!("--reuid={OS_USER}"),
        format!("--regid={OS_USER}"),
        "--init-groups".into(),
        "--pdeathsig=KILL".into(),
        "--".into(),
    ];
    full.extend_from_slice(argv);
    full
}

impl Layout<'_> {
    /// initdb and start instance `i` on `port`.
    pub async fn spawn(&self, id: &str, port: u16) -> Result<Server> {
        let data_dir = self.base.join(id);
        let log_path = self.run_dir.join("nodes").join(format!("{id}.log"));
        std::fs::create_dir_all(self.run_dir.join("nodes"))?;
        let initdb = as_postgres(&[
            self.bins.tool("initdb").display().to_string(),
            "-D".into(),
            data_dir.display().to_string(),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
        ]);
        let output = tokio::process::Command::new(&initdb[0])
            .args(&initdb[1..])
            .kill_on_drop(true)
            .output()
            .await
            .context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb for {id} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut conf = self.conf(port);
        conf.extend(self.settings.iter().cloned());
        let conf_path = data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        text.push_str("\n# diverge\n");
        text.push_str(&conf.join("\n"));
        text.push('\n');
        std::fs::write(&conf_path, text)?;
        let command = as_postgres(&[
            self.bins.tool("postgres").display().to_string(),
            "-D".into(),
            data_dir.display().to_string(),
        ])
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
        let process = NodeProcess::spawn(spec(id, port, &data_dir, log_path, command))?;
        Ok(Server {
            id: id.to_string(),
            port,
            data_dir,
            process,
        })
    }

    /// The settings every instance gets.
    fn conf(&self, port: u16) -> Vec<String> {
        vec![
            "listen_addresses = '127.0.0.1'".into(),
            format!("port = {port}"),
            format!("unix_socket_directories = '{}'", self.base.display()),
            "wal_level = logical".into(),
            "track_commit_timestamp = on".into(),
            "max_wal_senders = 32".into(),
            "max_replication_slots = 32".into(),
            "max_worker_processes = 40".into(),
            "wal_sender_timeout = '10s'".into(),
            "shared_buffers = '32MB'".into(),
            // Dynamic shared memory in files under the data dir, not
            // /dev/shm: nothing outside it survives a killed instance.
            "dynamic_shared_memory_type = mmap".into(),
            "fsync = off".into(),
            "full_page_writes = off".into(),
            "max_connections = 200".into(),
            "log_line_prefix = '%m [%p] %b '".into(),
        ]
    }
}

fn spec(id: &str, port: u16, data_dir: &Path, log_path: PathBuf, command: String) -> NodeSpec {
    NodeSpec {
        id: id.to_string(),
        port,
        data_dir: data_dir.to_path_buf(),
        log_path,
        peers: Vec::new(),
        followers: Vec::new(),
        strategy: String::new(),
        fsync: FsyncMode::Always,
        node_bin: PathBuf::from("postgres"),
        template: Some(command),
        id_step: 1,
        id_offset: 1,
        forward_remote: false,
        extra_args: Vec::new(),
    }
}

/// Wait until `server` accepts SQL connections.
pub async fn wait_ready(server: &mut Server, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = server.process.exited() {
            bail!(
                "postgres {} exited during startup ({status}); last lines of {}:\n{}",
                server.id,
                server.process.spec.log_path.display(),
                server.process.log_tail(20)
            );
        }
        let last = match super::client::query_one(server.port, "SELECT 1").await {
            Ok(_) => return Ok(()),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!(
                "postgres {} did not accept connections on 127.0.0.1:{} within {:.0}s ({last}); \
                 last lines of {}:\n{}",
                server.id,
                server.port,
                timeout.as_secs_f64(),
                server.process.spec.log_path.display(),
                server.process.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Server {
    /// Remove what a killed postmaster leaves behind: its System V shared
    /// memory segment (its id is line 7 of `postmaster.pid`), the pid file
    /// and the socket with its lock file.
    pub fn remove_leftovers(&self) {
        remove_leftovers(&self.data_dir);
    }
}

/// [`Server::remove_leftovers`] for the data dir `data_dir`.
pub fn remove_leftovers(data_dir: &Path) {
    let pid_file = data_dir.join("postmaster.pid");
    if let Ok(text) = std::fs::read_to_string(&pid_file) {
        let lines: Vec<&str> = text.lines().collect();
        let shmid = lines
            .get(6)
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|id| id.parse::<libc::c_int>().ok());
        if let Some(shmid) = shmid {
            // SAFETY: IPC_RMID on a segment id; no memory of ours is touched.
            unsafe { libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut()) };
        }
        if let (Some(port), Some(socket_dir)) = (lines.get(3), lines.get(4)) {
            let socket = Path::new(socket_dir).join(format!(".s.PGSQL.{}", port.trim()));
            let lock = Path::new(socket_dir).join(format!(".s.PGSQL.{}.lock", port.trim()));
            let _ = std::fs::remove_file(socket);
            let _ = std::fs::remove_file(lock);
        }
    }
    let _ = std::fs::remove_file(pid_file);
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
        // Error, panic and Ctrl-C paths: kill (the process group, with
        // every backend), then remove what it cannot remove itself.
        self.process.kill_now();
        self.process
            .reap_by(Instant::now() + Duration::from_secs(3));
        self.remove_leftovers();
    }
}
