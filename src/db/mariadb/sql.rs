//! The workloads over SQL: each op is one autocommit statement on one
//! instance, recorded like the HTTP workloads' ops (docs/history.md). A
//! server error (e.g. 1062 duplicate key) is a definite `fail`; a lost
//! connection or a timeout mid-statement is `info`; failing to connect is
//! `fail` (nothing was sent).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diverge_checkers::{OpType, Process};
use mysql_async::prelude::Queryable;
use mysql_async::{Pool, PoolConstraints, PoolOpts};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::server;
use crate::cli::{Routing, WorkloadName};
use crate::history::HistoryHandle;
use crate::seeds::sub_seed;
use crate::workload::{Completion, Invocation, register, set};

/// One instance's connection pool.
#[derive(Clone)]
pub struct SqlClient {
    pub id: String,
    pool: Pool,
    timeout: Duration,
}

impl SqlClient {
    pub fn new(id: String, port: u16, max_connections: usize, timeout: Duration) -> Self {
        let constraints = PoolConstraints::new(0, max_connections.max(1)).expect("0 <= max");
        let opts = server::opts(port)
            .pool_opts(PoolOpts::default().with_constraints(constraints))
            .wait_timeout(Some(0));
        SqlClient {
            id,
            pool: Pool::new(opts),
            timeout,
        }
    }

    pub async fn disconnect(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.pool.disconnect()).await;
    }

    async fn conn(&self) -> Result<mysql_async::Conn, String> {
        match tokio::time::timeout(self.timeout, self.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(format!("{} connect: {e}", self.id)),
            Err(_) => Err(format!("{} connect: timeout", self.id)),
        }
    }

    /// Run a write; `Ok(last_insert_id)`.
    async fn write(&self, sql: &str, params: mysql_async::Params) -> Completion2 {
        let mut conn = match self.conn().await {
            Ok(c) => c,
            Err(e) => return Completion2::Fail(e),
        };
        match tokio::time::timeout(self.timeout, conn.exec_drop(sql, params)).await {
            Ok(Ok(())) => Completion2::Ok(conn.last_insert_id()),
            Ok(Err(mysql_async::Error::Server(e))) => {
                Completion2::Fail(format!("{}: error {}: {}", self.id, e.code, e.message))
            }
            Ok(Err(e)) => Completion2::Info(format!("{}: {e}", self.id)),
            Err(_) => Completion2::Info(format!("{}: timeout", self.id)),
        }
    }

    /// Run a read of one integer column.
    pub async fn read(&self, sql: &str, params: mysql_async::Params) -> Result<Vec<i64>, String> {
        let mut conn = self.conn().await?;
        match tokio::time::timeout(self.timeout, conn.exec::<i64, _, _>(sql, params)).await {
            Ok(Ok(values)) => Ok(values),
            Ok(Err(e)) => Err(format!("{}: {e}", self.id)),
            Err(_) => Err(format!("{}: timeout", self.id)),
        }
    }
}

enum Completion2 {
    Ok(Option<u64>),
    Fail(String),
    Info(String),
}

/// The next op of `workload`.
fn next(workload: WorkloadName, rng: &mut impl Rng, key: String, unique: u64) -> Invocation {
    match workload {
        WorkloadName::Set => set::next(rng, key, unique),
        WorkloadName::Register => register::next(rng, key, unique),
        WorkloadName::UniqueIds => crate::workload::claims::next_generate(),
        WorkloadName::Constraint => crate::workload::claims::next_claim(key, unique),
        WorkloadName::Counter
        | WorkloadName::ListAppend
        | WorkloadName::Causal
        | WorkloadName::InsertUpdate => {
            unreachable!("config validation keeps {workload:?} away from --db mariadb")
        }
    }
}

fn ints(values: Vec<i64>) -> Value {
    Value::Array(values.into_iter().map(Value::from).collect())
}

