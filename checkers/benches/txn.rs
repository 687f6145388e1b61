//! Criterion benchmark of the transactional (Elle-style) check on a
//! synthetic 20k-transaction history (`cargo bench -p diverge-checkers
//! --bench txn`): three replicas that each run transactions on their own
//! lists and learn the others' appends a few transactions late, as the
//! naive example node does, so the graph has many cycles and the version
//! orders disagree.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use diverge_checkers::{Op, OpType, Process, Workload, check};
use serde_json::{Value, json};

const TXNS: usize = 20_000;
/// Keys retire after this many transactions (as `--ops-per-key` does).
const PER_KEY_GENERATION: usize = 400;

fn history() -> Vec<Op> {
    let mut replicas: Vec<Vec<Vec<i64>>> = vec![Vec::new(); 3];
    let mut in_flight: Vec<(usize, usize, usize, i64)> = Vec::new(); // (due, replica, key, value)
    let mut seed = 42u64;
    let mut rand = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut ops = Vec::with_capacity(2 * TXNS);
    for i in 0..TXNS {
        for &(_, r, k, v) in in_flight.iter().filter(|m| m.0 <= i) {
            replicas[r][k].push(v);
        }
        in_flight.retain(|m| m.0 > i);
        let r = rand(3) as usize;
        let base = i / PER_KEY_GENERATION * 8;
        let (mut sent, mut done) = (Vec::new(), Vec::new());
        for _ in 0..1 + rand(4) {
            let k = base + rand(8) as usize;
            for replica in replicas.iter_mut() {
                replica.resize(replica.len().max(k + 1), Vec::new());
            }
            if rand(2) == 0 {
                sent.push(json!(["r", k, null]));
                done.push(json!(["r", k, replicas[r][k]]));
            } else {
                let v = (ops.len() + 1) as i64;
                replicas[r][k].push(v);
                for other in (0..3).filter(|&o| o != r) {
                    in_flight.push((i + 1 + rand(6) as usize, other, k, v));
                }
                sent.push(json!(["append", k, v]));
                done.push(json!(["append", k, v]));
            }
        }
        for (kind, value) in [(OpType::Invoke, sent), (OpType::Ok, done)] {
            ops.push(Op {
                index: ops.len() as u64,
                time: ops.len() as u64,
                process: Process::Client(i as u64 % 20),
                kind,
                f: "txn".into(),
                key: Some("txn".into()),
                value: Value::Array(value),
                node: Some(format!("n{r}")),
                error: None,
            });
        }
    }
    ops
}

fn bench(c: &mut Criterion) {
    let ops = history();
    let mut group = c.benchmark_group("txn-list-append");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TXNS as u64));
    group.bench_function("check", |b| {
        b.iter(|| black_box(check(&ops, Workload::TxnListAppend)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
