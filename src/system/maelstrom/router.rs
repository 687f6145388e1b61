//! The message router: every message a node writes to stdout comes here
//! and goes on by its `dest`. Node to node, it crosses the directed link
//! of the pair, whose fate is `net::fate::decide` per message (partitions
//! drop, as Maelstrom's do; latency, reorder, duplicate and loss as on
//! diverge's HTTP links), drawn from the link's own seeded RNG. A node may
//! message itself (delivered at once). To a service, it is answered by
//! [`Services`]; to a client, it completes that client's pending request.
//!
//! Requests from the controller (clients `c1`, ..., and `c0` for init and
//! topology) are numbered from 1 by one counter, so `msg_id`s are unique
//! per sender, and never 0 (which Maelstrom's Go library takes for "no
//! reply").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::services::{self, Services};
use crate::net::LinkBehaviour;
use crate::net::counters::{LinkCounters, Stats};
use crate::net::fate::{Fate, decide};
use crate::seeds::sub_seed;
use crate::workload::CallError;

/// One directed link between two nodes.
struct Link {
    behaviour: LinkBehaviour,
    rng: ChaCha8Rng,
    /// Lines kept while the link holds.
    held: Vec<String>,
    stats: Stats,
}

/// Routes every message of a run.
pub struct Router {
    ids: Vec<String>,
    /// A node's stdin while it runs; `None` while it is crashed.
    inboxes: Vec<Mutex<Option<mpsc::UnboundedSender<String>>>>,
    /// By (from, to) index.
    links: HashMap<(usize, usize), Mutex<Link>>,
    /// Controller requests awaiting a reply, by `msg_id`.
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    next_msg_id: AtomicU64,
    services: Services,
    /// What went wrong with a node's side of the protocol: (node, kind,
    /// problem).
    protocol_errors: Mutex<Vec<(String, &'static str, String)>>,
}

impl Router {
    /// A router among `ids`; link `k` (pairs in order) draws from
    /// `sub_seed(seed, "maelstrom-link", k)`.
    pub fn new(ids: Vec<String>, seed: u64) -> Arc<Router> {
        let n = ids.len();
        let pairs = (0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)));
        let links = pairs
            .enumerate()
            .map(|(k, pair)| {
                let rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, "maelstrom-link", k as u64));
                let link = Link {
                    behaviour: LinkBehaviour::pass(),
                    rng,
                    held: Vec::new(),
                    stats: Stats::default(),
                };
                (pair, Mutex::new(link))
            })
            .collect();
        Arc::new(Router {
            inboxes: (0..n).map(|_| Mutex::new(None)).collect(),
            ids,
            links,
            pending: Mutex::new(HashMap::new()),
            next_msg_id: AtomicU64::new(1),
            services: Services::default(),
            protocol_errors: Mutex::new(Vec::new()),
        })
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Node `i` runs and reads its stdin from `inbox`.
    pub fn attach(&self, i: usize, inbox: mpsc::UnboundedSender<String>) {
        *self.inboxes[i].lock().expect("inbox lock") = Some(inbox);
    }

    /// Node `i` is gone: what is sent to it now is lost.
    pub fn detach(&self, i: usize) {
        *self.inboxes[i].lock().expect("inbox lock") = None;
    }

    /// Write `line` to node `i`'s stdin; false if it is not running.
    fn deliver(&self, i: usize, line: String) -> bool {
        let inbox = self.inboxes[i].lock().expect("inbox lock");
        inbox.as_ref().is_some_and(|tx| tx.send(line).is_ok())
    }

    /// Whether node `i` runs, as far as the controller knows.
    pub fn is_attached(&self, i: usize) -> bool {
        self.inboxes[i].lock().expect("inbox lock").is_some()
    }

    /// Something node `i` did against the protocol (`kind`), kept for the
    /// report.
    pub fn protocol_error(&self, i: usize, kind: &'static str, problem: String) {
        tracing::warn!(node = %self.ids[i], "{problem}");
        self.protocol_errors.lock().expect("errors lock").push((
            self.ids[i].clone(),
            kind,
            problem,
        ));
    }

    pub fn protocol_errors(&self) -> Vec<(String, &'static str, String)> {
        self.protocol_errors.lock().expect("errors lock").clone()
    }

    /// A message node `i` wrote, sent on by its `dest`.
    pub fn from_node(self: &Arc<Self>, i: usize, message: Value) {
        let dest = message["dest"].as_str().unwrap_or_default().to_string();
        if let Some(j) = self.ids.iter().position(|id| *id == dest) {
            let line = message.to_string();
            if i == j {
                self.deliver(i, line);
            } else {
                self.cross(i, j, line);
            }
        } else if services::NAMES.contains(&dest.as_str()) {
            let reply = self.services.handle(&dest, &message["body"]);
            self.deliver(i, envelope(&dest, &self.ids[i], reply));
        } else if let Some(id) = message["body"]["in_reply_to"].as_u64() {
            let waiting = self.pending.lock().expect("pending lock").remove(&id);
            if let Some(tx) = waiting {
                let _ = tx.send(message["body"].clone());
            }
        } else {
            let text = format!("no node, service or client {dest:?}");
            let mut reply = json!({ "type": "error", "code": 1, "text": text });
            reply["in_reply_to"] = message["body"]["msg_id"].clone();
            self.deliver(i, envelope(&dest, &self.ids[i], reply));
        }
    }

    /// `line` from node `i` to node `j`, through their link.
    fn cross(self: &Arc<Self>, i: usize, j: usize, line: String) {
        let mut link = self.links[&(i, j)].lock().expect("link lock");
        link.stats.received += 1;
        let fate = {
            let Link { behaviour, rng, .. } = &mut *link;
            decide(behaviour, rng)
        };
        let delivery = match fate {
            Fate::Drop(_) => return link.stats.dropped += 1,
            Fate::Lose => return link.stats.lost += 1,
            Fate::Deliver(delivery) => delivery,
        };
        if delivery.held {
            link.stats.held += 1;
            return link.held.push(line);
        }
        link.stats.passed += 1;
        link.stats.delays.record(delivery.delay.as_millis() as u64);
        if let Some(after) = delivery.duplicate_after {
            link.stats.duplicated += 1;
            self.later(j, line.clone(), delivery.delay + after);
        }
        drop(link);
        if delivery.delay.is_zero() {
            self.deliver(j, line);
        } else {
            self.later(j, line, delivery.delay);
        }
    }

    fn later(self: &Arc<Self>, j: usize, line: String, delay: Duration) {
        let router = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            router.deliver(j, line);
        });
    }

    /// Edit link `from` -> `to`; what it held goes out once it no longer holds.
    pub fn update(self: &Arc<Self>, from: &str, to: &str, f: impl FnOnce(&mut LinkBehaviour)) {
        let (Some(i), Some(j)) = (self.index(from), self.index(to)) else {
            return tracing::warn!(from, to, "no such link");
        };
        let released = {
            let Some(link) = self.links.get(&(i, j)) else {
                return;
            };
            let mut link = link.lock().expect("link lock");
            f(&mut link.behaviour);
            if link.behaviour.hold {
                Vec::new()
            } else {
                std::mem::take(&mut link.held)
            }
        };
        for line in released {
            self.deliver(j, line);
        }
    }

    /// Edit every link.
    pub fn update_all(self: &Arc<Self>, f: impl Fn(&mut LinkBehaviour)) {
        let pairs: Vec<(usize, usize)> = self.links.keys().copied().collect();
        for (i, j) in pairs {
            self.update(&self.ids[i].clone(), &self.ids[j].clone(), &f);
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|n| n == id)
    }

    /// Every link's counters, in (from, to) order.
    pub fn counters(&self) -> Vec<LinkCounters> {
        let mut pairs: Vec<&(usize, usize)> = self.links.keys().collect();
        pairs.sort();
        pairs
            .into_iter()
            .map(|&(i, j)| {
                let link = self.links[&(i, j)].lock().expect("link lock");
                link.stats.snapshot(&self.ids[i], &self.ids[j])
            })
            .collect()
    }

    /// Send `body` from client `client` to node `i` and wait (at most
    /// `timeout`) for its reply. An `error` reply is definite or not by
    /// its code (Maelstrom's table); no reply is indefinite; a node that
    /// is not running never got the request, which is definite.
    pub async fn request(
        &self,
        i: usize,
        client: &str,
        mut body: Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let msg_id = self.next_msg_id.fetch_add(1, Ordering::Relaxed);
        body["msg_id"] = json!(msg_id);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(msg_id, tx);
        let node = &self.ids[i];
        if !self.deliver(i, envelope(client, node, body)) {
            self.pending.lock().expect("pending lock").remove(&msg_id);
            return Err(CallError::Definite(format!("{node} is not running")));
        }
        let reply = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            _ => {
                self.pending.lock().expect("pending lock").remove(&msg_id);
                return Err(CallError::Indefinite(format!(
                    "{node}: no reply within {timeout:?}"
                )));
            }
        };
        match reply["type"].as_str() {
            Some("error") => Err(classify(node, &reply)),
            _ => Ok(reply),
        }
    }
}

