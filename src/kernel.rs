//! Eigenvalues of one task's matrix: the solver choice, its fallback and the trace check. Nothing MPI.
//! PLACEHOLDER until the Hessenberg + Francis QR kernel lands: bounded nalgebra Schur, then faer.

use nalgebra::DMatrix;
use serde::Serialize;

pub type C64 = nalgebra::Complex<f64>;

/// Which eigen-solver computes a task's eigenvalues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    /// The fastest correct solver for the size.
    Auto,
    /// Our Hessenberg + Francis double-shift QR (eigenvalues only).
    Hqr,
    /// faer's eigenvalue solver.
    Faer,
    /// nalgebra's Schur decomposition with an iteration bound.
    Nalgebra,
}

/// Relative tolerance of the trace check |Σλ − tr A| ≤ tol·max(1, ‖A‖_F).
pub const TRACE_REL_TOL: f64 = 1e-8;

/// Eigenvalues of one matrix and which solver produced them.
#[derive(Clone, Debug)]
pub struct Eigen {
    pub values: Vec<C64>,
    /// The solver that produced `values`.
    pub used: KernelKind,
    /// True when the first-choice solver failed to converge and a fallback produced the values.
    pub fallback: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KernelError {
    #[error("matrix has a NaN or infinite entry")]
    NonFinite,
    #[error("no solver converged")]
    NoConvergence,
}

/// A solver with reusable scratch space.
pub struct Solver {
    kind: KernelKind,
}

impl Solver {
    pub fn new(kind: KernelKind) -> Self {
        Solver { kind }
    }

    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    pub fn eigenvalues(&mut self, a: &DMatrix<f64>) -> Result<Eigen, KernelError> {
        if a.iter().any(|x| !x.is_finite()) {
            return Err(KernelError::NonFinite);
        }
        let n = a.nrows();
        match nalgebra::linalg::Schur::try_new(a.clone(), f64::EPSILON, 30 * n.max(10)) {
            Some(s) => Ok(Eigen {
                values: s.complex_eigenvalues().iter().copied().collect(),
                used: KernelKind::Nalgebra,
                fallback: false,
            }),
            None => Err(KernelError::NoConvergence),
        }
    }
}

/// Outcome of the Σλ = tr A check.
#[derive(Clone, Copy, Debug)]
pub struct TraceCheck {
    pub sum: C64,
    pub trace: f64,
    pub ok: bool,
}

pub fn check_trace(a: &DMatrix<f64>, values: &[C64]) -> TraceCheck {
    let sum: C64 = values.iter().sum();
    let trace = a.trace();
    let scale = a.norm().max(1.0);
    let ok =
        (sum.re - trace).abs() <= TRACE_REL_TOL * scale && sum.im.abs() <= TRACE_REL_TOL * scale;
    TraceCheck { sum, trace, ok }
}
