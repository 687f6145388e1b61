//! The fault targets of MariaDB instances: their processes (SIGKILL and a
//! restart from the datadir, SIGSTOP/SIGCONT) and the TCP links their
//! replication connections pass through (a cut `a->b` stops `b`'s replica
//! from reading `a`'s binlog: the link closes and refuses; a hold keeps
//! the connection open and forwards nothing until released).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::server::{self, Server};
use crate::nemesis::{CutMode, LinkFaults, ProcessFaults};
use crate::net::tcp::TcpLinks;

pub struct Targets {
    pub servers: Arc<Mutex<Vec<Server>>>,
    pub links: Arc<TcpLinks>,
    pub ready_timeout: Duration,
}

impl Targets {
    async fn restart_server(&self, server: &mut Server) -> Result<(), String> {
        server.process.kill_and_wait().await;
        server.remove_leftovers();
        server.process.respawn().map_err(|e| format!("{e:#}"))?;
        server::wait_ready(server, self.ready_timeout)
            .await
            .map_err(|e| format!("{e:#}"))
    }
}

#[async_trait]
impl ProcessFaults for Targets {
    async fn kill(&self, i: usize) {
        self.servers.lock().await[i].process.kill_and_wait().await;
    }

    async fn restart(&self, i: usize) -> Result<(), String> {
        let mut servers = self.servers.lock().await;
        self.restart_server(&mut servers[i]).await
    }

    async fn pause(&self, i: usize) {
        self.servers.lock().await[i].process.pause();
    }

    async fn resume(&self, i: usize) {
        self.servers.lock().await[i].process.resume();
    }

    async fn hold_down(&self, _: usize) -> Result<(), String> {
        Err("MariaDB instances are not held down (--down is refused for --db mariadb)".into())
    }

    async fn recover_all(&self) {
        let mut servers = self.servers.lock().await;
        for server in servers.iter_mut() {
            server.process.resume();
            if !server.process.is_running()
                && let Err(e) = self.restart_server(server).await
            {
                tracing::error!("restarting {}: {e}", server.id);
            }
        }
    }
}

impl LinkFaults for Targets {
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool) {
        if let Some(link) = self.links.get(from, to) {
            link.update(|b| match mode {
                CutMode::Drop => b.cut = on,
                CutMode::Hold => b.hold = on,
            });
        }
    }

    fn heal_all(&self) {
        self.links.heal_all();
    }
}