/// Execute `op` on `client`.
async fn execute(workload: WorkloadName, client: &SqlClient, op: &Invocation) -> Completion {
    let write = |sql: &'static str, params: mysql_async::Params| async move {
        match client.write(sql, params).await {
            Completion2::Ok(id) => Ok(id),
            Completion2::Fail(e) => Err(Completion::fail(e)),
            Completion2::Info(e) => Err(Completion::info(e)),
        }
    };
    let value = op.value.as_i64().unwrap_or(0);
    let key = op.key.clone();
    match (workload, op.f) {
        (WorkloadName::Register, "write") => match write(
            "INSERT INTO registers (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
            (key, value).into(),
        )
        .await
        {
            Ok(_) => Completion::ok(op.value.clone()),
            Err(c) => c,
        },
        (WorkloadName::Set, "add") => {
            match write(
                "INSERT INTO elements (k, e) VALUES (?, ?)",
                (key, value).into(),
            )
            .await
            {
                Ok(_) => Completion::ok(op.value.clone()),
                Err(c) => c,
            }
        }
        (WorkloadName::UniqueIds, _) => {
            match write(
                "INSERT INTO ids (node) VALUES (?)",
                (client.id.clone(),).into(),
            )
            .await
            {
                Ok(Some(id)) => Completion::ok(Value::from(id)),
                Ok(None) => Completion::info(format!("{}: no insert id returned", client.id)),
                Err(c) => c,
            }
        }
        (WorkloadName::Constraint, _) => match write(
            "INSERT INTO claims (name, claimant) VALUES (?, ?)",
            (key, value).into(),
        )
        .await
        {
            Ok(_) => Completion::ok(op.value.clone()),
            Err(c) => c,
        },
        (_, _) => match read_key(workload, client, &op.key).await {
            Ok(v) => Completion::ok(v),
            Err(e) => Completion::fail(e),
        },
    }
}

/// What one instance holds for `key`, as the workload's read value.
pub async fn read_key(
    workload: WorkloadName,
    client: &SqlClient,
    key: &str,
) -> Result<Value, String> {
    let (sql, params): (&str, mysql_async::Params) = match workload {
        WorkloadName::Register => ("SELECT v FROM registers WHERE k = ?", (key,).into()),
        WorkloadName::Set => (
            "SELECT e FROM elements WHERE k = ? ORDER BY e",
            (key,).into(),
        ),
        WorkloadName::UniqueIds => ("SELECT id FROM ids ORDER BY id", mysql_async::Params::Empty),
        WorkloadName::Constraint => ("SELECT claimant FROM claims WHERE name = ?", (key,).into()),
        WorkloadName::Counter
        | WorkloadName::ListAppend
        | WorkloadName::Causal
        | WorkloadName::InsertUpdate => {
            return Err(format!("{workload:?} does not run against --db mariadb"));
        }
    };
    client.read(sql, params).await.map(ints)
}

/// The keys final reads cover: the key pool, or `ids` (the whole table) for unique-ids.
pub fn final_keys(workload: WorkloadName, keys: &[String]) -> Vec<String> {
    match workload {
        WorkloadName::UniqueIds => vec![crate::workload::claims::ID_SEQUENCE.to_string()],
        _ => keys.to_vec(),
    }
}

/// What the SQL clients run.
pub struct SqlPlan {
    pub workload: WorkloadName,
    pub seed: u64,
    pub concurrency: usize,
    pub keys: Vec<String>,
    pub routing: Routing,
    pub rate: Option<f64>,
    pub time_limit: Duration,
}

