//! Householder reduction to upper Hessenberg form without keeping the reflectors: with FMA,
//! blocked (`dgehrd` with `dlahr2`'s panel, the trailing updates as matrix products) while more
//! than [`NX`] columns remain; then, and always on the baseline path (where blocking measured
//! slower), unblocked (`dgehd2`) arranged for memory traffic: two passes over the trailing
//! matrix per column instead of four. Every entry's arithmetic is in a fixed order whatever the
//! vector width, so the result is bit-identical on the AVX-512 and AVX2 paths.

use super::gemm::{Mat, Strided, gemm};
use super::hqr::{axpy, dot, fmadd};

/// Rows of `w = A·v` kept in registers at once with FMA: 8 zmm or 16 ymm accumulators, enough
/// independent chains to hide the FMA latency (measured best on both paths, with the blocked
/// reduction).
const MATVEC_ROWS_FMA: usize = 64;
/// The same without FMA (SSE2 has 16 xmm registers; 8 rows are 4 of them).
const MATVEC_ROWS_BASE: usize = 8;
/// Columns whose dot products run interleaved (independent dependency chains).
const DOT_COLS: usize = 4;
/// Columns per panel of the blocked reduction (16 measured faster than LAPACK's 32 here).
const NB: usize = 16;
/// The blocked reduction runs while more than this many columns remain (no gain below ~100).
const NX: usize = 64;

/// Scratch entries [`hessenberg`] needs for an `n`×`n` matrix.
pub(super) const fn scratch_len(n: usize) -> usize {
    4 * n * NB + NB * NB + 2 * n
}

/// The blocked reduction's work arrays for one panel, all indexed by the matrix's own row (or,
/// for `wt`, column) numbers: Y = A·V·T, V with explicit zeros and ones, (V·T) row by row, the
/// left update's Wᵀ, and T.
struct Panel<'a> {
    y: &'a mut [f64],
    vd: &'a mut [f64],
    vtt: &'a mut [f64],
    wt: &'a mut [f64],
    t: &'a mut [f64],
}

/// Reduces the column-major `n`×`n` matrix `h` to upper Hessenberg form in place by Householder
/// similarity transforms. Entries below the subdiagonal are set to zero, which the QR sweeps
/// rely on. `s` is scratch of at least [`scratch_len`] entries; `MR` the rows of the products'
/// register tiles (16 measured best on both FMA paths).
#[inline(always)]
pub(super) fn hessenberg<const F: bool, const MR: usize>(h: &mut [f64], n: usize, s: &mut [f64]) {
    let (blk, rest) = s.split_at_mut(4 * n * NB + NB * NB);
    let (y, blk) = blk.split_at_mut(n * NB);
    let (vd, blk) = blk.split_at_mut(n * NB);
    let (vtt, blk) = blk.split_at_mut(n * NB);
    let (wt, t) = blk.split_at_mut(n * NB);
    let mut pan = Panel { y, vd, vtt, wt, t };
    let mut p = 0;
    while F && n - p > NX + 1 {
        reduce_panel::<F>(h, n, p, &mut pan);
        update_trailing::<F, MR>(h, n, p, &mut pan);
        p += NB;
    }
    let (v, w) = rest.split_at_mut(n);
    unblocked::<F>(h, n, p, v, w);
}

