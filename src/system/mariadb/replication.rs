//! Replication between the instances: who replicates from whom, setting it
//! up through the TCP links, reading its state, waiting (bounded) until
//! every applier has caught up or stopped, and the stopped ones as findings.

use std::time::{Duration, Instant};

use anyhow::Result;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::server;
use crate::domain::Topology;
use crate::results::DbFinding;

/// The masters instance `i` (0-based) of `n` replicates from.
/// Only ring and all-to-all are configured (`Supports::topologies`).
pub fn masters_of(topology: Topology, n: usize, i: usize) -> Vec<usize> {
    match topology {
        Topology::Ring if n > 1 => vec![(i + n - 1) % n],
        Topology::Ring => vec![],
        _ => (0..n).filter(|&m| m != i).collect(),
    }
}

/// Point instance `replica_port`'s connection named `master_id` at the link
/// on `link_port` and start it. GTID `slave_pos`: the usual choice for
/// rings (with `current_pos` an instance's own writes break the IO thread).
pub async fn connect(replica_port: u16, master_id: &str, link_port: u16) -> Result<()> {
    let change = format!(
        "CHANGE MASTER '{master_id}' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {link_port}, \
         MASTER_USER = '{}', MASTER_PASSWORD = '', MASTER_USE_GTID = slave_pos, \
         MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 0.5",
        server::USER
    );
    server::exec(replica_port, &change).await?;
    server::exec(replica_port, &format!("START SLAVE '{master_id}'")).await
}

/// One replication connection as `SHOW ALL SLAVES STATUS` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// The master's node id (the connection is named after it).
    pub master: String,
    pub io_running: String,
    pub sql_running: String,
    pub master_log_file: String,
    pub read_pos: u64,
    pub relay_master_log_file: String,
    pub exec_pos: u64,
    pub io_errno: u32,
    pub io_error: String,
    pub sql_errno: u32,
    pub sql_error: String,
}

impl Channel {
    pub fn stopped(&self) -> bool {
        self.io_running == "No" || self.sql_running == "No"
    }
}

/// One instance's replication state.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceState {
    pub binlog_file: String,
    pub binlog_pos: u64,
    pub gtid_binlog_pos: String,
    pub channels: Vec<Channel>,
}

fn text(row: &Row, column: &str) -> String {
    row.get_opt::<Option<String>, _>(column)
        .and_then(|v| v.ok())
        .flatten()
        .unwrap_or_default()
}

fn number(row: &Row, column: &str) -> u64 {
    text(row, column).parse().unwrap_or(0)
}

/// Read one instance's state (bounded by 2 s).
pub async fn state(port: u16) -> Result<InstanceState> {
    let work = async {
        let mut conn = Conn::new(server::opts(port)).await?;
        let master: Option<Row> = conn.query_first("SHOW MASTER STATUS").await?;
        let gtid: Option<String> = conn.query_first("SELECT @@gtid_binlog_pos").await?;
        let rows: Vec<Row> = conn.query("SHOW ALL SLAVES STATUS").await?;
        conn.disconnect().await?;
        let channels = rows
            .iter()
            .map(|r| Channel {
                master: text(r, "Connection_name"),
                io_running: text(r, "Slave_IO_Running"),
                sql_running: text(r, "Slave_SQL_Running"),
                master_log_file: text(r, "Master_Log_File"),
                read_pos: number(r, "Read_Master_Log_Pos"),
                relay_master_log_file: text(r, "Relay_Master_Log_File"),
                exec_pos: number(r, "Exec_Master_Log_Pos"),
                io_errno: number(r, "Last_IO_Errno") as u32,
                io_error: text(r, "Last_IO_Error"),
                sql_errno: number(r, "Last_SQL_Errno") as u32,
                sql_error: text(r, "Last_SQL_Error"),
            })
            .collect();
        Ok::<_, mysql_async::Error>(InstanceState {
            binlog_file: master.as_ref().map(|r| text(r, "File")).unwrap_or_default(),
            binlog_pos: master.as_ref().map_or(0, |r| number(r, "Position")),
            gtid_binlog_pos: gtid.unwrap_or_default(),
            channels,
        })
    };
    Ok(tokio::time::timeout(Duration::from_secs(2), work).await??)
}

/// Whether every channel has applied all of its master's binlog, or stopped.
fn settled(states: &[(String, InstanceState)]) -> bool {
    states.iter().all(|(_, state)| {
        state.channels.iter().all(|c| {
            if c.stopped() {
                return true;
            }
            let Some((_, master)) = states.iter().find(|(id, _)| *id == c.master) else {
                return false;
            };
            c.io_running == "Yes"
                && c.master_log_file == master.binlog_file
                && c.read_pos == master.binlog_pos
                && c.relay_master_log_file == master.binlog_file
                && c.exec_pos == master.binlog_pos
        })
    })
}

