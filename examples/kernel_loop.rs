//! Our eigenvalue kernel alone on the benchmark's matrices, for profilers (`perf record`,
//! `valgrind --tool=callgrind`), whose view of `kernel_table` is crowded by the timing loop and
//! faer: `cargo run --release --example kernel_loop -- D [TASKS] [PATH] [PHASE]`. PHASE `all`
//! (the default) computes the eigenvalues, `hessenberg` only the Hessenberg reduction. Prints
//! the QR sweeps per task, then on a second line the loop's wall time per task (meaningless
//! under valgrind). `scripts/study/profile_kernel.sh` runs it under callgrind,
//! `scripts/study/phases_vs_lapack.py` times both phases.

use std::process::exit;
use std::time::Instant;

use cluster_bench::kernel::SimdPath;
use cluster_bench::kernel::hqr::Hqr;
use cluster_bench::workload;

/// Distinct matrices cycled through, the same ones `benches/kernel_table.rs` times.
const MATRICES: u64 = 8;
const USAGE: &str =
    "usage: kernel_loop D [TASKS (default 40)] [avx512|avx2|baseline] [all|hessenberg]";

fn fail(msg: &str) -> ! {
    eprintln!("kernel_loop: {msg}");
    exit(2)
}

fn positive(arg: Option<&String>, default: usize) -> usize {
    match arg {
        None => default,
        Some(s) => s
            .parse()
            .ok()
            .filter(|&x| x > 0)
            .unwrap_or_else(|| fail(USAGE)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.len() > 4 {
        fail(USAGE);
    }
    let d = positive(args.first(), 0);
    let tasks = positive(args.get(1), 40);
    let path = match args.get(2) {
        None => SimdPath::best_available(),
        Some(p) => SimdPath::parse(p).unwrap_or_else(|| fail(USAGE)),
    };
    if !path.available() {
        fail(&format!("this CPU has no {} path", path.name()));
    }
    let hessenberg_only = match args.get(3).map(String::as_str) {
        None | Some("all") => false,
        Some("hessenberg") => true,
        Some(_) => fail(USAGE),
    };
    let mats: Vec<_> = (0..MATRICES).map(|t| workload::matrix(42, t, d)).collect();
    let mut hqr = Hqr::with_capacity(d);
    hqr.set_simd_path(path);
    let (mut wr, mut wi) = (vec![0.0; d], vec![0.0; d]);
    let mut sweeps = 0;
    let start = Instant::now();
    for a in mats.iter().cycle().take(tasks) {
        if hessenberg_only {
            std::hint::black_box(hqr.hessenberg(a.as_slice(), d));
            continue;
        }
        hqr.eigenvalues(a.as_slice(), d, &mut wr, &mut wi)
            .unwrap_or_else(|_| fail("the QR iteration did not converge"));
        sweeps += hqr.last_sweeps;
    }
    let per_task = start.elapsed().as_secs_f64() / tasks as f64;
    let what = if hessenberg_only {
        "phase=hessenberg".to_string()
    } else {
        format!("sweeps/task={:.1}", sweeps as f64 / tasks as f64)
    };
    println!("d={d} path={} tasks={tasks} {what}", path.name());
    println!("ms/task={:.4}", per_task * 1e3);
}
