//! The tasks of a run: task `i` is a seeded d×d matrix with entries uniform in [0, 1). Nothing MPI here.

use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seed of the untimed warm-up tasks' stream, far from any real task index so warm-ups never
/// repeat a measured matrix.
pub const WARMUP_STREAM: u64 = u64::MAX / 2;

/// Mixes the run seed and a task index into one 64-bit seed (SplitMix64 finaliser): neighbouring
/// indices give unrelated streams, and the result depends on (seed, task) only, never on the rank
/// that computes it.
pub fn task_seed(seed: u64, task: u64) -> u64 {
    let mut z = seed ^ task.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `out` (resized to d×d) with task `task`'s matrix, column by column, so callers can
/// reuse one allocation across tasks. ChaCha8 is portable: every host makes the same matrix.
pub fn fill_matrix(seed: u64, task: u64, d: usize, out: &mut DMatrix<f64>) {
    if out.nrows() != d || out.ncols() != d {
        *out = DMatrix::zeros(d, d);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(task_seed(seed, task));
    for x in out.iter_mut() {
        *x = rng.random::<f64>();
    }
}

/// Task `task`'s matrix as a fresh allocation.
pub fn matrix(seed: u64, task: u64, d: usize) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(d, d);
    fill_matrix(seed, task, d, &mut m);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_task_give_the_same_matrix() {
        assert_eq!(matrix(7, 3, 20), matrix(7, 3, 20));
    }

    #[test]
    fn different_tasks_or_seeds_differ() {
        assert_ne!(matrix(7, 3, 20), matrix(7, 4, 20));
        assert_ne!(matrix(7, 3, 20), matrix(8, 3, 20));
    }

    #[test]
    fn entries_are_in_the_unit_interval_with_mean_near_half() {
        let m = matrix(1, 0, 200);
        assert!(m.iter().all(|&x| (0.0..1.0).contains(&x)));
        // 40,000 uniform draws: the mean's standard error is 0.29/200 ≈ 0.0014; allow 5 sigma.
        let mean = m.sum() / m.len() as f64;
        assert!((mean - 0.5).abs() < 0.0075, "mean {mean}");
    }

    #[test]
    fn fill_reuses_and_resizes() {
        let mut m = DMatrix::zeros(3, 3);
        fill_matrix(5, 9, 10, &mut m);
        assert_eq!(m, matrix(5, 9, 10));
    }
}