/// How the wait for the appliers ended.
pub struct CatchUp {
    pub settled: bool,
    pub waited: Duration,
    /// The last state of every reachable instance, by id.
    pub states: Vec<(String, InstanceState)>,
}

/// Poll every instance until two rounds in a row are settled and equal, or
/// `timeout` passes.
pub async fn wait_caught_up(servers: &[(String, u16)], timeout: Duration) -> CatchUp {
    let start = Instant::now();
    let mut previous: Option<Vec<(String, InstanceState)>> = None;
    loop {
        let mut states = Vec::with_capacity(servers.len());
        for (id, port) in servers {
            if let Ok(state) = state(*port).await {
                states.push((id.clone(), state));
            }
        }
        let complete = states.len() == servers.len() && settled(&states);
        if complete && previous.as_ref() == Some(&states) {
            return CatchUp {
                settled: true,
                waited: start.elapsed(),
                states,
            };
        }
        if start.elapsed() >= timeout {
            return CatchUp {
                settled: false,
                waited: start.elapsed(),
                states,
            };
        }
        previous = complete.then_some(states);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every stopped IO or SQL thread, with the error it stopped on.
pub fn stopped_appliers(states: &[(String, InstanceState)]) -> Vec<DbFinding> {
    let mut findings = Vec::new();
    for (id, state) in states {
        for c in &state.channels {
            let channel = Some(format!("replicating from {}", c.master));
            if c.sql_running == "No" {
                findings.push(DbFinding {
                    node: id.clone(),
                    kind: "replication-stopped".into(),
                    channel: channel.clone(),
                    errno: (c.sql_errno != 0).then_some(c.sql_errno),
                    message: format!("SQL (applier) thread stopped: {}", c.sql_error),
                    anomaly: None,
                });
            }
            if c.io_running == "No" {
                findings.push(DbFinding {
                    node: id.clone(),
                    kind: "replication-stopped".into(),
                    channel,
                    errno: (c.io_errno != 0).then_some(c.io_errno),
                    message: format!("IO (receiver) thread stopped: {}", c.io_error),
                    anomaly: None,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_and_all_to_all_masters() {
        assert_eq!(masters_of(Topology::Ring, 3, 0), vec![2]);
        assert_eq!(masters_of(Topology::Ring, 3, 1), vec![0]);
        assert_eq!(masters_of(Topology::Ring, 1, 0), Vec::<usize>::new());
        assert_eq!(masters_of(Topology::AllToAll, 3, 1), vec![0, 2]);
    }

    fn channel(master: &str, sql: &str, pos: u64) -> Channel {
        Channel {
            master: master.into(),
            io_running: "Yes".into(),
            sql_running: sql.into(),
            master_log_file: "binlog.000001".into(),
            read_pos: pos,
            relay_master_log_file: "binlog.000001".into(),
            exec_pos: pos,
            io_errno: 0,
            io_error: String::new(),
            sql_errno: if sql == "No" { 1062 } else { 0 },
            sql_error: if sql == "No" {
                "Duplicate entry '1' for key 'PRIMARY'".into()
            } else {
                String::new()
            },
        }
    }

    fn instance(pos: u64, channels: Vec<Channel>) -> InstanceState {
        InstanceState {
            binlog_file: "binlog.000001".into(),
            binlog_pos: pos,
            gtid_binlog_pos: String::new(),
            channels,
        }
    }

    #[test]
    fn settled_when_applied_to_the_masters_end_or_stopped() {
        let states = vec![
            (
                "n1".to_string(),
                instance(100, vec![channel("n2", "Yes", 200)]),
            ),
            (
                "n2".to_string(),
                instance(200, vec![channel("n1", "No", 50)]),
            ),
        ];
        assert!(settled(&states));
        let lagging = vec![
            (
                "n1".to_string(),
                instance(100, vec![channel("n2", "Yes", 150)]),
            ),
            (
                "n2".to_string(),
                instance(200, vec![channel("n1", "Yes", 100)]),
            ),
        ];
        assert!(!settled(&lagging));
        let findings = stopped_appliers(&states);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].node, "n2");
        assert_eq!(findings[0].errno, Some(1062));
        assert_eq!(findings[0].channel.as_deref(), Some("replicating from n1"));
    }
}
