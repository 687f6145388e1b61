//! SQL connections to one PostgreSQL instance, as the workloads'
//! [`SqlApi`] (a small pool per instance), and one-off statements for the
//! controller's own use (setup, status), each bounded in time.
//!
//! A server error (e.g. 23505 unique violation) is a definite failure; a
//! lost connection or a timeout mid-statement an unknown outcome; failing
//! to connect definite (nothing was sent).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row};

use crate::workload::{CallError, Dialect, Executed, SqlApi, SqlParam};

/// Connect to the instance on `port` (database and user `postgres`).
pub async fn connect(port: u16, timeout: Duration) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .connect_timeout(timeout);
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Run `sql` (one statement) on `port` over a fresh connection, within 10 s.
pub async fn query_one(port: u16, sql: &str) -> Result<Vec<Row>> {
    let work = async {
        let client = connect(port, Duration::from_secs(2)).await?;
        client.query(sql, &[]).await
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .with_context(|| format!("timeout on 127.0.0.1:{port}: {sql}"))?
        .with_context(|| format!("on 127.0.0.1:{port}: {sql}"))
}

/// Run several statements (no parameters) on `port`, within 10 s.
pub async fn batch(port: u16, sql: &str) -> Result<()> {
    let work = async {
        let client = connect(port, Duration::from_secs(2)).await?;
        client.batch_execute(sql).await
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .with_context(|| format!("timeout on 127.0.0.1:{port}: {sql}"))?
        .with_context(|| format!("on 127.0.0.1:{port}: {sql}"))
}

/// One instance's connection pool: idle connections are reused; one that
/// failed is dropped.
#[derive(Clone)]
pub struct PgClient {
    pub id: String,
    port: u16,
    idle: Arc<Mutex<Vec<Client>>>,
    timeout: Duration,
}

impl PgClient {
    pub fn new(id: String, port: u16, timeout: Duration) -> Self {
        PgClient {
            id,
            port,
            idle: Arc::new(Mutex::new(Vec::new())),
            timeout,
        }
    }

    /// Close every pooled connection.
    pub async fn disconnect(&self) {
        self.idle.lock().await.clear();
    }

    async fn conn(&self) -> Result<Client, CallError> {
        if let Some(client) = self.idle.lock().await.pop() {
            return Ok(client);
        }
        match tokio::time::timeout(self.timeout, connect(self.port, self.timeout)).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(CallError::Definite(format!("{} connect: {e}", self.id))),
            Err(_) => Err(CallError::Definite(format!("{} connect: timeout", self.id))),
        }
    }

    /// Run `sql` with `values`: its rows and how many rows it affected
    /// (as its command tag counts them), the connection back to the pool.
    async fn run(&self, sql: &str, values: &[SqlParam]) -> Result<(Vec<Row>, u64), CallError> {
        let client = self.conn().await?;
        let sql = numbered(sql);
        let boxed: Vec<Box<dyn ToSql + Sync + Send>> = values
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match p {
                    SqlParam::Int(i) => Box::new(*i),
                    SqlParam::Text(t) => Box::new(t.clone()),
                }
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = boxed
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let work = async {
            let stream = client.query_raw(&sql, params).await?;
            let mut stream = std::pin::pin!(stream);
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await {
                rows.push(row?);
            }
            Ok::<_, tokio_postgres::Error>((rows, stream.rows_affected().unwrap_or(0)))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(done)) => {
                self.idle.lock().await.push(client);
                Ok(done)
            }
            Ok(Err(e)) => match e.as_db_error() {
                Some(db) => {
                    self.idle.lock().await.push(client);
                    Err(CallError::Definite(format!(
                        "{}: error {}: {}",
                        self.id,
                        db.code().code(),
                        db.message()
                    )))
                }
                None => Err(CallError::Indefinite(format!("{}: {e}", self.id))),
            },
            Err(_) => Err(CallError::Indefinite(format!("{}: timeout", self.id))),
        }
    }
}

/// MySQL-style `?` placeholders (the workloads' statements) as `$1, $2, ...`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

#[async_trait]
impl SqlApi for PgClient {
    fn node(&self) -> &str {
        &self.id
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn exec(&self, sql: &str, values: &[SqlParam]) -> Result<Executed, CallError> {
        let (rows, affected) = self.run(sql, values).await?;
        // `INSERT ... RETURNING id`: the id generated.
        let insert_id = rows
            .first()
            .filter(|r| r.columns().len() == 1 && *r.columns()[0].type_() == Type::INT8)
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .and_then(|id| u64::try_from(id).ok());
        Ok(Executed {
            rows: affected,
            insert_id,
        })
    }

    async fn query_ints(&self, sql: &str, values: &[SqlParam]) -> Result<Vec<i64>, CallError> {
        let (rows, _) = self.run(sql, values).await?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(
            numbered("INSERT INTO t (k, v) VALUES (?, ?)"),
            "INSERT INTO t (k, v) VALUES ($1, $2)"
        );
    }
}
