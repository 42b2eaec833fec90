//! The tasks of a run: task `i` is a seeded d×d matrix with entries uniform in [0, 1) (`eig`),
//! or a seeded time to wait (`sleep`, which emulates a rank per core). Nothing MPI here.

use std::time::Duration;

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

/// What each task does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Workload {
    /// Eigenvalues of task i's seeded matrix: the benchmark.
    Eig,
    /// Wait task i's seeded duration (see `sleep_duration`), computing nothing: hundreds of
    /// oversubscribed ranks then behave like a cluster whose ranks each own a core.
    Sleep {
        /// Mean task time, milliseconds.
        mean_ms: f64,
    },
}

impl Workload {
    /// The `--workload` value that makes it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Eig => "eig",
            Workload::Sleep { .. } => "sleep",
        }
    }

    /// The sleep workload's mean task time, milliseconds (`--task-ms`); `None` for eig.
    pub fn task_ms(self) -> Option<f64> {
        match self {
            Workload::Eig => None,
            Workload::Sleep { mean_ms } => Some(mean_ms),
        }
    }
}

/// Half-width of the sleep workload's spread, as a fraction of the mean: durations are uniform
/// in [(1 − s)·mean, (1 + s)·mean]. Tasks that differ give the dynamic schedule something to
/// balance; ±20 % keeps static blocks of a few dozen tasks within a few percent of each other.
pub const SLEEP_SPREAD: f64 = 0.2;

/// Task `task`'s wait in the sleep workload: mean × (1 + s·(2u − 1)) with u uniform in [0, 1)
/// from the top 53 bits of `task_seed(seed, task)`, rounded to whole nanoseconds. Depends on
/// (seed, task, mean) only, so every rank and host plans the same wait.
pub fn sleep_duration(seed: u64, task: u64, mean_ms: f64) -> Duration {
    let u = (task_seed(seed, task) >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + SLEEP_SPREAD * (2.0 * u - 1.0);
    Duration::from_nanos((mean_ms * 1e6 * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(seed: u64, task: u64, mean_ms: f64) -> f64 {
        sleep_duration(seed, task, mean_ms).as_secs_f64()
    }

    #[test]
    fn sleep_durations_stay_within_the_spread() {
        for task in 0..100_000 {
            let s = secs(3, task, 10.0);
            assert!((0.008..=0.012).contains(&s), "task {task}: {s} s");
        }
    }

    /// 10⁵ uniform draws of half-width 0.2 (σ = 0.2/√3 ≈ 0.115 of the mean): the sample mean's
    /// standard error is 3.7e-4 of the mean, the sample σ's about 2.6e-4; allow 5 of each.
    #[test]
    fn sleep_durations_average_to_the_mean_and_fill_the_range() {
        let n = 100_000;
        let x: Vec<f64> = (0..n).map(|t| secs(42, t, 1.0) * 1e3).collect();
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((mean - 1.0).abs() < 1.9e-3, "mean {mean} ms");
        let sd_want = SLEEP_SPREAD / 3f64.sqrt();
        assert!((var.sqrt() - sd_want).abs() < 1.3e-3, "sd {}", var.sqrt());
        let (lo, hi) = x
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(lo < 0.801 && hi > 1.199, "range {lo}..{hi}");
    }

    #[test]
    fn sleep_durations_depend_on_seed_and_task_only() {
        assert_eq!(sleep_duration(7, 3, 10.0), sleep_duration(7, 3, 10.0));
        assert_ne!(sleep_duration(7, 3, 10.0), sleep_duration(7, 4, 10.0));
        assert_ne!(sleep_duration(7, 3, 10.0), sleep_duration(8, 3, 10.0));
        // The same draw scales with the mean (up to rounding to whole nanoseconds).
        let (a, b) = (secs(7, 3, 1.0), secs(7, 3, 100.0));
        assert!((b / a - 100.0).abs() < 1e-4, "{a} vs {b}");
    }

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

    /// Bits of every entry folded into one word, order-sensitive: a change anywhere shows.
    fn fingerprint(m: &DMatrix<f64>) -> u64 {
        m.iter()
            .fold(0, |acc: u64, x| acc.rotate_left(5) ^ x.to_bits())
    }

    /// Pinned, not derived: the matrices of (seed, task, d) must never change. The kernel's
    /// regression tests (`NALGEBRA_HANGS` in src/kernel/tests.rs) name matrices by these triples,
    /// and checksums of earlier runs in results/ are only comparable with the same stream. The
    /// values were computed once from this code (SplitMix64 seed mixing, ChaCha8, rand's f64
    /// sampling, column-major fill); if this test fails, a dependency or the code changed the
    /// stream: restore it rather than update the values.
    #[test]
    fn the_random_stream_is_pinned() {
        for (seed, task, want) in [
            (0, 0, 0xe220_a839_7b1d_cdaf),
            (42, 0, 0xbdd7_3226_2feb_6e95),
            (42, 1, 0xd963_9a00_6c85_adb0),
            (7, 1999, 0x16aa_cf54_529a_b123),
            (0, WARMUP_STREAM, 0x25c2_6ea5_79ce_a98a),
        ] {
            assert_eq!(task_seed(seed, task), want, "task_seed({seed}, {task})");
        }
        // (seed, task, d) → bits of entries (0,0), (1,0), (d-1,d-1), and the fingerprint.
        let pinned: [((u64, u64, usize), [u64; 4]); 4] = [
            (
                (0, 7968, 100),
                [
                    0x3fb1_0845_a9c0_2678,
                    0x3fcb_e07b_60cf_e1f8,
                    0x3fee_8691_88c3_d158,
                    0x5715_3158_8a43_d0b0,
                ],
            ),
            (
                (0, 5744, 50),
                [
                    0x3fe9_ef11_1aad_5de8,
                    0x3fe1_2093_db55_7f46,
                    0x3fdf_590e_d223_db0a,
                    0xb90c_ae85_be29_1dc7,
                ],
            ),
            (
                (1, 3282, 100),
                [
                    0x3fdc_adb0_f690_e58c,
                    0x3fdc_f7b7_289c_21c6,
                    0x3fed_f58c_82a3_5670,
                    0xc1df_7ef8_2c84_8166,
                ],
            ),
            (
                (42, 0, 3),
                [
                    0x3fe0_9580_23fb_a84b,
                    0x3fe9_bde5_5dc0_ca44,
                    0x3fc3_f473_23dc_fe44,
                    0x4368_77ca_66b5_6ca4,
                ],
            ),
        ];
        for ((seed, task, d), want) in pinned {
            let m = matrix(seed, task, d);
            let got = [
                m[(0, 0)].to_bits(),
                m[(1, 0)].to_bits(),
                m[(d - 1, d - 1)].to_bits(),
                fingerprint(&m),
            ];
            assert_eq!(got, want, "matrix({seed}, {task}, {d}): got {got:#x?}");
        }
    }

    #[test]
    fn fill_reuses_and_resizes() {
        let mut m = DMatrix::zeros(3, 3);
        fill_matrix(5, 9, 10, &mut m);
        assert_eq!(m, matrix(5, 9, 10));
    }
}
