//! Eigenvalues of one task's matrix: the solver choice, its fallback and the trace check. Nothing MPI.
//!
//! The first-choice solver is our own eigenvalues-only Hessenberg + Francis QR ([`hqr`]), which is
//! bounded (it reports non-convergence instead of looping) and falls back to faer when that
//! happens. nalgebra is kept as a reference solver, used through its *bounded* `Schur::try_new`:
//! its `complex_eigenvalues()` has no iteration bound and never returns on a few random matrices
//! (nalgebra issues #611, #764; see the regression tests below).

mod aed;
mod gemm;
mod hessenberg;
pub mod hqr;
mod schur;
pub mod simd;
mod sweep;

pub use simd::{BadSimdEnv, SIMD_ENV, SimdPath, numerics_id, select_simd_path, simd_path};

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{MatRef, Par};
use nalgebra::DMatrix;

/// A complex eigenvalue (nalgebra's, which is `num_complex::Complex<f64>`, the same type faer uses).
pub type C64 = nalgebra::Complex<f64>;

/// Which eigen-solver computes a task's eigenvalues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelKind {
    /// The fastest correct solver for the size: ours up to d = 1000 (350 on the baseline path),
    /// faer above.
    Auto,
    /// Our Hessenberg + Francis QR (eigenvalues only): two double-shift bulges chased together,
    /// with aggressive early deflation while the active block has at least 150 rows.
    Hqr,
    /// faer's eigenvalue solver.
    Faer,
    /// nalgebra's Schur decomposition with an iteration bound.
    Nalgebra,
}

/// Largest dimension for which [`KernelKind::Auto`] uses our HQR on the FMA paths (AVX-512,
/// AVX2 + FMA); faer above.
///
/// Measured with `cargo bench --bench kernel_table -- --dims 800,1000,1200,1500,2000 --kinds
/// hqr,faer --paths avx512,avx2 --rounds 3`, then again with `--kinds faer,hqr` and the sizes
/// in reverse, on a 2-core Intel Xeon (Sapphire Rapids, 2.1 GHz) whose speed drifted by up to
/// 40 % within minutes: median ms per task of each run, hqr and faer back to back in one
/// process (faer's own dispatch runs its AVX2 + FMA code whatever our path), and hqr / faer:
///
/// | d    | hqr avx512 | hqr avx2-fma | faer       | avx512 / faer | avx2-fma / faer |
/// |-----:|-----------:|-------------:|-----------:|--------------:|----------------:|
/// | 800  | 404, 254   | 436, 360     | 658, 580   | 0.61, 0.44    | 0.66, 0.62      |
/// | 1000 | 674, 603   | 739, 713     | 1093, 951  | 0.62, 0.63    | 0.68, 0.75      |
/// | 1200 | 1005, 987  | 991, 1294    | 1279, 1318 | 0.79, 0.75    | 0.78, 0.98      |
/// | 1500 | 1453, 2128 | 1711, 2082   | 1726, 2235 | 0.84, 0.95    | 0.99, 0.93      |
/// | 2000 | 4043       | 5187         | 4170       | 0.97          | 1.24            |
///
/// Our kernel wins by a quarter or more up to 1000 on both paths and ties faer around 1500
/// (AVX2) to 2000 (AVX-512). On the AMD EPYC of `results/epyc/` it took 0.63× faer's time at
/// 800 with AVX2. Without FMA faer is ahead at 400 (`results/epyc/kernel-vs-numpy.csv`: 73 ms
/// against 61, medians), hence [`AUTO_HQR_MAX_DIM_NOFMA`].
pub const AUTO_HQR_MAX_DIM: usize = 1000;

/// [`AUTO_HQR_MAX_DIM`] for the baseline path (no FMA): see the table there.
pub const AUTO_HQR_MAX_DIM_NOFMA: usize = 350;

/// Largest dimension for which [`KernelKind::Auto`] uses our HQR on `path`.
pub fn auto_hqr_max_dim(path: SimdPath) -> usize {
    match path {
        SimdPath::Baseline => AUTO_HQR_MAX_DIM_NOFMA,
        SimdPath::Avx2Fma | SimdPath::Avx512 => AUTO_HQR_MAX_DIM,
    }
}

