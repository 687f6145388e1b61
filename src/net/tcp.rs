//! TCP-level links, for databases whose replication is not HTTP (MariaDB).
//!
//! One [`TcpLink`] per directed pair: a listener on loopback that forwards
//! each accepted connection, byte for byte, to the target. The controller
//! changes a link while the test runs:
//! - `cut`: every open connection is closed at once and new ones are
//!   accepted and closed immediately (a partition the peers notice);
//! - `latency_ms`: each chunk is delivered that much later, in order;
//! - `hold`: nothing is forwarded (connections stay open) until released.
//!
//! Kept small and separate from the HTTP links ([`super::LinkLayer`]): no
//! per-message faults, since a TCP stream has no messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a TCP link does to its traffic now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpBehaviour {
    /// Close every connection and refuse (accept and close) new ones.
    pub cut: bool,
    /// Deliver each chunk this many milliseconds late.
    pub latency_ms: u64,
    /// Forward nothing until cleared.
    pub hold: bool,
}

/// Counters of one TCP link, for the results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TcpLinkCounters {
    pub from: String,
    pub to: String,
    pub connections: u64,
    pub refused: u64,
    pub bytes: u64,
}

struct Shared {
    from: String,
    to: String,
    target: SocketAddr,
    behaviour: watch::Sender<TcpBehaviour>,
    connections: AtomicU64,
    refused: AtomicU64,
    bytes: AtomicU64,
}

/// One directed link: traffic of `from`'s server to its client `to` (for
/// MariaDB: `to`'s replica connects here to reach `from`'s binlog).
pub struct TcpLink {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl TcpLink {
    /// Listen on 127.0.0.1:0 and forward every connection to `target`.
    pub async fn start(from: &str, to: &str, target: SocketAddr) -> Result<TcpLink> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .with_context(|| format!("binding TCP link {from}->{to}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            from: from.to_string(),
            to: to.to_string(),
            target,
            behaviour: watch::channel(TcpBehaviour::default()).0,
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        });
        let server = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(TcpLink {
            shared,
            addr,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn from(&self) -> &str {
        &self.shared.from
    }

    pub fn to(&self) -> &str {
        &self.shared.to
    }

    pub fn behaviour(&self) -> TcpBehaviour {
        *self.shared.behaviour.borrow()
    }

    /// Edit the behaviour in place; cutting closes open connections at once.
    pub fn update(&self, f: impl FnOnce(&mut TcpBehaviour)) {
        self.shared.behaviour.send_modify(f);
    }

    pub fn counters(&self) -> TcpLinkCounters {
        TcpLinkCounters {
            from: self.shared.from.clone(),
            to: self.shared.to.clone(),
            connections: self.shared.connections.load(Ordering::Relaxed),
            refused: self.shared.refused.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for TcpLink {
    fn drop(&mut self) {
        // Closing the listener; open connections end with their pumps,
        // which stop when the behaviour channel closes.
        self.server.abort();
        self.shared.behaviour.send_modify(|b| b.cut = true);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if shared.behaviour.borrow().cut {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            drop(inbound);
            continue;
        }
        shared.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(inbound, shared.clone()));
    }
}

/// Forward one connection both ways until either side closes or the link is cut.
async fn connection(inbound: TcpStream, shared: Arc<Shared>) {
    let Ok(outbound) = TcpStream::connect(shared.target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let mut cut = shared.behaviour.subscribe();
    let pumps = async {
        tokio::select! {
            _ = pump(in_read, out_write, &shared) => {}
            _ = pump(out_read, in_write, &shared) => {}
        }
    };
    tokio::select! {
        _ = pumps => {}
        _ = cut.wait_for(|b| b.cut) => {}
    }
    // Dropping the halves closes both sockets.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: &Shared,
) {
    let mut behaviour = shared.behaviour.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Held: wait until released (or cut, which ends the connection).
        if behaviour.wait_for(|b| !b.hold || b.cut).await.is_err() {
            return;
        }
        let latency_ms = behaviour.borrow().latency_ms;
        if latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Every TCP link of a run, one per directed pair.
#[derive(Default)]
pub struct TcpLinks {
    links: Vec<TcpLink>,
}

impl TcpLinks {
    /// One link per `(from, to, target)`.
    pub async fn start(routes: &[(String, String, SocketAddr)]) -> Result<TcpLinks> {
        let mut links = TcpLinks::default();
        for (from, to, target) in routes {
            links.links.push(TcpLink::start(from, to, *target).await?);
        }
        Ok(links)
    }

    pub fn get(&self, from: &str, to: &str) -> Option<&TcpLink> {
        self.links.iter().find(|l| l.from() == from && l.to() == to)
    }

    pub fn all(&self) -> &[TcpLink] {
        &self.links
    }

    /// Every link back to pass.
    pub fn heal_all(&self) {
        for link in &self.links {
            link.update(|b| *b = TcpBehaviour::default());
        }
    }

    pub fn counters(&self) -> Vec<TcpLinkCounters> {
        self.links.iter().map(TcpLink::counters).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text).await?;
        let mut buf = vec![0u8; text.len()];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    }

    #[tokio::test]
    async fn forwards_cuts_refuses_and_heals() {
        let link = TcpLink::start("a", "b", echo().await).await.unwrap();
        let mut s = TcpStream::connect(link.addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"hello").await.unwrap(), b"hello");

        link.update(|b| b.cut = true);
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
        let mut refused = TcpStream::connect(link.addr()).await.unwrap();
        let read = tokio::time::timeout(Duration::from_secs(2), refused.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

        link.update(|b| b.cut = false);
        let mut s = TcpStream::connect(link.addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"again").await.unwrap(), b"again");
        let counters = link.counters();
        assert_eq!((counters.connections, counters.refused), (2, 1));
        assert_eq!(counters.bytes, 20);
    }

    #[tokio::test]
    async fn hold_delays_until_released_and_latency_delays() {
        let link = TcpLink::start("a", "b", echo().await).await.unwrap();
        let mut s = TcpStream::connect(link.addr()).await.unwrap();
        link.update(|b| b.hold = true);
        s.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await;
        assert!(early.is_err(), "held bytes arrived");
        link.update(|b| b.hold = false);
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();

        link.update(|b| b.latency_ms = 100);
        let start = std::time::Instant::now();
        round_trip(&mut s, b"y").await.unwrap();
        // Both directions pass the link: two delays.
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
