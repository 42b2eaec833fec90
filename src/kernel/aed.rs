//! Aggressive early deflation (LAPACK `dlaqr3`, eigenvalues only) and the multishift iteration
//! around it (`dlaqr0`), for active blocks of at least [`AED_MIN_DIM`] rows.
//!
//! A plain double-shift iteration deflates one or two eigenvalues at the bottom every two sweeps
//! or so. Aggressive early deflation instead computes the real Schur form of a bottom window of
//! the active block and finds every eigenvalue of the window that has, in effect, converged
//! already (its entry in the "spike" that couples the window to the rest is negligible): on
//! random matrices that is several per iteration. The window's other eigenvalues are the shifts
//! of the next sweeps, which are run as consecutive double-shift sweeps (in exact arithmetic the
//! same as one multishift sweep), so the chase code stays the tuned one in `sweep.rs`.

use super::hqr::{KEXSH, ULP, bulge_start, find_split, first_column, fmadd, smlnum};
use super::schur::{lanv2_rot, larfg, schur, trexc};
use super::sweep::{Reach, sweep, sweep_pair};

/// Smallest active block handled by aggressive early deflation. `dhseqr` switches at 75; here
/// the plain iteration measured as fast up to about 150 (the window's Schur form and reordering
/// cost what the saved sweeps gain). Remeasured from 60 rows after the chase got faster, with
/// windows of 4-16 rows and 4-8 shifts: 10-20 % fewer sweeps at d = 100-120, but no faster
/// with 4-row windows (time ×0.98-1.04) and slower with larger ones (×1.15 with 8 rows).
pub(super) const AED_MIN_DIM: usize = 150;
/// No deflation for this many iterations: grow the window (`dlaqr0`'s KEXNW).
const KEXNW: usize = 5;
/// Skip the sweep when AED deflated more than this percentage of its window (`NIBBLE`).
const NIBBLE: usize = 14;
/// Smallest `kbot − l` for which two sweeps are chased together.
const PAIR_MIN_ROWS: usize = 8;
/// Exceptional-shift multipliers, from `dlaqr0`.
const WILK1: f64 = 0.75;
const WILK2: f64 = -0.4375;

/// Shift count and window size for an `n`×`n` matrix (`iparmq`'s and `dlaqr0`'s rules).
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// Nominal shifts per iteration (even).
    nsr: usize,
    /// Nominal deflation window.
    nwr: usize,
    /// Largest window and shift count the workspace allows.
    nwmax: usize,
    nsmax: usize,
}

impl Params {
    pub(super) fn new(n: usize) -> Params {
        let ns = match n {
            0..30 => 2,
            30..60 => 4,
            60..150 => 10,
            _ => 10.max(n / ((n as f64).log2().round() as usize)),
        };
        let ns = ns.min((n.saturating_sub(3)) / 6).min(n - 1);
        let nsr = 2.max(ns - ns % 2);
        // Half of iparmq's count: the shifts run as separate double-shift sweeps, and the
        // window (as large as the shift count, as iparmq has it below n = 500) costs ~25·nw³
        // per iteration for its Schur form; measured best at half (scripts/study/bench_kernel.sh).
        let nsr = (nsr / 2).max(2) & !1;
        let nwr = nsr.min((n - 1) / 3).max(2);
        let nsmax = (n + 6) / 9;
        Params {
            nsr,
            nwr,
            nwmax: (n - 1) / 3,
            nsmax: (nsmax - nsmax % 2).max(nsr),
        }
    }
}

/// Scratch for the deflation window and the shifts, reused across calls.
#[derive(Default)]
pub(super) struct AedScratch {
    /// The window's Schur form T and its Schur vectors V, jw×jw column-major.
    t: Vec<f64>,
    v: Vec<f64>,
    /// The slab above the window times V, and the Householder vector.
    wv: Vec<f64>,
    hv: Vec<f64>,
    /// Window-size state across iterations (`dlaqr0`'s NW and NDEC).
    nw: usize,
    ndec: Option<usize>,
}

