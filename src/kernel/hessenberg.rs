//! Householder reduction to upper Hessenberg form (`dgehd2` without keeping the reflectors),
//! arranged for memory traffic: two passes over the trailing matrix per column instead of four,
//! with the arithmetic of every entry done in the same order as the textbook loop (so the
//! result is bit-identical to it on every path and vector width).

use super::hqr::{axpy, dot, fmadd};

/// Rows of `w = A·v` kept in registers at once with FMA: 4 zmm or 8 ymm accumulators, enough
/// independent chains to hide the FMA latency.
const MATVEC_ROWS_FMA: usize = 32;
/// The same without FMA (SSE2 has 16 xmm registers; 8 rows are 4 of them).
const MATVEC_ROWS_BASE: usize = 8;
/// Columns whose dot products run interleaved (independent dependency chains).
const DOT_COLS: usize = 4;

/// Reduces the column-major `n`×`n` matrix `h` to upper Hessenberg form in place by Householder
/// similarity transforms. Entries below the subdiagonal are set to zero, which the QR sweeps
/// rely on. `v` and `w` are scratch of at least `n` entries.
#[inline(always)]
pub(super) fn hessenberg<const F: bool>(h: &mut [f64], n: usize, v: &mut [f64], w: &mut [f64]) {
    if n < 3 {
        return;
    }
    for k in 0..n - 2 {
        let m = n - k - 1;
        let Some(tau) = reflector::<F>(&mut h[k * n + k + 1..(k + 1) * n], &mut v[..m]) else {
            continue;
        };
        let (v, w) = (&v[..m], &mut w[..n]);
        let right = &mut h[(k + 1) * n..];
        // Right: A[.., k+1..] ← A·(I - tau·v·vᵀ) = A - tau·(A·v)·vᵀ, with w = A·v first.
        if F {
            matvec::<F, MATVEC_ROWS_FMA>(right, n, v, w);
        } else {
            matvec::<F, MATVEC_ROWS_BASE>(right, n, v, w);
        }
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

/// `w = A·v` for the column-major `a` (columns of `n` rows, one per entry of `v`), `R` rows at
/// a time in registers. Each `w[i]` sums over the columns in order, as an axpy loop would.
#[inline(always)]
fn matvec<const F: bool, const R: usize>(a: &[f64], n: usize, v: &[f64], w: &mut [f64]) {
    let mut r0 = 0;
    while r0 + R <= n {
        let mut acc = [0.0f64; R];
        for (c, &vt) in a.chunks_exact(n).zip(v) {
            let seg: &[f64; R] = c[r0..r0 + R].try_into().expect("R rows");
            for (x, &y) in acc.iter_mut().zip(seg) {
                *x = fmadd::<F>(vt, y, *x);
            }
        }
        w[r0..r0 + R].copy_from_slice(&acc);
        r0 += R;
    }
    let tail = &mut w[r0..n];
    tail.fill(0.0);
    for (c, &vt) in a.chunks_exact(n).zip(v) {
        axpy::<F>(vt, &c[r0..], tail);
    }
}

/// Left update of up to [`DOT_COLS`] columns of `g` (rows `k1..`): c ← c - (tau·vᵀc)·v. Their
/// dot products run interleaved, each in [`dot`]'s own order.
#[inline(always)]
fn left_update<const F: bool>(g: &mut [f64], n: usize, k1: usize, v: &[f64], tau: f64) {
    let cols = g.len() / n;
    let mut s = [0.0f64; DOT_COLS];
    if cols == DOT_COLS {
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
    std::array::from_fn(|j| {
        let a = &acc[j];
        let mut s = (a[0] + a[2]) + (a[1] + a[3]);
        for (p, q) in x[full..].iter().zip(&y[j][full..n]) {
            s = fmadd::<F>(*p, *q, s);
        }
        s
    })
}
