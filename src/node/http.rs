//! The node's HTTP API (documented in `docs/node-api.md`).
//!
//! Handlers validate everything before the core sees it. Bad requests are
//! rejected by the extractors here ([`JsonBody`], [`Key`]) with a JSON body,
//! and [`NameTheNode`](super::naming::NameTheNode) wraps every response: it adds the
//! `x-diverge-node` header and turns any error response that is not already
//! JSON (axum's own 404/405/413 texts) into `{"error": ..., "node": ...}`,
//! adding `node` to JSON error bodies that lack it.

use super::api_error::ApiError;
use super::body_budget::BodyBudget;
use super::compound::{self, Claim};
use super::naming::NameTheNodeLayer;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use diverge_replica::{Batch, Dot, Input, LogSeq, Refusal, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::timeout::RequestBodyTimeoutLayer;

use super::shell::Node;
use super::validate::{
    InvalidInput, check_batch, check_clock_offset_ms, check_key, decode_context,
};

/// What one request may hold: its body's size, and how long reading it may take.
#[derive(Clone, Debug)]
pub struct RequestLimits {
    /// Largest client body (`PUT /kv`, `POST /claim`).
    pub max_body_bytes: usize,
    /// Largest `/replicate` body and the bytes of them buffered at once.
    pub replicate: Arc<BodyBudget>,
    /// Longest a request body may take to arrive once its head has.
    pub body_timeout: Duration,
}

/// The node's router, every route and layer in place.
pub fn router(node: Arc<Node>, limits: &RequestLimits) -> Router {
    let max_body_bytes = limits.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route(
            "/kv/{key}",
            get(read)
                .put(write)
                .layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .route("/kv/", any(empty_key))
        .route(
            "/replicate",
            post(replicate).layer(DefaultBodyLimit::max(limits.replicate.body_bytes_max())),
        )
        .route("/ids/{key}", post(next_id))
        .route(
            "/claim/{key}",
            post(claim).layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .route("/admin/status", get(status))
        .route("/admin/clock", post(set_clock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A body that stops arriving fails its request (and its connection)
        // instead of holding them: the head's timeout is in `serve`.
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(Extension(limits.replicate.clone()))
        .layer(NameTheNodeLayer::new(node.id()))
        .with_state(node)
}

fn unexpected(reply: Reply) -> ApiError {
    tracing::error!(?reply, "the core answered with an unexpected reply");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unexpected reply from the core",
    )
}

/// A JSON request body: requires `Content-Type: application/json` (415),
/// respects the route's body limit (413), and maps malformed JSON or a wrong
/// shape to 400.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The `{key}` path segment, validated (400 if invalid).
pub struct Key(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Key {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(key) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        check_key(&key)?;
        Ok(Key(key))
    }
}

/// Names the node and echoes the token the controller started this
/// incarnation with (`DIVERGE_INSTANCE`), so readiness knows it is ours.
async fn health(State(node): State<Arc<Node>>) -> Json<Value> {
    let instance = std::env::var("DIVERGE_INSTANCE").ok();
    Json(json!({ "node": node.id(), "status": "ok", "instance": instance }))
}

/// The body of a successful read. Typed replies of the hot routes
/// serialize straight from borrowed fields, without building a JSON tree.
#[derive(Serialize)]
struct ReadReply<'a> {
    node: &'a str,
    key: &'a str,
    values: &'a [Value],
    context: String,
}

/// The body of an accepted write.
#[derive(Serialize)]
struct WrittenReply<'a> {
    node: &'a str,
    key: &'a str,
    context: String,
    dot: &'a Dot,
}

/// The body of an applied replication batch.
#[derive(Serialize)]
struct ReceivedReply<'a> {
    node: &'a str,
    acked: LogSeq,
}

async fn read(State(node): State<Arc<Node>>, Key(key): Key) -> Result<Response, ApiError> {
    let input = Input::Read { key: key.clone() };
    match node.request(input).await? {
        Reply::Read { values, context } => Ok(Json(ReadReply {
            node: node.id(),
            key: &key,
            values: &values,
            context: context.encode(),
        })
        .into_response()),
        other => Err(unexpected(other)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    /// The value to write; absent with `increment`.
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    context: Option<String>,
    /// Add this to a counter instead of writing a value (`crdt` only).
    #[serde(default)]
    increment: Option<i64>,
}

async fn write(
    State(node): State<Arc<Node>>,
    Key(key): Key,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<Response, ApiError> {
    let context = body.context.as_deref().map(decode_context).transpose()?;
    let input = match (body.value, body.increment) {
        (Some(value), None) => Input::Write {
            key: key.clone(),
            value,
            context,
            entropy: rand::random(),
        },
        (None, Some(delta)) => Input::Increment {
            key: key.clone(),
            delta,
        },
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the body needs exactly one of \"value\" and \"increment\"",
            ));
        }
    };
    match node.request(input).await? {
        Reply::Written { context, dot } => Ok(Json(WrittenReply {
            node: node.id(),
            key: &key,
            context: context.encode(),
            dot: &dot,
        })
        .into_response()),
        Reply::Conflict { context } => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!(
                    "stale context: {} has accepted a write to {key:?} that the given context does not cover",
                    node.id()
                ),
                "node": node.id(),
                "context": context.encode(),
            })),
        )
            .into_response()),
        Reply::Refused(Refusal::NotLeader { leader }) => Ok((
            StatusCode::MISDIRECTED_REQUEST,
            Json(json!({
                "error": format!("{} is a follower and refuses writes; write to the leader {leader}", node.id()),
                "node": node.id(),
                "leader": leader,
            })),
        )
            .into_response()),
        Reply::Refused(Refusal::BadValue(message)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            message,
        )),
        other => Err(unexpected(other)),
    }
}

