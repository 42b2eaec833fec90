//! criterion benchmark of one task's eigenvalues, per solver and size, on the workload's own
//! matrices. Inputs are generated (and each solver's scratch sized) outside the timed closure.
//!
//! Measurement time is kept modest for a 2-core machine: the whole run takes a few minutes.
//! nalgebra is skipped at d ≥ 400, where one call takes seconds and it is never the choice.
//! For the side-by-side table with numpy, see `scripts/study/bench_kernel.sh`.

use std::hint::black_box;
use std::time::Duration;

use cluster_bench::kernel::{KernelKind, Solver};
use cluster_bench::workload;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

const DIMS: [usize; 6] = [50, 100, 120, 200, 400, 800];
/// Distinct matrices cycled through, so one easy or hard matrix does not decide the time.
const MATRICES: u64 = 4;

fn eigenvalues(c: &mut Criterion) {
    let kinds = [
        ("hqr", KernelKind::Hqr),
        ("faer", KernelKind::Faer),
        ("nalgebra", KernelKind::Nalgebra),
        ("auto", KernelKind::Auto),
    ];
    for d in DIMS {
        let mats: Vec<_> = (0..MATRICES).map(|t| workload::matrix(42, t, d)).collect();
        let mut group = c.benchmark_group(format!("eigenvalues/d{d}"));
        if d >= 200 {
            // Milliseconds to a second per call: few, flat samples are plenty.
            group
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(if d >= 800 { 8 } else { 4 }));
        } else {
            group
                .sample_size(20)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
        }
        for (name, kind) in kinds {
            if kind == KernelKind::Nalgebra && d >= 400 {
                continue;
            }
            let mut solver = Solver::with_dim(kind, d);
            solver.eigenvalues(&mats[0]).expect("warm-up failed");
            let mut next = 0usize;
            group.bench_function(BenchmarkId::new(name, d), |b| {
                b.iter(|| {
                    next = (next + 1) % mats.len();
                    black_box(
                        solver
                            .eigenvalues(black_box(&mats[next]))
                            .expect("solver failed"),
                    )
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, eigenvalues);
criterion_main!(benches);
