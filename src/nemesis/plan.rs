//! The nemesis planner: the seed alone decides the whole schedule, a list
//! of timed fault actions, before the run starts. Nothing here sleeps or
//! touches a process, so a test can assert the plan and a simulator can
//! replay it.
//!
//! Every `interval` a fault starts or the one in effect stops. Which kind
//! starts is dealt from shuffled rounds: each round holds every enabled
//! kind once, in an order drawn from the seed, so a run with as many fault
//! windows as kinds shows every kind (a uniform draw per window would
//! often miss some). `offline` is not dealt: it is one long window, one
//! leader cut off from 10% to 80% of the time limit, alongside the others.
//! At the time limit the fault in effect stops and everything is healed.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::partition::{Shape, grudge};
use crate::domain::FaultKind;
use crate::seeds::sub_seed;

/// What the planner is told.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisSpec {
    /// The enabled kinds (already narrowed to what the system supports).
    pub kinds: Vec<FaultKind>,
    pub interval: Duration,
    pub time_limit: Duration,
    pub seed: u64,
    /// How many nodes faults may hit (indices `0..nodes`).
    pub nodes: usize,
    /// Largest clock shift, in milliseconds.
    pub max_clock_skew_ms: i64,
}

/// The schedule: actions in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// One action at a time since the workload started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Fault window `window` begins.
    Start { window: usize, fault: Fault },
    /// Fault window `window` ends: its fault is undone.
    Stop { window: usize },
    /// Undo everything that could be in effect.
    Heal,
}

/// A fault with every choice made (node indices).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Links `(from, to)` cut; `hold` keeps their messages for the heal
    /// instead of dropping them.
    Partition {
        shape: Shape,
        hold: bool,
        cut: Vec<(usize, usize)>,
    },
    Crash {
        nodes: Vec<usize>,
    },
    Pause {
        nodes: Vec<usize>,
    },
    /// Each node's clock shifted by its offset.
    ClockOffsets {
        offsets: Vec<(usize, i64)>,
    },
    /// The nodes' clocks jumped back and forth by `skew_ms`.
    ClockStrobe {
        nodes: Vec<usize>,
        skew_ms: i64,
    },
    /// Every message delayed by up to `max_ms`, independently.
    Reorder {
        max_ms: u64,
    },
    /// A fraction of messages delivered twice, another lost.
    Duplicate {
        fraction: f64,
        loss: f64,
    },
    /// One node cut off from every other, both ways.
    Offline {
        node: usize,
    },
    /// Nodes that cut themselves off from every peer.
    Isolate {
        nodes: Vec<usize>,
    },
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Crash { .. } => FaultKind::Crash,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::ClockOffsets { .. } | Fault::ClockStrobe { .. } => FaultKind::Clock,
            Fault::Reorder { .. } => FaultKind::Reorder,
            Fault::Duplicate { .. } => FaultKind::Duplicate,
            Fault::Offline { .. } => FaultKind::Offline,
            Fault::Isolate { .. } => FaultKind::Isolate,
        }
    }

    /// The nodes this fault takes away from their clients (crashed, paused,
    /// cut off), which `--routing home-failover` routes around.
    pub fn faulted_nodes(&self) -> Vec<usize> {
        match self {
            Fault::Crash { nodes } | Fault::Pause { nodes } | Fault::Isolate { nodes } => {
                nodes.clone()
            }
            Fault::Offline { node } => vec![*node],
            Fault::Partition { .. }
            | Fault::ClockOffsets { .. }
            | Fault::ClockStrobe { .. }
            | Fault::Reorder { .. }
            | Fault::Duplicate { .. } => Vec::new(),
        }
    }
}

/// Share of partitions that hold messages instead of dropping them (stale
/// batches then arrive late, after their resends).
const HOLD_SHARE: f64 = 0.3;
/// Share of clock faults that strobe instead of shifting once.
const STROBE_SHARE: f64 = 0.3;
/// The reorder fault's largest per-message delay.
const REORDER_MS: u64 = 50;
/// The duplicate fault's fractions of messages delivered twice and lost.
const DUPLICATE_FRACTION: f64 = 0.3;
const DUPLICATE_LOSS: f64 = 0.05;

