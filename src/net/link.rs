//! One directed link: an HTTP listener that forwards every request to the
//! receiver's real address, applying the link's current [`LinkBehaviour`].
//!
//! Each request's fate is decided when it arrives, under the link's lock, from
//! the link's own seeded RNG ([`super::fate::decide`]). The draws are
//! reproducible for a given arrival order, but requests are handled concurrently, so arrival order and timing
//! are not: the same seed gives the same stream of choices, not necessarily the
//! same assignment of choices to messages.
//!
//! Then: a held request waits for a release, a delayed one sleeps, and the
//! request is forwarded with the shared client; the receiver's status and
//! body are relayed back unless the reply is lost. Several requests per link
//! are in flight at once, so independent delays reorder them.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::behaviour::{DropMode, LinkBehaviour};
use super::counters::{LinkCounters, Stats};
use super::fate::{self, Fate};

/// Largest request body a link accepts (larger ones get 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The shared state of one link: its behaviour, RNG, counters and signals.
pub(crate) struct LinkState {
    pub from: String,
    pub to: String,
    /// The receiver's base url, e.g. `http://127.0.0.1:7002`.
    target: String,
    client: reqwest::Client,
    behaviour: watch::Sender<LinkBehaviour>,
    /// What `heal` restores (e.g. datacenter latency).
    base: Mutex<LinkBehaviour>,
    /// Release epoch: a request held at epoch `e` goes when it exceeds `e`.
    release: watch::Sender<u64>,
    /// Set once at shutdown: pending requests are answered with an error.
    closed: watch::Sender<bool>,
    inner: Mutex<Inner>,
}

struct Inner {
    rng: ChaCha8Rng,
    stats: Stats,
}

impl LinkState {
    pub fn new(
        from: &str,
        to: &str,
        target: &str,
        client: reqwest::Client,
        rng: ChaCha8Rng,
    ) -> Self {
        Self {
            from: from.to_string(),
            to: to.to_string(),
            target: target.trim_end_matches('/').to_string(),
            client,
            behaviour: watch::Sender::new(LinkBehaviour::default()),
            base: Mutex::new(LinkBehaviour::default()),
            release: watch::Sender::new(0),
            closed: watch::Sender::new(false),
            inner: Mutex::new(Inner {
                rng,
                stats: Stats::default(),
            }),
        }
    }

    pub fn behaviour(&self) -> LinkBehaviour {
        self.behaviour.borrow().clone()
    }

    /// Edit the behaviour in place; clearing `hold` releases what is held.
    pub fn update(&self, f: impl FnOnce(&mut LinkBehaviour)) {
        self.behaviour.send_modify(f);
        if !self.behaviour.borrow().hold {
            self.release_held();
        }
    }

    pub fn set(&self, behaviour: LinkBehaviour) {
        self.update(|b| *b = behaviour);
    }

    pub fn set_base(&self, behaviour: LinkBehaviour) {
        *self.base.lock().expect("link base lock") = behaviour.clone();
        self.set(behaviour);
    }

    pub fn heal(&self) {
        let base = self.base.lock().expect("link base lock").clone();
        self.set(base);
    }

    pub fn release_held(&self) {
        self.release.send_modify(|epoch| *epoch += 1);
    }

    pub fn counters(&self) -> LinkCounters {
        self.inner
            .lock()
            .expect("link lock")
            .stats
            .snapshot(&self.from, &self.to)
    }

    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Decide one request's fate (a pure function of the behaviour and the
    /// link's RNG) and count it.
    fn decide(&self) -> Fate {
        let behaviour = self.behaviour();
        let mut inner = self.inner.lock().expect("link lock");
        let Inner { rng, stats } = &mut *inner;
        stats.received += 1;
        let fate = fate::decide(&behaviour, rng);
        match &fate {
            Fate::Drop(_) => stats.dropped += 1,
            Fate::Lose => stats.lost += 1,
            Fate::Deliver(d) if d.held => stats.held += 1,
            Fate::Deliver(_) => {}
        }
        fate
    }

    /// An error answer naming the link, e.g. `{"error":"link n1->n2: partitioned"}`.
    fn error(&self, status: StatusCode, what: &str) -> Response {
        let error = format!("link {}->{}: {what}", self.from, self.to);
        (status, axum::Json(serde_json::json!({ "error": error }))).into_response()
    }

