//! HTTP/1.1 on the wire, for the client in [`super`]: encoding a request and
//! reading one response off a connection.
//!
//! A response's body is framed by `Content-Length`, by chunked transfer
//! coding, or (neither) by the server closing the connection; `--node-cmd`
//! nodes may use any of them. Heads are parsed with `httparse`; interim
//! `1xx` responses are skipped. Whether the connection can carry another
//! request is part of the answer: not after a close-delimited body, a
//! `Connection: close`, or bytes the server sent beyond the response.

use axum::http::{Method, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Largest response body accepted; a larger one fails the request.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Largest response head (status line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers in a response head.
const MAX_HEADERS: usize = 64;

/// `METHOD path HTTP/1.1` with `Host`, and the body with its length and
/// type, in one buffer (one write). `path` must be an origin-form target.
pub fn encode_request(
    method: &Method,
    path: &str,
    authority: &str,
    json: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "{path:?}: a request target must start with / and hold no spaces or control characters"
        ));
    }
    let body = json.unwrap_or_default();
    let mut out = Vec::with_capacity(128 + path.len() + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(authority.as_bytes());
    if json.is_some() {
        out.extend_from_slice(b"\r\ncontent-type: application/json");
    }
    if json.is_some() || method_expects_body(method) {
        out.extend_from_slice(format!("\r\ncontent-length: {}", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Methods whose requests carry a length even when empty (some servers
/// answer 411 to a bodiless POST without one).
fn method_expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// One complete response.
#[derive(Debug)]
pub struct Received {
    pub status: StatusCode,
    pub body: Bytes,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

/// Why no complete response could be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReadError {
    /// The server closed the connection before sending a byte of a response.
    #[error("connection closed before a response")]
    ClosedEarly,
    /// Anything else: closed mid-response, malformed, too large, an IO error.
    #[error("{0}")]
    Failed(String),
}

/// How the body after a head is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Read one response from `stream`, using `buf` (empty on entry) as the
/// read buffer.
pub async fn read_response(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<Received, ReadError> {
    loop {
        let (status, framing, keep_alive, head_len) = loop {
            if let Some(head) = parse_head(buf)? {
                break head;
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(failed("response head over 64 KiB"));
            }
            if fill(stream, buf).await? == 0 {
                return Err(match buf.is_empty() {
                    true => ReadError::ClosedEarly,
                    false => failed("connection closed inside the response head"),
                });
            }
        };
        buf.advance(head_len);
        // Interim responses (100 Continue, 103 Early Hints) precede the real one.
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            continue;
        }
        let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let (body, reusable) = match framing {
            _ if no_body => (Bytes::new(), keep_alive),
            Framing::Length(len) => (read_exact_body(stream, buf, len).await?, keep_alive),
            Framing::Chunked => (read_chunked_body(stream, buf).await?, keep_alive),
            Framing::UntilClose => (read_until_close(stream, buf).await?, false),
        };
        // Bytes beyond the response: the server is out of step; start afresh.
        let reusable = reusable && buf.is_empty();
        return Ok(Received {
            status,
            body,
            reusable,
        });
    }
}

fn failed(what: impl Into<String>) -> ReadError {
    ReadError::Failed(what.into())
}

/// Read more bytes into `buf`; 0 at end of stream.
async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<usize, ReadError> {
    buf.reserve(8 * 1024);
    stream
        .read_buf(buf)
        .await
        .map_err(|e| failed(format!("reading the response: {e}")))
}

/// The head at the start of `buf` if it is complete: status, body framing,
/// keep-alive, and the head's length.
fn parse_head(buf: &[u8]) -> Result<Option<(StatusCode, Framing, bool, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(failed(format!("malformed response head: {e}"))),
    };
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code)
        .map_err(|_| failed(format!("malformed response status {code}")))?;
    // HTTP/1.0 closes unless asked to keep alive; 1.1 keeps alive unless told to close.
    let mut keep_alive = response.version == Some(1);
    let mut framing = Framing::UntilClose;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            if matches!(framing, Framing::Chunked) {
                continue; // chunked coding overrides a length (RFC 9112 6.3)
            }
            let len = value
                .parse::<usize>()
                .map_err(|_| failed(format!("malformed content-length {value:?}")))?;
            if len > MAX_BODY_BYTES {
                return Err(failed(format!(
                    "response body of {len} bytes is over 64 MiB"
                )));
            }
            framing = Framing::Length(len);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().ends_with("chunked") {
                framing = Framing::Chunked;
            }
        } else if header.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    Ok(Some((status, framing, keep_alive, head_len)))
}

async fn read_exact_body(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    len: usize,
) -> Result<Bytes, ReadError> {
    while buf.len() < len {
        if fill(stream, buf).await? == 0 {
            return Err(failed(format!(
                "connection closed after {} of {len} body bytes",
                buf.len()
            )));
        }
    }
    Ok(buf.split_to(len).freeze())
}

async fn read_until_close(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<Bytes, ReadError> {
    while fill(stream, buf).await? > 0 {
        if buf.len() > MAX_BODY_BYTES {
            return Err(failed("response body over 64 MiB"));
        }
    }
    Ok(buf.split().freeze())
}

/// Decode a chunked body: `size[;ext]CRLF data CRLF` ... `0CRLF` trailers CRLF.
async fn read_chunked_body(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<Bytes, ReadError> {
    let mut body = BytesMut::new();
    loop {
        let size = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    break size;
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Err(failed("malformed chunk size")),
            }
            if fill(stream, buf).await? == 0 {
                return Err(failed("connection closed inside a chunk header"));
            }
        };
        if size == 0 {
            skip_trailers(stream, buf).await?;
            return Ok(body.freeze());
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if body.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(failed("response body over 64 MiB"));
        }
        // The chunk's data, then its CRLF.
        let data = read_exact_body(stream, buf, size).await?;
        body.extend_from_slice(&data);
        let crlf = read_exact_body(stream, buf, 2).await?;
        if &crlf[..] != b"\r\n" {
            return Err(failed("chunk data not followed by CRLF"));
        }
    }
}

/// After the last chunk: trailer lines up to an empty line.
async fn skip_trailers(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), ReadError> {
    loop {
        match buf.windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                buf.advance(2);
                return Ok(());
            }
            Some(end) => buf.advance(end + 2),
            None => {
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(failed("chunked trailers over 64 KiB"));
                }
                if fill(stream, buf).await? == 0 {
                    return Err(failed("connection closed inside the chunked trailers"));
                }
            }
        }
    }
}
