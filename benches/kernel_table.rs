//! Plain timing loop behind `scripts/bench_kernel.sh`: prints one CSV line per (d, solver) with
//! the median time per task over several rounds. criterion's report is awkward to join with the
//! numpy numbers, so the side-by-side table uses this instead.
//!
//! Usage: `cargo bench --bench kernel_table -- [--dims 50,100] [--kinds hqr,faer,auto]
//! [--rounds 7] [--header]`

use std::hint::black_box;
use std::time::Instant;

use cluster_bench::kernel::{KernelKind, Solver};
use cluster_bench::workload;

/// Distinct matrices cycled through per size, so one lucky matrix does not decide the time.
const MATRICES: usize = 8;

fn parse_kind(s: &str) -> KernelKind {
    match s {
        "auto" => KernelKind::Auto,
        "hqr" => KernelKind::Hqr,
        "faer" => KernelKind::Faer,
        "nalgebra" => KernelKind::Nalgebra,
        other => panic!("unknown kernel kind {other:?}"),
    }
}

/// Tasks per round: about 0.2 s of work per round at the typical ~d³/1.5 ns speed, at least 3.
fn tasks_per_round(d: usize) -> usize {
    let est_ns = (d as f64).powi(3) / 1.5;
    ((2e8 / est_ns) as usize).clamp(3, 400)
}

fn main() {
    let mut dims = vec![50, 100, 120, 200, 400, 800];
    let mut kinds = vec!["hqr", "faer", "auto"];
    let mut rounds = 7usize;
    let mut header = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dims" => {
                let v = it.next().expect("--dims needs a value");
                dims = v.split(',').map(|x| x.parse().expect("bad dim")).collect();
            }
            "--kinds" => {
                let v = it.next().expect("--kinds needs a value");
                kinds = v
                    .split(',')
                    .map(|s| Box::leak(s.to_owned().into_boxed_str()) as &str)
                    .collect();
            }
            "--rounds" => {
                rounds = it
                    .next()
                    .expect("--rounds needs a value")
                    .parse()
                    .expect("bad rounds")
            }
            "--header" => header = true,
            // cargo bench passes --bench to every bench binary; nothing to do with it.
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    if header {
        println!("d,kind,median_ns,min_ns,tasks_per_round,rounds");
    }
    for &d in &dims {
        let mats: Vec<_> = (0..MATRICES as u64)
            .map(|t| workload::matrix(42, t, d))
            .collect();
        let per_round = tasks_per_round(d);
        for &k in &kinds {
            let mut solver = Solver::new(parse_kind(k));
            // Warm-up: sizes the scratch and faults in the pages.
            for m in mats.iter().take(if d >= 400 { 1 } else { 2 }) {
                black_box(solver.eigenvalues(m).expect("solver failed"));
            }
            let mut times: Vec<f64> = (0..rounds)
                .map(|_| {
                    let t0 = Instant::now();
                    for t in 0..per_round {
                        black_box(
                            solver
                                .eigenvalues(black_box(&mats[t % MATRICES]))
                                .expect("solver failed"),
                        );
                    }
                    t0.elapsed().as_nanos() as f64 / per_round as f64
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "{d},{k},{:.0},{:.0},{per_round},{rounds}",
                times[times.len() / 2],
                times[0]
            );
        }
    }
}