    /// Carry one request across the link and produce the sender's answer.
    async fn carry(self: Arc<Self>, request: Request) -> Response {
        let arrived = Instant::now();
        // The release epoch a held request waits past, read on arrival.
        let epoch = *self.release.borrow();
        let plan = match self.decide() {
            Fate::Drop(DropMode::Refuse) => {
                return self.error(StatusCode::SERVICE_UNAVAILABLE, "partitioned");
            }
            Fate::Drop(DropMode::Blackhole) => {
                // Answered (not forwarded) once `drop` is lifted; until then the
                // sender waits for its own timeout, or shutdown ends the wait.
                let _ = self.behaviour.subscribe().wait_for(|b| !b.drop).await;
                return self.error(StatusCode::SERVICE_UNAVAILABLE, "partitioned");
            }
            Fate::Lose => return self.error(StatusCode::SERVICE_UNAVAILABLE, "message lost"),
            Fate::Deliver(plan) => plan,
        };
        if plan.held {
            let _ = self.release.subscribe().wait_for(|e| *e > epoch).await;
        }
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        {
            let mut inner = self.inner.lock().expect("link lock");
            inner.stats.passed += 1;
            inner
                .stats
                .delays
                .record(arrived.elapsed().as_millis() as u64);
            if plan.duplicate_after.is_some() {
                inner.stats.duplicated += 1;
            }
        }
        if let Some(after) = plan.duplicate_after {
            let (link, copy) = (self.clone(), request.clone());
            let mut closed = self.closed.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    _ = async { tokio::time::sleep(after).await; link.forward(&copy).await } => {}
                    _ = closed.wait_for(|c| *c) => {}
                }
            });
        }
        match self.forward(&request).await {
            Ok(_) if plan.reply_lost => {
                self.inner.lock().expect("link lock").stats.lost_replies += 1;
                self.error(StatusCode::SERVICE_UNAVAILABLE, "reply lost")
            }
            Ok(reply) => reply,
            Err(e) => self.error(
                StatusCode::BAD_GATEWAY,
                &format!("forward to {}: {e}", self.target),
            ),
        }
    }

    /// Send `request` to the receiver and turn its reply into our answer.
    async fn forward(&self, request: &Request) -> Result<Response, reqwest::Error> {
        let result = self.try_forward(request).await;
        if result.is_err() {
            self.inner.lock().expect("link lock").stats.forward_errors += 1;
        }
        result
    }

    async fn try_forward(&self, request: &Request) -> Result<Response, reqwest::Error> {
        let url = format!("{}{}", self.target, request.path);
        let mut outgoing = self
            .client
            .request(request.method.clone(), url)
            .body(request.body.clone());
        if let Some(content_type) = &request.content_type {
            outgoing = outgoing.header(header::CONTENT_TYPE, content_type.clone());
        }
        let reply = outgoing.send().await?;
        let status = reply.status();
        let content_type = reply.headers().get(header::CONTENT_TYPE).cloned();
        let body = reply.bytes().await?;
        let mut answer = (status, body).into_response();
        if let Some(content_type) = content_type {
            answer
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        Ok(answer)
    }
}

/// The parts of a request a link forwards.
#[derive(Clone)]
struct Request {
    method: Method,
    /// Path and query, e.g. `/replicate`.
    path: String,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// Run the link's HTTP server on `listener` (already bound) until
/// the link is closed. Pending requests are then answered with an error.
pub(crate) fn serve(listener: TcpListener, link: Arc<LinkState>) -> JoinHandle<()> {
    let mut closed = link.closed.subscribe();
    let router = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(link.clone());
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = closed.wait_for(|c| *c).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(from = %link.from, to = %link.to, "link server failed: {e}");
        }
    })
}

async fn handle(
    State(link): State<Arc<LinkState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method,
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string()),
        content_type: headers.get(header::CONTENT_TYPE).cloned(),
        body,
    };
    let mut closed = link.closed.subscribe();
    tokio::select! {
        answer = link.clone().carry(request) => answer,
        _ = closed.wait_for(|c| *c) => link.error(StatusCode::SERVICE_UNAVAILABLE, "link layer shut down"),
    }
}
