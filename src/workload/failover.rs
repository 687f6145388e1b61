//! `--routing home-failover`: conflict avoidance by home routing, with the
//! failover that breaks it. Every key has a home leader (as with `home`);
//! while the home is faulted (crashed, paused, offline, or held down by
//! `--down`) its keys' ops go to the next node that is not, and they go back
//! the moment it recovers, before it has caught up. Writes to one key are then
//! accepted on two leaders, which is what conflict avoidance was meant to
//! prevent.
//!
//! The nemesis tells [`HomeRoutes`] which nodes are faulted (it is the
//! executor's [`FaultObserver`]); each change of the routing is recorded as
//! a `start-failover` / `stop-failover` nemesis op whose value maps every
//! moved home to the node taking its ops. The client driver sends each op
//! of a home to [`HomeRoutes::target`] of it when it invokes the op, so the
//! history names the node that served it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::history::HistoryHandle;
use crate::nemesis::FaultObserver;

/// Where each home's ops go, and which nodes are faulted.
#[derive(Debug)]
pub struct HomeRoutes {
    ids: Vec<String>,
    /// By home index: the node index its ops go to now.
    targets: Vec<AtomicUsize>,
    /// By node index: how many faults in effect hit it (faults overlap).
    faults: Mutex<Vec<u32>>,
}

impl HomeRoutes {
    /// Every home routed to itself.
    pub fn new(ids: Vec<String>) -> Arc<Self> {
        let targets = (0..ids.len()).map(AtomicUsize::new).collect();
        let faults = Mutex::new(vec![0; ids.len()]);
        Arc::new(HomeRoutes {
            ids,
            targets,
            faults,
        })
    }

    /// The node index that home `home`'s ops go to now.
    pub fn target(&self, home: usize) -> usize {
        self.targets[home].load(Ordering::Relaxed)
    }

    /// `nodes` became faulted (`faulted`) or recovered from one fault; the
    /// routes follow, and a change is recorded in `history`.
    pub fn apply(&self, nodes: &[usize], faulted: bool, history: &HistoryHandle) {
        if nodes.is_empty() {
            return;
        }
        let mut faults = self.faults.lock().expect("routes lock");
        let before = self.moved();
        // Followers (indexes past the leaders) serve no home: ignored.
        for &i in nodes.iter().filter(|&&i| i < self.ids.len()) {
            faults[i] = if faulted {
                faults[i] + 1
            } else {
                faults[i].saturating_sub(1)
            };
        }
        let n = self.ids.len();
        for home in 0..n {
            // The home itself if it is up, else the next node that is; with
            // every node faulted, the home (whose ops then fail).
            let target = (0..n)
                .map(|step| (home + step) % n)
                .find(|&i| faults[i] == 0)
                .unwrap_or(home);
            self.targets[home].store(target, Ordering::Relaxed);
        }
        let after = self.moved();
        if before != after {
            if !before.is_empty() {
                history.nemesis_event("stop-failover", json!(before));
            }
            if !after.is_empty() {
                history.nemesis_event("start-failover", json!(after));
            }
        }
    }

    /// Every home whose ops go elsewhere: home id -> the node taking them.
    fn moved(&self) -> BTreeMap<String, String> {
        (0..self.ids.len())
            .filter(|&home| self.target(home) != home)
            .map(|home| (self.ids[home].clone(), self.ids[self.target(home)].clone()))
            .collect()
    }
}

impl FaultObserver for HomeRoutes {
    fn faulted(&self, nodes: &[usize], faulted: bool, history: &HistoryHandle) {
        self.apply(nodes, faulted, history);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Recorder;

    #[test]
    fn faulted_homes_move_to_the_next_live_node_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let clock = std::sync::Arc::new(crate::history::SinceStart::now());
        let recorder = Recorder::create(&path, clock).unwrap();
        let history = recorder.handle();
        let ids: Vec<String> = ["n1", "n2", "n3"].map(String::from).into();
        let routes = HomeRoutes::new(ids);
        routes.apply(&[1], true, &history);
        assert_eq!([0, 1, 2].map(|h| routes.target(h)), [0, 2, 2]);
        // Overlapping faults: n2 stays faulted until both are undone.
        routes.apply(&[1, 2], true, &history);
        assert_eq!([0, 1, 2].map(|h| routes.target(h)), [0, 0, 0]);
        routes.apply(&[1, 2], false, &history);
        assert_eq!([0, 1, 2].map(|h| routes.target(h)), [0, 2, 2]);
        routes.apply(&[1], false, &history);
        assert_eq!([0, 1, 2].map(|h| routes.target(h)), [0, 1, 2]);
        drop(history);
        recorder.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let oks: Vec<&str> = text.lines().filter(|l| l.contains("\"ok\"")).collect();
        // start; stop+start twice (the moves change); the last stop.
        assert_eq!(oks.len(), 6, "{text}");
        assert!(oks[0].contains("start-failover") && oks[0].contains(r#"{"n2":"n3"}"#));
        assert!(oks[2].contains(r#""n2":"n1","n3":"n1""#), "{}", oks[2]);
        assert!(oks[5].contains("stop-failover") && oks[5].contains(r#"{"n2":"n3"}"#));
    }
}