/// One iteration on the active block `l..=i` (at least [`AED_MIN_DIM`] rows): aggressive early
/// deflation, then (unless it deflated plenty) up to `ns`/2 double-shift sweeps. `ndfl` counts
/// the iterations since the last deflation (1 right after one). Deflated eigenvalues are written
/// to `wr`/`wi` at the bottom of the block; returns how many (the block shrinks to `l..=i-nd`)
/// and the number of sweeps run, or `None` (nothing changed) when the window's own QR failed:
/// the caller then runs a plain double-shift iteration.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn iterate<const F: bool>(
    h: &mut [f64],
    n: usize,
    (l, i): (usize, usize),
    ndfl: usize,
    p: &Params,
    wr: &mut [f64],
    wi: &mut [f64],
    sweep_scratch: &mut [f64],
    s: &mut AedScratch,
) -> Option<(usize, usize)> {
    let nw = window_size(h, n, (l, i), ndfl, p, s);
    let (nd, ls) = deflate_window::<F>(h, n, (l, i), nw, (wr, wi), (s, sweep_scratch))?;
    let kbot = i - nd;
    if nd == i - l + 1 {
        return Some((nd, 0));
    }
    let nh = kbot - l + 1;
    let sweep_needed = nd == 0 || (100 * nd <= nw * NIBBLE && nh > AED_MIN_DIM.min(p.nwmax));
    if !sweep_needed {
        return Some((nd, 0));
    }
    let mut ns = p.nsmax.min(p.nsr).min(2.max(kbot - l));
    ns -= ns % 2;
    let ks = if ndfl.is_multiple_of(KEXSH) {
        exceptional_shifts(h, n, (l, kbot), ns, wr, wi)
    } else {
        let ks = more_shifts::<F>(
            (h, n),
            (l, kbot),
            (kbot + 1 - ls, ns),
            (wr, wi),
            (s, sweep_scratch),
        );
        order_shifts(ks, kbot, ns, wr, wi);
        ks
    };
    if kbot - ks + 1 == 2 && wi[kbot] == 0.0 {
        // Two real shifts: use the one closer to the corner twice.
        let hkk = h[kbot + kbot * n];
        if (wr[kbot] - hkk).abs() < (wr[kbot - 1] - hkk).abs() {
            wr[kbot - 1] = wr[kbot];
        } else {
            wr[kbot] = wr[kbot - 1];
        }
    }
    let ns = (kbot - ks + 1).min(ns) & !1;
    let sweeps = chase_shifts::<F>(
        h,
        n,
        (l, kbot),
        (kbot + 1 - ns, kbot),
        wr,
        wi,
        sweep_scratch,
    );
    Some((nd, sweeps))
}

/// The deflation window for this iteration (`dlaqr0`'s rule): the nominal size, the whole block
/// when that is nearly it, one more row when that lands on a smaller subdiagonal; after
/// [`KEXNW`] iterations without deflation, first doubled, then shrunk a row at a time.
fn window_size(
    h: &[f64],
    n: usize,
    (l, i): (usize, usize),
    ndfl: usize,
    p: &Params,
    s: &mut AedScratch,
) -> usize {
    let nh = i - l + 1;
    let nwupbd = nh.min(p.nwmax);
    let mut nw = if ndfl < KEXNW {
        nwupbd.min(p.nwr)
    } else {
        nwupbd.min(2 * s.nw)
    };
    if nw < p.nwmax {
        if nw + 1 >= nh {
            nw = nh;
        } else {
            let kwtop = i + 1 - nw;
            if h[kwtop + (kwtop - 1) * n].abs() > h[kwtop - 1 + (kwtop - 2) * n].abs() {
                nw += 1;
            }
        }
    }
    if ndfl < KEXNW {
        s.ndec = None;
    } else if s.ndec.is_some() || nw >= nwupbd {
        let mut ndec = s.ndec.map_or(0, |d| d + 1);
        if nw < ndec + 2 {
            ndec = 0;
        }
        nw -= ndec;
        s.ndec = Some(ndec);
    }
    s.nw = nw;
    nw
}

