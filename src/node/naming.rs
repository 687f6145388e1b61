//! The layer that names the node on every response and makes every error
//! response JSON (documented in `docs/node-api.md`).
//!
//! Every response gets the `x-diverge-node` header. An error response that
//! is not JSON (axum's own 404/405/413 texts) becomes
//! `{"error": ..., "node": ...}`, and a JSON error body that lacks `node`
//! gets it.
//!
//! Written as a plain tower layer rather than `axum::middleware::from_fn`:
//! that clones the inner service and boxes two futures on every request,
//! and this runs on every request of the hot path. Here a successful
//! response costs one header insert; only error responses, whose body must
//! be read, take a boxed future.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use pin_project_lite::pin_project;
use serde_json::{Value, json};
use tower::{Layer, Service};

/// The header naming the node on every response.
pub const NODE_HEADER: &str = "x-diverge-node";

/// Largest error body rewritten into JSON.
const ERROR_BODY_BYTES_MAX: usize = 64 * 1024;

/// Wraps every route of the node's router in [`NameTheNode`].
#[derive(Clone)]
pub struct NameTheNodeLayer {
    id: Arc<str>,
    header: Option<HeaderValue>,
}

impl NameTheNodeLayer {
    pub fn new(id: &str) -> Self {
        NameTheNodeLayer {
            id: id.into(),
            // Node ids are validated at startup; an id that is not a valid
            // header value simply goes without the header.
            header: HeaderValue::from_str(id).ok(),
        }
    }
}

impl<S> Layer<S> for NameTheNodeLayer {
    type Service = NameTheNode<S>;

    fn layer(&self, inner: S) -> NameTheNode<S> {
        NameTheNode {
            inner,
            naming: self.clone(),
        }
    }
}

/// See the module docs.
#[derive(Clone)]
pub struct NameTheNode<S> {
    inner: S,
    naming: NameTheNodeLayer,
}

impl<S> Service<Request> for NameTheNode<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Named<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        Named::Inner {
            future: self.inner.call(req),
            naming: self.naming.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`NameTheNode`].
    #[project = NamedProjection]
    pub enum Named<F> {
        /// Waiting for the route's response.
        Inner { #[pin] future: F, naming: NameTheNodeLayer },
        /// Rewriting an error response's body.
        Rewrite { future: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl<F> Future for Named<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                NamedProjection::Inner { future, naming } => {
                    let Ok(mut response) = ready!(future.poll(cx));
                    if let Some(value) = &naming.header {
                        response.headers_mut().insert(NODE_HEADER, value.clone());
                    }
                    let status = response.status();
                    if !(status.is_client_error() || status.is_server_error()) {
                        return Poll::Ready(Ok(response));
                    }
                    let id = naming.id.clone();
                    self.set(Named::Rewrite {
                        future: Box::pin(as_json_error(response, id)),
                    });
                }
                NamedProjection::Rewrite { future } => {
                    return future.as_mut().poll(cx).map(Ok);
                }
            }
        }
    }
}

/// The error response with a JSON body that names the node.
async fn as_json_error(response: Response, id: Arc<str>) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_BYTES_MAX)
        .await
        .unwrap_or_default();
    let mut body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            };
            json!({ "error": message })
        }
    };
    if let Value::Object(map) = &mut body {
        map.entry("node").or_insert_with(|| json!(&*id));
    }
    let bytes = serde_json::to_vec(&body).expect("a JSON value serializes");
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}
