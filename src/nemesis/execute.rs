//! The nemesis executor: walks a [`Plan`] in time, applies each action to
//! the system's [`FaultTargets`] and records it as a nemesis op
//! (`start-<kind>` / `stop-<kind>` / `heal`, invoked then completed).
//!
//! A fault the system refused is recorded as refused (`fail`, with the
//! node's answer), never as applied, and its window is not undone later;
//! one applied to some nodes only says which (`refused` in the value).

use std::collections::BTreeMap;
use std::time::Duration;

use diverge_checkers::Process;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::plan::{Action, Fault, Plan};
use super::targets::{ClockFaults, CutMode, FaultTargets};
use crate::domain::Named;
use crate::history::HistoryHandle;

/// Told which nodes faults take away and give back (home failover).
pub trait FaultObserver: Send + Sync {
    fn faulted(&self, nodes: &[usize], faulted: bool, history: &HistoryHandle);
}

/// How often a strobing clock jumps.
const STROBE_EVERY: Duration = Duration::from_millis(20);

/// A window in effect.
struct Active {
    fault: Fault,
    strobe: Option<JoinHandle<()>>,
}

/// Run `plan` from now: each step at its time since this call.
pub async fn run(
    plan: &Plan,
    targets: &FaultTargets,
    history: &HistoryHandle,
    observer: Option<&dyn FaultObserver>,
) {
    let start = tokio::time::Instant::now();
    let mut executor = Executor {
        targets,
        history,
        observer,
        active: BTreeMap::new(),
    };
    for step in &plan.steps {
        tokio::time::sleep_until(start + step.at).await;
        match &step.action {
            Action::Start { window, fault } => executor.start(*window, fault).await,
            Action::Stop { window } => executor.stop(*window).await,
            Action::Heal => executor.heal().await,
        }
    }
}

/// `--down`: kill `nodes` before the workload and keep them down, recorded
/// as a `start-down` window that never ends.
pub async fn hold_down(nodes: &[usize], targets: &FaultTargets, history: &HistoryHandle) {
    let op = history
        .op(Process::Nemesis, "start-down")
        .invoke(Value::Null);
    let Some(processes) = &targets.processes else {
        op.fail(Value::Null, "the system cannot stop its nodes");
        return;
    };
    let mut refused = Vec::new();
    for &i in nodes {
        if let Err(e) = processes.hold_down(i).await {
            refused.push(format!("{}: {e}", targets.ids[i]));
        }
    }
    match refused.is_empty() {
        true => op.ok(json!(names(targets, nodes))),
        false => op.fail(Value::Null, refused.join("; ")),
    }
}

struct Executor<'a> {
    targets: &'a FaultTargets,
    history: &'a HistoryHandle,
    observer: Option<&'a dyn FaultObserver>,
    active: BTreeMap<usize, Active>,
}

/// What applying a fault did: the value to record, or why it did not happen.
type Applied = Result<(Value, Option<JoinHandle<()>>), String>;