/// The whole schedule `spec` describes.
pub fn plan(spec: &NemesisSpec) -> Plan {
    if spec.kinds.is_empty() {
        return Plan { steps: Vec::new() };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(spec.seed, "nemesis", 0));
    let mut steps = Vec::new();
    let mut windows = 0..;
    if spec.kinds.contains(&FaultKind::Offline) && spec.nodes > 1 {
        let window = windows.next().expect("endless");
        let fault = Fault::Offline {
            node: rng.random_range(0..spec.nodes),
        };
        steps.push(Step {
            at: spec.time_limit.mul_f64(0.1),
            action: Action::Start { window, fault },
        });
        steps.push(Step {
            at: spec.time_limit.mul_f64(0.8),
            action: Action::Stop { window },
        });
    }
    let rotating: Vec<FaultKind> = spec
        .kinds
        .iter()
        .copied()
        .filter(|k| *k != FaultKind::Offline)
        .collect();
    let mut deck: Vec<FaultKind> = Vec::new();
    let mut active = None;
    let mut at = spec.interval;
    while at < spec.time_limit && !rotating.is_empty() && !spec.interval.is_zero() {
        let action = match active.take() {
            Some(window) => Action::Stop { window },
            None => {
                if deck.is_empty() {
                    deck = rotating.clone();
                    deck.shuffle(&mut rng);
                }
                let kind = deck.pop().expect("a dealt round is not empty");
                let window = windows.next().expect("endless");
                active = Some(window);
                Action::Start {
                    window,
                    fault: draw(kind, spec, &mut rng),
                }
            }
        };
        steps.push(Step { at, action });
        at += spec.interval;
    }
    if let Some(window) = active {
        steps.push(Step {
            at: spec.time_limit,
            action: Action::Stop { window },
        });
    }
    steps.push(Step {
        at: spec.time_limit,
        action: Action::Heal,
    });
    // Stable: same-time actions keep the order they were planned in.
    steps.sort_by_key(|s| s.at);
    Plan { steps }
}

/// Every choice of one fault of `kind`.
fn draw(kind: FaultKind, spec: &NemesisSpec, rng: &mut ChaCha8Rng) -> Fault {
    let n = spec.nodes;
    match kind {
        FaultKind::Partition => {
            let shape = Shape::ALL[rng.random_range(0..Shape::ALL.len())];
            let cut = grudge(shape, n, rng).into_iter().collect();
            Fault::Partition {
                shape,
                hold: rng.random_bool(HOLD_SHARE),
                cut,
            }
        }
        FaultKind::Crash => Fault::Crash {
            nodes: victims(n, rng),
        },
        FaultKind::Pause => Fault::Pause {
            nodes: victims(n, rng),
        },
        FaultKind::Isolate => Fault::Isolate {
            nodes: victims(n, rng),
        },
        FaultKind::Clock => {
            let nodes = victims(n, rng);
            let skew = spec.max_clock_skew_ms.max(1);
            if rng.random_bool(STROBE_SHARE) {
                Fault::ClockStrobe {
                    nodes,
                    skew_ms: skew,
                }
            } else {
                let offsets = nodes
                    .into_iter()
                    .map(|i| (i, rng.random_range(-skew..=skew)))
                    .collect();
                Fault::ClockOffsets { offsets }
            }
        }
        FaultKind::Reorder => Fault::Reorder { max_ms: REORDER_MS },
        FaultKind::Duplicate => Fault::Duplicate {
            fraction: DUPLICATE_FRACTION,
            loss: DUPLICATE_LOSS,
        },
        // Planned as its one long window, never dealt.
        FaultKind::Offline => Fault::Offline {
            node: rng.random_range(0..n),
        },
    }
}

