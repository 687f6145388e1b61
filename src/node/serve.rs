//! Serving the node's router: one HTTP/1.1 connection task per accepted
//! socket, with the timeouts `axum::serve` does not expose.
//!
//! A connection that sends nothing, or only part of a request head, would
//! otherwise hold a task and a socket forever (thousands of idle or
//! half-sent connections were seen to stay open). hyper's header read
//! timeout closes it: its timer starts whenever the connection waits for a
//! request head, so the same bound closes a keep-alive connection idle
//! between requests and one whose head trickles in. Bodies are bounded by
//! the router's body timeout (see [`super::http::router`]).
//!
//! Shutdown is graceful: once `stop` fires, the listener closes, idle
//! connections close at once and in-flight requests finish.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serve `app` on `listener` until `stop` resolves, then drain.
/// `read_timeout` bounds the wait for each request head (idle time included).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    read_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Timeouts and clients going away end connections with an error;
            // neither is the node's fault.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
