//! Real Schur form with Schur vectors, and reordering of its diagonal blocks, for small dense
//! matrices: ports of LAPACK's `dlahqr` (WANTT = WANTZ = true), `dtrexc` (COMPQ = 'V'),
//! `dlaexc`, `dlasy2`, `dlanv2`, `dlarfg` and `dlarfx`, for the aggressive-early-deflation
//! window (`dlaqr3`), where n is at most about 80.
//!
//! Storage: column-major, contiguous, leading dimension n, so entry (i, j) is at `i + j·n`.
//! Every index here is 0-based: LAPACK's row/column k is our k − 1. Plain scalar code; the window
//! is too small for the SIMD paths of the main kernel to pay off.

use std::ops::Range;

use super::hqr::{NoConvergence, bulge_start, find_split, standard_shifts};
use super::sweep::{Reach, sweep};

/// `DLAMCH('P')`: machine precision, eps · base = 2⁻⁵².
const ULP: f64 = f64::EPSILON;
/// `DLAMCH('S')`: the smallest normal number; its reciprocal does not overflow.
const SAFMIN: f64 = f64::MIN_POSITIVE;

/// Fortran's `SIGN(a, b)`: |a| with the sign bit of b (IEEE, so −0.0 counts as negative, as
/// gfortran does).
fn sign(a: f64, b: f64) -> f64 {
    a.abs().copysign(b)
}

/// `dlapy2`: √(x² + y²) without avoidable overflow; a NaN argument is returned as is.
fn lapy2(x: f64, y: f64) -> f64 {
    if y.is_nan() {
        return y;
    }
    if x.is_nan() {
        return x;
    }
    let (xa, ya) = (x.abs(), y.abs());
    let (w, z) = (xa.max(ya), xa.min(ya));
    if z == 0.0 || w > f64::MAX {
        w
    } else {
        w * (1.0 + (z / w) * (z / w)).sqrt()
    }
}

/// Euclidean norm (stands in for `dnrm2`): plain squares when no square can over- or
/// underflow, which is the normal case and avoids a `hypot` call per entry; scaled otherwise.
fn nrm2(x: &[f64]) -> f64 {
    let m = x.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    if m == 0.0 || (m > 1e-150 && m < 1e150) {
        return x.iter().map(|y| y * y).sum::<f64>().sqrt();
    }
    m * x.iter().map(|y| (y / m) * (y / m)).sum::<f64>().sqrt()
}

/// The result of [`lanv2_rot`]: the standardised 2×2 block, its eigenvalues and the rotation.
///
/// Convention (as `dlanv2`): with Q = [[cs, −sn], [sn, cs]],
/// `[[a_in, b_in], [c_in, d_in]] = Q · [[a, b], [c, d]] · Qᵀ`, i.e. the output is Qᵀ·in·Q.
/// Applying it to a bigger matrix therefore means `drot(cs, sn)` on the two rows,
/// (x, y) ← (cs·x + sn·y, cs·y − sn·x), and the same on the two columns (= right-multiplying by Q).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Lanv2 {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub rt1r: f64,
    pub rt1i: f64,
    pub rt2r: f64,
    pub rt2i: f64,
    pub cs: f64,
    pub sn: f64,
}

/// `dlanv2`: Schur factorisation of the real 2×2 [[a, b], [c, d]] in standardised form: either
/// c = 0 (real eigenvalues a and d, the larger-magnitude one first when possible), or a = d and
/// b·c < 0 (the complex pair a ± i·√|b|·√|c|, positive imaginary part first). See [`Lanv2`] for
/// the rotation's convention.
pub(super) fn lanv2_rot(a: f64, b: f64, c: f64, d: f64) -> Lanv2 {
    const MULTPL: f64 = 4.0;
    let (mut a, mut b, mut c, mut d) = (a, b, c, d);
    let (cs, sn);
    if c == 0.0 {
        (cs, sn) = (1.0, 0.0);
    } else if b == 0.0 {
        // Swap rows and columns.
        (cs, sn) = (0.0, 1.0);
        std::mem::swap(&mut a, &mut d);
        b = -c;
        c = 0.0;
    } else if a - d == 0.0 && sign(1.0, b) != sign(1.0, c) {
        // Already standard: equal diagonal, off-diagonals of opposite sign.
        (cs, sn) = (1.0, 0.0);
    } else {
        let temp = a - d;
        let p = 0.5 * temp;
        let bcmax = b.abs().max(c.abs());
        let bcmis = b.abs().min(c.abs()) * sign(1.0, b) * sign(1.0, c);
        let scale = p.abs().max(bcmax);
        let z = (p / scale) * p + (bcmax / scale) * bcmis;
        // z of the order of the rounding error: postpone deciding whether the eigenvalues are
        // real, the equal-diagonal rotation below settles it without cancellation.
        if z >= MULTPL * ULP {
            // Real eigenvalues: a gets the one of larger magnitude, d the other from the
            // product (no cancellation).
            let z = p + sign(scale.sqrt() * z.sqrt(), p);
            a = d + z;
            d -= (bcmax / z) * bcmis;
            let tau = lapy2(c, z);
            cs = z / tau;
            sn = c / tau;
            b -= c;
            c = 0.0;
        } else {
            [a, b, c, d, cs, sn] = lanv2_equal_diagonal(a, b, c, d);
        }
    }
    let (rt1i, rt2i) = if c == 0.0 {
        (0.0, 0.0)
    } else {
        let im = b.abs().sqrt() * c.abs().sqrt();
        (im, -im)
    };
    Lanv2 {
        a,
        b,
        c,
        d,
        rt1r: a,
        rt1i,
        rt2r: d,
        rt2i,
        cs,
        sn,
    }
}

/// `dlanv2`'s complex (or nearly equal real) case: rotate to make the diagonal equal, then, if
/// b and c turn out to have the same sign, rotate once more to upper triangular. Returns
/// [a, b, c, d, cs, sn].
fn lanv2_equal_diagonal(a: f64, b: f64, c: f64, d: f64) -> [f64; 6] {
    // A power of two near √(SAFMIN/ULP): scaling sigma and temp by it keeps the hypotenuse
    // representable and is exact.
    let safmn2 = 2f64.powi(((SAFMIN / ULP).log2() / 2.0) as i32);
    let safmx2 = 1.0 / safmn2;
    let mut temp = a - d;
    let mut sigma = b + c;
    let mut count = 0;
    loop {
        count += 1;
        let scale = temp.abs().max(sigma.abs());
        if scale >= safmx2 {
            sigma *= safmn2;
            temp *= safmn2;
            if count <= 20 {
                continue;
            }
        }
        if scale <= safmn2 {
            sigma *= safmx2;
            temp *= safmx2;
            if count <= 20 {
                continue;
            }
        }
        break;
    }
    let p = 0.5 * temp;
    let tau = lapy2(sigma, temp);
    let mut cs = (0.5 * (1.0 + sigma.abs() / tau)).sqrt();
    let mut sn = -(p / (tau * cs)) * sign(1.0, sigma);
    // [aa bb; cc dd] = [a b; c d]·[cs −sn; sn cs], then [a b; c d] = [cs sn; −sn cs]·[aa bb; cc dd].
    let (aa, bb) = (a * cs + b * sn, -a * sn + b * cs);
    let (cc, dd) = (c * cs + d * sn, -c * sn + d * cs);
    let a2 = aa * cs + cc * sn;
    let mut b = (bb * cs) + (dd * sn);
    let mut c = -(aa * sn) + (cc * cs);
    let d2 = -bb * sn + dd * cs;
    let temp = 0.5 * (a2 + d2);
    let (mut a, mut d) = (temp, temp);
    if c != 0.0 {
        if b != 0.0 {
            if sign(1.0, b) == sign(1.0, c) {
                // Real eigenvalues after all: reduce to upper triangular form.
                let sab = b.abs().sqrt();
                let sac = c.abs().sqrt();
                let p = sign(sab * sac, c);
                let tau = 1.0 / (b + c).abs().sqrt();
                a = temp + p;
                d = temp - p;
                b -= c;
                c = 0.0;
                let (cs1, sn1) = (sab * tau, sac * tau);
                (cs, sn) = (cs * cs1 - sn * sn1, cs * sn1 + sn * cs1);
            }
        } else {
            b = -c;
            c = 0.0;
            (cs, sn) = (-sn, cs);
        }
    }
    [a, b, c, d, cs, sn]
}

