//! HTTP calls to a node's client API, and the table of which failures are
//! definite (`fail`: the op certainly had no effect) and which are not
//! (`info`: it may or may not have taken effect).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

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
    base: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl NodeClient {
    pub fn new(id: String, base_url: String, http: reqwest::Client, timeout: Duration) -> Self {
        NodeClient {
            id,
            base: base_url,
            http,
            timeout,
        }
    }

    pub async fn read(&self, key: &str) -> Result<ReadReply, CallError> {
        let response = self
            .http
            .get(format!("{}/kv/{key}", self.base))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| classify(&self.what("GET", key), e))?;
        let response = check_status(&self.what("GET", key), response).await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| classify(&self.what("GET", key), e))?;
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
        let response = self
            .http
            .put(format!("{}/kv/{key}", self.base))
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| classify(&self.what("PUT", key), e))?;
        check_status(&self.what("PUT", key), response).await?;
        Ok(())
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
        let what = self.what_path("POST", &format!("/ids/{key}"));
        let response = self
            .http
            .post(format!("{}/ids/{key}", self.base))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| classify(&what, e))?;
        let body: Value = check_status(&what, response)
            .await?
            .json()
            .await
            .map_err(|e| CallError::Indefinite(format!("{what}: malformed id reply: {e}")))?;
        body["id"]
            .as_u64()
            .ok_or_else(|| CallError::Indefinite(format!("{what}: no id in the reply: {body}")))
    }

    /// `POST /claim/{key}`: insert-if-absent; `Conflict` if the name is taken.
    pub async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError> {
        let what = self.what_path("POST", &format!("/claim/{key}"));
        let response = self
            .http
            .post(format!("{}/claim/{key}", self.base))
            .timeout(self.timeout)
            .json(&json!({ "value": value }))
            .send()
            .await
            .map_err(|e| classify(&what, e))?;
        check_status(&what, response).await.map(|_| ())
    }
}

/// `what` names the request (`node n1 PUT /kv/k3`).
fn classify(what: &str, error: reqwest::Error) -> CallError {
    if error.is_connect() {
        CallError::Definite(format!("{what}: connection refused: {error}"))
    } else if error.is_timeout() {
        CallError::Indefinite(format!("{what}: timeout"))
    } else {
        CallError::Indefinite(format!("{what}: request failed: {error}"))
    }
}

async fn check_status(
    what: &str,
    response: reqwest::Response,
) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let body = &body[..body.floor_char_boundary(200)];
    if status == reqwest::StatusCode::CONFLICT {
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