/// Exceptional shifts (`dlaqr0`) after [`KEXSH`] iterations without deflation: ad hoc 2×2 blocks
/// built from the bottom subdiagonals. Returns the first shift's index.
fn exceptional_shifts(
    h: &[f64],
    n: usize,
    (l, kbot): (usize, usize),
    ns: usize,
    wr: &mut [f64],
    wi: &mut [f64],
) -> usize {
    let at = |r: usize, c: usize| r + c * n;
    let ks = kbot + 1 - ns;
    let mut ii = kbot;
    while ii >= (ks + 1).max(l + 2) {
        let ss = h[at(ii, ii - 1)].abs() + h[at(ii - 1, ii - 2)].abs();
        let aa = WILK1 * ss + h[at(ii, ii)];
        let r = lanv2_rot(aa, ss, WILK2 * ss, aa);
        (wr[ii - 1], wi[ii - 1], wr[ii], wi[ii]) = (r.rt1r, r.rt1i, r.rt2r, r.rt2i);
        ii -= 2;
    }
    if ks == l {
        wr[ks + 1] = h[at(ks + 1, ks + 1)];
        wi[ks + 1] = 0.0;
        wr[ks] = wr[ks + 1];
        wi[ks] = 0.0;
    }
    ks
}

/// When AED left `ns`/2 shifts or fewer (from `ks` on), takes the eigenvalues of the trailing
/// `ns`×`ns` submatrix instead (or of the trailing 2×2 if that fails). Returns the first shift's
/// index.
#[inline(always)]
fn more_shifts<const F: bool>(
    (h, n): (&[f64], usize),
    (l, kbot): (usize, usize),
    (ks, ns): (usize, usize),
    (wr, wi): (&mut [f64], &mut [f64]),
    (s, scratch): (&mut AedScratch, &mut [f64]),
) -> usize {
    if kbot + 1 - ks > ns / 2 {
        return ks;
    }
    let ks = kbot + 1 - ns;
    debug_assert!(ks >= l);
    let shifts = (&mut wr[ks..=kbot], &mut wi[ks..=kbot]);
    if trailing_eigenvalues::<F>((h, n), kbot, shifts, (s, scratch)) {
        return ks;
    }
    let at = |r: usize, c: usize| r + c * n;
    let r = lanv2_rot(
        h[at(kbot - 1, kbot - 1)],
        h[at(kbot - 1, kbot)],
        h[at(kbot, kbot - 1)],
        h[at(kbot, kbot)],
    );
    (wr[kbot - 1], wi[kbot - 1], wr[kbot], wi[kbot]) = (r.rt1r, r.rt1i, r.rt2r, r.rt2i);
    kbot - 1
}

/// The eigenvalues of the trailing `wr.len()`-square block of `h` that ends at row `kbot`, into
/// `wr`/`wi`: [`schur`] on a copy, for its bounded iteration (its Schur vectors go unused).
/// False when that QR fails.
#[inline(always)]
pub(super) fn trailing_eigenvalues<const F: bool>(
    (h, n): (&[f64], usize),
    kbot: usize,
    (wr, wi): (&mut [f64], &mut [f64]),
    (s, scratch): (&mut AedScratch, &mut [f64]),
) -> bool {
    let ns = wr.len();
    copy_block(h, n, kbot + 1 - ns, ns, &mut s.t);
    identity(&mut s.v, ns);
    schur::<F>((&mut s.t, ns, &mut s.v), wr, wi, scratch).is_ok()
}

/// Sorts more than `ns` shifts by decreasing magnitude (so the smallest are used; a bubble sort
/// keeps conjugate pairs together), then shuffles them into pairs that are both real or a
/// conjugate pair, as the double-shift sweeps need (`dlaqr0`).
pub(super) fn order_shifts(ks: usize, kbot: usize, ns: usize, wr: &mut [f64], wi: &mut [f64]) {
    if kbot + 1 - ks > ns {
        let mag = |wr: &[f64], wi: &[f64], j: usize| wr[j].abs() + wi[j].abs();
        for k in (ks + 1..=kbot).rev() {
            let mut sorted = true;
            for j in ks..k {
                if mag(wr, wi, j) < mag(wr, wi, j + 1) {
                    sorted = false;
                    wr.swap(j, j + 1);
                    wi.swap(j, j + 1);
                }
            }
            if sorted {
                break;
            }
        }
    }
    let mut j = kbot;
    while j >= ks + 2 {
        if wi[j] != -wi[j - 1] {
            // Rotate j-2, j-1, j so that j's partner moves next to it.
            let (r, m) = (wr[j], wi[j]);
            (wr[j], wi[j]) = (wr[j - 1], wi[j - 1]);
            (wr[j - 1], wi[j - 1]) = (wr[j - 2], wi[j - 2]);
            (wr[j - 2], wi[j - 2]) = (r, m);
        }
        j -= 2;
    }
}