/// `dlarfg` for a vector of 1 + `x.len()` entries: finds H = I − tau·u·uᵀ, u = [1; v], with
/// H·[alpha; x] = [beta; 0]. On return `alpha` = beta and `x` = v; returns tau (0 when x = 0,
/// H = I).
pub(super) fn larfg(alpha: &mut f64, x: &mut [f64]) -> f64 {
    // DLAMCH('S') / DLAMCH('E'); LAPACK's 'E' is the unit roundoff, half of f64::EPSILON.
    const SMALL: f64 = SAFMIN / (f64::EPSILON / 2.0);
    if x.is_empty() {
        return 0.0;
    }
    let xnorm = nrm2(x);
    if xnorm == 0.0 {
        return 0.0;
    }
    let mut beta = -sign(lapy2(*alpha, xnorm), *alpha);
    let mut knt = 0;
    if beta.abs() < SMALL {
        // xnorm and beta may be inaccurate this close to underflow: scale up and recompute.
        let rsafmn = 1.0 / SMALL;
        loop {
            knt += 1;
            x.iter_mut().for_each(|v| *v *= rsafmn);
            beta *= rsafmn;
            *alpha *= rsafmn;
            if !(beta.abs() < SMALL && knt < 20) {
                break;
            }
        }
        beta = -sign(lapy2(*alpha, nrm2(x)), *alpha);
    }
    let tau = (beta - *alpha) / beta;
    let scal = 1.0 / (*alpha - beta);
    x.iter_mut().for_each(|v| *v *= scal);
    for _ in 0..knt {
        beta *= SMALL;
    }
    *alpha = beta;
    tau
}

/// An elementary reflector H = I − tau·v·vᵀ of order `len` (2 or 3), applied like `dlarfx`'s
/// unrolled small cases (and `dlahqr`'s inline loops): sum = vᵀx, x ← x − sum·(tau·v).
#[derive(Clone, Copy, Debug)]
struct Reflector {
    v: [f64; 3],
    tau: f64,
    len: usize,
}

impl Reflector {
    /// A ← H·A on rows `r0..r0 + len` and the columns `cols` (A has leading dimension `ld`).
    fn left(&self, a: &mut [f64], ld: usize, r0: usize, cols: Range<usize>) {
        if self.tau == 0.0 {
            return;
        }
        let (v, len) = (self.v, self.len);
        let tv = v.map(|x| self.tau * x);
        for j in cols {
            let col = &mut a[r0 + j * ld..r0 + j * ld + len];
            let sum: f64 = (1..len).fold(v[0] * col[0], |s, k| s + v[k] * col[k]);
            for k in 0..len {
                col[k] -= sum * tv[k];
            }
        }
    }

    /// A ← A·H on columns `c0..c0 + len` and the rows `rows`.
    fn right(&self, a: &mut [f64], ld: usize, c0: usize, rows: Range<usize>) {
        if self.tau == 0.0 {
            return;
        }
        let (v, len) = (self.v, self.len);
        let tv = v.map(|x| self.tau * x);
        for i in rows {
            let at = |k: usize| i + (c0 + k) * ld;
            let sum: f64 = (1..len).fold(v[0] * a[at(0)], |s, k| s + v[k] * a[at(k)]);
            for k in 0..len {
                a[at(k)] -= sum * tv[k];
            }
        }
    }
}

/// `drot` on rows r1 and r2 over the columns `cols`: (x, y) ← (cs·x + sn·y, cs·y − sn·x).
fn rot_rows(
    a: &mut [f64],
    ld: usize,
    (r1, r2): (usize, usize),
    cols: Range<usize>,
    cs: f64,
    sn: f64,
) {
    for j in cols {
        let (x, y) = (a[r1 + j * ld], a[r2 + j * ld]);
        a[r1 + j * ld] = cs * x + sn * y;
        a[r2 + j * ld] = cs * y - sn * x;
    }
}

/// `drot` on columns c1 and c2 over the rows `rows`.
fn rot_cols(
    a: &mut [f64],
    ld: usize,
    (c1, c2): (usize, usize),
    rows: Range<usize>,
    cs: f64,
    sn: f64,
) {
    for i in rows {
        let (x, y) = (a[i + c1 * ld], a[i + c2 * ld]);
        a[i + c1 * ld] = cs * x + sn * y;
        a[i + c2 * ld] = cs * y - sn * x;
    }
}

/// Standardises the 2×2 block at rows/columns (j, j+1) of the n×n `t` with [`lanv2_rot`] and
/// applies the rotation to the rest of `t` and to `z`. Returns the block's eigenvalues.
fn standardize_block(t: &mut [f64], n: usize, z: &mut [f64], j: usize) -> Lanv2 {
    let at = |i: usize, k: usize| i + k * n;
    let r = lanv2_rot(
        t[at(j, j)],
        t[at(j, j + 1)],
        t[at(j + 1, j)],
        t[at(j + 1, j + 1)],
    );
    t[at(j, j)] = r.a;
    t[at(j, j + 1)] = r.b;
    t[at(j + 1, j)] = r.c;
    t[at(j + 1, j + 1)] = r.d;
    rot_rows(t, n, (j, j + 1), j + 2..n, r.cs, r.sn);
    rot_cols(t, n, (j, j + 1), 0..j, r.cs, r.sn);
    rot_cols(z, n, (j, j + 1), 0..n, r.cs, r.sn);
    r
}

/// `dlahqr` with WANTT = WANTZ = true, ILO = 1, IHI = n, ILOZ = 1, IHIZ = n.
///
/// `t` (n×n upper Hessenberg; whatever lies below the subdiagonal is ignored and zeroed first)
/// becomes the real Schur form T = Zᵀ·T_in·Z: quasi-upper-triangular with every 2×2 block
/// standardised (equal diagonal, off-diagonals of opposite sign, a complex pair). `z` (n×n,
/// initialised by the caller, usually to I) becomes z·Z. `wr`/`wi` (length ≥ n) get the
/// eigenvalues in diagonal order, complex pairs adjacent with the positive imaginary part first.
///
/// [`NoConvergence`] when a block fails to deflate within ITMAX = 30·max(10, n) iterations. Then,
/// as in LAPACK, `t` and `z` are still an orthogonal similarity of the input
/// (z_out·t_out·z_outᵀ = z_in·T_in·z_inᵀ up to rounding and negligible subdiagonals set to 0),
/// and `wr`/`wi` hold the eigenvalues of the blocks that did deflate (rows below the failed one).
#[inline(always)]
pub(super) fn schur<const F: bool>(
    (t, n, z): (&mut [f64], usize, &mut [f64]),
    wr: &mut [f64],
    wi: &mut [f64],
    scratch: &mut [f64],
) -> Result<(), NoConvergence> {
    assert!(t.len() >= n * n && z.len() >= n * n && wr.len() >= n && wi.len() >= n);
    for j in 0..n {
        t[j * n + (j + 2).min(n)..(j + 1) * n].fill(0.0);
    }
    if n == 0 {
        return Ok(());
    }
    let itmax = 30 * n.max(10);
    // Iterations since the last deflation; drives the exceptional-shift schedule.
    let mut kdefl = 0usize;
    // The active block is rows/columns l..=i; everything below i has converged.
    let mut i = n - 1;
    loop {
        let l = iterate_until_split::<F>((t, n, z), i, itmax, &mut kdefl, scratch)?;
        if l == i {
            wr[i] = t[i + i * n];
            wi[i] = 0.0;
        } else {
            // A 2×2 block split off: standardise it, which also gives accurate eigenvalues.
            let r = standardize_block(t, n, z, i - 1);
            (wr[i - 1], wi[i - 1], wr[i], wi[i]) = (r.rt1r, r.rt1i, r.rt2r, r.rt2i);
        }
        kdefl = 0;
        if l == 0 {
            return Ok(());
        }
        i = l - 1;
    }
}

