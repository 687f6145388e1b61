//! The reference node's client API over HTTP (docs/node-protocol.md), as
//! the workloads' [`KvApi`]: one lean HTTP/1.1 connection pool per node,
//! and the table of which HTTP failures are definite.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::http1::{Http1Client, Response, SendError};
use crate::workload::{CallError, KvApi, ReadReply};

/// A client of one node.
#[derive(Clone)]
pub struct NodeClient {
    pub id: String,
    http: Arc<Http1Client>,
    timeout: Duration,
}

impl NodeClient {
    /// A client of the node `id` serving at `base_url` (`http://host:port`).
    pub fn new(id: String, base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = Http1Client::new(base_url).map_err(|e| anyhow::anyhow!("node {id}: {e}"))?;
        Ok(NodeClient {
            id,
            http: Arc::new(http),
            timeout,
        })
    }

    /// One request with the op timeout; a 2xx answer's body, or the
    /// classified failure.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Bytes, CallError> {
        let what = || self.what(method.as_str(), path);
        let json = body.map(|b| serde_json::to_vec(b).expect("a JSON value serializes"));
        let response =
            tokio::time::timeout(self.timeout, self.http.request(method.clone(), path, json))
                .await
                .map_err(|_| CallError::Indefinite(format!("{}: timeout", what())))?
                .map_err(|e| classify(&what(), e))?;
        check_status(&what(), response)
    }

    /// Names a request in error messages: `node n1 POST /ids/k3`.
    fn what(&self, method: &str, path: &str) -> String {
        format!("node {} {method} {path}", self.id)
    }
}

#[async_trait]
impl KvApi for NodeClient {
    fn node(&self) -> &str {
        &self.id
    }

    async fn read(&self, key: &str) -> Result<ReadReply, CallError> {
        let path = format!("/kv/{key}");
        let body = self.call(Method::GET, &path, None).await?;
        serde_json::from_slice::<ReadReply>(&body).map_err(|e| {
            CallError::Definite(format!(
                "{}: malformed read reply (want {{\"values\": [...], \"context\": \"...\"}}): {e}: {}",
                self.what("GET", &path),
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        })
    }

    async fn write(
        &self,
        key: &str,
        value: &Value,
        context: Option<&str>,
    ) -> Result<(), CallError> {
        let body = match context {
            Some(context) => json!({ "value": value, "context": context }),
            None => json!({ "value": value }),
        };
        self.call(Method::PUT, &format!("/kv/{key}"), Some(&body))
            .await
            .map(|_| ())
    }

    async fn next_id(&self, key: &str) -> Result<u64, CallError> {
        let path = format!("/ids/{key}");
        let body = self.call(Method::POST, &path, None).await?;
        let what = self.what("POST", &path);
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| CallError::Indefinite(format!("{what}: malformed id reply: {e}")))?;
        body["id"]
            .as_u64()
            .ok_or_else(|| CallError::Indefinite(format!("{what}: no id in the reply: {body}")))
    }

    async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError> {
        let body = json!({ "value": value });
        self.call(Method::POST, &format!("/claim/{key}"), Some(&body))
            .await
            .map(|_| ())
    }
}

/// `what` names the request (`node n1 PUT /kv/k3`).
fn classify(what: &str, error: SendError) -> CallError {
    match error {
        SendError::Connect(e) => CallError::Definite(format!("{what}: connection refused: {e}")),
        SendError::Invalid(e) => CallError::Definite(format!("{what}: {e}")),
        SendError::Lost(e) => CallError::Indefinite(format!("{what}: request failed: {e}")),
    }
}

fn check_status(what: &str, response: Response) -> Result<Bytes, CallError> {
    let status = response.status;
    if status.is_success() {
        return Ok(response.body);
    }
    let body = String::from_utf8_lossy(&response.body);
    let body = &body[..body.floor_char_boundary(200)];
    if status == StatusCode::CONFLICT {
        Err(CallError::Conflict)
    } else if status.is_client_error() {
        Err(CallError::Definite(format!(
            "{what}: HTTP {status}: {body}"
        )))
    } else {
        Err(CallError::Indefinite(format!(
            "{what}: HTTP {status}: {body}"
        )))
    }
}