/// An `error` reply as a call error carrying its code (definite or not
/// by Maelstrom's table, [`crate::workload::api::MAELSTROM_DEFINITE`]).
fn classify(node: &str, reply: &Value) -> CallError {
    CallError::Maelstrom {
        code: reply["code"].as_u64(),
        message: format!(
            "{node}: error {}: {}",
            reply["code"],
            reply["text"].as_str().unwrap_or_default()
        ),
    }
}

/// One line of the protocol.
fn envelope(src: &str, dest: &str, body: Value) -> String {
    json!({ "src": src, "dest": dest, "body": body }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_definite_or_not_as_maelstrom_says() {
        let error =
            |code: Value| classify("n1", &json!({"type": "error", "code": code, "text": "x"}));
        let definite = |code: u64| error(json!(code)).is_definite();
        assert!(definite(20) && definite(22) && definite(11) && definite(1));
        assert!(definite(30) && definite(14));
        assert!(!definite(0) && !definite(13) && !definite(1000) && !definite(99));
        assert!(!error(json!("30")).is_definite());
        assert_eq!(error(json!(20)).maelstrom_code(), Some(20));
        assert_eq!(error(json!(1000)).maelstrom_code(), Some(1000));
        assert_eq!(error(json!("x")).maelstrom_code(), None);
        assert_eq!(error(json!(22)).message(), "n1: error 22: x");
        assert_eq!(CallError::Conflict.maelstrom_code(), None);
    }

    #[tokio::test]
    async fn a_partition_drops_and_healing_carries_messages_again() {
        let router = Router::new(vec!["n1".into(), "n2".into()], 1);
        let (tx, mut rx) = mpsc::unbounded_channel();
        router.attach(1, tx);
        let msg = json!({"src": "n1", "dest": "n2", "body": {"type": "gossip"}});
        router.update("n1", "n2", |b| b.drop = true);
        router.from_node(0, msg.clone());
        assert!(rx.try_recv().is_err());
        router.update("n1", "n2", |b| b.drop = false);
        router.from_node(0, msg.clone());
        let got: Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(got, msg);
        let c = &router.counters()[0];
        assert_eq!(
            (c.from.as_str(), c.received, c.dropped, c.passed),
            ("n1", 2, 1, 1)
        );
    }

    #[tokio::test]
    async fn a_held_link_keeps_messages_until_it_stops_holding() {
        let router = Router::new(vec!["n1".into(), "n2".into()], 1);
        let (tx, mut rx) = mpsc::unbounded_channel();
        router.attach(0, tx);
        router.update("n2", "n1", |b| b.hold = true);
        router.from_node(1, json!({"dest": "n1", "body": {"type": "a"}}));
        assert!(rx.try_recv().is_err());
        router.update("n2", "n1", |b| b.hold = false);
        assert!(rx.try_recv().unwrap().contains("\"a\""));
    }
}