/// Double-shift QR sweeps on the active block ending at row `i` until a 1×1 or 2×2 block splits
/// off at its bottom; returns that block's first row l (l = i or i − 1).
#[inline(always)]
fn iterate_until_split<const F: bool>(
    (t, n, z): (&mut [f64], usize, &mut [f64]),
    i: usize,
    itmax: usize,
    kdefl: &mut usize,
    scratch: &mut [f64],
) -> Result<usize, NoConvergence> {
    // Top of the active block; it only moves down while this block is iterated.
    let mut l = 0usize;
    for _its in 0..=itmax {
        l = find_split(t, n, l, i);
        if l > 0 {
            t[l + (l - 1) * n] = 0.0;
        }
        if l + 1 >= i {
            return Ok(l);
        }
        *kdefl += 1;
        let shifts = standard_shifts(t, n, (l, i), *kdefl);
        let (m, v) = bulge_start::<F>(t, n, (l, i), shifts);
        // `W` false: the Schur forms are aggressive early deflation's windows, which on the
        // AVX-512 path run in the whole AVX-512 build, and 4×4 blocks, too small for a batch.
        sweep::<F, false>(t, n, (l, i, m), v, scratch, Reach::full(n, z));
    }
    Err(NoConvergence)
}

/// A swap of two adjacent blocks that `dlaexc` rejected: it would have perturbed the
/// eigenvalues too much (the blocks' eigenvalues are too close to swap stably).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SwapRejected;

/// The size (1 or 2) of the diagonal block starting at row `j` of the quasi-triangular `t`.
fn block_size(t: &[f64], n: usize, j: usize) -> usize {
    if j + 1 < n && t[(j + 1) + j * n] != 0.0 {
        2
    } else {
        1
    }
}

/// `dtrexc` with COMPQ = 'V': moves the diagonal block (1×1 or 2×2) that contains row `ifst` of
/// the real Schur form `t` so that it starts at row `ilst` (both 0-based), by orthogonal swaps of
/// adjacent blocks ([`laexc`]), accumulating them into `z` (z ← z·Q).
///
/// As in `dtrexc`, `ifst` and `ilst` are first moved to the start of their blocks (and `ilst`
/// adjusted when the two blocks differ in size). Returns `Ok(row)` with the row the block now
/// starts at, or `Err(row)` when a swap was rejected (`dtrexc`'s INFO = 1): then `t` and `z` are
/// still an orthogonal similarity of the input with the block moved as far as `row`.
pub(super) fn trexc(
    t: &mut [f64],
    n: usize,
    z: &mut [f64],
    ifst: usize,
    ilst: usize,
) -> Result<usize, usize> {
    assert!(t.len() >= n * n && z.len() >= n * n && ifst < n.max(1) && ilst < n.max(1));
    if n <= 1 {
        return Ok(ilst);
    }
    let at = |r: usize, c: usize| r + c * n;
    let mut ifst = ifst;
    if ifst > 0 && t[at(ifst, ifst - 1)] != 0.0 {
        ifst -= 1;
    }
    let nbf = block_size(t, n, ifst);
    let mut ilst = ilst;
    if ilst > 0 && t[at(ilst, ilst - 1)] != 0.0 {
        ilst -= 1;
    }
    let nbl = block_size(t, n, ilst);
    if ifst == ilst {
        return Ok(ilst);
    }
    if ifst < ilst {
        if nbf == 2 && nbl == 1 {
            ilst -= 1;
        }
        if nbf == 1 && nbl == 2 {
            ilst += 1;
        }
        move_down(t, n, z, ifst, nbf, ilst)
    } else {
        move_up(t, n, z, ifst, nbf, ilst)
    }
}

/// `dtrexc`'s downward loop: swaps the block at `here` (size `nbf`; 3 means a 2×2 that split
/// into two 1×1s on the way) with the block below until it starts at `ilst`.
fn move_down(
    t: &mut [f64],
    n: usize,
    z: &mut [f64],
    ifst: usize,
    nbf: usize,
    ilst: usize,
) -> Result<usize, usize> {
    let (mut here, mut nbf) = (ifst, nbf);
    while here < ilst {
        if nbf <= 2 {
            let nbnext = if here + nbf + 1 < n {
                block_size(t, n, here + nbf)
            } else {
                1
            };
            laexc(t, n, z, here, nbf, nbnext).map_err(|_| here)?;
            here += nbnext;
            // A 2×2 block can break into two 1×1 blocks when swapped.
            if nbf == 2 && t[(here + 1) + here * n] == 0.0 {
                nbf = 3;
            }
        } else {
            // Two 1×1 blocks, each swapped on its own.
            let mut nbnext = if here + 3 < n {
                block_size(t, n, here + 2)
            } else {
                1
            };
            laexc(t, n, z, here + 1, 1, nbnext).map_err(|_| here)?;
            if nbnext == 1 {
                // Two 1×1 blocks always swap.
                let _ = laexc(t, n, z, here, 1, 1);
                here += 1;
            } else {
                // The 2×2 block may have split in the swap.
                if t[(here + 2) + (here + 1) * n] == 0.0 {
                    nbnext = 1;
                }
                if nbnext == 2 {
                    laexc(t, n, z, here, 1, 2).map_err(|_| here)?;
                } else {
                    let _ = laexc(t, n, z, here, 1, 1);
                    let _ = laexc(t, n, z, here + 1, 1, 1);
                }
                here += 2;
            }
        }
    }
    Ok(here)
}

/// `dtrexc`'s upward loop, the mirror image of [`move_down`].
fn move_up(
    t: &mut [f64],
    n: usize,
    z: &mut [f64],
    ifst: usize,
    nbf: usize,
    ilst: usize,
) -> Result<usize, usize> {
    let (mut here, mut nbf) = (ifst, nbf);
    while here > ilst {
        let mut nbnext = if here >= 2 && t[(here - 1) + (here - 2) * n] != 0.0 {
            2
        } else {
            1
        };
        if nbf <= 2 {
            laexc(t, n, z, here - nbnext, nbnext, nbf).map_err(|_| here)?;
            here -= nbnext;
            // A 2×2 block can break into two 1×1 blocks when swapped.
            if nbf == 2 && t[(here + 1) + here * n] == 0.0 {
                nbf = 3;
            }
        } else {
            // Two 1×1 blocks, each swapped on its own.
            laexc(t, n, z, here - nbnext, nbnext, 1).map_err(|_| here)?;
            if nbnext == 1 {
                // Two 1×1 blocks always swap.
                let _ = laexc(t, n, z, here, 1, 1);
                here -= 1;
            } else {
                // The 2×2 block may have split in the swap.
                if t[here + (here - 1) * n] == 0.0 {
                    nbnext = 1;
                }
                if nbnext == 2 {
                    laexc(t, n, z, here - 1, 2, 1).map_err(|_| here)?;
                } else {
                    let _ = laexc(t, n, z, here, 1, 1);
                    let _ = laexc(t, n, z, here - 1, 1, 1);
                }
                here -= 2;
            }
        }
    }
    Ok(here)
}

/// `dlaexc` with WANTQ: swaps the adjacent diagonal blocks T11 (n1×n1, starting at row j1) and
/// T22 (n2×n2, just below) of the quasi-triangular `t` by an orthogonal similarity, accumulated
/// into `z`. Swaps involving a 2×2 block are done provisionally on a 4×4 copy first and rejected
/// ([`SwapRejected`], `t` and `z` untouched) when that copy's would-be-zero part exceeds
/// max(10·ULP·‖block‖_max, SAFMIN/ULP), LAPACK's stability test.
fn laexc(
    t: &mut [f64],
    n: usize,
    z: &mut [f64],
    j1: usize,
    n1: usize,
    n2: usize,
) -> Result<(), SwapRejected> {
    if n == 0 || n1 == 0 || n2 == 0 || j1 + n1 >= n {
        return Ok(());
    }
    if n1 == 1 && n2 == 1 {
        swap_1x1(t, n, z, j1);
        return Ok(());
    }
    let nd = n1 + n2;
    let mut d = [0.0f64; 16];
    for c in 0..nd {
        for r in 0..nd {
            d[r + 4 * c] = t[(j1 + r) + (j1 + c) * n];
        }
    }
    let dnorm = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let thresh = (10.0 * ULP * dnorm).max(SAFMIN / ULP);
    // Solve T11·X − X·T22 = scale·T12 for X.
    let sub = |r0: usize, c0: usize, rows: usize, cols: usize| {
        let mut m = [[0.0; 2]; 2];
        for (r, row) in m.iter_mut().enumerate().take(rows) {
            for (c, x) in row.iter_mut().enumerate().take(cols) {
                *x = d[(r0 + r) + 4 * (c0 + c)];
            }
        }
        m
    };
    let (tl, tr, b) = (sub(0, 0, n1, n1), sub(n1, n1, n2, n2), sub(0, n1, n1, n2));
    let sol = lasy2(-1.0, n1, n2, &tl, &tr, &b);
    let swap = Swap {
        j1,
        thresh,
        scale: sol.scale,
        x: sol.x,
    };
    match (n1, n2) {
        (1, 2) => swap.one_two(t, n, z, &mut d)?,
        (2, 1) => swap.two_one(t, n, z, &mut d)?,
        _ => swap.two_two(t, n, z, &mut d)?,
    }
    // The swapped 2×2 blocks come out unstandardised: standardise them.
    if n2 == 2 {
        standardize_block(t, n, z, j1);
    }
    if n1 == 2 {
        standardize_block(t, n, z, j1 + n2);
    }
    Ok(())
}