/// Run `--concurrency` client processes until the time limit; returns (ok, fail, info).
pub async fn run_clients(
    plan: SqlPlan,
    clients: Vec<SqlClient>,
    history: HistoryHandle,
) -> (u64, u64, u64) {
    let plan = Arc::new(plan);
    let clients = Arc::new(clients);
    let deadline = Instant::now() + plan.time_limit;
    let tasks: Vec<_> = (0..plan.concurrency)
        .map(|index| {
            let (plan, clients, history) = (plan.clone(), clients.clone(), history.clone());
            tokio::spawn(
                async move { client_process(index, &plan, &clients, &history, deadline).await },
            )
        })
        .collect();
    let mut totals = (0, 0, 0);
    for task in tasks {
        if let Ok((ok, fail, info)) = task.await {
            totals.0 += ok;
            totals.1 += fail;
            totals.2 += info;
        }
    }
    totals
}

async fn client_process(
    index: usize,
    plan: &SqlPlan,
    clients: &[SqlClient],
    history: &HistoryHandle,
    deadline: Instant,
) -> (u64, u64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(plan.seed, "client", index as u64));
    let mut totals = (0, 0, 0);
    let mut process = index as u64;
    let mut serial = 0u64;
    let period = plan
        .rate
        .map(|rate| Duration::from_secs_f64(plan.concurrency as f64 / rate));
    let mut next_start =
        Instant::now() + period.map_or(Duration::ZERO, |p| p.mul_f64(rng.random::<f64>()));
    loop {
        if let Some(period) = period {
            let now = Instant::now();
            if next_start > now {
                tokio::time::sleep(next_start - now).await;
            }
            next_start = next_start.max(now) + period;
        }
        if Instant::now() >= deadline {
            break;
        }
        let unique = serial * plan.concurrency as u64 + index as u64 + 1;
        serial += 1;
        let key_index = rng.random_range(0..plan.keys.len());
        let op = next(
            plan.workload,
            &mut rng,
            plan.keys[key_index].clone(),
            unique,
        );
        let client = match plan.routing {
            Routing::Random => &clients[rng.random_range(0..clients.len())],
            Routing::Home => &clients[key_index % clients.len()],
        };
        let key = (!op.key.is_empty()).then_some(op.key.as_str());
        let p = Process::Client(process);
        history.record(
            p,
            OpType::Invoke,
            op.f,
            key,
            op.value.clone(),
            Some(&client.id),
            None,
        );
        let done = execute(plan.workload, client, &op).await;
        // Writes keep their value on every completion; reads report theirs on ok.
        let value = match (done.kind, op.f) {
            (OpType::Ok, _) => done.value.clone(),
            (_, "read" | "generate") => Value::Null,
            _ => op.value.clone(),
        };
        history.record(
            p,
            done.kind,
            op.f,
            key,
            value,
            Some(&client.id),
            done.error.clone(),
        );
        match done.kind {
            OpType::Ok => totals.0 += 1,
            OpType::Fail => totals.1 += 1,
            _ => {
                totals.2 += 1;
                process += plan.concurrency as u64;
            }
        }
    }
    totals
}

/// Read every key on every instance as `final-read` ops; returns how many succeeded.
pub async fn final_reads(
    workload: WorkloadName,
    clients: &[SqlClient],
    keys: &[String],
    history: &HistoryHandle,
) -> usize {
    let reads = clients.iter().enumerate().map(|(i, client)| async move {
        let process = Process::Client(crate::workload::FINAL_READ_PROCESS_BASE + i as u64);
        let mut ok = 0;
        for key in keys {
            history.record(
                process,
                OpType::Invoke,
                "final-read",
                Some(key),
                Value::Null,
                Some(&client.id),
                None,
            );
            match read_key(workload, client, key).await {
                Ok(value) => {
                    history.record(
                        process,
                        OpType::Ok,
                        "final-read",
                        Some(key),
                        value,
                        Some(&client.id),
                        None,
                    );
                    ok += 1;
                }
                Err(e) => history.record(
                    process,
                    OpType::Fail,
                    "final-read",
                    Some(key),
                    Value::Null,
                    Some(&client.id),
                    Some(e),
                ),
            }
        }
        ok
    });
    futures::future::join_all(reads).await.into_iter().sum()
}