/// Runs one double-shift sweep over `l..=kbot` per shift pair in `shifts` (inclusive range of
/// indices into `wr`/`wi`), the pair nearest the corner first, two sweeps chased together
/// ([`sweep_pair`]) while two pairs are left. Between sweeps, a subdiagonal that became
/// negligible splits the block: the remaining shifts go to its lower part, and none are used
/// once the bottom has deflated. Returns the sweeps run.
#[inline(always)]
fn chase_shifts<const F: bool>(
    h: &mut [f64],
    n: usize,
    (mut l, kbot): (usize, usize),
    (ks, ke): (usize, usize),
    wr: &[f64],
    wi: &[f64],
    scratch: &mut [f64],
) -> usize {
    let pair = |j: usize| (wr[j], wi[j], wr[j + 1], wi[j + 1]);
    let mut sweeps = 0;
    let mut j = ke + 1;
    // The sweeps' `W` is false: this runs from AED_MIN_DIM rows, where the AVX-512 path's QR is
    // built for AVX-512 whole, deferred updates included (`hqr::HQR_AVX512_MIN_DIM`).
    while j >= ks + 2 {
        if j >= ks + 4 && kbot - l >= PAIR_MIN_ROWS {
            let (a, b) = (pair(j - 2), pair(j - 4));
            let va = first_column(h, n, l, a);
            let vb_of = |h: &[f64]| first_column(h, n, l, b);
            sweep_pair::<F, false>(
                h,
                n,
                (l, kbot),
                (va, vb_of),
                scratch,
                Reach::window(l, kbot),
            );
            (j, sweeps) = (j - 4, sweeps + 2);
        } else {
            let (m, v) = bulge_start::<F>(h, n, (l, kbot), pair(j - 2));
            sweep::<F, false>(h, n, (l, kbot, m), v, scratch, Reach::window(l, kbot));
            (j, sweeps) = (j - 2, sweeps + 1);
        }
        l = find_split(h, n, l, kbot);
        if l > 0 {
            h[l + (l - 1) * n] = 0.0;
        }
        if l + 2 > kbot {
            break;
        }
    }
    sweeps
}

/// Copies the `jw`×`jw` diagonal block of `h` starting at `k` into `t`, zero below its
/// subdiagonal.
fn copy_block(h: &[f64], n: usize, k: usize, jw: usize, t: &mut Vec<f64>) {
    t.clear();
    t.resize(jw * jw, 0.0);
    for c in 0..jw {
        let rows = (c + 2).min(jw);
        let src = (k + c) * n + k;
        t[c * jw..c * jw + rows].copy_from_slice(&h[src..src + rows]);
    }
}

fn identity(v: &mut Vec<f64>, jw: usize) {
    v.clear();
    v.resize(jw * jw, 0.0);
    for d in 0..jw {
        v[d * jw + d] = 1.0;
    }
}

/// `dlaqr3` without the Schur form or vectors of the whole matrix: deflates what it can from the
/// bottom `jw` rows of the active block `l..=i`. Deflated eigenvalues go to `wr`/`wi` at the
/// bottom; the window's undeflated eigenvalues (the next shifts) just above them. Returns
/// (deflated, undeflated), or `None` when the window's own QR failed.
#[inline(always)]
fn deflate_window<const F: bool>(
    h: &mut [f64],
    n: usize,
    (l, i): (usize, usize),
    nw: usize,
    (wr, wi): (&mut [f64], &mut [f64]),
    (s, scratch): (&mut AedScratch, &mut [f64]),
) -> Option<(usize, usize)> {
    let jw = nw.min(i - l + 1);
    let kwtop = i + 1 - jw;
    let mut spike = if kwtop == l {
        0.0
    } else {
        h[kwtop + (kwtop - 1) * n]
    };
    copy_block(h, n, kwtop, jw, &mut s.t);
    identity(&mut s.v, jw);
    let (t, v) = (&mut s.t, &mut s.v);
    schur::<F>((t, jw, v), &mut wr[kwtop..=i], &mut wi[kwtop..=i], scratch).ok()?;
    let ns = undeflatable(&mut s.t, &mut s.v, jw, spike, smlnum(n));
    if ns == 0 {
        spike = 0.0;
    }
    window_eigenvalues(&s.t, jw, &mut wr[kwtop..=i], &mut wi[kwtop..=i]);
    if ns < jw || spike == 0.0 {
        if ns > 1 && spike != 0.0 {
            reflect_spike(s, jw, ns);
        }
        if kwtop > 0 {
            h[kwtop + (kwtop - 1) * n] = spike * s.v[0];
        }
        for c in 0..jw {
            let dst = (kwtop + c) * n + kwtop;
            h[dst..dst + jw].copy_from_slice(&s.t[c * jw..(c + 1) * jw]);
            for r in (c + 2)..jw {
                h[dst + r] = 0.0;
            }
        }
        update_slab::<F>(h, n, (l, kwtop, jw), &s.v, &mut s.wv);
    }
    Some((jw - ns, ns))
}

