//! Records the git revision the binary is built from, for the run's JSON (absent outside git),
//! and whether the building CPU has AVX-512, so tests that need it are reported as ignored
//! (not passed) where it lacks it.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
}

fn main() {
    // Re-run only when HEAD or the index moves; ask git where they are (worktrees keep them
    // elsewhere, and a path that doesn't exist would make cargo re-run this every build).
    match git(&["rev-parse", "--git-dir"]) {
        Some(dir) => {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            println!("cargo:rerun-if-changed={dir}/index");
        }
        None => println!("cargo:rerun-if-changed=build.rs"),
    }
    let rev = git(&["describe", "--always", "--dirty", "--tags"]).unwrap_or_default();
    println!("cargo:rustc-env=CLUSTER_BENCH_GIT_REV={rev}");
    println!("cargo:rustc-check-cfg=cfg(build_cpu_avx512)");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
    {
        println!("cargo:rustc-cfg=build_cpu_avx512");
    }
}