/// `dlaexc`'s 1×1 ↔ 1×1 swap: one rotation, always accepted.
fn swap_1x1(t: &mut [f64], n: usize, z: &mut [f64], j1: usize) {
    let at = |r: usize, c: usize| r + c * n;
    let j2 = j1 + 1;
    let (t11, t22) = (t[at(j1, j1)], t[at(j2, j2)]);
    // The rotation that maps [t12, t22 − t11] to [r, 0] moves eigenvector t22 to the front.
    let (cs, sn) = lartg(t[at(j1, j2)], t22 - t11);
    rot_rows(t, n, (j1, j2), j1 + 2..n, cs, sn);
    rot_cols(t, n, (j1, j2), 0..j1, cs, sn);
    t[at(j1, j1)] = t22;
    t[at(j2, j2)] = t11;
    rot_cols(z, n, (j1, j2), 0..n, cs, sn);
}

/// `dlartg` (the current, Anderson 2017, version): (cs, sn) with [cs sn; −sn cs]·[f; g] = [r; 0].
fn lartg(f: f64, g: f64) -> (f64, f64) {
    let safmax = 1.0 / SAFMIN;
    let rtmin = SAFMIN.sqrt();
    let rtmax = (safmax / 2.0).sqrt();
    let (f1, g1) = (f.abs(), g.abs());
    if g == 0.0 {
        (1.0, 0.0)
    } else if f == 0.0 {
        (0.0, sign(1.0, g))
    } else if f1 > rtmin && f1 < rtmax && g1 > rtmin && g1 < rtmax {
        let d = (f * f + g * g).sqrt();
        let r = sign(d, f);
        (f1 / d, g / r)
    } else {
        let u = safmax.min(SAFMIN.max(f1).max(g1));
        let (fs, gs) = (f / u, g / u);
        let d = (fs * fs + gs * gs).sqrt();
        let r = sign(d, f);
        (fs.abs() / d, gs / r)
    }
}

/// What the three `dlaexc` swaps involving a 2×2 block share: the Sylvester solution X and
/// scale (which span the invariant subspace of T22), the block's first row and the threshold.
struct Swap {
    j1: usize,
    thresh: f64,
    scale: f64,
    x: [[f64; 2]; 2],
}

impl Swap {
    /// n1 = 1, n2 = 2: a reflector H with (scale, x11, x12)·H = (0, 0, *).
    fn one_two(
        &self,
        t: &mut [f64],
        n: usize,
        z: &mut [f64],
        d: &mut [f64; 16],
    ) -> Result<(), SwapRejected> {
        let j1 = self.j1;
        let mut u = [self.scale, self.x[0][0], self.x[0][1]];
        let mut alpha = u[2];
        let tau = larfg(&mut alpha, &mut u[..2]);
        let h = Reflector {
            v: [u[0], u[1], 1.0],
            tau,
            len: 3,
        };
        let t11 = t[j1 + j1 * n];
        // Swap provisionally on the copy; reject if the 1×1 did not come out decoupled.
        h.left(d, 4, 0, 0..3);
        h.right(d, 4, 0, 0..3);
        if d[2].abs().max(d[2 + 4].abs()).max((d[2 + 8] - t11).abs()) > self.thresh {
            return Err(SwapRejected);
        }
        h.left(t, n, j1, j1..n);
        h.right(t, n, j1, 0..j1 + 2);
        let j3 = j1 + 2;
        t[j3 + j1 * n] = 0.0;
        t[j3 + (j1 + 1) * n] = 0.0;
        t[j3 + j3 * n] = t11;
        h.right(z, n, j1, 0..n);
        Ok(())
    }

    /// n1 = 2, n2 = 1: a reflector H with H·(−x11, −x21, scale)ᵀ = (*, 0, 0)ᵀ.
    fn two_one(
        &self,
        t: &mut [f64],
        n: usize,
        z: &mut [f64],
        d: &mut [f64; 16],
    ) -> Result<(), SwapRejected> {
        let j1 = self.j1;
        let mut u = [-self.x[0][0], -self.x[1][0], self.scale];
        let mut alpha = u[0];
        let tau = larfg(&mut alpha, &mut u[1..]);
        let h = Reflector {
            v: [1.0, u[1], u[2]],
            tau,
            len: 3,
        };
        let t33 = t[(j1 + 2) + (j1 + 2) * n];
        h.left(d, 4, 0, 0..3);
        h.right(d, 4, 0, 0..3);
        if d[1].abs().max(d[2].abs()).max((d[0] - t33).abs()) > self.thresh {
            return Err(SwapRejected);
        }
        h.right(t, n, j1, 0..j1 + 3);
        h.left(t, n, j1, j1 + 1..n);
        t[j1 + j1 * n] = t33;
        t[(j1 + 1) + j1 * n] = 0.0;
        t[(j1 + 2) + j1 * n] = 0.0;
        h.right(z, n, j1, 0..n);
        Ok(())
    }

    /// n1 = n2 = 2: reflectors H1, H2 with
    /// H2·H1·[−X; scale·I] = [R; 0] (R 2×2 upper triangular).
    fn two_two(
        &self,
        t: &mut [f64],
        n: usize,
        z: &mut [f64],
        d: &mut [f64; 16],
    ) -> Result<(), SwapRejected> {
        let (j1, x, scale) = (self.j1, self.x, self.scale);
        let mut u1 = [-x[0][0], -x[1][0], scale];
        let mut alpha = u1[0];
        let tau1 = larfg(&mut alpha, &mut u1[1..]);
        let h1 = Reflector {
            v: [1.0, u1[1], u1[2]],
            tau: tau1,
            len: 3,
        };
        // H1 applied to the second column (−x12, −x22, 0, scale), rows 2..4 of it.
        let temp = -tau1 * (x[0][1] + u1[1] * x[1][1]);
        let mut u2 = [-temp * u1[1] - x[1][1], -temp * u1[2], scale];
        let mut alpha = u2[0];
        let tau2 = larfg(&mut alpha, &mut u2[1..]);
        let h2 = Reflector {
            v: [1.0, u2[1], u2[2]],
            tau: tau2,
            len: 3,
        };
        h1.left(d, 4, 0, 0..4);
        h1.right(d, 4, 0, 0..4);
        h2.left(d, 4, 1, 0..4);
        h2.right(d, 4, 1, 0..4);
        let lower = [d[2], d[2 + 4], d[3], d[3 + 4]];
        if lower.iter().fold(0.0f64, |m, v| m.max(v.abs())) > self.thresh {
            return Err(SwapRejected);
        }
        h1.left(t, n, j1, j1..n);
        h1.right(t, n, j1, 0..j1 + 4);
        h2.left(t, n, j1 + 1, j1..n);
        h2.right(t, n, j1 + 1, 0..j1 + 4);
        for (r, c) in [(2, 0), (2, 1), (3, 0), (3, 1)] {
            t[(j1 + r) + (j1 + c) * n] = 0.0;
        }
        h1.right(z, n, j1, 0..n);
        h2.right(z, n, j1 + 1, 0..n);
        Ok(())
    }
}

