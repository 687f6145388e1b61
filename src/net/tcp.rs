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
//! per-message faults, since a TCP stream has no messages. Its counters are
//! the HTTP links' ([`LinkCounters`]) with a chunk (one read from either
//! side, forwarded as one write) as the message, plus connections and bytes
//! ([`TcpTraffic`]), so the reports show both kinds in the same terms.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::counters::{LinkCounters, Stats, TcpTraffic};

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

/// The counters of one link, under one lock (taken briefly, per chunk).
#[derive(Default)]
struct Counted {
    stats: Stats,
    traffic: TcpTraffic,
}

struct Shared {
    from: String,
    to: String,
    target: SocketAddr,
    behaviour: watch::Sender<TcpBehaviour>,
    counted: Mutex<Counted>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut Counted)) {
        f(&mut self.counted.lock().expect("tcp link counters lock"));
    }
}

/// One directed link: traffic of `from`'s server to its client `to` (for
/// MariaDB: `to`'s replica connects here to reach `from`'s binlog). Both
/// directions of a connection count on this link.
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
            counted: Mutex::default(),
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

    /// A snapshot of the counters, in the HTTP links' terms plus
    /// [`LinkCounters::tcp`].
    pub fn counters(&self) -> LinkCounters {
        let counted = self.shared.counted.lock().expect("tcp link counters lock");
        LinkCounters {
            tcp: Some(counted.traffic.clone()),
            ..counted.stats.snapshot(&self.shared.from, &self.shared.to)
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
            shared.count(|c| c.traffic.refused += 1);
            drop(inbound);
            continue;
        }
        tokio::spawn(connection(inbound, shared.clone()));
    }
}

/// Forward one connection both ways until either side closes or the link is cut.
async fn connection(inbound: TcpStream, shared: Arc<Shared>) {
    let Ok(outbound) = TcpStream::connect(shared.target).await else {
        // The target is down (a crashed instance), not the link.
        shared.count(|c| c.stats.forward_errors += 1);
        return;
    };
    shared.count(|c| c.traffic.connections += 1);
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
    // A pump may notice the cut first (a held chunk): either way the cut
    // closed this connection.
    if shared.behaviour.borrow().cut {
        shared.count(|c| c.traffic.cut += 1);
    }
    // Dropping the halves closes both sockets.
}

/// One chunk between its read and its write: dropped unless delivered,
/// including when the pump is cancelled because the link was cut.
struct InFlight<'a> {
    shared: &'a Shared,
    arrived: Instant,
    delivered: bool,
}

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared, held: bool) -> Self {
        shared.count(|c| {
            c.stats.received += 1;
            c.stats.held += u64::from(held);
        });
        InFlight {
            shared,
            arrived: Instant::now(),
            delivered: false,
        }
    }

    fn delivered(mut self, bytes: usize) {
        self.delivered = true;
        let delay_ms = self.arrived.elapsed().as_millis() as u64;
        self.shared.count(|c| {
            c.stats.passed += 1;
            c.stats.delays.record(delay_ms);
            c.traffic.bytes += bytes as u64;
        });
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.delivered {
            self.shared.count(|c| c.stats.dropped += 1);
        }
    }
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
        let chunk = InFlight::new(shared, behaviour.borrow().hold);
        // Held: wait until released; a cut ends the connection and drops
        // the chunk (whichever of this and the cut's wake-up runs first).
        match behaviour.wait_for(|b| !b.hold || b.cut).await {
            Ok(b) if !b.cut => {}
            _ => return,
        }
        let latency_ms = behaviour.borrow().latency_ms;
        if latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        chunk.delivered(n);
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

    /// Every link's counters, in route order.
    pub fn counters(&self) -> Vec<LinkCounters> {
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
        let tcp = link.counters().tcp.unwrap();
        assert_eq!((tcp.connections, tcp.refused, tcp.cut), (2, 1, 1));
        assert_eq!(tcp.bytes, 20);
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

    /// Counters for a link that passes, holds, cuts and refuses: what the
    /// links table of a MariaDB run shows.
    #[tokio::test]
    async fn counts_chunks_connections_bytes_holds_cuts_and_delays() {
        let link = TcpLink::start("n1", "n2", echo().await).await.unwrap();
        let mut s = TcpStream::connect(link.addr()).await.unwrap();
        round_trip(&mut s, b"abc").await.unwrap();

        // Held for at least 150 ms, then released (the echo of it comes
        // back after the release, so it is not held).
        link.update(|b| b.hold = true);
        s.write_all(b"held").await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        link.update(|b| b.hold = false);
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();

        // A chunk held when the link is cut never arrives: it is dropped.
        link.update(|b| b.hold = true);
        s.write_all(b"lost").await.unwrap();
        wait_until(|| link.counters().held == 2).await;
        link.update(|b| b.cut = true);
        let closed = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
        // Two attempts while cut are refused.
        for _ in 0..2 {
            let mut refused = TcpStream::connect(link.addr()).await.unwrap();
            let _ = tokio::time::timeout(Duration::from_secs(2), refused.read(&mut buf)).await;
        }
        wait_until(|| link.counters().tcp.unwrap().refused == 2).await;

        let c = link.counters();
        assert_eq!((c.from.as_str(), c.to.as_str()), ("n1", "n2"));
        // abc and held, each way, passed; lost was received and dropped.
        assert_eq!((c.received, c.passed, c.dropped, c.held), (5, 4, 1, 2));
        assert!(c.delay_ms_max >= 150, "{c:?}");
        assert!(c.delay_ms_p50 < 150, "{c:?}");
        let tcp = c.tcp.clone().unwrap();
        assert_eq!((tcp.connections, tcp.refused, tcp.cut), (1, 2, 1));
        assert_eq!(tcp.bytes, 2 * (3 + 4));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["tcp"]["bytes"], 14, "{json}");
        assert_eq!(json["dropped"], 1, "{json}");
    }

    #[tokio::test]
    async fn a_target_that_is_down_is_a_forward_error_not_a_connection() {
        // A port nothing listens on: bind, note it, close.
        let gone = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let link = TcpLink::start("n1", "n2", gone).await.unwrap();
        let mut s = TcpStream::connect(link.addr()).await.unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        let c = link.counters();
        assert_eq!(c.forward_errors, 1, "{c:?}");
        assert_eq!(c.tcp.unwrap().connections, 0);
    }

    /// Poll `condition` (counters update on other tasks) for up to 2 s.
    async fn wait_until(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not reached in 2 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