/// `dlahr2`: reduces columns `p..p+NB`, applying to each the earlier reflectors of the panel
/// from both sides first (rows below `p` only), and builds V, T and the rows below `p` of
/// Y = A·V·T (A as it was before the panel) for the trailing updates.
#[inline(always)]
fn reduce_panel<const F: bool>(h: &mut [f64], n: usize, p: usize, pan: &mut Panel) {
    let lo = p + 1;
    for j in 0..NB {
        let c = p + j;
        if j > 0 {
            update_panel_column::<F>(h, n, (p, j), pan);
        }
        let v = &mut pan.vd[j * n..(j + 1) * n];
        v[..=c].fill(0.0);
        let tau = reflector::<F>(&mut h[c * n + c + 1..(c + 1) * n], &mut v[c + 1..]);
        let tau = tau.unwrap_or_else(|| {
            v[c + 1..].fill(0.0);
            v[c + 1] = 1.0;
            0.0
        });
        let v = &pan.vd[j * n + c + 1..(j + 1) * n];
        // Y[lo.., j] = τ·(A[lo.., c+1..]·v − Y[lo.., ..j]·T[..j, j]) with T[..j, j] = V[c+1.., ..j]ᵀv.
        let yj = &mut pan.y[j * n + lo..(j + 1) * n];
        matvec_rows::<F>(&h[(c + 1) * n..], n, lo, v, yj);
        let (tj, tcol) = pan.t.split_at_mut(j * NB);
        for (i, ti) in tcol[..j].iter_mut().enumerate() {
            *ti = dot::<F>(&pan.vd[i * n + c + 1..(i + 1) * n], v);
        }
        let (yprev, ycur) = pan.y.split_at_mut(j * n);
        let yj = &mut ycur[lo..n];
        for (i, &ti) in tcol[..j].iter().enumerate() {
            axpy::<F>(-ti, &yprev[i * n + lo..(i + 1) * n], yj);
        }
        yj.iter_mut().for_each(|x| *x *= tau);
        // T[..j, j] = −τ·T[..j, ..j]·T[..j, j] (upper triangular, in place top down).
        for i in 0..j {
            let mut acc = 0.0;
            for q in i..j {
                acc = fmadd::<F>(tj[i + q * NB], tcol[q], acc);
            }
            tcol[i] = -tau * acc;
        }
        tcol[j] = tau;
    }
}

/// Column `p + j` of the panel, rows below `p`: the right updates of reflectors `..j`
/// (A ← A − Y·Vᵀ) then their left update b ← (I − V·Tᵀ·Vᵀ)·b.
#[inline(always)]
fn update_panel_column<const F: bool>(
    h: &mut [f64],
    n: usize,
    (p, j): (usize, usize),
    pan: &mut Panel,
) {
    let (lo, c) = (p + 1, p + j);
    let b = &mut h[c * n + lo..(c + 1) * n];
    for i in 0..j {
        axpy::<F>(-pan.vd[c + i * n], &pan.y[i * n + lo..(i + 1) * n], b);
    }
    // w = Tᵀ·(Vᵀ·b), in T's last column (not yet in use); V[.., i] is zero above row lo + i.
    let (t, w) = pan.t.split_at_mut((NB - 1) * NB);
    for (i, wi) in w[..j].iter_mut().enumerate() {
        *wi = dot::<F>(&pan.vd[i * n + lo + i..(i + 1) * n], &b[i..]);
    }
    for i in (0..j).rev() {
        let mut acc = 0.0;
        for q in 0..=i {
            acc = fmadd::<F>(t[q + i * NB], w[q], acc);
        }
        w[i] = acc;
    }
    for (i, &wi) in w[..j].iter().enumerate() {
        axpy::<F>(-wi, &pan.vd[i * n + lo + i..(i + 1) * n], &mut b[i..]);
    }
}

/// `dgehrd`'s updates after a panel at `p`: the rows above the panel get Y's top rows
/// (A[..=p, p+1..]·V·T); then A ← A − Y·Vᵀ on the columns right of the panel and on the panel's
/// rows above `p + 1`; then the left update of the trailing block, A ← A − V·(Aᵀ·V·T)ᵀ.
#[inline(always)]
fn update_trailing<const F: bool, const MR: usize>(
    h: &mut [f64],
    n: usize,
    p: usize,
    pan: &mut Panel,
) {
    let (lo, q) = (p + 1, p + NB);
    let m = n - lo;
    // V·T, column-major in `wt` (free until the left update), then row by row into `vtt`.
    let vt_col = &mut pan.wt[..n * NB];
    vt_col.fill(0.0);
    let t = Strided {
        data: pan.t,
        sk: 1,
        sc: NB,
    };
    gemm::<F, false, MR>(
        vt_col,
        n,
        (0, m),
        (0, NB),
        Mat {
            data: &pan.vd[lo..],
            ld: n,
        },
        t,
        NB,
    );
    for (jj, col) in vt_col.chunks_exact(n).enumerate() {
        for (r, &x) in col[..m].iter().enumerate() {
            pan.vtt[r * NB + jj] = x;
        }
    }
    let vt = Strided {
        data: &pan.vtt[..m * NB],
        sk: NB,
        sc: 1,
    };
    for j in 0..NB {
        pan.y[j * n..j * n + lo].fill(0.0);
    }
    let above = Mat {
        data: &h[lo * n..],
        ld: n,
    };
    gemm::<F, false, MR>(pan.y, n, (0, lo), (0, NB), above, vt, m);
    let y = Mat { data: pan.y, ld: n };
    let v_rows = |from: usize| Strided {
        data: &pan.vd[from..],
        sk: n,
        sc: 1,
    };
    gemm::<F, true, MR>(h, n, (0, n), (q, n), y, v_rows(q), NB);
    gemm::<F, true, MR>(h, n, (0, lo), (lo, q), y, v_rows(lo), NB);
    let wt = &mut pan.wt[..NB * (n - q)];
    wt.fill(0.0);
    let c = Strided {
        data: &h[lo + q * n..],
        sk: 1,
        sc: n,
    };
    gemm::<F, false, MR>(
        wt,
        NB,
        (0, NB),
        (0, n - q),
        Mat {
            data: pan.vtt,
            ld: NB,
        },
        c,
        m,
    );
    let wt = Strided {
        data: &pan.wt[..],
        sk: 1,
        sc: NB,
    };
    gemm::<F, true, MR>(
        h,
        n,
        (lo, n),
        (q, n),
        Mat {
            data: &pan.vd[lo..],
            ld: n,
        },
        wt,
        NB,
    );
}

