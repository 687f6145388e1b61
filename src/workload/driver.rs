//! The client processes: each draws ops from its own seeded generator, routes
//! them to a node, executes them, and records invocation and completion.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diverge_checkers::{OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::client::NodeClient;
use super::{
    Completion, Invocation, causal, claims, counter, insert_update, list_append, register, set,
};
use crate::cli::{Routing, WorkloadName};
use crate::history::HistoryHandle;
use crate::seeds::sub_seed;

/// What the clients run.
#[derive(Clone)]
pub struct ClientPlan {
    pub workload: WorkloadName,
    pub seed: u64,
    pub concurrency: usize,
    pub keys: Vec<String>,
    pub routing: Routing,
    /// Ops per second over all clients; `None` = unlimited.
    pub rate: Option<f64>,
    pub time_limit: Duration,
    /// `--on-read`: the script the `set` and `register` clients resolve
    /// siblings with.
    pub on_read: Option<Arc<super::on_read::OnRead>>,
    /// `--followers`: by leader index (the index into the clients' nodes),
    /// the read-only followers a plain read may go to instead.
    pub followers: Vec<Vec<NodeClient>>,
}

/// Totals of what the clients did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientTotals {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Every key an op was invoked on (names are made up as the
    /// constraint workload goes), for the final reads.
    pub keys: BTreeSet<String>,
}

/// Run every client process until the time limit; each finishes the op it
/// has in flight (bounded by the op timeout) before returning.
pub async fn run_clients(
    plan: ClientPlan,
    nodes: Vec<NodeClient>,
    history: HistoryHandle,
) -> ClientTotals {
    let plan = Arc::new(plan);
    let nodes = Arc::new(nodes);
    let deadline = Instant::now() + plan.time_limit;
    let mut tasks = Vec::with_capacity(plan.concurrency);
    for index in 0..plan.concurrency {
        let (plan, nodes, history) = (plan.clone(), nodes.clone(), history.clone());
        tasks.push(tokio::spawn(async move {
            client_process(index, &plan, &nodes, &history, deadline).await
        }));
    }
    let mut totals = ClientTotals::default();
    for task in tasks {
        if let Ok(t) = task.await {
            totals.ok += t.ok;
            totals.fail += t.fail;
            totals.info += t.info;
            totals.keys.extend(t.keys);
        }
    }
    totals
}

async fn client_process(
    index: usize,
    plan: &ClientPlan,
    nodes: &[NodeClient],
    history: &HistoryHandle,
    deadline: Instant,
) -> ClientTotals {
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(plan.seed, "client", index as u64));
    let mut totals = ClientTotals::default();
    // A process that saw an indeterminate outcome is retired and replaced by
    // a new process id (Jepsen's convention): its op may still be pending.
    let mut process = index as u64;
    let mut serial = 0u64;
    // Unique across the test: every process has its own residue class.
    let mut unique = move || {
        serial += 1;
        (serial - 1) * plan.concurrency as u64 + index as u64 + 1
    };
    let period = plan
        .rate
        .map(|rate| Duration::from_secs_f64(plan.concurrency as f64 / rate));
    // Spread the clients' first ops over one period so they do not move in lockstep.
    let mut next_start =
        Instant::now() + period.map_or(Duration::ZERO, |p| p.mul_f64(rng.random::<f64>()));
    // Ops queued by a multi-op step (causal chains), sent to the same node.
    let mut pending: VecDeque<Invocation> = VecDeque::new();
    let mut node = &nodes[0];
    loop {
        if let Some(period) = period {
            let now = Instant::now();
            if next_start > now {
                tokio::time::sleep(next_start - now).await;
            }
            next_start = next_start.max(now) + period;
        }
        if Instant::now() >= deadline {
            break;
        }
        let (op, queued) = match pending.pop_front() {
            Some(op) => {
                // An update goes to any node, so it can race its insert.
                if (plan.workload, plan.routing) == (WorkloadName::InsertUpdate, Routing::Random) {
                    node = &nodes[rng.random_range(0..nodes.len())];
                }
                (op, true)
            }
            None => {
                let key_index = rng.random_range(0..plan.keys.len());
                let key = plan.keys[key_index].clone();
                let mut steps = match plan.workload {
                    WorkloadName::Set => vec![set::next(&mut rng, key, unique())],
                    WorkloadName::Register => vec![register::next(&mut rng, key, unique())],
                    WorkloadName::Counter => vec![counter::next(&mut rng, key)],
                    WorkloadName::ListAppend => vec![list_append::next(&mut rng, key, unique())],
                    WorkloadName::UniqueIds => vec![claims::next_generate()],
                    WorkloadName::Constraint => {
                        // Every few rounds of the clients a fresh name, so
                        // that claims race for it on several leaders.
                        let claimant = unique();
                        let round = (claimant - 1) / (2 * plan.concurrency as u64);
                        vec![claims::next_claim(format!("name-{round}"), claimant)]
                    }
                    WorkloadName::Causal => causal::next_steps(
                        &mut rng,
                        &plan.keys,
                        index,
                        plan.concurrency,
                        &mut unique,
                    ),
                    WorkloadName::InsertUpdate => insert_update::next_steps(&mut unique),
                }
                .into_iter();
                let first = steps.next().expect("a step has an op");
                pending.extend(steps);
                let home = plan
                    .keys
                    .iter()
                    .position(|k| *k == first.key)
                    .unwrap_or(index);
                let leader = match (plan.workload, plan.routing) {
                    // Causal sessions stay on one node, so what a session
                    // sees is what its node delivered (and in what order).
                    (WorkloadName::Causal, _) => index % nodes.len(),
                    (_, Routing::Random) => rng.random_range(0..nodes.len()),
                    (_, Routing::Home) => home % nodes.len(),
                };
                node = reader(plan, &first, leader, &mut rng).unwrap_or(&nodes[leader]);
                (first, false)
            }
        };
        if !totals.keys.contains(&op.key) {
            totals.keys.insert(op.key.clone());
        }
        let step = Step {
            op: &op,
            queued,
            on_read: plan.on_read.as_deref(),
        };
        let (completion, saw_value) =
            invoke(plan.workload, node, step, Process::Client(process), history).await;
        // A write that follows a read goes out only if the read saw a value.
        if saw_value && let Some(next) = op.then {
            pending.push_front(*next);
        }
        match completion {
            OpType::Ok => totals.ok += 1,
            OpType::Fail => totals.fail += 1,
            _ => {
                totals.info += 1;
                process += plan.concurrency as u64;
            }
        }
    }
    totals
}

