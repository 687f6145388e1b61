//! A lean keep-alive HTTP/1.1 client for one server, used on the harness's
//! hot path (the workload clients).
//!
//! A general client (reqwest) parses a URL, consults proxy and redirect
//! policies and checks a connection out of a keyed pool on every request;
//! hyper's connection API runs each connection as its own task, so every
//! request crosses two channels and wakes two tasks. The workload issues tens
//! of thousands of tiny requests per second to a handful of fixed loopback
//! addresses, so here the calling task owns the connection for the length of
//! a request: it takes an idle one (or dials), writes the request in one
//! write, reads the response ([`wire`]) and puts the connection back.
//!
//! What the caller needs to classify outcomes is kept exact: [`SendError::
//! Connect`] means the request was never sent (definite), [`SendError::Lost`]
//! that it may have been. A reused connection that the server closed while
//! it sat idle is noticed before the request goes out and dropped; a write
//! that fails on a reused connection (the server closed it meanwhile: it
//! cannot have acted on a request it did not receive) is retried once on a
//! fresh connection rather than reported.

#[cfg(test)]
mod tests;
mod wire;

use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
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
    /// The request could not be built (a path that is not a valid target).
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
    idle: Mutex<Vec<Connection>>,
}

/// One open connection and its read buffer (empty between requests).
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

impl Connection {
    /// Whether the server has left the idle connection alone: no end of
    /// stream and no unsolicited bytes waiting. One non-blocking peek at
    /// the socket itself: the runtime's readiness may not have seen a close
    /// that has already arrived, and a request written into a closed
    /// connection would come back as an outcome unknown.
    fn looks_open(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut probe = 0u8;
        // SAFETY: a one-byte peek into a local through the socket this
        // connection owns; nothing is consumed.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&raw mut probe).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
    }
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
        let request = wire::encode_request(&method, path, &self.authority, json.as_deref())
            .map_err(SendError::Invalid)?;
        let (mut connection, reused) = match self.take_open_idle() {
            Some(connection) => (connection, true),
            None => (self.dial().await?, false),
        };
        if let Err(e) = connection.stream.write_all(&request).await {
            if !reused {
                return Err(SendError::Lost(format!("sending the request: {e}")));
            }
            // The server closed the reused connection: nothing was acted on.
            connection = self.dial().await?;
            connection
                .stream
                .write_all(&request)
                .await
                .map_err(|e| SendError::Lost(format!("sending the request: {e}")))?;
        }
        let received = wire::read_response(&mut connection.stream, &mut connection.buf)
            .await
            .map_err(|e| SendError::Lost(e.to_string()))?;
        if received.reusable {
            self.idle.lock().expect("idle pool").push(connection);
        }
        Ok(Response {
            status: received.status,
            body: received.body,
        })
    }

    /// An idle connection the server has not closed, if any; closed ones
    /// are dropped on the way.
    fn take_open_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().expect("idle pool");
        while let Some(connection) = idle.pop() {
            if connection.looks_open() {
                return Some(connection);
            }
        }
        None
    }

    async fn dial(&self) -> Result<Connection, SendError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(SendError::Connect)?;
        // Small requests and replies: send each at once.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
        })
    }
}