/// Relative tolerance of the trace check |Σλ − tr A| ≤ tol·max(1, ‖A‖_F).
pub const TRACE_REL_TOL: f64 = 1e-8;

/// Eigenvalues of one matrix and which solver produced them.
#[derive(Clone, Debug)]
pub struct Eigen {
    /// All n eigenvalues with multiplicity, complex conjugate pairs adjacent; no sorting.
    pub values: Vec<C64>,
    /// The solver that produced `values`.
    pub used: KernelKind,
    /// True when the first-choice solver failed to converge and a fallback produced the values.
    pub fallback: bool,
}

/// Why a matrix has no eigenvalues to report.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KernelError {
    /// Some entry is NaN or ±∞: rejected up front, before any solver could loop on it.
    #[error("matrix has a NaN or infinite entry")]
    NonFinite,
    /// Eigenvalues need a square matrix (added with the HQR kernel; the workload never makes one).
    #[error("matrix is {rows}×{cols}, eigenvalues need a square matrix")]
    NotSquare { rows: usize, cols: usize },
    /// The first-choice solver and the faer fallback both hit their iteration bounds.
    #[error("no solver converged")]
    NoConvergence,
}

/// faer's eigenvalues-only workspace for one dimension, kept so repeated tasks of that size do
/// not allocate.
struct FaerScratch {
    n: usize,
    mem: MemBuffer,
    s_re: Diag<f64>,
    s_im: Diag<f64>,
}

impl FaerScratch {
    fn new(n: usize) -> Self {
        let req = evd::evd_scratch::<f64>(
            n,
            ComputeEigenvectors::No,
            ComputeEigenvectors::No,
            Par::Seq,
            Default::default(),
        );
        FaerScratch {
            n,
            mem: MemBuffer::new(req),
            s_re: Diag::zeros(n),
            s_im: Diag::zeros(n),
        }
    }
}

/// A solver with reusable scratch space. For `Hqr`, `Faer` and `Auto`, after the first matrix of
/// a given size the only allocation per call is the returned `Vec` of eigenvalues (`Nalgebra`
/// copies the matrix every call: nalgebra's Schur consumes its input).
pub struct Solver {
    kind: KernelKind,
    hqr: hqr::Hqr,
    wr: Vec<f64>,
    wi: Vec<f64>,
    faer: Option<FaerScratch>,
    /// Number of calls in which HQR did not converge and faer took over.
    pub fallbacks: u64,
}

impl Solver {
    /// A solver of the given kind with empty scratch (it is sized by the first matrix).
    pub fn new(kind: KernelKind) -> Self {
        Self::with_dim(kind, 0)
    }

    /// A solver whose scratch is pre-sized for `n`×`n` matrices.
    pub fn with_dim(kind: KernelKind, n: usize) -> Self {
        Solver {
            kind,
            hqr: hqr::Hqr::with_capacity(n),
            wr: Vec::with_capacity(n),
            wi: Vec::with_capacity(n),
            faer: None,
            fallbacks: 0,
        }
    }

    /// Runs our kernel on `path` (capped to what the CPU has) instead of the process's
    /// [`simd_path`], so benchmarks and tests can compare paths in one process. faer keeps its
    /// own run-time dispatch.
    pub fn set_simd_path(&mut self, path: SimdPath) {
        self.hqr.set_simd_path(path);
    }

    /// The path our kernel runs on.
    pub fn simd_path(&self) -> SimdPath {
        self.hqr.simd_path()
    }

    /// The kind this solver was created with.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// The kind that actually runs first for an `n`×`n` matrix with our kernel on `path`
    /// (resolves `Auto`).
    pub fn resolve(kind: KernelKind, n: usize, path: SimdPath) -> KernelKind {
        match kind {
            KernelKind::Auto if n <= auto_hqr_max_dim(path) => KernelKind::Hqr,
            KernelKind::Auto => KernelKind::Faer,
            k => k,
        }
    }