/// The nodes a process or clock fault hits: one, a minority, a majority or all.
pub fn victims(n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let count = match rng.random_range(0..4) {
        0 => 1,
        1 => (n - 1) / 2,
        2 => n / 2 + 1,
        _ => n,
    }
    .clamp(1, n);
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(rng);
    all.truncate(count);
    all.sort();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kinds: &[FaultKind], interval_s: f64, limit_s: f64, seed: u64) -> NemesisSpec {
        NemesisSpec {
            kinds: kinds.to_vec(),
            interval: Duration::from_secs_f64(interval_s),
            time_limit: Duration::from_secs_f64(limit_s),
            seed,
            nodes: 5,
            max_clock_skew_ms: 2000,
        }
    }

    fn started(plan: &Plan) -> Vec<FaultKind> {
        plan.steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Start { fault, .. } => Some(fault.kind()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_seed_alone_decides_the_plan() {
        let kinds = [FaultKind::Partition, FaultKind::Crash, FaultKind::Clock];
        let a = plan(&spec(&kinds, 2.0, 12.0, 7));
        assert_eq!(a, plan(&spec(&kinds, 2.0, 12.0, 7)));
        assert_ne!(a, plan(&spec(&kinds, 2.0, 12.0, 8)));
        // Windows start at 2, 6, 10 s and stop at 4, 8 and the time limit.
        let times: Vec<(f64, &str)> = a
            .steps
            .iter()
            .map(|s| {
                let what = match s.action {
                    Action::Start { .. } => "start",
                    Action::Stop { .. } => "stop",
                    Action::Heal => "heal",
                };
                (s.at.as_secs_f64(), what)
            })
            .collect();
        assert_eq!(
            times,
            [
                (2.0, "start"),
                (4.0, "stop"),
                (6.0, "start"),
                (8.0, "stop"),
                (10.0, "start"),
                (12.0, "stop"),
                (12.0, "heal")
            ]
        );
        // Three windows, three kinds: each kind once.
        let mut kinds_started = started(&a);
        kinds_started.sort();
        assert_eq!(kinds_started, kinds);
    }

    #[test]
    fn a_fixed_seed_gives_this_exact_plan() {
        let p = plan(&spec(
            &[FaultKind::Crash, FaultKind::Partition],
            1.0,
            4.0,
            42,
        ));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            // A majority-minority cut ({0,1,2} | {3,4}, both ways), then a
            // crash of a majority.
            serde_json::json!({"steps": [
                {"at": {"secs": 1, "nanos": 0}, "action": {"start": {"window": 0, "fault": {"partition": {"shape": "majority-minority", "hold": false, "cut": [[0, 3], [0, 4], [1, 3], [1, 4], [2, 3], [2, 4], [3, 0], [3, 1], [3, 2], [4, 0], [4, 1], [4, 2]]}}}}},
                {"at": {"secs": 2, "nanos": 0}, "action": {"stop": {"window": 0}}},
                {"at": {"secs": 3, "nanos": 0}, "action": {"start": {"window": 1, "fault": {"crash": {"nodes": [1, 2, 4]}}}}},
                {"at": {"secs": 4, "nanos": 0}, "action": {"stop": {"window": 1}}},
                {"at": {"secs": 4, "nanos": 0}, "action": "heal"}
            ]})
        );
    }

    #[test]
    fn every_kind_shows_when_there_are_as_many_windows_as_kinds() {
        // 40 s at 2 s intervals: 10 windows for the 6 dealt kinds, and
        // offline's own long window.
        for seed in 0..50 {
            let p = plan(&spec(&FaultKind::ALL, 2.0, 40.0, seed));
            let mut kinds = started(&p);
            kinds.sort();
            kinds.dedup();
            assert_eq!(kinds, FaultKind::ALL.to_vec(), "seed {seed}");
        }
    }

    #[test]
    fn offline_is_one_long_window_beside_the_others() {
        let p = plan(&spec(&[FaultKind::Offline, FaultKind::Pause], 3.0, 10.0, 1));
        let offline: Vec<&Step> = p
            .steps
            .iter()
            .filter(|s| match &s.action {
                Action::Start { fault, window } => {
                    fault.kind() == FaultKind::Offline && *window == 0
                }
                Action::Stop { window } => *window == 0,
                Action::Heal => false,
            })
            .collect();
        assert_eq!(offline.len(), 2);
        assert_eq!(offline[0].at, Duration::from_secs(1));
        assert_eq!(offline[1].at, Duration::from_secs(8));
        assert!(started(&p).contains(&FaultKind::Pause));
    }

    #[test]
    fn no_faults_plan_nothing() {
        assert_eq!(plan(&spec(&[], 1.0, 5.0, 3)).steps, []);
    }
}