/// A follower of `leader` to send `op` to instead, or `None` for the
/// leader: a plain read (no write follows it) of a workload whose sessions
/// are not pinned goes to the leader or one of its followers, evenly. No
/// random draw without followers, so runs without them replay unchanged.
fn reader<'a>(
    plan: &'a ClientPlan,
    op: &Invocation,
    leader: usize,
    rng: &mut impl Rng,
) -> Option<&'a NodeClient> {
    let followers = plan.followers.get(leader).filter(|f| !f.is_empty())?;
    let spreads = matches!(
        plan.workload,
        WorkloadName::Set
            | WorkloadName::Register
            | WorkloadName::Counter
            | WorkloadName::ListAppend
    );
    if !spreads || op.f != "read" || op.then.is_some() {
        return None;
    }
    match rng.random_range(0..=followers.len()) {
        0 => None,
        f => Some(&followers[f - 1]),
    }
}

/// One op to execute and how.
struct Step<'a> {
    op: &'a Invocation,
    /// The op is a later op of a multi-op step.
    queued: bool,
    on_read: Option<&'a super::on_read::OnRead>,
}

/// Record the invocation, execute the op, record the completion. Returns
/// the outcome and whether it was `ok` with at least one value.
async fn invoke(
    workload: WorkloadName,
    node: &NodeClient,
    step: Step<'_>,
    process: Process,
    history: &HistoryHandle,
) -> (OpType, bool) {
    let Step {
        op,
        queued,
        on_read,
    } = step;
    // Under home failover the op is recorded at, and sent to, the node
    // serving its key now (not the key's home).
    let node = &*node.pinned();
    let invoke_value = if op.value.is_null() {
        Value::Null
    } else {
        op.value.clone()
    };
    history.record(
        process,
        OpType::Invoke,
        op.f,
        Some(&op.key),
        invoke_value,
        Some(&node.id),
        None,
    );
    let done: Completion = match workload {
        WorkloadName::Set => set::execute(node, op, on_read).await,
        WorkloadName::Register => register::execute(node, op, on_read).await,
        WorkloadName::Causal => register::execute(node, op, None).await,
        WorkloadName::Counter => counter::execute(node, op).await,
        WorkloadName::ListAppend => list_append::execute(node, op).await,
        WorkloadName::UniqueIds | WorkloadName::Constraint => claims::execute(node, op).await,
        WorkloadName::InsertUpdate => insert_update::execute(node, op, queued).await,
    };
    let saw_value = done.kind == OpType::Ok && done.value.as_array().is_some_and(|a| !a.is_empty());
    history.record(
        process,
        done.kind,
        op.f,
        Some(&op.key),
        done.value,
        Some(&node.id),
        done.error,
    );
    (done.kind, saw_value)
}