/// The solution of [`lasy2`]: TL·X + sgn·X·TR = scale·B. `xnorm` and `perturbed` are outputs
/// `dlaexc` ignores; they are kept for the tests and for callers that want them.
#[derive(Clone, Copy, Debug)]
struct Lasy2 {
    /// Entry [r][c] is X(r, c); only the n1×n2 corner is meaningful.
    x: [[f64; 2]; 2],
    /// In (0, 1]: the right-hand side was scaled down by it to avoid overflow.
    scale: f64,
    /// ‖X‖_∞.
    #[cfg_attr(not(test), allow(dead_code))]
    xnorm: f64,
    /// True when TL and −sgn·TR have (nearly) common eigenvalues and the system was perturbed
    /// (`dlasy2`'s INFO = 1).
    #[cfg_attr(not(test), allow(dead_code))]
    perturbed: bool,
}

/// `dlasy2` without transposes (the only case `dlaexc` uses): solves TL·X + sgn·X·TR = scale·B
/// for the n1×n2 X, n1, n2 ∈ {1, 2}, by Gaussian elimination with complete pivoting on the
/// equivalent (n1·n2)×(n1·n2) system; pivots below `smin` are raised to it. Matrices are indexed
/// [row][col].
fn lasy2(
    sgn: f64,
    n1: usize,
    n2: usize,
    tl: &[[f64; 2]; 2],
    tr: &[[f64; 2]; 2],
    b: &[[f64; 2]; 2],
) -> Lasy2 {
    let smlnum = SAFMIN / ULP;
    match (n1, n2) {
        (1, 1) => {
            let mut tau1 = tl[0][0] + sgn * tr[0][0];
            let mut bet = tau1.abs();
            let perturbed = bet <= smlnum;
            if perturbed {
                tau1 = smlnum;
                bet = smlnum;
            }
            let gam = b[0][0].abs();
            let scale = if smlnum * gam > bet { 1.0 / gam } else { 1.0 };
            let x00 = (b[0][0] * scale) / tau1;
            Lasy2 {
                x: [[x00, 0.0], [0.0, 0.0]],
                scale,
                xnorm: x00.abs(),
                perturbed,
            }
        }
        (1, 2) => {
            let m = tl[0][0].abs().max(tr[0][0].abs()).max(tr[0][1].abs());
            let smin = (ULP * m.max(tr[1][0].abs()).max(tr[1][1].abs())).max(smlnum);
            let tmp = [
                tl[0][0] + sgn * tr[0][0],
                sgn * tr[0][1],
                sgn * tr[1][0],
                tl[0][0] + sgn * tr[1][1],
            ];
            let (x, scale, perturbed) = solve_2x2(tmp, [b[0][0], b[0][1]], smin, smlnum);
            let xnorm = x[0].abs() + x[1].abs();
            Lasy2 {
                x: [[x[0], x[1]], [0.0, 0.0]],
                scale,
                xnorm,
                perturbed,
            }
        }
        (2, 1) => {
            let m = tr[0][0].abs().max(tl[0][0].abs()).max(tl[0][1].abs());
            let smin = (ULP * m.max(tl[1][0].abs()).max(tl[1][1].abs())).max(smlnum);
            let tmp = [
                tl[0][0] + sgn * tr[0][0],
                tl[1][0],
                tl[0][1],
                tl[1][1] + sgn * tr[0][0],
            ];
            let (x, scale, perturbed) = solve_2x2(tmp, [b[0][0], b[1][0]], smin, smlnum);
            let xnorm = x[0].abs().max(x[1].abs());
            Lasy2 {
                x: [[x[0], 0.0], [x[1], 0.0]],
                scale,
                xnorm,
                perturbed,
            }
        }
        _ => lasy2_2x2(sgn, tl, tr, b, smlnum),
    }
}

/// `dlasy2`'s 2×2 system (label 40): `tmp` is the matrix column-major [t11, t21, t12, t22], solved
/// with complete pivoting. Returns (x, scale, perturbed).
fn solve_2x2(tmp: [f64; 4], btmp: [f64; 2], smin: f64, smlnum: f64) -> ([f64; 2], f64, bool) {
    // For each pivot position (column-major): where U12, L21 and U22 are, and whether the pivot
    // swaps the unknowns (column swap) or the equations (row swap).
    const LOCU12: [usize; 4] = [2, 3, 0, 1];
    const LOCL21: [usize; 4] = [1, 0, 3, 2];
    const LOCU22: [usize; 4] = [3, 2, 1, 0];
    const XSWPIV: [bool; 4] = [false, false, true, true];
    const BSWPIV: [bool; 4] = [false, true, false, true];
    // idamax: the first index of the largest magnitude.
    let ipiv = (1..4).fold(0, |best, k| {
        if tmp[k].abs() > tmp[best].abs() {
            k
        } else {
            best
        }
    });
    let mut perturbed = false;
    let mut u11 = tmp[ipiv];
    if u11.abs() <= smin {
        perturbed = true;
        u11 = smin;
    }
    let u12 = tmp[LOCU12[ipiv]];
    let l21 = tmp[LOCL21[ipiv]] / u11;
    let mut u22 = tmp[LOCU22[ipiv]] - u12 * l21;
    if u22.abs() <= smin {
        perturbed = true;
        u22 = smin;
    }
    let mut btmp = btmp;
    if BSWPIV[ipiv] {
        btmp = [btmp[1], btmp[0] - l21 * btmp[1]];
    } else {
        btmp[1] -= l21 * btmp[0];
    }
    let mut scale = 1.0;
    if (2.0 * smlnum) * btmp[1].abs() > u22.abs() || (2.0 * smlnum) * btmp[0].abs() > u11.abs() {
        scale = 0.5 / btmp[0].abs().max(btmp[1].abs());
        btmp = btmp.map(|v| v * scale);
    }
    let x2 = btmp[1] / u22;
    let x1 = btmp[0] / u11 - (u12 / u11) * x2;
    let x = if XSWPIV[ipiv] { [x2, x1] } else { [x1, x2] };
    (x, scale, perturbed)
}

