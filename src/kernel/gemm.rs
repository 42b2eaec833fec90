//! Small dense matrix products for the blocked Hessenberg reduction, with a fixed order of
//! operations per entry: each output entry starts from its old value and adds its products one
//! `k` at a time, fused when `F`. Which entries share a vector (the tile shape) is a matter of
//! speed only, so every SIMD width gives bit-identical results.

use super::hqr::fmadd;

/// A column-major operand: entry (r, c) at `data[r + c·ld]`.
#[derive(Clone, Copy)]
pub(super) struct Mat<'a> {
    pub data: &'a [f64],
    pub ld: usize,
}

/// A matrix read one entry at a time (broadcast), with arbitrary strides: entry (k, c) at
/// `data[k·sk + c·sc]`. Lets one kernel take B, its transpose or a row-major copy.
#[derive(Clone, Copy)]
pub(super) struct Strided<'a> {
    pub data: &'a [f64],
    pub sk: usize,
    pub sc: usize,
}

impl Strided<'_> {
    /// Where entry (k, c) is in `data`.
    #[inline(always)]
    fn index(&self, k: usize, c: usize) -> usize {
        k * self.sk + c * self.sc
    }

    #[cfg(test)]
    fn at(&self, k: usize, c: usize) -> f64 {
        self.data[self.index(k, c)]
    }
}

/// Columns of C done together by the micro-kernel.
const NR: usize = 4;

/// C[r, c] ← C[r, c] ± Σₖ A[r − r0, k]·B[k, c − c0] for r in `r0..r1`, c in `c0..c1`, k in
/// `0..kn` (A and B indexed from the corner of the block of C they update); minus when `NEG`.
/// `MR` rows of C go in registers with [`NR`] columns: two vectors of the target is right.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn gemm<const F: bool, const NEG: bool, const MR: usize>(
    c: &mut [f64],
    ldc: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    a: Mat,
    b: Strided,
    kn: usize,
) {
    let mut j = c0;
    while j + NR <= c1 {
        tile_rows::<F, NEG, MR, NR>(c, ldc, (r0, r1), j, a, b, (kn, j - c0));
        j += NR;
    }
    while j < c1 {
        tile_rows::<F, NEG, MR, 1>(c, ldc, (r0, r1), j, a, b, (kn, j - c0));
        j += 1;
    }
}

/// [`gemm`] for the `N` columns from `j`: `MR` rows at a time, then one at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile_rows<const F: bool, const NEG: bool, const MR: usize, const N: usize>(
    c: &mut [f64],
    ldc: usize,
    (r0, r1): (usize, usize),
    j: usize,
    a: Mat,
    b: Strided,
    (kn, bj): (usize, usize),
) {
    let mut r = r0;
    while r + MR <= r1 {
        tile::<F, NEG, MR, N>(c, ldc, (r, j), a, b, (r - r0, bj, kn));
        r += MR;
    }
    while r < r1 {
        tile::<F, NEG, 1, N>(c, ldc, (r, j), a, b, (r - r0, bj, kn));
        r += 1;
    }
}

/// The `M`×`N` tile of C at (r, j), from A's rows `ar..ar+M` and B's columns `bj..bj+N`.
#[inline(always)]
fn tile<const F: bool, const NEG: bool, const M: usize, const N: usize>(
    c: &mut [f64],
    ldc: usize,
    (r, j): (usize, usize),
    a: Mat,
    b: Strided,
    (ar, bj, kn): (usize, usize, usize),
) {
    // Loaded in a loop rather than by `array::from_fn`, whose closure stayed a call.
    let mut acc = [[0.0f64; M]; N];
    for (q, accq) in acc.iter_mut().enumerate() {
        accq.copy_from_slice(&c[r + (j + q) * ldc..][..M]);
    }
    if kn > 0 {
        // Every read below checked once here: per-read checks were most of the loop's
        // instructions (the loop is throughput-bound).
        assert!(ar + (kn - 1) * a.ld + M <= a.data.len());
        assert!(b.index(kn - 1, bj + N - 1) < b.data.len());
    }
    let (pa, pb) = (a.data.as_ptr(), b.data.as_ptr());
    for k in 0..kn {
        // SAFETY: ar + k·ld + M ≤ a.data.len() for k < kn (assert above).
        let col: [f64; M] = unsafe { pa.add(ar + k * a.ld).cast::<[f64; M]>().read_unaligned() };
        for (q, accq) in acc.iter_mut().enumerate() {
            // SAFETY: at most the largest index asserted above.
            let bk = unsafe { *pb.add(b.index(k, bj + q)) };
            let bk = if NEG { -bk } else { bk };
            for (x, &y) in accq.iter_mut().zip(&col) {
                *x = fmadd::<F>(y, bk, *x);
            }
        }
    }
    for (q, accq) in acc.iter().enumerate() {
        c[r + (j + q) * ldc..][..M].copy_from_slice(accq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every tile shape and remainder gives exactly the textbook loop's values (the same
    /// operations in the same order per entry), on blocks offset inside bigger matrices, with
    /// B read through strides (transposed and not).
    #[test]
    fn tiles_equal_the_textbook_loop_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (rows, cols, kn) in [(1, 1, 1), (7, 3, 5), (16, 4, 16), (37, 11, 9), (64, 5, 33)] {
            let ldc = rows + 3;
            let c0: Vec<f64> = (0..ldc * (cols + 2)).map(|_| rng.random()).collect();
            let a: Vec<f64> = (0..(rows + 2) * kn).map(|_| rng.random()).collect();
            let b: Vec<f64> = (0..kn * (cols + 1))
                .map(|_| rng.random::<f64>() - 0.5)
                .collect();
            for transposed in [false, true] {
                let (sk, sc) = if transposed { (cols + 1, 1) } else { (1, kn) };
                let bm = Strided { data: &b, sk, sc };
                let am = Mat {
                    data: &a[2..],
                    ld: rows + 2,
                };
                let (r, j) = (2, 1);
                let mut got = c0.clone();
                gemm::<false, true, 8>(&mut got, ldc, (r, r + rows), (j, j + cols), am, bm, kn);
                let mut want = c0.clone();
                for q in 0..cols {
                    for i in 0..rows {
                        let mut x = want[r + i + (j + q) * ldc];
                        for k in 0..kn {
                            x += am.data[i + k * am.ld] * -bm.at(k, q);
                        }
                        want[r + i + (j + q) * ldc] = x;
                    }
                }
                assert_eq!(got, want, "{rows}×{cols}·{kn}, B transposed: {transposed}");
            }
        }
    }
}
