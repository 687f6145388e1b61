//! Criterion benchmarks of the end-to-end check (parse + check) and of the
//! check alone, on synthetic 100k-line histories (`cargo bench -p
//! diverge-checkers`). For the 1M / 10M-op numbers see
//! `examples/check_timing.rs`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use diverge_checkers::synth::{SynthSpec, synth_file};
use diverge_checkers::{CheckOptions, Workload, check_file, check_hist, read_hist};

const OPS: usize = 100_000;

fn history_file(workload: Workload) -> PathBuf {
    let path = std::env::temp_dir().join(format!("diverge-bench-{workload}-{OPS}.jsonl"));
    if !path.exists() {
        synth_file(&SynthSpec::new(workload, OPS, 42), &path).unwrap();
    }
    path
}

fn bench(c: &mut Criterion) {
    for workload in [
        Workload::Register,
        Workload::Set,
        Workload::ListAppend,
        Workload::Causal,
    ] {
        let path = history_file(workload);
        let opts = CheckOptions::new(workload);
        let mut group = c.benchmark_group(workload.name());
        group.sample_size(10);
        group.throughput(Throughput::Elements(OPS as u64));
        group.bench_function("parse+check", |b| {
            b.iter(|| black_box(check_file(&path, &opts).unwrap()))
        });
        let (hist, _) = read_hist(&path).unwrap();
        group.bench_function("check", |b| b.iter(|| black_box(check_hist(&hist, &opts))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