/// `dlasy2`'s 2×2 ↔ 2×2 case: the equivalent 4×4 system (unknowns x11, x21, x12, x22), Gaussian
/// elimination with complete pivoting.
fn lasy2_2x2(
    sgn: f64,
    tl: &[[f64; 2]; 2],
    tr: &[[f64; 2]; 2],
    b: &[[f64; 2]; 2],
    smlnum: f64,
) -> Lasy2 {
    let mx = |m: &[[f64; 2]; 2]| m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    let smin = (ULP * mx(tr).max(mx(tl))).max(smlnum);
    let mut t16 = [[0.0f64; 4]; 4];
    t16[0][0] = tl[0][0] + sgn * tr[0][0];
    t16[1][1] = tl[1][1] + sgn * tr[0][0];
    t16[2][2] = tl[0][0] + sgn * tr[1][1];
    t16[3][3] = tl[1][1] + sgn * tr[1][1];
    (t16[0][1], t16[1][0], t16[2][3], t16[3][2]) = (tl[0][1], tl[1][0], tl[0][1], tl[1][0]);
    (t16[0][2], t16[1][3]) = (sgn * tr[1][0], sgn * tr[1][0]);
    (t16[2][0], t16[3][1]) = (sgn * tr[0][1], sgn * tr[0][1]);
    let mut btmp = [b[0][0], b[1][0], b[0][1], b[1][1]];
    let mut perturbed = false;
    let mut jpiv = [0usize; 4];
    for i in 0..3 {
        // Complete pivoting; `>=` keeps the last of equal maxima, as LAPACK does.
        let (mut xmax, mut ipsv, mut jpsv) = (0.0, i, i);
        for (ip, row) in t16.iter().enumerate().skip(i) {
            for (jp, v) in row.iter().enumerate().skip(i) {
                if v.abs() >= xmax {
                    (xmax, ipsv, jpsv) = (v.abs(), ip, jp);
                }
            }
        }
        if ipsv != i {
            t16.swap(ipsv, i);
            btmp.swap(ipsv, i);
        }
        if jpsv != i {
            t16.iter_mut().for_each(|row| row.swap(jpsv, i));
        }
        jpiv[i] = jpsv;
        if t16[i][i].abs() < smin {
            perturbed = true;
            t16[i][i] = smin;
        }
        for j in i + 1..4 {
            t16[j][i] /= t16[i][i];
            btmp[j] -= t16[j][i] * btmp[i];
            for k in i + 1..4 {
                t16[j][k] -= t16[j][i] * t16[i][k];
            }
        }
    }
    if t16[3][3].abs() < smin {
        perturbed = true;
        t16[3][3] = smin;
    }
    let mut scale = 1.0;
    if (0..4).any(|k| (8.0 * smlnum) * btmp[k].abs() > t16[k][k].abs()) {
        scale = (1.0 / 8.0) / btmp.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        btmp = btmp.map(|v| v * scale);
    }
    let mut tmp = [0.0f64; 4];
    for k in (0..4).rev() {
        let temp = 1.0 / t16[k][k];
        tmp[k] = btmp[k] * temp;
        for j in k + 1..4 {
            tmp[k] -= (temp * t16[k][j]) * tmp[j];
        }
    }
    for k in (0..3).rev() {
        if jpiv[k] != k {
            tmp.swap(k, jpiv[k]);
        }
    }
    let xnorm = (tmp[0].abs() + tmp[2].abs()).max(tmp[1].abs() + tmp[3].abs());
    Lasy2 {
        x: [[tmp[0], tmp[2]], [tmp[1], tmp[3]]],
        scale,
        xnorm,
        perturbed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::sweep::scratch_len;
    use crate::kernel::tests::nearest_matches;
    use nalgebra::{Complex, DMatrix};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type C = Complex<f64>;

    fn max_abs(m: &DMatrix<f64>) -> f64 {
        m.iter().fold(0.0f64, |a, v| a.max(v.abs()))
    }

    fn mat(v: &[f64], n: usize) -> DMatrix<f64> {
        DMatrix::from_column_slice(n, n, v)
    }

    /// Random upper Hessenberg with entries uniform in [−1, 1).
    fn random_hessenberg(rng: &mut ChaCha8Rng, n: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n, n, |i, j| {
            if i <= j + 1 {
                rng.random::<f64>() * 2.0 - 1.0
            } else {
                0.0
            }
        })
    }

    /// Random dense uniform [0, 1) matrix A with nalgebra's Hessenberg form A = Q·H·Qᵀ.
    fn random_dense(rng: &mut ChaCha8Rng, n: usize) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
        let a = DMatrix::from_fn(n, n, |_, _| rng.random::<f64>());
        let (q, h) = a.clone().hessenberg().unpack();
        (a, q, h)
    }

    /// Eigenvalues of the block starting at row k of a standardised quasi-triangular t.
    fn block_eigs(t: &DMatrix<f64>, k: usize) -> Vec<C> {
        let n = t.nrows();
        if k + 1 < n && t[(k + 1, k)] != 0.0 {
            let im = t[(k, k + 1)].abs().sqrt() * t[(k + 1, k)].abs().sqrt();
            vec![C::new(t[(k, k)], im), C::new(t[(k, k)], -im)]
        } else {
            vec![C::new(t[(k, k)], 0.0)]
        }
    }

    /// Start rows of the diagonal blocks of a quasi-triangular t.
    fn block_starts(t: &DMatrix<f64>) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut k = 0;
        while k < t.nrows() {
            starts.push(k);
            k += if k + 1 < t.nrows() && t[(k + 1, k)] != 0.0 {
                2
            } else {
                1
            };
        }
        starts
    }

    fn all_eigs(t: &DMatrix<f64>) -> Vec<C> {
        block_starts(t)
            .into_iter()
            .flat_map(|k| block_eigs(t, k))
            .collect()
    }

    /// Exact structure: zero below the subdiagonal, no two consecutive nonzero subdiagonals,
    /// and every 2×2 block standardised (equal diagonal, off-diagonals of opposite sign).
    fn assert_standard_quasi_triangular(t: &DMatrix<f64>, what: &str) {
        let n = t.nrows();
        for j in 0..n {
            for i in j + 2..n {
                assert_eq!(t[(i, j)], 0.0, "{what}: t[{i},{j}] below the subdiagonal");
            }
        }
        for k in 0..n.saturating_sub(1) {
            if t[(k + 1, k)] != 0.0 {
                assert!(
                    k + 2 >= n || t[(k + 2, k + 1)] == 0.0,
                    "{what}: consecutive subdiagonals at {k}"
                );
                assert_eq!(
                    t[(k, k)],
                    t[(k + 1, k + 1)],
                    "{what}: 2×2 block at {k} has unequal diagonal"
                );
                assert!(
                    t[(k, k + 1)] * t[(k + 1, k)] < 0.0,
                    "{what}: 2×2 block at {k} is not a complex pair"
                );
            }
        }
    }

    /// ‖ZᵀZ − I‖_max ≤ 1e-14·n and ‖Z·T·Zᵀ − A‖_max ≤ 1e-13·n·‖A‖_max.
    fn assert_similarity(a: &DMatrix<f64>, t: &DMatrix<f64>, z: &DMatrix<f64>, what: &str) {
        let n = a.nrows();
        let nf = n as f64;
        let orth = max_abs(&(z.transpose() * z - DMatrix::identity(n, n)));
        assert!(orth <= 1e-14 * nf, "{what}: ‖ZᵀZ − I‖ = {orth:e}");
        let res = max_abs(&(z * t * z.transpose() - a));
        let tol = 1e-13 * nf * max_abs(a);
        assert!(res <= tol, "{what}: ‖ZTZᵀ − A‖ = {res:e} > {tol:e}");
    }

    /// Greedy nearest matching (`kernel::tests::nearest_matches`); each distance
    /// ≤ rel·max(|expected|, scale).
    fn assert_same_spectrum(got: &[C], expected: &[C], rel: f64, scale: f64, what: &str) {
        assert_eq!(got.len(), expected.len(), "{what}: count");
        for (g, (j, dist)) in got.iter().zip(nearest_matches(got, expected)) {
            let tol = rel * expected[j].norm().max(scale);
            assert!(
                dist <= tol,
                "{what}: {g} is {dist:e} from {} (tol {tol:e})",
                expected[j]
            );
        }
    }

    fn nalgebra_eigs(a: &DMatrix<f64>) -> Vec<C> {
        let n = a.nrows();
        nalgebra::linalg::Schur::try_new(a.clone(), f64::EPSILON, 30 * n.max(10))
            .expect("nalgebra did not converge")
            .complex_eigenvalues()
            .iter()
            .copied()
            .collect()
    }

    /// Runs [`schur`] on Hessenberg h with z_in, checks every property against a = z_in·h·z_inᵀ
    /// (eigenvalues against `exact`, or nalgebra's when `None`), and returns (T, Z).
    fn check_with(
        a: &DMatrix<f64>,
        h: &DMatrix<f64>,
        z_in: &DMatrix<f64>,
        exact: Option<&[C]>,
        what: &str,
    ) -> (DMatrix<f64>, DMatrix<f64>) {
        let n = h.nrows();
        let (mut t, mut z) = (h.as_slice().to_vec(), z_in.as_slice().to_vec());
        let (mut wr, mut wi) = (vec![f64::NAN; n], vec![f64::NAN; n]);
        schur::<false>(
            (&mut t, n, &mut z),
            &mut wr,
            &mut wi,
            &mut vec![0.0; scratch_len(n)],
        )
        .unwrap_or_else(|_| panic!("{what}: no convergence"));
        let (t, z) = (mat(&t, n), mat(&z, n));
        assert_standard_quasi_triangular(&t, what);
        assert_similarity(a, &t, &z, what);
        // wr/wi are exactly the diagonal blocks' eigenvalues, in diagonal order.
        let from_blocks = all_eigs(&t);
        for (k, e) in from_blocks.iter().enumerate() {
            assert_eq!((wr[k], wi[k]), (e.re, e.im), "{what}: wr/wi[{k}]");
        }
        match exact {
            Some(e) => assert_same_spectrum(&from_blocks, e, 1e-12, max_abs(a), what),
            None => assert_same_spectrum(&from_blocks, &nalgebra_eigs(a), 1e-9, max_abs(a), what),
        }
        (t, z)
    }

    fn run_and_check(
        a: &DMatrix<f64>,
        h: &DMatrix<f64>,
        z_in: &DMatrix<f64>,
        what: &str,
    ) -> (DMatrix<f64>, DMatrix<f64>) {
        check_with(a, h, z_in, None, what)
    }

    /// Random upper Hessenberg n = 1..=40 and a few up to 80, z_in = I: orthogonality,
    /// similarity, standardised structure, wr/wi = blocks, eigenvalues = nalgebra's (1e-9
    /// relative to max(|λ|, ‖A‖_max)).
    #[test]
    fn schur_of_random_hessenberg() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pairs = 0;
        for n in (1..=40).chain([50, 64, 71, 80]) {
            for rep in 0..3 {
                let h = random_hessenberg(&mut rng, n);
                let (t, _) = run_and_check(
                    &h,
                    &h,
                    &DMatrix::identity(n, n),
                    &format!("n={n} rep={rep}"),
                );
                pairs += (0..n.saturating_sub(1))
                    .filter(|&k| t[(k + 1, k)] != 0.0)
                    .count();
            }
        }
        assert!(
            pairs > 100,
            "too few complex pairs ({pairs}) to exercise dlanv2"
        );
    }

    /// Dense uniform [0, 1) matrices reduced with nalgebra's Hessenberg, z_in = Q (not I): the
    /// accumulated z·Z must reproduce A. Same checks as above.
    #[test]
    fn schur_of_random_dense_accumulates_into_given_z() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for n in (1..=40).step_by(3).chain([57, 80]) {
            let (a, q, h) = random_dense(&mut rng, n);
            run_and_check(&a, &h, &q, &format!("dense n={n}"));
        }
    }

    /// Entries below the subdiagonal are garbage on input: the result is bit-identical to the
    /// run on the clean matrix.
    #[test]
    fn schur_ignores_garbage_below_subdiagonal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 17;
        let h = random_hessenberg(&mut rng, n);
        let mut dirty = h.clone();
        for j in 0..n {
            for i in j + 2..n {
                dirty[(i, j)] = rng.random::<f64>() * 1e3;
            }
        }
        let run = |m: &DMatrix<f64>| {
            let (mut t, mut z) = (
                m.as_slice().to_vec(),
                DMatrix::<f64>::identity(n, n).as_slice().to_vec(),
            );
            let (mut wr, mut wi) = (vec![0.0; n], vec![0.0; n]);
            schur::<false>(
                (&mut t, n, &mut z),
                &mut wr,
                &mut wi,
                &mut vec![0.0; scratch_len(n)],
            )
            .unwrap();
            (t, z, wr, wi)
        };
        assert_eq!(run(&h), run(&dirty));
    }

    /// Cyclic permutation matrices (n = 5..=8) stall the standard Francis shifts (every shift is
    /// 0 and the sweep is an orthogonal no-op); only the exceptional shifts make progress. The
    /// eigenvalues are the n-th roots of unity (checked within 1e-12; nalgebra's bounded Schur
    /// does not converge on these, so it cannot be the reference here).
    #[test]
    fn schur_needs_exceptional_shifts_on_cyclic_permutation() {
        for n in 5..=8 {
            let p = DMatrix::from_fn(n, n, |i, j| if i == (j + 1) % n { 1.0 } else { 0.0 });
            let roots: Vec<C> = (0..n)
                .map(|k| C::from_polar(1.0, 2.0 * std::f64::consts::PI * k as f64 / n as f64))
                .collect();
            check_with(
                &p,
                &p,
                &DMatrix::identity(n, n),
                Some(&roots),
                &format!("cyclic n={n}"),
            );
        }
    }

    /// Exact zeros on the subdiagonal split the problem up front; the blocks must still be
    /// handled (and the result checked) as one matrix.
    #[test]
    fn schur_with_exact_zero_subdiagonals() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for n in [6, 12, 25] {
            let mut h = random_hessenberg(&mut rng, n);
            for k in [1, 3, n - 2] {
                h[(k + 1, k)] = 0.0;
            }
            run_and_check(&h, &h, &DMatrix::identity(n, n), &format!("split n={n}"));
        }
        // Entirely upper triangular: nothing to iterate, T = A, Z = I exactly.
        let n = 9;
        let u = DMatrix::from_fn(n, n, |i, j| if i <= j { (i * n + j) as f64 } else { 0.0 });
        let (t, z) = run_and_check(&u, &u, &DMatrix::identity(n, n), "triangular");
        assert_eq!(t, u);
        assert_eq!(z, DMatrix::identity(n, n));
    }

    /// n = 1 and n = 2 edge cases, with exact eigenvalues (within 1e-15 relative).
    #[test]
    fn schur_small_edge_cases() {
        let one = DMatrix::from_element(1, 1, -3.5);
        let (t, z) = run_and_check(&one, &one, &DMatrix::identity(1, 1), "n=1");
        assert_eq!((t[(0, 0)], z[(0, 0)]), (-3.5, 1.0));
        // (matrix, expected eigenvalues)
        let cases: [([f64; 4], [C; 2]); 4] = [
            // [[1, 2], [−3, 4]]: 2.5 ± i·√15/2.
            (
                [1.0, -3.0, 2.0, 4.0],
                [
                    C::new(2.5, 15f64.sqrt() / 2.0),
                    C::new(2.5, -(15f64.sqrt()) / 2.0),
                ],
            ),
            // [[4, 1], [2, 3]]: 5 and 2.
            ([4.0, 2.0, 1.0, 3.0], [C::new(5.0, 0.0), C::new(2.0, 0.0)]),
            // [[1, 0], [5, 2]]: b = 0, dlanv2 swaps.
            ([1.0, 5.0, 0.0, 2.0], [C::new(2.0, 0.0), C::new(1.0, 0.0)]),
            // Already standard [[0, −1], [1, 0]]: ±i.
            ([0.0, 1.0, -1.0, 0.0], [C::new(0.0, 1.0), C::new(0.0, -1.0)]),
        ];
        for (m, expected) in cases {
            let a = mat(&m, 2);
            let (t, _) = run_and_check(&a, &a, &DMatrix::identity(2, 2), &format!("2×2 {m:?}"));
            assert_same_spectrum(&all_eigs(&t), &expected, 1e-15, 1.0, &format!("2×2 {m:?}"));
        }
        let (mut t, mut z, mut wr, mut wi) = (vec![], vec![], vec![], vec![]);
        assert_eq!(
            schur::<false>((&mut t, 0, &mut z), &mut wr, &mut wi, &mut []),
            Ok(())
        );
    }

    /// dlanv2 on random and special 2×2s: Q = [[cs, −sn], [sn, cs]] is a rotation
    /// (|cs² + sn² − 1| ≤ 4 ulp), in = Q·out·Qᵀ (within 8 ulp of ‖in‖_max), the output is
    /// standardised, and the returned eigenvalues are the output's.
    #[test]
    fn lanv2_convention_and_standard_form() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut inputs: Vec<[f64; 4]> = (0..2000)
            .map(|_| std::array::from_fn(|_| rng.random::<f64>() * 2.0 - 1.0))
            .collect();
        inputs.extend([
            [1.0, 2.0, 0.0, 3.0],
            [1.0, 0.0, 2.0, 3.0],
            [2.0, 1.0, -1.0, 2.0],
            [2.0, 1.0, 1.0, 2.0],
            [1.0, 1e-300, -1e-300, 1.0 + 1e-16],
            [1e300, 1e300, -1e300, -1e300],
            [0.0, 0.0, 0.0, 0.0],
        ]);
        for [a, b, c, d] in inputs {
            let r = lanv2_rot(a, b, c, d);
            assert!(
                (r.cs * r.cs + r.sn * r.sn - 1.0).abs() <= 4.0 * ULP,
                "{r:?}"
            );
            let q = DMatrix::from_row_slice(2, 2, &[r.cs, -r.sn, r.sn, r.cs]);
            let out = DMatrix::from_row_slice(2, 2, &[r.a, r.b, r.c, r.d]);
            let input = DMatrix::from_row_slice(2, 2, &[a, b, c, d]);
            let err = max_abs(&(&q * out * q.transpose() - &input));
            assert!(
                err <= 8.0 * ULP * max_abs(&input),
                "in ≠ Q·out·Qᵀ ({err:e}) for {r:?}"
            );
            if r.c == 0.0 {
                assert_eq!((r.rt1r, r.rt1i, r.rt2r, r.rt2i), (r.a, 0.0, r.d, 0.0));
            } else {
                // Signs, not b·c < 0: the product can underflow.
                assert!(
                    r.a == r.d && sign(1.0, r.b) != sign(1.0, r.c),
                    "not standard: {r:?}"
                );
                assert_eq!((r.rt1r, r.rt2r), (r.a, r.d));
                assert!(r.rt1i > 0.0 && r.rt2i == -r.rt1i);
            }
        }
    }

    /// dlasy2 for every block-size pair: ‖TL·X − X·TR − scale·B‖_max ≤ 1e-12·(‖TL‖ + ‖TR‖)·‖X‖
    /// + scale·‖B‖·1e-15, scale = 1 and not perturbed on well-separated random blocks, xnorm = ‖X‖_∞.
    #[test]
    fn lasy2_solves_sylvester() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for (n1, n2) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            for _ in 0..200 {
                let mut r = |shift: f64| -> [[f64; 2]; 2] {
                    std::array::from_fn(|i| {
                        std::array::from_fn(|j| {
                            rng.random::<f64>() - 0.5 + if i == j { shift } else { 0.0 }
                        })
                    })
                };
                let (tl, tr, b) = (r(3.0), r(-3.0), r(0.0));
                let s = lasy2(-1.0, n1, n2, &tl, &tr, &b);
                assert_eq!(s.scale, 1.0);
                assert!(!s.perturbed);
                let m = |v: &[[f64; 2]; 2], rows: usize, cols: usize| {
                    DMatrix::from_fn(rows, cols, |i, j| v[i][j])
                };
                let (tlm, trm, bm, xm) = (
                    m(&tl, n1, n1),
                    m(&tr, n2, n2),
                    m(&b, n1, n2),
                    m(&s.x, n1, n2),
                );
                let res = max_abs(&(&tlm * &xm - &xm * &trm - &bm * s.scale));
                let tol =
                    1e-12 * (max_abs(&tlm) + max_abs(&trm)) * max_abs(&xm) + 1e-15 * max_abs(&bm);
                assert!(res <= tol, "({n1},{n2}) residual {res:e}");
                let inf_norm = (0..n1)
                    .map(|i| (0..n2).map(|j| s.x[i][j].abs()).sum::<f64>())
                    .fold(0.0, f64::max);
                assert!((s.xnorm - inf_norm).abs() <= 4.0 * ULP * inf_norm);
            }
        }
    }

    /// Random Schur forms whose blocks are a mix of 1×1 and 2×2.
    fn schur_forms(seed: u64, count: usize) -> Vec<(DMatrix<f64>, DMatrix<f64>, DMatrix<f64>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        while out.len() < count {
            let n = rng.random_range(4..=14);
            let h = random_hessenberg(&mut rng, n);
            let (t, z) = run_and_check(&h, &h, &DMatrix::identity(n, n), "trexc input");
            let starts = block_starts(&t);
            let twos = starts
                .iter()
                .filter(|&&k| block_eigs(&t, k).len() == 2)
                .count();
            if twos >= 2 && starts.len() > twos {
                out.push((h, t, z));
            }
        }
        out
    }

    /// trexc moving every block to every other block position, up and down (first↔last,
    /// neighbours, 2×2 past 1×1 and past 2×2): Ok, similarity and orthogonality as for schur,
    /// standardised quasi-triangular, the moved block's eigenvalues at the returned row and the
    /// spectrum unchanged (both within 1e-10 relative to max(|λ|, ‖T‖_max)).
    #[test]
    fn trexc_moves_blocks_everywhere() {
        let (mut two_past_one, mut two_past_two, mut one_past_two) = (0, 0, 0);
        for (case, (a, t0, z0)) in schur_forms(7, 12).into_iter().enumerate() {
            let n = a.nrows();
            let starts = block_starts(&t0);
            let before = all_eigs(&t0);
            let scale = max_abs(&t0);
            for (bf, &ifst) in starts.iter().enumerate() {
                for (bl, &ilst) in starts.iter().enumerate() {
                    let what = format!("case {case} n={n} move {ifst}→{ilst}");
                    let moved = block_eigs(&t0, ifst);
                    let passed: Vec<usize> = starts[bf.min(bl)..=bf.max(bl)]
                        .iter()
                        .map(|&k| block_eigs(&t0, k).len())
                        .collect();
                    if moved.len() == 2 && passed.len() > 1 {
                        two_past_one += passed.iter().filter(|&&s| s == 1).count();
                        two_past_two += passed.iter().filter(|&&s| s == 2).count() - 1;
                    } else if passed.len() > 1 {
                        one_past_two += passed.iter().filter(|&&s| s == 2).count();
                    }
                    let (mut t, mut z) = (t0.as_slice().to_vec(), z0.as_slice().to_vec());
                    let here = trexc(&mut t, n, &mut z, ifst, ilst)
                        .unwrap_or_else(|r| panic!("{what}: rejected at {r}"));
                    let (t, z) = (mat(&t, n), mat(&z, n));
                    assert_standard_quasi_triangular(&t, &what);
                    assert_similarity(&a, &t, &z, &what);
                    assert_same_spectrum(&all_eigs(&t), &before, 1e-10, scale, &what);
                    // The block lands where dtrexc says: at ilst moving up; moving down at the
                    // start of the last block it passed, i.e. so that it ends where the target
                    // block ended.
                    let expected = if ilst <= ifst {
                        ilst
                    } else {
                        ilst + block_eigs(&t0, ilst).len() - moved.len()
                    };
                    assert_eq!(here, expected, "{what}");
                    assert!(
                        block_starts(&t).contains(&here),
                        "{what}: {here} is not a block start"
                    );
                    assert_same_spectrum(
                        &block_eigs(&t, here),
                        &moved,
                        1e-10,
                        scale,
                        &format!("{what}: moved block"),
                    );
                }
            }
        }
        assert!(
            two_past_one > 20 && two_past_two > 20 && one_past_two > 20,
            "{two_past_one} {two_past_two} {one_past_two}"
        );
    }

    /// trexc's index conventions: ifst/ilst pointing at the second row of a 2×2 block mean that
    /// block; ifst == ilst (same block) is a no-op returning the block start.
    #[test]
    fn trexc_index_adjustment() {
        let (a, t0, z0) = schur_forms(8, 1).pop().unwrap();
        let n = a.nrows();
        let starts = block_starts(&t0);
        let k = *starts
            .iter()
            .find(|&&k| block_eigs(&t0, k).len() == 2)
            .unwrap();
        let (mut t, mut z) = (t0.as_slice().to_vec(), z0.as_slice().to_vec());
        assert_eq!(trexc(&mut t, n, &mut z, k + 1, k), Ok(k));
        assert_eq!(t, t0.as_slice());
        // Second row of the block as ifst, first row of the matrix as target.
        let (mut t, mut z) = (t0.as_slice().to_vec(), z0.as_slice().to_vec());
        let here = trexc(&mut t, n, &mut z, k + 1, 0).unwrap();
        assert_eq!(here, 0);
        let t = mat(&t, n);
        assert_same_spectrum(
            &block_eigs(&t, 0),
            &block_eigs(&t0, k),
            1e-10,
            max_abs(&t0),
            "to top",
        );
        assert_similarity(&a, &t, &mat(&z, n), "to top");
        // n = 1: nothing to move.
        let (mut t, mut z) = (vec![2.0], vec![1.0]);
        assert_eq!(trexc(&mut t, 1, &mut z, 0, 0), Ok(0));
    }

    /// The dlanv2 scaling constant SAFMN2 is 2⁻⁴⁸⁵ for binary64, as LAPACK computes it.
    #[test]
    fn lanv2_scaling_constant() {
        assert_eq!(
            2f64.powi(((SAFMIN / ULP).log2() / 2.0) as i32),
            2f64.powi(-485)
        );
    }
}
