//! A local database instance (`mariadbd`, `postgres`, a Galera node), as
//! every database system starts, faults and stops it the same way: each a
//! node process (own process group, killed with the controller) with what
//! it leaves behind when killed, and a way to tell it is ready.
//!
//! [`Instances`] is the one [`ProcessFaults`] implementation over them:
//! SIGKILL and a restart from the data dir, SIGSTOP/SIGCONT. What a
//! database must do around a restart (pglogical reconnects its apply
//! workers; a Galera node waits for its peers) is its [`Hooks`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::cluster::{NodeProcess, free_port};
use crate::nemesis::ProcessFaults;

/// One started instance.
#[async_trait]
pub trait Instance: Send + Sync + 'static {
    fn id(&self) -> &str;
    fn process(&mut self) -> &mut NodeProcess;
    /// Remove what a killed instance leaves behind (socket, pid file,
    /// shared memory).
    fn remove_leftovers(&self);
    /// Wait (at most `timeout`) until it serves clients; the error names
    /// the instance and carries its log tail.
    async fn wait_ready(&mut self, timeout: Duration) -> Result<()>;
}

/// What a database does around its instances' faults.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// Whether a restarted instance `i` is waited for until ready (`false`:
    /// it becomes ready only once its peers are back).
    fn wait_after_restart(&self, running: &[bool], i: usize) -> bool {
        let _ = (running, i);
        true
    }
    /// After instance `id` restarted and was ready.
    fn restarted(&self, id: &str) {
        let _ = id;
    }
}

/// No hooks.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// A free loopback port below the ephemeral range for each of `n` instances.
pub fn ports(n: usize) -> Result<Vec<u16>> {
    (0..n).map(|_| free_port()).collect()
}

/// Wait until every instance is ready, in order.
pub async fn wait_all<S: Instance>(servers: &mut [S], timeout: Duration) -> Result<()> {
    for server in servers {
        server.wait_ready(timeout).await?;
    }
    Ok(())
}

/// Stop every instance gracefully with `signal` (after resuming any paused
/// one), killing any that takes longer than 30 s, then what is left of its
/// process group (helpers it started), and remove leftovers.
pub async fn stop_all<S: Instance>(servers: &mut [S], signal: libc::c_int) {
    let groups: Vec<Option<u32>> = servers.iter_mut().map(|s| s.process().pid()).collect();
    for server in servers.iter_mut() {
        let process = server.process();
        process.resume();
        if let Some(pid) = process.pid() {
            // SAFETY: signalling our own child; no memory is touched.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }
    for (server, group) in servers.iter_mut().zip(groups) {
        server.process().wait_or_kill(Duration::from_secs(30)).await;
        if let Some(pid) = group.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: signalling the process group we started; no memory is touched.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        server.remove_leftovers();
    }
}

/// The instances of one system, as fault targets.
pub struct Instances<S> {
    pub servers: Arc<Mutex<Vec<S>>>,
    pub ready_timeout: Duration,
    pub hooks: Arc<dyn Hooks>,
    /// Named in the refusal of `--down`.
    pub system: &'static str,
}

impl<S: Instance> Instances<S> {
    pub fn new(servers: Vec<S>, ready_timeout: Duration, system: &'static str) -> Self {
        Instances {
            servers: Arc::new(Mutex::new(servers)),
            ready_timeout,
            hooks: Arc::new(NoHooks),
            system,
        }
    }

    pub fn with_hooks(self, hooks: Arc<dyn Hooks>) -> Self {
        Instances { hooks, ..self }
    }

    async fn restart_server(&self, servers: &mut [S], i: usize) -> Result<(), String> {
        let server = &mut servers[i];
        server.process().kill_and_wait().await;
        server.remove_leftovers();
        server.process().respawn().map_err(|e| format!("{e:#}"))?;
        let running: Vec<bool> = servers
            .iter_mut()
            .map(|s| s.process().is_running())
            .collect();
        if !self.hooks.wait_after_restart(&running, i) {
            return Ok(());
        }
        let server = &mut servers[i];
        server
            .wait_ready(self.ready_timeout)
            .await
            .map_err(|e| format!("{e:#}"))?;
        self.hooks.restarted(server.id());
        Ok(())
    }
}

#[async_trait]
impl<S: Instance> ProcessFaults for Instances<S> {
    async fn kill(&self, i: usize) {
        self.servers.lock().await[i].process().kill_and_wait().await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        let mut servers = self.servers.lock().await;
        self.restart_server(&mut servers, i).await
    }

    async fn pause(&self, i: usize) {
        self.servers.lock().await[i].process().pause();
    }

    async fn resume(&self, i: usize) {
        self.servers.lock().await[i].process().resume();
    }

    async fn hold_down(&self, _: usize) -> Result<(), String> {
        Err(format!(
            "{} instances are not held down (--down is refused for them)",
            self.system
        ))
    }

    async fn recover_all(&self) {
        let mut servers = self.servers.lock().await;
        for server in servers.iter_mut() {
            server.process().resume();
        }
        for i in 0..servers.len() {
            if !servers[i].process().is_running()
                && let Err(e) = self.restart_server(&mut servers, i).await
            {
                tracing::error!("restarting {}: {e}", servers[i].id());
            }
        }
    }
}
