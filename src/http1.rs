//! A lean keep-alive HTTP/1.1 client for one server, used on the harness's
//! hot path (the workload clients).
//!
//! A general client (reqwest) parses a URL, consults proxy and redirect
//! policies and checks a connection out of a keyed pool on every request;
//! the workload issues tens of thousands of tiny requests per second to a
//! handful of fixed loopback addresses, and that generality was most of the
//! controller's CPU per op. Here each server gets a stack of idle
//! connections: a request takes one (or dials), sends, reads the whole body
//! and puts the connection back.
//!
//! What the caller needs to classify outcomes is kept exact: [`SendError::
//! Connect`] means the request was never sent (definite), [`SendError::Lost`]
//! that it may have been. A request that finds a reused connection already
//! closed by the server was not sent either, so it is retried once on a
//! fresh connection rather than reported.

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be made: the request was certainly not sent.
    #[error("connection refused: {0}")]
    Connect(std::io::Error),
    /// The connection failed after the request may have been sent.
    #[error("request failed: {0}")]
    Lost(String),
    /// The request could not be built (a path that is not a valid URI).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A complete response.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Keep-alive connections to one `host:port`.
pub struct Http1Client {
    /// `host:port`, dialled and sent as the `Host` header.
    authority: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Http1Client {
    /// A client of `base_url` (`http://host:port`, no path).
    pub fn new(base_url: &str) -> Result<Self, String> {
        let authority = base_url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{base_url}: only http:// URLs are supported"))?
            .trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("{base_url}: want http://host:port without a path"));
        }
        Ok(Http1Client {
            authority: authority.to_string(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Send `method path` with an optional JSON body and read the response.
    /// Cancel-safe: dropping the future drops the connection it used.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Response, SendError> {
        let mut request = self.build(method, path, json)?;
        // At most one retry, and only when a reused connection turned out
        // closed before the request went out.
        let mut reused_left = true;
        loop {
            let (mut sender, reused) = match self.take_idle() {
                Some(sender) if reused_left => (sender, true),
                _ => (self.dial().await?, false),
            };
            if sender.ready().await.is_err() {
                if reused {
                    reused_left = false;
                    continue;
                }
                return Err(SendError::Lost("connection closed before sending".into()));
            }
            let response = match sender.try_send_request(request).await {
                Ok(response) => response,
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        request = unsent;
                        reused_left = false;
                        continue;
                    }
                    _ => return Err(SendError::Lost(e.into_error().to_string())),
                },
            };
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Lost(format!("reading the body: {e}")))?
                .to_bytes();
            if !sender.is_closed() {
                self.idle.lock().expect("idle pool").push(sender);
            }
            return Ok(Response { status, body });
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, SendError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority);
        if json.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| SendError::Invalid(format!("{path}: {e}")))
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        self.idle.lock().expect("idle pool").pop()
    }

    async fn dial(&self) -> Result<SendRequest<Full<Bytes>>, SendError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(SendError::Connect)?;
        // Small requests and replies: send each at once.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::Lost(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            // Ends when the server closes or every sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }
}
