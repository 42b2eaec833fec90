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
    #[inline(always)]
    fn at(&self, k: usize, c: usize) -> f64 {
        self.data[k * self.sk + c * self.sc]
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
    let mut acc: [[f64; M]; N] =
        std::array::from_fn(|q| c[r + (j + q) * ldc..][..M].try_into().expect("M rows"));
    for k in 0..kn {
        let col: &[f64; M] = a.data[ar + k * a.ld..][..M].try_into().expect("M rows");
        for (q, accq) in acc.iter_mut().enumerate() {
            let bk = b.at(k, bj + q);
            let bk = if NEG { -bk } else { bk };
            for (x, &y) in accq.iter_mut().zip(col) {
                *x = fmadd::<F>(y, bk, *x);
            }
        }
    }
    for (q, accq) in acc.iter().enumerate() {
        c[r + (j + q) * ldc..][..M].copy_from_slice(accq);
    }
}
