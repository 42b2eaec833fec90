//! Plain timing loop behind `scripts/study/bench_kernel.sh`: prints one CSV line per (d, solver, SIMD
//! path) with the median wall and thread-CPU time per task over several rounds. criterion's
//! report is awkward to join with the numpy numbers, so the side-by-side table uses this instead.
//! CPU time is what to compare on a loaded machine: it leaves out time the thread was not
//! running.
//!
//! Usage: `cargo bench --bench kernel_table -- [--dims 50,100] [--kinds hqr,faer,auto]
//! [--paths avx512,avx2,baseline] [--rounds 7] [--header]`. The kind column is `hqr@avx512` and
//! so on; a path the CPU lacks is skipped with a note on stderr.

use std::hint::black_box;
use std::time::Instant;

use cluster_bench::kernel::{KernelKind, SimdPath, Solver};
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

/// CPU time of the calling thread, in ns.
fn thread_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn main() {
    let mut dims = vec![50, 100, 120, 200, 400, 800];
    let mut kinds = vec!["hqr", "faer", "auto"];
    let mut paths = vec![SimdPath::best_available()];
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
            "--paths" => {
                let v = it.next().expect("--paths needs a value");
                paths = v
                    .split(',')
                    .map(|p| SimdPath::parse(p).unwrap_or_else(|| panic!("unknown path {p:?}")))
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
        println!("d,kind,median_ns,min_ns,tasks_per_round,rounds,cpu_median_ns,cpu_min_ns");
    }
    for &d in &dims {
        let mats: Vec<_> = (0..MATRICES as u64)
            .map(|t| workload::matrix(42, t, d))
            .collect();
        let per_round = tasks_per_round(d);
        for &k in &kinds {
            // faer dispatches on its own: one run, named without a path.
            let own = if k == "faer" { &paths[..1] } else { &paths[..] };
            for &p in own {
                if !p.available() {
                    eprintln!("kernel_table: this CPU has no {} path, skipped", p.name());
                    continue;
                }
                let label = if k == "faer" {
                    k.to_owned()
                } else {
                    format!("{k}@{}", p.name())
                };
                let mut solver = Solver::new(parse_kind(k));
                solver.set_simd_path(p);
                let (wall, cpu) = time_rounds(&mut solver, &mats, d, rounds);
                let ((wm, wmin), (cm, cmin)) = (median(wall), median(cpu));
                println!("{d},{label},{wm:.0},{wmin:.0},{per_round},{rounds},{cm:.0},{cmin:.0}");
            }
        }
    }
}

/// Wall and thread-CPU ns per task of each round, after a warm-up that sizes the scratch.
fn time_rounds(
    solver: &mut Solver,
    mats: &[nalgebra::DMatrix<f64>],
    d: usize,
    rounds: usize,
) -> (Vec<f64>, Vec<f64>) {
    let per_round = tasks_per_round(d);
    for m in mats.iter().take(if d >= 400 { 1 } else { 2 }) {
        black_box(solver.eigenvalues(m).expect("solver failed"));
    }
    (0..rounds)
        .map(|_| {
            let (t0, c0) = (Instant::now(), thread_cpu_ns());
            for t in 0..per_round {
                black_box(
                    solver
                        .eigenvalues(black_box(&mats[t % MATRICES]))
                        .expect("solver failed"),
                );
            }
            let wall = t0.elapsed().as_nanos() as f64 / per_round as f64;
            (wall, (thread_cpu_ns() - c0) / per_round as f64)
        })
        .unzip()
}