impl Executor<'_> {
    async fn start(&mut self, window: usize, fault: &Fault) {
        let f = format!("start-{}", fault.kind().name());
        let op = self.history.op(Process::Nemesis, f).invoke(Value::Null);
        match self.apply(fault).await {
            Ok((value, strobe)) => {
                op.ok(value);
                if let Some(observer) = self.observer {
                    observer.faulted(&fault.faulted_nodes(), true, self.history);
                }
                let fault = fault.clone();
                self.active.insert(window, Active { fault, strobe });
            }
            Err(refused) => op.fail(Value::Null, refused),
        }
    }

    async fn stop(&mut self, window: usize) {
        // A window whose start was refused has nothing to undo.
        let Some(active) = self.active.remove(&window) else {
            return;
        };
        let f = format!("stop-{}", active.fault.kind().name());
        let op = self.history.op(Process::Nemesis, f).invoke(Value::Null);
        if let Some(strobe) = active.strobe {
            strobe.abort();
            let _ = strobe.await;
        }
        let (value, problem) = self.undo(&active.fault).await;
        match problem {
            None => op.ok(value),
            Some(problem) => op.info(value, problem),
        }
        // Back at once, before a recovered node has caught up.
        if let Some(observer) = self.observer {
            observer.faulted(&active.fault.faulted_nodes(), false, self.history);
        }
    }

    async fn heal(&mut self) {
        let op = self
            .history
            .op(Process::Nemesis, "heal")
            .invoke(Value::Null);
        for (_, active) in std::mem::take(&mut self.active) {
            if let Some(strobe) = active.strobe {
                strobe.abort();
            }
        }
        let t = self.targets;
        if let Some(links) = &t.links {
            links.heal_all();
        }
        if let Some(messages) = &t.messages {
            messages.reorder(0);
            messages.duplicate(0.0, 0.0);
        }
        if let Some(processes) = &t.processes {
            processes.recover_all().await;
        }
        if t.isolation.is_some() {
            let all: Vec<usize> = (0..t.ids.len()).collect();
            let _ = self.isolate(&all, false).await;
        }
        if let Some(clock) = &t.clock {
            for i in 0..t.ids.len() {
                // A node that never took an offset may refuse the reset too.
                let _ = clock.set_offset(i, 0).await;
            }
        }
        op.ok(Value::Null);
    }

    async fn apply(&self, fault: &Fault) -> Applied {
        let t = self.targets;
        let missing = || format!("the system cannot suffer {}", fault.kind().name());
        match fault {
            Fault::Partition { shape, hold, cut } => {
                let links = t.links.as_ref().ok_or_else(missing)?;
                let mode = if *hold { CutMode::Hold } else { CutMode::Drop };
                for &(a, b) in cut {
                    links.cut(&t.ids[a], &t.ids[b], mode, true);
                }
                let value = json!({
                    "shape": shape.name(),
                    "mode": if *hold { "hold" } else { "drop" },
                    "cut": self.link_names(cut),
                });
                Ok((value, None))
            }
            Fault::Offline { node } => {
                let links = t.links.as_ref().ok_or_else(missing)?;
                for (a, b) in self.isolation(*node) {
                    links.cut(a, b, CutMode::Drop, true);
                }
                Ok((json!(names(t, &[*node])), None))
            }
            Fault::Isolate { nodes } => {
                t.isolation.as_ref().ok_or_else(missing)?;
                let (taken, refused) = self.isolate(nodes, true).await;
                if taken.is_empty() {
                    return Err(refusals(&refused));
                }
                let mut value = json!(names(t, &taken));
                if !refused.is_empty() {
                    value = json!({ "nodes": value, "refused": refused });
                }
                Ok((value, None))
            }
            Fault::Crash { nodes } => {
                let processes = t.processes.as_ref().ok_or_else(missing)?;
                for &i in nodes {
                    processes.kill(i).await;
                }
                Ok((json!(names(t, nodes)), None))
            }
            Fault::Pause { nodes } => {
                let processes = t.processes.as_ref().ok_or_else(missing)?;
                for &i in nodes {
                    processes.pause(i).await;
                }
                Ok((json!(names(t, nodes)), None))
            }
            Fault::ClockOffsets { offsets } => {
                let clock = t.clock.as_ref().ok_or_else(missing)?;
                self.shift_clocks(clock.as_ref(), offsets).await
            }
            Fault::ClockStrobe { nodes, skew_ms } => {
                let clock = t.clock.as_ref().ok_or_else(missing)?;
                self.strobe(clock, nodes, *skew_ms).await
            }
            Fault::Reorder { max_ms } => {
                let messages = t.messages.as_ref().ok_or_else(missing)?;
                messages.reorder(*max_ms);
                Ok((json!({ "reorder_ms": max_ms }), None))
            }
            Fault::Duplicate { fraction, loss } => {
                let messages = t.messages.as_ref().ok_or_else(missing)?;
                messages.duplicate(*fraction, *loss);
                Ok((json!({ "duplicate": fraction, "loss": loss }), None))
            }
        }
    }

    /// Isolate `nodes` (`on`) or let them rejoin: those that did, and the
    /// answers of those that refused.
    async fn isolate(
        &self,
        nodes: &[usize],
        on: bool,
    ) -> (Vec<usize>, serde_json::Map<String, Value>) {
        let t = self.targets;
        let (mut taken, mut refused) = (Vec::new(), serde_json::Map::new());
        let Some(isolation) = &t.isolation else {
            return (taken, refused);
        };
        for &i in nodes {
            match isolation.isolate(i, on).await {
                Ok(()) => taken.push(i),
                Err(e) => {
                    refused.insert(t.ids[i].clone(), json!(e));
                }
            }
        }
        (taken, refused)
    }

    /// Shift each node's clock; the value lists the offsets applied and,
    /// if any node refused, its answer.
    async fn shift_clocks(&self, clock: &dyn ClockFaults, offsets: &[(usize, i64)]) -> Applied {
        let ids = &self.targets.ids;
        let mut applied = serde_json::Map::new();
        let mut refused = serde_json::Map::new();
        for &(i, offset) in offsets {
            match clock.set_offset(i, offset).await {
                Ok(()) => applied.insert(ids[i].clone(), json!(offset)),
                Err(e) => refused.insert(ids[i].clone(), json!(e)),
            };
        }
        if applied.is_empty() {
            return Err(refusals(&refused));
        }
        let mut value = json!({ "offsets_ms": applied });
        if !refused.is_empty() {
            value["refused"] = Value::Object(refused);
        }
        Ok((value, None))
    }

    /// Jump the clocks of `nodes` ahead and back by `skew_ms` until
    /// stopped; refused when the first jump is refused everywhere.
    async fn strobe(
        &self,
        clock: &std::sync::Arc<dyn ClockFaults>,
        nodes: &[usize],
        skew_ms: i64,
    ) -> Applied {
        let ids = &self.targets.ids;
        let mut taken = Vec::new();
        let mut refused = serde_json::Map::new();
        for &i in nodes {
            match clock.set_offset(i, skew_ms).await {
                Ok(()) => taken.push(i),
                Err(e) => {
                    refused.insert(ids[i].clone(), json!(e));
                }
            }
        }
        if taken.is_empty() {
            return Err(refusals(&refused));
        }
        let mut value = json!({ "strobe_ms": skew_ms, "nodes": names(self.targets, &taken) });
        if !refused.is_empty() {
            value["refused"] = Value::Object(refused);
        }
        let (clock, strobed) = (clock.clone(), taken);
        let task = tokio::spawn(async move {
            let mut ahead = false;
            loop {
                tokio::time::sleep(STROBE_EVERY).await;
                for &i in &strobed {
                    let offset = if ahead { skew_ms } else { -skew_ms };
                    let _ = clock.set_offset(i, offset).await;
                }
                ahead = !ahead;
            }
        });
        Ok((value, Some(task)))
    }

    /// Undo `fault`: the value to record, and a problem if it could not be
    /// fully undone (a node that did not come back).
    async fn undo(&self, fault: &Fault) -> (Value, Option<String>) {
        let t = self.targets;
        match fault {
            Fault::Partition { hold, cut, .. } => {
                let mode = if *hold { CutMode::Hold } else { CutMode::Drop };
                if let Some(links) = &t.links {
                    for &(a, b) in cut {
                        links.cut(&t.ids[a], &t.ids[b], mode, false);
                    }
                }
                (json!(self.link_names(cut)), None)
            }
            Fault::Offline { node } => {
                if let Some(links) = &t.links {
                    for (a, b) in self.isolation(*node) {
                        links.cut(a, b, CutMode::Drop, false);
                    }
                }
                (json!(names(t, &[*node])), None)
            }
            Fault::Isolate { nodes } => {
                let (_, refused) = self.isolate(nodes, false).await;
                let problem = (!refused.is_empty()).then(|| {
                    let answers: Vec<String> = refused
                        .iter()
                        .map(|(node, why)| format!("{node}: {why}"))
                        .collect();
                    format!("did not rejoin: {}", answers.join("; "))
                });
                (json!(names(t, nodes)), problem)
            }
            Fault::Crash { nodes } => {
                let mut problems = Vec::new();
                if let Some(processes) = &t.processes {
                    for &i in nodes {
                        if let Err(e) = processes.restart(i).await {
                            tracing::error!("restarting {}: {e}", t.ids[i]);
                            problems.push(format!("{} did not restart: {e}", t.ids[i]));
                        }
                    }
                }
                let problem = (!problems.is_empty()).then(|| problems.join("; "));
                (json!(names(t, nodes)), problem)
            }
            Fault::Pause { nodes } => {
                if let Some(processes) = &t.processes {
                    for &i in nodes {
                        processes.resume(i).await;
                    }
                }
                (json!(names(t, nodes)), None)
            }
            Fault::ClockOffsets { offsets } => {
                let nodes: Vec<usize> = offsets.iter().map(|&(i, _)| i).collect();
                self.reset_clocks(&nodes).await
            }
            Fault::ClockStrobe { nodes, .. } => self.reset_clocks(nodes).await,
            Fault::Reorder { .. } => {
                if let Some(messages) = &t.messages {
                    messages.reorder(0);
                }
                (Value::Null, None)
            }
            Fault::Duplicate { .. } => {
                if let Some(messages) = &t.messages {
                    messages.duplicate(0.0, 0.0);
                }
                (Value::Null, None)
            }
        }
    }

    async fn reset_clocks(&self, nodes: &[usize]) -> (Value, Option<String>) {
        if let Some(clock) = &self.targets.clock {
            for &i in nodes {
                let _ = clock.set_offset(i, 0).await;
            }
        }
        (json!(names(self.targets, nodes)), None)
    }

    /// Every link to and from `node`.
    fn isolation(&self, node: usize) -> Vec<(&str, &str)> {
        let ids = &self.targets.ids;
        let me = ids[node].as_str();
        ids.iter()
            .filter(|other| other.as_str() != me)
            .flat_map(|other| [(me, other.as_str()), (other.as_str(), me)])
            .collect()
    }

    fn link_names(&self, cut: &[(usize, usize)]) -> Vec<String> {
        let ids = &self.targets.ids;
        cut.iter()
            .map(|&(a, b)| format!("{}->{}", ids[a], ids[b]))
            .collect()
    }
}

