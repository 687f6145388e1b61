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
            .map_err(classify)?;
        let response = check_status(response).await?;
        response.json::<ReadReply>().await.map_err(|e| {
            CallError::Definite(format!("node {} sent a malformed read reply: {e}", self.id))
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
            .map_err(classify)?;
        check_status(response).await?;
        Ok(())
    }
}

impl NodeClient {
    /// `POST /ids/{key}`: the node's next auto-increment id.
    pub async fn next_id(&self, key: &str) -> Result<u64, CallError> {
        let response = self
            .http
            .post(format!("{}/ids/{key}", self.base))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(classify)?;
        let body: Value = check_status(response).await?.json().await.map_err(|e| {
            CallError::Indefinite(format!("node {} sent a malformed id reply: {e}", self.id))
        })?;
        body["id"]
            .as_u64()
            .ok_or_else(|| CallError::Indefinite(format!("node {} sent no id: {body}", self.id)))
    }

    /// `POST /claim/{key}`: insert-if-absent; `Conflict` if the name is taken.
    pub async fn claim(&self, key: &str, value: &Value) -> Result<(), CallError> {
        let response = self
            .http
            .post(format!("{}/claim/{key}", self.base))
            .timeout(self.timeout)
            .json(&json!({ "value": value }))
            .send()
            .await
            .map_err(classify)?;
        check_status(response).await.map(|_| ())
    }
}

fn classify(error: reqwest::Error) -> CallError {
    if error.is_connect() {
        CallError::Definite(format!("connection refused: {error}"))
    } else if error.is_timeout() {
        CallError::Indefinite("timeout".into())
    } else {
        CallError::Indefinite(format!("request failed: {error}"))
    }
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    if status == reqwest::StatusCode::CONFLICT {
        Err(CallError::Conflict)
    } else if status.is_client_error() {
        Err(CallError::Definite(format!("HTTP {status}: {body}")))
    } else {
        Err(CallError::Indefinite(format!("HTTP {status}: {body}")))
    }
}
