//! One node process: spawned so that it cannot outlive the controller, and
//! stopped, killed, paused or restarted from its spec.

use std::fs::OpenOptions;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::process::{Child, Command};

use super::spec::NodeSpec;

pub struct NodeProcess {
    pub spec: NodeSpec,
    child: Option<Child>,
    /// The token this incarnation was started with (`DIVERGE_INSTANCE`),
    /// which the reference node echoes on `/health`.
    instance: String,
}

/// The environment variable that carries an incarnation's token.
pub const INSTANCE_ENV: &str = "DIVERGE_INSTANCE";

impl NodeProcess {
    /// Start the node described by `spec`, appending its output to its log.
    pub fn spawn(spec: NodeSpec) -> Result<Self> {
        let instance = new_instance(&spec);
        let child = spawn_child(&spec, &instance)?;
        Ok(NodeProcess {
            spec,
            child: Some(child),
            instance,
        })
    }

    /// The token of the running incarnation.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// The exit status if the process has exited (without blocking).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Start a new incarnation from the spec (the previous one must be dead).
    pub fn respawn(&mut self) -> Result<()> {
        self.instance = new_instance(&self.spec);
        self.child = Some(spawn_child(&self.spec, &self.instance)?);
        Ok(())
    }

    /// Whether an incarnation is running (possibly paused).
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// SIGKILL and reap.
    pub async fn kill_and_wait(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_pid(child.id(), libc::SIGCONT);
            self.signal_pid(child.id(), libc::SIGKILL);
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGSTOP, then wait (bounded) until every thread is stopped: the
    /// signal is delivered asynchronously, and a fault must be in effect
    /// before it is reported as started.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        if let Some(pid) = self.pid() {
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while !all_threads_stopped(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Ask the node to shut down gracefully.
    pub fn terminate(&mut self) {
        self.signal(libc::SIGTERM);
    }

    /// Wait up to `grace` for the node to exit, then kill it.
    pub async fn wait_or_kill(&mut self, grace: Duration) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.child = None;
    }

    /// SIGKILL without waiting (for Drop paths); the runtime reaps the child.
    pub fn kill_now(&mut self) {
        // A stopped (paused) process is continued so it dies promptly.
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGKILL);
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }

    /// After [`kill_now`](Self::kill_now): block (up to `deadline`) until the
    /// process has died and is reaped, so that nothing of it is left when
    /// the controller exits right after (Drop paths cannot await).
    pub fn reap_by(&mut self, deadline: std::time::Instant) {
        if let Some(child) = self.child.as_mut() {
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        self.signal_pid(self.pid(), signal);
    }

    fn signal_pid(&self, pid: Option<u32>, signal: libc::c_int) {
        if let Some(pid) = pid {
            // The node leads its own process group (see `spawn_child`): the
            // signal reaches anything a `--node-cmd` node started too.
            // SAFETY: signalling our own child's process group; no memory is touched.
            unsafe {
                libc::kill(-(pid as libc::pid_t), signal);
            }
        }
    }

    /// The last `lines` lines of the node's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.spec.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Whether every thread of `pid` is in the stopped state (`T` in /proc).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true; // gone: nothing left running
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            // The state follows the parenthesised command name.
            .and_then(|stat| {
                stat.rsplit_once(") ")
                    .map(|(_, rest)| rest.starts_with('T'))
            })
            .unwrap_or(true)
    })
}

/// A token no other incarnation on this machine has: the controller's pid,
/// the node and the time. Readiness compares it with what `/health` echoes,
/// so a node of another run that happens to hold the port (ours then failed
/// to bind it) is not mistaken for ours.
fn new_instance(spec: &NodeSpec) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{}-{nanos}", std::process::id(), spec.id)
}

fn spawn_child(spec: &NodeSpec, instance: &str) -> Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
        .with_context(|| format!("opening node log {}", spec.log_path.display()))?;
    let log_err = log.try_clone()?;
    let parent = std::process::id();
    let mut command = match &spec.template {
        // `exec`: the shell becomes the node, so signals reach the node itself.
        Some(template) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("exec {}", super::template::render(template, spec)));
            sh
        }
        None => {
            let mut bin = Command::new(&spec.node_bin);
            bin.args(spec.args());
            bin
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .env("DIVERGE_PARENT_PID", parent.to_string())
        .env(INSTANCE_ENV, instance)
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Own process group: a terminal's Ctrl-C reaches the controller,
            // which then stops the nodes in order.
            libc::setpgid(0, 0);
            // Die with the controller, even if it is SIGKILLed.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    command.spawn().with_context(|| match &spec.template {
        Some(t) => format!("spawning node {} (--node-cmd {t:?})", spec.id),
        None => format!("spawning node {} ({})", spec.id, spec.node_bin.display()),
    })
}