    /// Eigenvalues of the square matrix `a`, in no particular order (complex pairs adjacent).
    ///
    /// Never loops forever: HQR and nalgebra are iteration-bounded and fall back to faer, which
    /// is bounded too; if faer also fails the result is [`KernelError::NoConvergence`].
    pub fn eigenvalues(&mut self, a: &DMatrix<f64>) -> Result<Eigen, KernelError> {
        let (rows, cols) = a.shape();
        if rows != cols {
            return Err(KernelError::NotSquare { rows, cols });
        }
        if a.iter().any(|x| !x.is_finite()) {
            return Err(KernelError::NonFinite);
        }
        let n = rows;
        let first = Self::resolve(self.kind, n, self.simd_path());
        if n == 0 {
            // nalgebra's Schur indexes out of bounds on 0×0; nothing to compute anyway.
            return Ok(Eigen {
                values: Vec::new(),
                used: first,
                fallback: false,
            });
        }
        let primary = match first {
            KernelKind::Hqr => self.hqr_values(a),
            KernelKind::Nalgebra => {
                nalgebra::linalg::Schur::try_new(a.clone(), f64::EPSILON, 30 * n.max(10))
                    .map(|s| s.complex_eigenvalues().iter().copied().collect())
            }
            KernelKind::Faer | KernelKind::Auto => None,
        };
        if let Some(values) = primary {
            return Ok(Eigen {
                values,
                used: first,
                fallback: false,
            });
        }
        let fallback = first != KernelKind::Faer;
        if fallback {
            self.fallbacks += 1;
        }
        let values = self.faer_values(a).ok_or(KernelError::NoConvergence)?;
        Ok(Eigen {
            values,
            used: KernelKind::Faer,
            fallback,
        })
    }

    fn hqr_values(&mut self, a: &DMatrix<f64>) -> Option<Vec<C64>> {
        let n = a.nrows();
        self.wr.resize(n, 0.0);
        self.wi.resize(n, 0.0);
        self.hqr
            .eigenvalues(a.as_slice(), n, &mut self.wr, &mut self.wi)
            .ok()?;
        Some(
            self.wr
                .iter()
                .zip(&self.wi)
                .map(|(&re, &im)| C64::new(re, im))
                .collect(),
        )
    }

    fn faer_values(&mut self, a: &DMatrix<f64>) -> Option<Vec<C64>> {
        let n = a.nrows();
        if n == 0 {
            return Some(Vec::new());
        }
        if self.faer.as_ref().is_none_or(|s| s.n != n) {
            self.faer = Some(FaerScratch::new(n));
        }
        let s = self.faer.as_mut()?;
        let view = MatRef::from_column_major_slice(a.as_slice(), n, n);
        evd::evd_real(
            view,
            s.s_re.as_mut(),
            s.s_im.as_mut(),
            None,
            None,
            Par::Seq,
            MemStack::new(&mut s.mem),
            Default::default(),
        )
        .ok()?;
        Some(
            s.s_re
                .column_vector()
                .iter()
                .zip(s.s_im.column_vector().iter())
                .map(|(&re, &im)| C64::new(re, im))
                .collect(),
        )
    }
}

/// Outcome of the Σλ = tr A check.
#[derive(Clone, Copy, Debug)]
pub struct TraceCheck {
    pub sum: C64,
    pub trace: f64,
    pub ok: bool,
}

/// Checks Σλ = tr A to [`TRACE_REL_TOL`] relative to max(1, ‖A‖_F): a cheap end-to-end sanity
/// check that every eigenvalue is present and none is garbage.
pub fn check_trace(a: &DMatrix<f64>, values: &[C64]) -> TraceCheck {
    let sum: C64 = values.iter().sum();
    let trace = a.trace();
    let scale = a.norm().max(1.0);
    let ok =
        (sum.re - trace).abs() <= TRACE_REL_TOL * scale && sum.im.abs() <= TRACE_REL_TOL * scale;
    TraceCheck { sum, trace, ok }
}

#[cfg(test)]
mod tests;
