//! HTTP calls to a node's client API, and the table of which failures are
//! definite (`fail`: the op certainly had no effect) and which are not
//! (`info`: it may or may not have taken effect).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::failover::{Failover, HomeRoutes};
use crate::http1::{Http1Client, Response, SendError};

/// A node's answer to a read.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadReply {
    pub values: Vec<Value>,
    pub context: String,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The node refused the write: its context is stale (409). Definite.
    Conflict,
    /// Certainly not applied: the connection was refused, or the node
    /// rejected the request (4xx).
    Definite(String),
    /// Outcome unknown: timeout, connection lost mid-request, 5xx.
    Indefinite(String),
}

impl CallError {
    pub fn message(&self) -> String {
        match self {
            CallError::Conflict => "conflict: stale context".into(),
            CallError::Definite(m) | CallError::Indefinite(m) => m.clone(),
        }
    }
}

/// A client of one node.
#[derive(Clone)]
pub struct NodeClient {
    pub id: String,
    http: Arc<Http1Client>,
    timeout: Duration,
    /// `--routing home-failover`: requests go where this home's ops go now.
    failover: Option<Arc<Failover>>,
}

impl NodeClient {
    /// A client of the node `id` serving at `base_url` (`http://host:port`).
    pub fn new(id: String, base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = Http1Client::new(base_url).map_err(|e| anyhow::anyhow!("node {id}: {e}"))?;
        Ok(NodeClient {
            id,
            http: Arc::new(http),
            timeout,
            failover: None,
        })
    }

    /// The clients of `nodes` as homes under `--routing home-failover`: each
    /// sends its requests to the node `routes` currently gives its home.
    pub fn with_failover(nodes: &[NodeClient], routes: &Arc<HomeRoutes>) -> Vec<NodeClient> {
        let all: Vec<(String, Arc<Http1Client>)> = nodes
            .iter()
            .map(|n| (n.id.clone(), n.http.clone()))
            .collect();
        nodes
            .iter()
            .enumerate()
            .map(|(home, n)| NodeClient {
                failover: Some(Arc::new(Failover {
                    home,
                    routes: routes.clone(),
                    nodes: all.clone(),
                })),
                ..n.clone()
            })
            .collect()
    }

    /// This client pinned to the node its requests go to now: under
    /// `--routing home-failover`, a client of the node serving its home's
    /// keys at this moment, so that an op's requests all reach one node and
    /// the history names the node that served it; otherwise itself.
    pub fn pinned(&self) -> std::borrow::Cow<'_, NodeClient> {
        match &self.failover {
            None => std::borrow::Cow::Borrowed(self),
            Some(failover) => {
                let (id, http) = failover.current();
                std::borrow::Cow::Owned(NodeClient {
                    id: id.to_owned(),
                    http: http.clone(),
                    timeout: self.timeout,
                    failover: None,
                })
            }
        }
    }

    /// One request with the op timeout; a 2xx answer's body, or the
    /// classified failure.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Bytes, CallError> {
        // Under home failover the driver sends ops through the client
        // `pinned` returns, so `self` is the node that serves this request.
        let what = || self.what_path(method.as_str(), path);
        let json = body.map(|b| serde_json::to_vec(b).expect("a JSON value serializes"));
        let response =
            tokio::time::timeout(self.timeout, self.http.request(method.clone(), path, json))
                .await
                .map_err(|_| CallError::Indefinite(format!("{}: timeout", what())))?
                .map_err(|e| classify(&what(), e))?;
        check_status(&what(), response)
    }

    pub async fn read(&self, key: &str) -> Result<ReadReply, CallError> {
        let body = self.call(Method::GET, &format!("/kv/{key}"), None).await?;
        serde_json::from_slice::<ReadReply>(&body).map_err(|e| {
            CallError::Definite(format!(
                "{}: malformed read reply (want {{\"values\": [...], \"context\": \"...\"}}): {e}: {}",
                self.what("GET", key),
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        })
    }

    /// Write `value`; with `context`, the node refuses it if it accepted a
    /// write to the key that the context does not cover.
    pub async fn write(
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

    /// Names a request in error messages: `node n1 GET /kv/k3`.
    fn what(&self, method: &str, key: &str) -> String {
        self.what_path(method, &format!("/kv/{key}"))
    }

    /// Names a request to `path` in error messages: `node n1 POST /ids/k3`.
    fn what_path(&self, method: &str, path: &str) -> String {
        format!("node {} {method} {path}", self.id)
    }

    /// `POST /ids/{key}`: the node's next auto-increment id.
    pub async fn next_id(&self, key: &str) -> Result<u64, CallError> {
        let path = format!("/ids/{key}");
        let body = self.call(Method::POST, &path, None).await?;
        let what = self.what_path("POST", &path);
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| CallError::Indefinite(format!("{what}: malformed id reply: {e}")))?;
        body["id"]
            .as_u64()
            .ok_or_else(|| CallError::Indefinite(format!("{what}: no id in the reply: {body}")))
    }

    /// `POST /claim/{key}`: insert-if-absent; `Conflict` if the name is taken.
    pub async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError> {
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