/// The deflation test of `dlaqr3` on the window's Schur form `t` (with Schur vectors `v`):
/// from the bottom, a block whose spike entries `spike·v[0, ·]` are negligible deflates; one
/// that is not is moved to the top, out of the way. Returns how many rows stay undeflated.
fn undeflatable(t: &mut [f64], v: &mut [f64], jw: usize, spike: f64, smlnum: f64) -> usize {
    let at = |r: usize, c: usize| r + c * jw;
    let mut ns = jw;
    let mut ilst = 0;
    while ilst < ns {
        let pair = ns > 1 && t[at(ns - 1, ns - 2)] != 0.0;
        let (eig_mag, tip) = if pair {
            let magnitude = t[at(ns - 1, ns - 1)].abs()
                + t[at(ns - 1, ns - 2)].abs().sqrt() * t[at(ns - 2, ns - 1)].abs().sqrt();
            let tip = (spike * v[at(0, ns - 1)])
                .abs()
                .max((spike * v[at(0, ns - 2)]).abs());
            (magnitude, tip)
        } else {
            (
                t[at(ns - 1, ns - 1)].abs(),
                (spike * v[at(0, ns - 1)]).abs(),
            )
        };
        let eig_mag = if eig_mag == 0.0 { spike.abs() } else { eig_mag };
        let size = if pair { 2 } else { 1 };
        if tip <= smlnum.max(ULP * eig_mag) {
            ns -= size;
        } else {
            let reached = match trexc(t, jw, v, ns - 1, ilst) {
                Ok(k) | Err(k) => k,
            };
            ilst = reached + size;
        }
    }
    ns
}

/// The eigenvalues of the quasi-triangular `t`'s diagonal blocks, in order.
fn window_eigenvalues(t: &[f64], jw: usize, wr: &mut [f64], wi: &mut [f64]) {
    let at = |r: usize, c: usize| r + c * jw;
    let mut k = 0;
    while k < jw {
        if k + 1 < jw && t[at(k + 1, k)] != 0.0 {
            let r = lanv2_rot(
                t[at(k, k)],
                t[at(k, k + 1)],
                t[at(k + 1, k)],
                t[at(k + 1, k + 1)],
            );
            (wr[k], wi[k], wr[k + 1], wi[k + 1]) = (r.rt1r, r.rt1i, r.rt2r, r.rt2i);
            k += 2;
        } else {
            wr[k] = t[at(k, k)];
            wi[k] = 0.0;
            k += 1;
        }
    }
}

