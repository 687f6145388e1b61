//! The link layer: all node-to-node traffic passes through links the
//! controller owns, so it can inject network faults without `netem`.
//!
//! # Layout
//! - [`LinkLayer`] (here): one link per directed pair of nodes, each an HTTP
//!   listener on loopback; node A is given link (A, B)'s address as B's
//!   address. The controller changes links' behaviour while the test runs.
//! - [`behaviour`]: the fault verbs ([`LinkBehaviour`], [`Latency`], [`DropMode`]).
//! - `link`: one link's server and the forwarding of each message.
//! - [`fate`]: the pure decision of what happens to one message (drop,
//!   loss, delay, hold, duplicate), shared with any simulated network.
//! - [`delay`]: sampling latencies and reorder delays from a link's RNG.
//! - [`counters`]: per-link counters and delay percentiles for the results.
//! - [`tcp`]: TCP-level links (cut, latency, hold; counted like the HTTP
//!   links, plus connections and bytes) for databases whose
//!   replication is not HTTP (MariaDB).
//!
//! Faults compose: [`LinkLayer::update_all`] edits every link's behaviour in
//! place (a partition sets `drop` on the cut links and keeps their latency),
//! and [`LinkLayer::heal_all`] restores each link's base (e.g. datacenter
//! latency set with [`LinkLayer::set_base`]).

pub mod behaviour;
pub mod counters;
pub mod delay;
pub mod fate;
mod link;
pub mod tcp;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use behaviour::{DropMode, Latency, LinkBehaviour};
pub use counters::{LinkCounters, TcpTraffic};
pub use link::MAX_BODY_BYTES;

use crate::seeds::sub_seed;
use link::LinkState;

/// One directed link to build: traffic from `from` to `to` is forwarded to
/// `target`, the receiver's real base url (e.g. `http://127.0.0.1:7002`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub from: String,
    pub to: String,
    pub target: String,
}

impl Route {
    pub fn new(from: impl Into<String>, to: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            target: target.into(),
        }
    }
}

/// Settings of the link layer as a whole.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    /// A forward that gets no reply within this time fails (502 to the sender).
    pub forward_timeout: Duration,
    /// How long `shutdown` waits for each listener to stop before aborting it.
    pub shutdown_timeout: Duration,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            forward_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// All links of a test run. Dropping it closes every listener (without
/// waiting); [`LinkLayer::shutdown`] closes them and waits.
pub struct LinkLayer {
    links: Vec<Link>,
    options: LinkOptions,
}

