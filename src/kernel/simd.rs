//! Which instruction set the kernel's hot loops run on: chosen once per process at run time
//! from what the CPU has, capped by the `CLUSTER_BENCH_SIMD` environment variable.

use std::sync::OnceLock;

/// Environment variable that caps the SIMD path: `avx512`, `avx2` (or `avx2-fma`), `baseline`.
/// A cap, not a demand: asking for AVX-512 on an AVX2-only CPU runs AVX2 + FMA.
pub const SIMD_ENV: &str = "CLUSTER_BENCH_SIMD";

/// An instruction-set path of the kernel, ordered from the least to the most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdPath {
    /// x86-64 baseline (SSE2), or any non-x86 CPU: no fused multiply-add.
    Baseline,
    /// AVX2 with FMA: 4-wide vectors.
    Avx2Fma,
    /// AVX-512 (F, VL, DQ) with FMA: 8-wide vectors.
    Avx512,
}

/// The value of [`SIMD_ENV`] is not a path name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{SIMD_ENV}={0:?} is not a SIMD path; use avx512, avx2 (avx2-fma) or baseline")]
pub struct BadSimdEnv(pub String);

impl SimdPath {
    /// Every path, least capable first.
    pub const ALL: [SimdPath; 3] = [SimdPath::Baseline, SimdPath::Avx2Fma, SimdPath::Avx512];

    /// Stable lowercase name for JSON and reports: `"avx512"`, `"avx2-fma"` or `"baseline"`.
    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Baseline => "baseline",
            SimdPath::Avx2Fma => "avx2-fma",
            SimdPath::Avx512 => "avx512",
        }
    }

    /// Parses a name as [`SimdPath::name`] writes it; `avx2` is accepted for `avx2-fma`.
    pub fn parse(s: &str) -> Option<SimdPath> {
        match s.trim().to_ascii_lowercase().as_str() {
            "avx512" => Some(SimdPath::Avx512),
            "avx2" | "avx2-fma" => Some(SimdPath::Avx2Fma),
            "baseline" => Some(SimdPath::Baseline),
            _ => None,
        }
    }

    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        match self {
            SimdPath::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 => {
                SimdPath::Avx2Fma.available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The most capable path this CPU runs.
    pub fn best_available() -> SimdPath {
        SimdPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.available())
            .unwrap_or(SimdPath::Baseline)
    }

    /// `self` if the CPU runs it, else the most capable available path below it.
    pub fn capped(self) -> SimdPath {
        self.min(SimdPath::best_available())
    }

    /// Identifies the arithmetic, not the vector width: paths with the same id give bit-identical
    /// eigenvalues (and checksums). AVX-512 and AVX2 + FMA evaluate the same fused operations in
    /// the same order, so they share `"fma"`; the baseline rounds every product (`"nofma"`).
    pub fn numerics(self) -> &'static str {
        match self {
            SimdPath::Baseline => "nofma",
            SimdPath::Avx2Fma | SimdPath::Avx512 => "fma",
        }
    }
}

/// The path for this process: the best the CPU has, capped by [`SIMD_ENV`] when it is set.
/// Unset or empty means no cap; an invalid value is an error.
pub fn select_simd_path() -> Result<SimdPath, BadSimdEnv> {
    match std::env::var(SIMD_ENV) {
        Ok(v) if !v.trim().is_empty() => SimdPath::parse(&v)
            .map(SimdPath::capped)
            .ok_or(BadSimdEnv(v)),
        _ => Ok(SimdPath::best_available()),
    }
}

/// The path the kernel runs in this process, decided on the first call and fixed after.
///
/// # Panics
/// If [`SIMD_ENV`] holds an invalid value; call [`select_simd_path`] at start-up to report that
/// as an error instead.
pub fn simd_path() -> SimdPath {
    static PATH: OnceLock<SimdPath> = OnceLock::new();
    *PATH.get_or_init(|| select_simd_path().unwrap_or_else(|e| panic!("{e}")))
}

/// Whether faer (the solver above `auto_hqr_max_dim` and the fallback) takes its AVX2 + FMA
/// ("x86-64-v3") code: it dispatches on its own, from the CPU alone, whatever [`SIMD_ENV`] says.
fn faer_has_v3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("sse4.2")
            && has!("popcnt")
            && has!("avx2")
            && has!("fma")
            && has!("bmi1")
            && has!("bmi2")
            && has!("lzcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Identifies the arithmetic of this process's eigenvalues: two processes (hosts, runs) with the
/// same id compute bit-identical eigenvalues, hence checksums, for the same tasks; different ids
/// differ in the last bits. Our kernel's part is [`SimdPath::numerics`] of [`simd_path`]
/// (AVX-512 and AVX2 + FMA agree), faer's part its own dispatch, and last the largest size
/// `auto` gives our kernel on this path (`auto_hqr_max_dim`) and our kernel's revision
/// (`KERNEL_REVISION`): `"fma/faer-v3/hqr1000-k3"`, `"nofma/faer-v3/hqr350-k3"` (baseline
/// forced on an AVX2 CPU) or `"nofma/faer-scalar/hqr350-k3"`.
pub fn numerics_id() -> &'static str {
    match (simd_path().numerics(), faer_has_v3()) {
        ("fma", _) => "fma/faer-v3/hqr1000-k3",
        (_, true) => "nofma/faer-v3/hqr350-k3",
        _ => "nofma/faer-scalar/hqr350-k3",
    }
}