/// `POST /replicate`: the body is read only once the byte budget covers it,
/// and the claim is held until the batch is applied.
async fn replicate(
    State(node): State<Arc<Node>>,
    Extension(budget): Extension<Arc<BodyBudget>>,
    request: Request,
) -> Result<Response, ApiError> {
    let _claim = budget.admit(request.headers())?;
    let JsonBody(batch) = JsonBody::<Batch>::from_request(request, &()).await?;
    check_batch(&batch, node.id())?;
    match node.request(Input::Receive(batch)).await? {
        Reply::Received { acked } => Ok(Json(ReceivedReply {
            node: node.id(),
            acked,
        })
        .into_response()),
        other => Err(unexpected(other)),
    }
}

/// `POST /ids/{key}`: the next auto-increment id of sequence `key`.
async fn next_id(State(node): State<Arc<Node>>, Key(key): Key) -> Result<Json<Value>, ApiError> {
    let id = compound::next_id(&node, key.clone()).await?;
    Ok(Json(json!({ "node": node.id(), "key": key, "id": id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    value: Value,
}

/// `POST /claim/{key}`: insert-if-absent; 409 if this node holds a value.
async fn claim(
    State(node): State<Arc<Node>>,
    Key(key): Key,
    JsonBody(body): JsonBody<ClaimBody>,
) -> Result<Response, ApiError> {
    match compound::claim(&node, key.clone(), body.value).await? {
        Claim::Accepted => Ok(Json(json!({ "node": node.id(), "key": key })).into_response()),
        Claim::Taken(values) => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!("{key:?} is taken at {}", node.id()),
                "node": node.id(),
                "values": values,
            })),
        )
            .into_response()),
    }
}

/// Body of `POST /admin/clock`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    offset_ms: i64,
}

/// Shift the clock the node's strategy uses (clock faults); 0 resets it.
async fn set_clock(
    State(node): State<Arc<Node>>,
    JsonBody(body): JsonBody<ClockBody>,
) -> Result<Json<Value>, ApiError> {
    check_clock_offset_ms(body.offset_ms)?;
    node.set_clock_offset_ms(body.offset_ms);
    Ok(Json(
        json!({ "node": node.id(), "offset_ms": body.offset_ms }),
    ))
}

async fn status(State(node): State<Arc<Node>>) -> Json<diverge_replica::Status> {
    Json(node.status())
}

async fn empty_key() -> ApiError {
    InvalidInput::Key(String::new(), "must not be empty").into()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}