struct Link {
    state: Arc<LinkState>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl LinkLayer {
    /// Bind one listener per (from, to) pair on 127.0.0.1:0; each forwards to
    /// `to`'s target url. Link `i` (in route order) draws from
    /// `sub_seed(seed, "link", i)`.
    pub async fn start(routes: Vec<Route>, seed: u64) -> anyhow::Result<LinkLayer> {
        Self::start_with(routes, seed, LinkOptions::default()).await
    }

    pub async fn start_with(
        routes: Vec<Route>,
        seed: u64,
        options: LinkOptions,
    ) -> anyhow::Result<LinkLayer> {
        // Loopback only: never send node traffic through a proxy from the environment.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(options.forward_timeout)
            .build()
            .context("building the link layer's HTTP client")?;
        // On an early return, dropping `layer` closes the links already started.
        let mut layer = LinkLayer {
            links: Vec::with_capacity(routes.len()),
            options,
        };
        for (index, route) in routes.iter().enumerate() {
            if layer.find(&route.from, &route.to).is_some() {
                bail!("duplicate link {}->{}", route.from, route.to);
            }
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .with_context(|| format!("binding link {}->{}", route.from, route.to))?;
            let addr = listener.local_addr()?;
            let rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, "link", index as u64));
            let state = Arc::new(LinkState::new(
                &route.from,
                &route.to,
                &route.target,
                client.clone(),
                rng,
            ));
            let server = link::serve(listener, state.clone());
            layer.links.push(Link {
                state,
                addr,
                server,
            });
        }
        Ok(layer)
    }

    /// The address node `from` must use to reach node `to`.
    pub fn addr(&self, from: &str, to: &str) -> Option<SocketAddr> {
        self.find(from, to).map(|l| l.addr)
    }

    /// Every link as (from, to, address), in route order.
    pub fn links(&self) -> Vec<(String, String, SocketAddr)> {
        self.links
            .iter()
            .map(|l| (l.state.from.clone(), l.state.to.clone(), l.addr))
            .collect()
    }

    /// The current behaviour of one link.
    pub fn behaviour(&self, from: &str, to: &str) -> Option<LinkBehaviour> {
        self.find(from, to).map(|l| l.state.behaviour())
    }

    /// Replace the behaviour of one directed link. Clearing `hold` releases
    /// what the link holds.
    pub fn set(&self, from: &str, to: &str, behaviour: LinkBehaviour) {
        self.with_link(from, to, |l| l.set(behaviour));
    }

    /// Edit one directed link's behaviour in place (faults compose: cutting
    /// a link keeps its latency).
    pub fn update(&self, from: &str, to: &str, f: impl FnOnce(&mut LinkBehaviour)) {
        self.with_link(from, to, |l| l.update(f));
    }

    /// Edit every link's behaviour in place: `f(from, to, behaviour)`. Faults
    /// compose this way (e.g. set `drop` on the links crossing a cut).
    pub fn update_all(&self, f: impl Fn(&str, &str, &mut LinkBehaviour)) {
        for link in &self.links {
            let state = &link.state;
            state.update(|b| f(&state.from, &state.to, b));
        }
    }

    /// Deliver the messages one link holds now; `hold` stays as it is, so
    /// later messages are held again.
    pub fn release_held(&self, from: &str, to: &str) {
        self.with_link(from, to, |l| l.release_held());
    }

    /// Deliver the messages every link holds now.
    pub fn release_all_held(&self) {
        self.links.iter().for_each(|l| l.state.release_held());
    }

    /// Set the behaviour a link returns to when healed (e.g. datacenter
    /// latency), and apply it now.
    pub fn set_base(&self, from: &str, to: &str, behaviour: LinkBehaviour) {
        self.with_link(from, to, |l| l.set_base(behaviour));
    }

    /// Every link back to its base behaviour (pass, unless `set_base` said
    /// otherwise); held messages are released.
    pub fn heal_all(&self) {
        self.links.iter().for_each(|l| l.state.heal());
    }

    /// A snapshot of every link's counters, in route order.
    pub fn counters(&self) -> Vec<LinkCounters> {
        self.links.iter().map(|l| l.state.counters()).collect()
    }

    /// Stop every listener. Held, delayed and blackholed messages are dropped:
    /// their senders get an error. Waits (bounded) for the listeners to close.
    pub async fn shutdown(mut self) {
        let links = std::mem::take(&mut self.links);
        links.iter().for_each(|l| l.state.close());
        for mut link in links {
            if tokio::time::timeout(self.options.shutdown_timeout, &mut link.server)
                .await
                .is_err()
            {
                tracing::warn!(from = %link.state.from, to = %link.state.to, "link did not stop in time; aborting it");
                link.server.abort();
            }
        }
    }

    fn find(&self, from: &str, to: &str) -> Option<&Link> {
        self.links
            .iter()
            .find(|l| l.state.from == from && l.state.to == to)
    }

    fn with_link(&self, from: &str, to: &str, f: impl FnOnce(&LinkState)) {
        match self.find(from, to) {
            Some(link) => f(&link.state),
            None => tracing::warn!(from, to, "no such link"),
        }
    }
}

impl Drop for LinkLayer {
    fn drop(&mut self) {
        for link in &self.links {
            link.state.close();
        }
    }
}
