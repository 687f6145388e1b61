//! The client against scripted servers on ephemeral loopback ports: each
//! framing of a body, connection reuse and its limits, and every error class.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Http1Client, SendError, wire};

/// A server that answers every request on every connection with the next
/// canned reply from `replies` (the last one repeats), closing the
/// connection after a reply when its flag says so. It counts connections
/// and reports each request it read (head and body) on the channel.
struct Scripted {
    client: Http1Client,
    accepted: Arc<AtomicUsize>,
    requests: mpsc::UnboundedReceiver<String>,
}

async fn scripted(replies: Vec<(&'static str, bool)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, requests) = mpsc::unbounded_channel();
    let counter = accepted.clone();
    tokio::spawn(async move {
        let served = Arc::new(AtomicUsize::new(0));
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let (replies, tx, served) = (replies.clone(), tx.clone(), served.clone());
            tokio::spawn(serve_connection(stream, replies, tx, served));
        }
    });
    Scripted {
        client: Http1Client::new(&format!("http://{addr}")).unwrap(),
        accepted,
        requests,
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    replies: Vec<(&'static str, bool)>,
    tx: mpsc::UnboundedSender<String>,
    served: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let _ = tx.send(request);
        let n = served.fetch_add(1, Ordering::SeqCst);
        let (reply, close) = replies[n.min(replies.len() - 1)];
        if stream.write_all(reply.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// One request (head plus content-length body) off `stream`, as text.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                let request: Vec<u8> = buf.drain(..end + 4 + len).collect();
                return Some(String::from_utf8_lossy(&request).into_owned());
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

const OK_JSON: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";

#[tokio::test]
async fn a_length_delimited_reply_is_read_and_the_connection_reused() {
    let mut s = scripted(vec![(OK_JSON, false)]).await;
    for i in 0..3 {
        let body = format!("{{\"value\":{i}}}").into_bytes();
        let response = s
            .client
            .request(Method::PUT, "/kv/k1", Some(body))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(&response.body[..], b"{\"ok\":true}");
        let request = s.requests.recv().await.unwrap();
        assert!(request.starts_with("PUT /kv/k1 HTTP/1.1\r\n"), "{request}");
        assert!(
            request.ends_with(&format!("\r\n\r\n{{\"value\":{i}}}")),
            "{request}"
        );
    }
    assert_eq!(
        s.accepted.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );
}

#[tokio::test]
async fn a_chunked_reply_is_decoded_with_extensions_and_trailers() {
    let reply = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                 5;name=x\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
    let s = scripted(vec![(reply, false)]).await;
    for _ in 0..2 {
        let response = s.client.request(Method::GET, "/kv/a", None).await.unwrap();
        assert_eq!(&response.body[..], b"hello, world");
    }
    assert_eq!(
        s.accepted.load(Ordering::SeqCst),
        1,
        "reused after a chunked body"
    );
}

#[tokio::test]
async fn a_reply_delimited_by_close_is_read_to_the_end_and_not_reused() {
    let reply = "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n[1,2,3]";
    let s = scripted(vec![(reply, true)]).await;
    for _ in 0..2 {
        let response = s.client.request(Method::GET, "/kv/a", None).await.unwrap();
        assert_eq!(&response.body[..], b"[1,2,3]");
        // Kept back, it would be found closed and replaced before the next
        // request: only the idle pool shows that it was not kept.
        assert!(
            s.client.idle.lock().unwrap().is_empty(),
            "a close-delimited connection was kept"
        );
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_close_and_interim_replies_are_honoured() {
    let reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nconnection: close\r\n\
                 content-length: 2\r\n\r\n{}";
    let s = scripted(vec![(reply, false)]).await;
    for _ in 0..2 {
        let response = s.client.request(Method::GET, "/kv/a", None).await.unwrap();
        assert_eq!(response.status, StatusCode::CONFLICT);
        assert_eq!(&response.body[..], b"{}");
    }
    assert_eq!(
        s.accepted.load(Ordering::SeqCst),
        2,
        "connection: close is not reused"
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced_not_reported() {
    // The server closes each connection right after its reply, without saying so.
    let mut s = scripted(vec![(OK_JSON, true)]).await;
    for _ in 0..3 {
        let response = s.client.request(Method::GET, "/kv/a", None).await.unwrap();
        assert_eq!(response.status, StatusCode::OK);
        s.requests.recv().await.unwrap();
        // Wait (bounded) until the server's close has reached our socket.
        wait_for_idle_close(&s.client).await;
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 3);
}

async fn wait_for_idle_close(client: &Http1Client) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let closed = client.idle.lock().unwrap().iter().all(|c| !c.looks_open());
        if closed {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server's close never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn a_dropped_request_never_leaves_its_connection_for_the_next() {
    // The first reply stops halfway; the client gives up on it.
    let partial = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part";
    let s = scripted(vec![(partial, false), (OK_JSON, false)]).await;
    let first = tokio::time::timeout(
        Duration::from_millis(200),
        s.client.request(Method::GET, "/kv/a", None),
    )
    .await;
    assert!(first.is_err(), "the half reply cannot complete");
    let response = s.client.request(Method::GET, "/kv/a", None).await.unwrap();
    assert_eq!(&response.body[..], b"{\"ok\":true}");
    assert_eq!(s.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn errors_say_whether_the_request_may_have_been_sent() {
    // Nobody listens: certainly not sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Http1Client::new(&format!("http://{addr}")).unwrap();
    let error = client
        .request(Method::GET, "/kv/a", None)
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Connect(_)), "{error:?}");

    // A target with a space: refused before anything is sent.
    let error = client
        .request(Method::GET, "/kv/a b", None)
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Invalid(_)), "{error:?}");

    // Sent, then garbage, a close, or an oversized body: outcome unknown.
    for (reply, expect) in [
        ("SMTP ready\r\n\r\n", "malformed response head"),
        ("", "connection closed before a response"),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab",
            "closed after 2 of 5",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n",
            "over 64 MiB",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "malformed chunk size",
        ),
    ] {
        let s = scripted(vec![(reply, true)]).await;
        let error = s
            .client
            .request(Method::GET, "/kv/a", None)
            .await
            .unwrap_err();
        match error {
            SendError::Lost(text) => assert!(text.contains(expect), "{text} vs {expect}"),
            other => panic!("{reply:?}: {other:?}"),
        }
    }
}

#[test]
fn requests_are_encoded_in_one_buffer_with_host_type_and_length() {
    let bytes =
        wire::encode_request(&Method::PUT, "/kv/k1", "127.0.0.1:7001", Some(b"{}")).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "PUT /kv/k1 HTTP/1.1\r\nhost: 127.0.0.1:7001\r\ncontent-type: application/json\r\n\
         content-length: 2\r\n\r\n{}"
    );
    let bytes = wire::encode_request(&Method::POST, "/ids/k", "h:1", None).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "POST /ids/k HTTP/1.1\r\nhost: h:1\r\ncontent-length: 0\r\n\r\n"
    );
    let bytes = wire::encode_request(&Method::GET, "/kv/k", "h:1", None).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "GET /kv/k HTTP/1.1\r\nhost: h:1\r\n\r\n"
    );
    assert!(wire::encode_request(&Method::GET, "kv", "h:1", None).is_err());
    assert!(wire::encode_request(&Method::GET, "/a\r\nx: y", "h:1", None).is_err());
}