/// `dgehd2` from column `p` on: one reflector per column, its right update (w = A·v first) and
/// left update done column by column while the column is in L1. `v` and `w` hold `n` entries.
#[inline(always)]
pub(super) fn unblocked<const F: bool>(
    h: &mut [f64],
    n: usize,
    p: usize,
    v: &mut [f64],
    w: &mut [f64],
) {
    if n < 3 {
        return;
    }
    for k in p..n - 2 {
        let m = n - k - 1;
        let Some(tau) = reflector::<F>(&mut h[k * n + k + 1..(k + 1) * n], &mut v[..m]) else {
            continue;
        };
        let (v, w) = (&v[..m], &mut w[..n]);
        let right = &mut h[(k + 1) * n..];
        // Right: A[.., k+1..] ← A·(I - tau·v·vᵀ) = A - tau·(A·v)·vᵀ, with w = A·v first.
        matvec_rows::<F>(right, n, 0, v, w);
        // Then per column the right update and the left one, (I - tau·v·vᵀ)·column, while the
        // column is in L1. Each column's left update reads only that column, so doing it right
        // after its own right update is the same arithmetic as doing all right updates first.
        for (g, vg) in right.chunks_mut(DOT_COLS * n).zip(v.chunks(DOT_COLS)) {
            for (c, &vt) in g.chunks_exact_mut(n).zip(vg) {
                axpy::<F>(-tau * vt, w, c);
            }
            left_update::<F>(g, n, k + 1, v, tau);
        }
    }
}

/// Householder reflector for `col` = x (m entries): (I - tau·v·vᵀ)x = beta·e1 with v[0] = 1.
/// Writes beta to `col[0]`, zeros below it, v into `v`; `None` when x is already reduced.
#[inline(always)]
fn reflector<const F: bool>(col: &mut [f64], v: &mut [f64]) -> Option<f64> {
    let alpha = col[0];
    let xnorm = dot::<F>(&col[1..], &col[1..]).sqrt();
    if xnorm == 0.0 {
        return None;
    }
    let beta = -alpha.signum() * alpha.hypot(xnorm);
    let tau = (beta - alpha) / beta;
    let inv = 1.0 / (alpha - beta);
    v[0] = 1.0;
    for (vi, ci) in v[1..].iter_mut().zip(&col[1..]) {
        *vi = ci * inv;
    }
    col[0] = beta;
    col[1..].iter_mut().for_each(|x| *x = 0.0);
    Some(tau)
}

/// `w = A[lo.., ..]·v` for the column-major `a` (columns of `n` rows, one per entry of `v`), as
/// many rows in registers at once as suit the path.
#[inline(always)]
fn matvec_rows<const F: bool>(a: &[f64], n: usize, lo: usize, v: &[f64], w: &mut [f64]) {
    if F {
        matvec::<F, MATVEC_ROWS_FMA>(a, n, lo, v, w);
    } else {
        matvec::<F, MATVEC_ROWS_BASE>(a, n, lo, v, w);
    }
}