/// Folds the spike of the undeflated leading `ns` rows back into the first column with one
/// reflector, then restores Hessenberg form there (`dgehd2`), accumulating all of it into V.
fn reflect_spike(s: &mut AedScratch, jw: usize, ns: usize) {
    let (t, v, hv) = (&mut s.t, &mut s.v, &mut s.hv);
    hv.clear();
    hv.extend((0..ns).map(|c| v[c * jw]));
    for c in 0..jw {
        for r in (c + 2)..jw {
            t[r + c * jw] = 0.0;
        }
    }
    let tau = householder(hv);
    reflect_left(t, jw, (0, ns), (0, jw), hv, tau);
    reflect_right(t, jw, (0, ns), (0, ns), hv, tau);
    reflect_right(v, jw, (0, jw), (0, ns), hv, tau);
    for k in 0..ns.saturating_sub(2) {
        hv.clear();
        hv.extend_from_slice(&t[k * jw + k + 1..k * jw + ns]);
        let tau = householder(hv);
        t[k * jw + k + 1] = hv[0];
        t[k * jw + k + 2..k * jw + ns].fill(0.0);
        hv[0] = 1.0;
        reflect_left(t, jw, (k + 1, ns), (k + 1, jw), hv, tau);
        reflect_right(t, jw, (0, ns), (k + 1, ns), hv, tau);
        reflect_right(v, jw, (0, jw), (k + 1, ns), hv, tau);
    }
}

/// `dlarfg` on `x`: afterwards `x[0]` is beta and `x[1..]` v's tail (v[0] = 1 implied) with
/// (I − tau·v·vᵀ)·x_in = beta·e1. Returns tau (0 when nothing needs reflecting).
fn householder(x: &mut [f64]) -> f64 {
    let (alpha, tail) = x
        .split_first_mut()
        .expect("a reflector of at least one entry");
    larfg(alpha, tail)
}

/// Rows `r0..r1`, columns `c0..c1` of the `ld`-row matrix `a` ← (I − tau·v·vᵀ)·that block, with
/// v = (1, v[1..]) over the rows.
fn reflect_left(
    a: &mut [f64],
    ld: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    v: &[f64],
    tau: f64,
) {
    if tau == 0.0 {
        return;
    }
    let v = |k: usize| if k == 0 { 1.0 } else { v[k] };
    for c in c0..c1 {
        let col = &mut a[c * ld + r0..c * ld + r1];
        let sum: f64 = col.iter().enumerate().map(|(k, x)| v(k) * x).sum();
        col.iter_mut()
            .enumerate()
            .for_each(|(k, x)| *x -= tau * sum * v(k));
    }
}

/// Rows `r0..r1`, columns `c0..c1` of `a` ← that block·(I − tau·v·vᵀ), v over the columns:
/// w = block·v a column at a time (contiguous, so it vectorises), then a rank-1 update.
fn reflect_right(
    a: &mut [f64],
    ld: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    v: &[f64],
    tau: f64,
) {
    if tau == 0.0 {
        return;
    }
    let mut w = [0.0f64; 256];
    let mut wide = Vec::new();
    let w: &mut [f64] = if r1 - r0 <= w.len() {
        &mut w[..r1 - r0]
    } else {
        wide.resize(r1 - r0, 0.0);
        &mut wide
    };
    for c in c0..c1 {
        let vc = if c == c0 { 1.0 } else { v[c - c0] };
        for (x, y) in w.iter_mut().zip(&a[c * ld + r0..c * ld + r1]) {
            *x += vc * y;
        }
    }
    for c in c0..c1 {
        let f = tau * if c == c0 { 1.0 } else { v[c - c0] };
        for (y, x) in a[c * ld + r0..c * ld + r1].iter_mut().zip(w.iter()) {
            *y -= f * x;
        }
    }
}

/// Rows `l..kwtop` of the window's columns `kwtop..kwtop+jw` ← that slab·V: the part of the
/// active block above the window sees the window's similarity transform from the right.
#[inline(always)]
fn update_slab<const F: bool>(
    h: &mut [f64],
    n: usize,
    (l, kwtop, jw): (usize, usize, usize),
    v: &[f64],
    wv: &mut Vec<f64>,
) {
    let rows = kwtop - l;
    if rows == 0 {
        return;
    }
    wv.clear();
    wv.resize(rows * jw, 0.0);
    for (j, out) in wv.chunks_exact_mut(rows).enumerate() {
        for k in 0..jw {
            let vkj = v[k + j * jw];
            let src = &h[(kwtop + k) * n + l..(kwtop + k) * n + kwtop];
            for (o, &x) in out.iter_mut().zip(src) {
                *o = fmadd::<F>(x, vkj, *o);
            }
        }
    }
    for (j, out) in wv.chunks_exact(rows).enumerate() {
        h[(kwtop + j) * n + l..(kwtop + j) * n + kwtop].copy_from_slice(out);
    }
}