fn names(targets: &FaultTargets, nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|&i| targets.ids[i].clone()).collect()
}

fn refusals(refused: &serde_json::Map<String, Value>) -> String {
    let answers: Vec<String> = refused
        .iter()
        .map(|(node, why)| format!("{node}: {}", why.as_str().unwrap_or_default()))
        .collect();
    format!("refused by every node: {}", answers.join("; "))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::history::{Recorder, SinceStart};
    use crate::nemesis::plan::Step;

    /// Clocks that node `refuses` will not shift; every call is logged.
    struct Clocks {
        refuses: Vec<usize>,
        calls: Mutex<Vec<(usize, i64)>>,
    }

    #[async_trait::async_trait]
    impl ClockFaults for Clocks {
        async fn set_offset(&self, i: usize, offset_ms: i64) -> Result<(), String> {
            self.calls.lock().unwrap().push((i, offset_ms));
            match self.refuses.contains(&i) {
                true => Err("HTTP 400: beyond a year".into()),
                false => Ok(()),
            }
        }
    }

    fn targets(refuses: &[usize]) -> (FaultTargets, Arc<Clocks>) {
        let clocks = Arc::new(Clocks {
            refuses: refuses.to_vec(),
            calls: Mutex::new(Vec::new()),
        });
        let ids = ["n1", "n2", "n3"].map(String::from).to_vec();
        let targets = FaultTargets {
            clock: Some(clocks.clone()),
            ..FaultTargets::new(ids)
        };
        (targets, clocks)
    }

    fn clock_plan(offsets: Vec<(usize, i64)>) -> Plan {
        let at = |ms| Duration::from_millis(ms);
        Plan {
            steps: vec![
                Step {
                    at: at(1),
                    action: Action::Start {
                        window: 0,
                        fault: Fault::ClockOffsets { offsets },
                    },
                },
                Step {
                    at: at(2),
                    action: Action::Stop { window: 0 },
                },
            ],
        }
    }

    /// Run `plan` and return the history's (type, f, value, error) lines.
    async fn recorded(plan: &Plan, targets: &FaultTargets) -> Vec<(String, String, Value, Value)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let recorder = Recorder::create(&path, Arc::new(SinceStart::now())).unwrap();
        run(plan, targets, &recorder.handle(), None).await;
        recorder.finish().unwrap();
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| {
                let op: Value = serde_json::from_str(l).unwrap();
                let text = |f: &str| op[f].as_str().unwrap_or_default().to_string();
                (
                    text("type"),
                    text("f"),
                    op["value"].clone(),
                    op["error"].clone(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_clock_fault_every_node_refused_is_recorded_as_refused_and_never_undone() {
        let (targets, clocks) = targets(&[0, 1]);
        let ops = recorded(&clock_plan(vec![(0, 5), (1, -5)]), &targets).await;
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(
            (ops[1].0.as_str(), ops[1].1.as_str()),
            ("fail", "start-clock")
        );
        let error = ops[1].3.as_str().unwrap();
        assert!(
            error.contains("n1: HTTP 400") && error.contains("n2: HTTP 400"),
            "{error}"
        );
        // No stop-clock: nothing was applied, so nothing is reset.
        assert_eq!(clocks.calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_clock_fault_some_nodes_refused_names_them_and_applies_the_rest() {
        let (targets, clocks) = targets(&[1]);
        let ops = recorded(&clock_plan(vec![(0, 5), (1, -5)]), &targets).await;
        let kinds: Vec<(&str, &str)> = ops.iter().map(|o| (o.0.as_str(), o.1.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("invoke", "start-clock"),
                ("ok", "start-clock"),
                ("invoke", "stop-clock"),
                ("ok", "stop-clock")
            ]
        );
        assert_eq!(ops[1].2["offsets_ms"], serde_json::json!({"n1": 5}));
        assert_eq!(ops[1].2["refused"]["n2"], "HTTP 400: beyond a year");
        assert_eq!(
            *clocks.calls.lock().unwrap(),
            [(0, 5), (1, -5), (0, 0), (1, 0)]
        );
    }

    #[tokio::test]
    async fn a_fault_the_system_cannot_suffer_is_refused_not_substituted() {
        let (targets, _) = targets(&[]);
        let plan = Plan {
            steps: vec![Step {
                at: Duration::ZERO,
                action: Action::Start {
                    window: 0,
                    fault: Fault::Crash { nodes: vec![0] },
                },
            }],
        };
        let ops = recorded(&plan, &targets).await;
        assert_eq!(
            (ops[1].0.as_str(), ops[1].1.as_str()),
            ("fail", "start-crash")
        );
        assert_eq!(ops[1].3, "the system cannot suffer crash");
    }

    /// Nodes that refuse isolation when in `refuses`; every call is logged.
    struct Isolation {
        refuses: Vec<usize>,
        calls: Mutex<Vec<(usize, bool)>>,
    }

    #[async_trait::async_trait]
    impl crate::nemesis::IsolationFaults for Isolation {
        async fn isolate(&self, i: usize, on: bool) -> Result<(), String> {
            self.calls.lock().unwrap().push((i, on));
            match self.refuses.contains(&i) {
                true => Err("error 1227: access denied".into()),
                false => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn isolation_records_who_refused_and_is_undone_for_every_node() {
        let isolation = Arc::new(Isolation {
            refuses: vec![2],
            calls: Mutex::new(Vec::new()),
        });
        let ids = ["n1", "n2", "n3"].map(String::from).to_vec();
        let targets = FaultTargets {
            isolation: Some(isolation.clone()),
            ..FaultTargets::new(ids)
        };
        let at = |ms| Duration::from_millis(ms);
        let plan = Plan {
            steps: vec![
                Step {
                    at: at(1),
                    action: Action::Start {
                        window: 0,
                        fault: Fault::Isolate { nodes: vec![0, 2] },
                    },
                },
                Step {
                    at: at(2),
                    action: Action::Stop { window: 0 },
                },
            ],
        };
        let ops = recorded(&plan, &targets).await;
        let started = ops
            .iter()
            .find(|(t, f, _, _)| t == "ok" && f == "start-isolate")
            .expect("the isolation took effect on n1");
        assert_eq!(started.2["nodes"], serde_json::json!(["n1"]));
        assert!(
            started.2["refused"]["n3"]
                .as_str()
                .unwrap()
                .contains("1227")
        );
        let stopped = ops
            .iter()
            .find(|(t, f, _, _)| t != "invoke" && f == "stop-isolate")
            .expect("stopped");
        assert_eq!(stopped.0, "info", "n3 refused to rejoin: {stopped:?}");
        let calls = isolation.calls.lock().unwrap().clone();
        assert_eq!(calls, vec![(0, true), (2, true), (0, false), (2, false)]);

        // Refused by every node: recorded as refused, never undone.
        let everyone = Arc::new(Isolation {
            refuses: vec![0, 1, 2],
            calls: Mutex::new(Vec::new()),
        });
        let targets = FaultTargets {
            isolation: Some(everyone.clone()),
            ..FaultTargets::new(["n1", "n2", "n3"].map(String::from).to_vec())
        };
        let ops = recorded(&plan, &targets).await;
        assert!(
            ops.iter()
                .any(|(t, f, _, _)| t == "fail" && f == "start-isolate"),
            "{ops:?}"
        );
        assert!(
            !ops.iter().any(|(_, f, _, _)| f == "stop-isolate"),
            "{ops:?}"
        );
        assert_eq!(everyone.calls.lock().unwrap().len(), 2);
    }
}