/// `w = A[lo.., ..]·v`, `R` rows at a time in registers, then 8, 4, 2 and 1 (the last few
/// rows as an axpy over columns measured 4 % of the reduction at d = 100: each column's update
/// waited on the store of the one before). Each `w[i]` sums over the columns in order.
#[inline(always)]
fn matvec<const F: bool, const R: usize>(a: &[f64], n: usize, lo: usize, v: &[f64], w: &mut [f64]) {
    let mut r0 = lo;
    while r0 + R <= n {
        matvec_block::<F, R>(a, n, r0, v, &mut w[r0 - lo..]);
        r0 += R;
    }
    while r0 + 8 <= n {
        matvec_block::<F, 8>(a, n, r0, v, &mut w[r0 - lo..]);
        r0 += 8;
    }
    if r0 + 4 <= n {
        matvec_block::<F, 4>(a, n, r0, v, &mut w[r0 - lo..]);
        r0 += 4;
    }
    if r0 + 2 <= n {
        matvec_block::<F, 2>(a, n, r0, v, &mut w[r0 - lo..]);
        r0 += 2;
    }
    if r0 < n {
        matvec_block::<F, 1>(a, n, r0, v, &mut w[r0 - lo..]);
    }
}

/// Rows `r0..r0+R` of [`matvec`], accumulated in registers, into `w[..R]`.
#[inline(always)]
fn matvec_block<const F: bool, const R: usize>(
    a: &[f64],
    n: usize,
    r0: usize,
    v: &[f64],
    w: &mut [f64],
) {
    let mut acc = [0.0f64; R];
    for (c, &vt) in a.chunks_exact(n).zip(v) {
        let seg: &[f64; R] = c[r0..r0 + R].try_into().expect("R rows");
        for (x, &y) in acc.iter_mut().zip(seg) {
            *x = fmadd::<F>(vt, y, *x);
        }
    }
    w[..R].copy_from_slice(&acc);
}

/// Left update of up to [`DOT_COLS`] columns of `g` (rows `k1..`): c ← c - (tau·vᵀc)·v. Their
/// dot products run interleaved, each in [`dot`]'s own order.
#[inline(always)]
fn left_update<const F: bool>(g: &mut [f64], n: usize, k1: usize, v: &[f64], tau: f64) {
    let cols = g.len() / n;
    let mut s = [0.0f64; DOT_COLS];
    if cols == DOT_COLS {
        // `from_fn` stays a call here (no arithmetic in it, so no harm); spelling the four
        // slices out measured 7 % slower on the baseline path at d = 50.
        let c: [&[f64]; DOT_COLS] = std::array::from_fn(|j| &g[j * n + k1..(j + 1) * n]);
        s = dot4::<F>(v, c);
    } else {
        for (sj, c) in s.iter_mut().zip(g.chunks_exact(n)) {
            *sj = dot::<F>(v, &c[k1..]);
        }
    }
    for (c, &sj) in g.chunks_exact_mut(n).zip(&s) {
        axpy::<F>(-(tau * sj), v, &mut c[k1..]);
    }
}

/// Four [`dot`]s of `x` with the columns `y`, interleaved; each is bit-identical to `dot`.
#[inline(always)]
fn dot4<const F: bool>(x: &[f64], y: [&[f64]; DOT_COLS]) -> [f64; DOT_COLS] {
    let n = x.len();
    let full = n - n % 4;
    let mut acc = [[0.0f64; 4]; DOT_COLS];
    for i in (0..full).step_by(4) {
        let a: &[f64; 4] = x[i..i + 4].try_into().expect("4 entries");
        for (accj, yj) in acc.iter_mut().zip(&y) {
            let b: &[f64; 4] = yj[i..i + 4].try_into().expect("4 entries");
            for t in 0..4 {
                accj[t] = fmadd::<F>(a[t], b[t], accj[t]);
            }
        }
    }
    let finish = |a: &[f64; 4], yj: &[f64]| {
        let mut s = (a[0] + a[2]) + (a[1] + a[3]);
        for (p, q) in x[full..].iter().zip(&yj[full..n]) {
            s = fmadd::<F>(*p, *q, s);
        }
        s
    };
    // Called directly, not through `array::from_fn`, whose generic body was not inlined into
    // the FMA-compiled callers, so `mul_add` in it became a libm call (3 % at d = 50).
    [
        finish(&acc[0], y[0]),
        finish(&acc[1], y[1]),
        finish(&acc[2], y[2]),
        finish(&acc[3], y[3]),
    ]
}
