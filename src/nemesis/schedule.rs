//! The nemesis schedule: every `--nemesis-interval` seconds it either starts a
//! fault drawn from the enabled kinds or undoes the one in effect, recording
//! each start and end as a nemesis op. `offline` is special: one leader is
//! cut off from 10% to 80% of the time limit. When the time limit is
//! reached, everything is healed (nodes held down by `--down` stay down).
//! Under `--routing home-failover` each fault that takes nodes away moves
//! their homes' ops elsewhere, and its end moves them back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diverge_checkers::{OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::faults::{ActiveFault, Targets};
use super::kind::{FaultKind, NemesisSet};
use crate::history::HistoryHandle;
use crate::seeds::sub_seed;
use crate::workload::failover::HomeRoutes;

/// What the nemesis does during a run.
#[derive(Debug, Clone)]
pub struct NemesisPlan {
    pub faults: NemesisSet,
    pub interval: Duration,
    pub time_limit: Duration,
    pub seed: u64,
    /// `--routing home-failover`: told which nodes each fault takes away.
    pub failover: Option<Arc<HomeRoutes>>,
}

/// Run the schedule until the time limit, then heal everything.
pub async fn run_nemesis(plan: NemesisPlan, targets: Targets, history: HistoryHandle) {
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(plan.seed, "nemesis", 0));
    let failover = plan.failover.as_deref();
    let start = Instant::now();
    let deadline = start + plan.time_limit;
    let rotating: Vec<FaultKind> = plan
        .faults
        .0
        .iter()
        .copied()
        .filter(|k| *k != FaultKind::Offline)
        .collect();
    let mut offline = plan
        .faults
        .contains(FaultKind::Offline)
        .then(|| OfflineWindow {
            from: start + plan.time_limit.mul_f64(0.1),
            until: start + plan.time_limit.mul_f64(0.8),
            fault: None,
        });
    let mut active: Option<(FaultKind, ActiveFault)> = None;
    let mut next_change = start + plan.interval;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if let Some(window) = offline.as_mut() {
            window
                .step(now, &targets, &history, &mut rng, failover)
                .await;
        }
        if now >= next_change && !rotating.is_empty() {
            match active.take() {
                Some((kind, fault)) => stop(kind, fault, &targets, &history, failover).await,
                None => {
                    let kind = rotating[rng.random_range(0..rotating.len())];
                    active = Some((
                        kind,
                        begin(kind, &targets, &history, &mut rng, failover).await,
                    ));
                }
            }
            next_change = Instant::now() + plan.interval;
        }
        let wake = offline
            .as_ref()
            .and_then(|w| w.next_event(now))
            .map_or(next_change, |t| t.min(next_change))
            .min(deadline);
        tokio::time::sleep_until(wake.into()).await;
    }
    if let Some((kind, fault)) = active.take() {
        stop(kind, fault, &targets, &history, failover).await;
    }
    if let Some(OfflineWindow {
        fault: Some(fault), ..
    }) = offline.take()
    {
        stop(FaultKind::Offline, fault, &targets, &history, failover).await;
    }
    history.record(
        Process::Nemesis,
        OpType::Invoke,
        "heal",
        None,
        Value::Null,
        None,
        None,
    );
    targets.heal_everything().await;
    history.record(
        Process::Nemesis,
        OpType::Ok,
        "heal",
        None,
        Value::Null,
        None,
        None,
    );
}

async fn begin(
    kind: FaultKind,
    targets: &Targets,
    history: &HistoryHandle,
    rng: &mut ChaCha8Rng,
    failover: Option<&HomeRoutes>,
) -> ActiveFault {
    let f = format!("start-{}", kind.name());
    history.record(
        Process::Nemesis,
        OpType::Invoke,
        &f,
        None,
        Value::Null,
        None,
        None,
    );
    let (fault, value) = targets.start(kind, rng).await;
    history.record(Process::Nemesis, OpType::Ok, &f, None, value, None, None);
    // Failover follows the fault, as an operator's would once it is seen.
    if let Some(routes) = failover {
        routes.apply(&fault.faulted_nodes(), true, history);
    }
    fault
}

async fn stop(
    kind: FaultKind,
    fault: ActiveFault,
    targets: &Targets,
    history: &HistoryHandle,
    failover: Option<&HomeRoutes>,
) {
    let faulted = fault.faulted_nodes();
    let f = format!("stop-{}", kind.name());
    history.record(
        Process::Nemesis,
        OpType::Invoke,
        &f,
        None,
        Value::Null,
        None,
        None,
    );
    let value = targets.stop(fault).await;
    history.record(Process::Nemesis, OpType::Ok, &f, None, value, None, None);
    // Back home at once, before the recovered node has caught up.
    if let Some(routes) = failover {
        routes.apply(&faulted, false, history);
    }
}

/// The one long offline period of the `offline` fault.
struct OfflineWindow {
    from: Instant,
    until: Instant,
    fault: Option<ActiveFault>,
}

impl OfflineWindow {
    async fn step(
        &mut self,
        now: Instant,
        targets: &Targets,
        history: &HistoryHandle,
        rng: &mut ChaCha8Rng,
        failover: Option<&HomeRoutes>,
    ) {
        if self.fault.is_none() && now >= self.from && now < self.until {
            self.fault = Some(begin(FaultKind::Offline, targets, history, rng, failover).await);
        } else if now >= self.until
            && let Some(fault) = self.fault.take()
        {
            stop(FaultKind::Offline, fault, targets, history, failover).await;
        }
    }

    fn next_event(&self, now: Instant) -> Option<Instant> {
        [self.from, self.until].into_iter().find(|t| *t > now)
    }
}
