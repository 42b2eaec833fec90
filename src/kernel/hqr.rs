//! Our eigenvalues-only kernel: Householder reduction to upper Hessenberg form, then Francis
//! double-shift implicit QR (the LAPACK `dgehd2` + `dlahqr` with `WANTT = WANTZ = false`
//! algorithms, re-derived in Rust) with a hard iteration bound, so it can never hang. Large
//! active blocks get LAPACK's aggressive early deflation and several shifts per iteration
//! (`dlaqr0`/`dlaqr3`, in `aed.rs`).
//!
//! Everything works in place on one column-major scratch buffer owned by [`Hqr`], reused across
//! calls: after the first matrix of a given size no call allocates.
//!
//! Balancing (`dgebal`) is deliberately not done: the workload is dense uniform [0, 1) matrices,
//! whose rows and columns already have similar norms, so balancing would cost a pass over the
//! matrix and buy no accuracy. Only a power-of-two scaling is applied when the largest entry is
//! so big or so small that squares in the reflector norms could over- or underflow (as `dgeev`
//! does); powers of two are exact, so this changes no digit of the result.

use super::aed::{self, AED_MIN_DIM, AedScratch};
use super::hessenberg::{self, hessenberg};
use super::schur::lanv2_rot;
use super::simd::{SimdPath, simd_path};
use super::sweep::{Reach, scratch_len, sweep, sweep_pair};

/// Revision of our kernel's arithmetic, the `-k` part of [`super::numerics_id`]: bumped by any
/// change that makes some eigenvalue differ in some bit. 1: the double-shift iteration
/// (`dlahqr`). 2: four shifts chased as two bulges from 32 rows, aggressive early deflation
/// from 150 rows. 3: the blocked Hessenberg reduction on the FMA paths from 66 rows, and the
/// 2×2 blocks that split off standardised by the same `dlanv2` as the Schur form's.
pub const KERNEL_REVISION: u32 = 3;

/// The QR iteration hit its bound without deflating the active block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoConvergence;

/// Machine precision as LAPACK's `DLAMCH('P')` (= eps · base = 2⁻⁵²).
pub(super) const ULP: f64 = f64::EPSILON;
/// `DLAMCH('S')`: the smallest normal number; its reciprocal does not overflow.
const SAFMIN: f64 = f64::MIN_POSITIVE;
/// Exceptional shifts every `KEXSH` iterations without a deflation (current LAPACK `dlahqr`;
/// the older "its = 10 and its = 20" schedule cycles on the same matrices the new one fixes).
pub(super) const KEXSH: usize = 6;
/// Exceptional-shift multipliers, from `dlahqr`.
const DAT1: f64 = 0.75;
const DAT2: f64 = -0.4375;

/// Reusable scratch for the eigenvalues-only Hessenberg QR kernel.
#[derive(Default)]
pub struct Hqr {
    /// The working matrix, column-major, n·n.
    h: Vec<f64>,
    /// Householder vector and the product `A·v` during the Hessenberg reduction; `w` is then
    /// the QR sweeps' scratch.
    v: Vec<f64>,
    w: Vec<f64>,
    /// QR sweeps done by the last call (for tests and statistics).
    pub last_sweeps: usize,
    /// Replaces the per-block iteration bound; tests set it to 0 to exercise the fallback.
    pub(crate) itmax_override: Option<usize>,
    /// The instruction-set path; `None` runs the process's [`simd_path`]. Always one the CPU
    /// has (see [`Hqr::set_simd_path`]).
    path: Option<SimdPath>,
    /// Aggressive early deflation's window and shift scratch.
    aed: AedScratch,
}

impl Hqr {
    /// Scratch pre-sized for `n`×`n` matrices (it grows on demand anyway).
    pub fn with_capacity(n: usize) -> Self {
        Hqr {
            h: Vec::with_capacity(n * n),
            v: Vec::with_capacity(hessenberg::scratch_len(n)),
            w: Vec::with_capacity(scratch_len(n)),
            last_sweeps: 0,
            itmax_override: None,
            path: None,
            aed: AedScratch::default(),
        }
    }

    /// Runs `path` (capped to what the CPU has) instead of the process's [`simd_path`]: lets
    /// tests and benchmarks compare paths in one process.
    pub fn set_simd_path(&mut self, path: SimdPath) {
        self.path = Some(path.capped());
    }

    /// The path the next call runs.
    pub fn simd_path(&self) -> SimdPath {
        self.path.unwrap_or_else(simd_path)
    }

    /// Eigenvalues of the `n`×`n` column-major matrix `a` into `wr` (real parts) and `wi`
    /// (imaginary parts); complex conjugate pairs are adjacent with the positive imaginary part
    /// first. `a` must be finite (the caller checks). On [`NoConvergence`] `wr`/`wi` are garbage.
    pub fn eigenvalues(
        &mut self,
        a: &[f64],
        n: usize,
        wr: &mut [f64],
        wi: &mut [f64],
    ) -> Result<(), NoConvergence> {
        assert_eq!(a.len(), n * n, "matrix slice is not n×n");
        assert!(
            wr.len() == n && wi.len() == n,
            "output slices are not of length n"
        );
        self.last_sweeps = 0;
        if n == 0 {
            return Ok(());
        }
        self.h.clear();
        self.h.extend_from_slice(a);

        // Scale by a power of two into a safe range (see the module docs).
        let amax = self.h.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let scale = if amax > 0.0 && !(1e-100..=1e100).contains(&amax) {
            // 2^-e with e about the binary exponent of amax: exact, and brings amax near 1. The
            // clamp keeps both 2^-e and its inverse normal numbers (amax can be ~2^1024, whose
            // reciprocal power of two would overflow when scaling back); 2^±1000 still lands
            // amax well inside the safe range.
            let e = (amax.log2().round() as i32).clamp(-1000, 1000);
            2f64.powi(-e)
        } else {
            1.0
        };
        if scale != 1.0 {
            self.h.iter_mut().for_each(|x| *x *= scale);
        }

        self.v.resize(hessenberg::scratch_len(n), 0.0);
        self.w.resize(n.max(scratch_len(n)), 0.0);
        let itmax = self.itmax_override.unwrap_or(30 * n.max(10));
        let path = self.simd_path();
        let (h, v, w, aed) = (&mut self.h, &mut self.v, &mut self.w, &mut self.aed);
        let sweeps = reduce_and_iterate(path, (h, n), (v, w, aed), wr, wi, itmax)?;
        self.last_sweeps = sweeps;

        if scale != 1.0 {
            let inv = 1.0 / scale;
            wr.iter_mut().for_each(|x| *x *= inv);
            wi.iter_mut().for_each(|x| *x *= inv);
        }
        Ok(())
    }

    /// The upper Hessenberg form that [`Hqr::eigenvalues`] iterates on, of the `n`×`n`
    /// column-major `a` (column-major, zero below the subdiagonal; bit-identical to the one
    /// `eigenvalues` makes when `a` needs no scaling). Lets studies time the reduction alone.
    pub fn hessenberg(&mut self, a: &[f64], n: usize) -> &[f64] {
        assert_eq!(a.len(), n * n, "matrix slice is not n×n");
        self.h.clear();
        self.h.extend_from_slice(a);
        self.v.resize(hessenberg::scratch_len(n), 0.0);
        reduce(self.simd_path(), &mut self.h, n, &mut self.v);
        &self.h
    }
}

/// Hessenberg reduction then QR, compiled for AVX-512 (the reduction always; the QR whole from
/// `HQR_AVX512_MIN_DIM` rows, below that only its deferred updates), for AVX2 + FMA, and for
/// the x86-64 baseline (SSE2), run as `path` says (always a path the CPU has), so the binary
/// runs on every host of a heterogeneous cluster. The two FMA paths evaluate the same fused
/// operations in the same order, only more of them per instruction on AVX-512, so they agree
/// bit for bit; the baseline rounds each product separately and differs in the last bits.
#[allow(clippy::too_many_arguments)]
fn reduce_and_iterate(
    path: SimdPath,
    (h, n): (&mut [f64], usize),
    (v, w, aed): (&mut [f64], &mut [f64], &mut AedScratch),
    wr: &mut [f64],
    wi: &mut [f64],
    itmax: usize,
) -> Result<usize, NoConvergence> {
    reduce(path, h, n, v);
    debug_assert!(path.available());
    #[cfg(target_arch = "x86_64")]
    match path {
        // SAFETY (all three calls): a #[target_feature] function may only run on a CPU with
        // those features; `path` is one this CPU has (Hqr caps it, simd_path detects it), and
        // both FMA paths have AVX2 and FMA.
        SimdPath::Avx512 if n >= HQR_AVX512_MIN_DIM => {
            return unsafe { hqr_avx512(h, n, wr, wi, itmax, (w, aed)) };
        }
        SimdPath::Avx512 => return unsafe { hqr_avx2_wide(h, n, wr, wi, itmax, (w, aed)) },
        SimdPath::Avx2Fma => return unsafe { hqr_avx2_fma(h, n, wr, wi, itmax, (w, aed)) },
        SimdPath::Baseline => {}
    }
    hqr::<false, false>(h, n, wr, wi, itmax, w, aed)
}

/// The Hessenberg reduction of [`reduce_and_iterate`] alone.
fn reduce(path: SimdPath, h: &mut [f64], n: usize, v: &mut [f64]) {
    debug_assert!(path.available());
    #[cfg(target_arch = "x86_64")]
    match path {
        // SAFETY (both calls): as in reduce_and_iterate.
        SimdPath::Avx512 => return unsafe { hessenberg_avx512(h, n, v) },
        SimdPath::Avx2Fma => return unsafe { hessenberg_avx2_fma(h, n, v) },
        SimdPath::Baseline => {}
    }
    hessenberg::<false, 4>(h, n, v)
}

/// The Hessenberg reduction compiled for one set of target features (a separate function per
/// phase, so profiles show the time of each).
macro_rules! fma_hessenberg {
    ($features:literal, $name:ident, $mr:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name(h: &mut [f64], n: usize, s: &mut [f64]) {
            hessenberg::<true, $mr>(h, n, s)
        }
    };
}

// The products' register tiles are two vectors by four columns: 16 rows would leave AVX2 no
// ymm register beyond the accumulators (measured 2-4 % slower at d = 120-400).
fma_hessenberg!("avx2,fma", hessenberg_avx2_fma, 8);
fma_hessenberg!("avx512f,avx512vl,avx512dq,avx2,fma", hessenberg_avx512, 16);

/// The QR iteration compiled for one set of target features, with its deferred updates
/// (`sweep::flush`) compiled for AVX-512 when `$wide`. The same arithmetic either way: the FMA
/// paths' results agree bit for bit.
macro_rules! fma_hqr {
    ($features:literal, $name:ident, $wide:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name(
            h: &mut [f64],
            n: usize,
            wr: &mut [f64],
            wi: &mut [f64],
            itmax: usize,
            (scratch, aed): (&mut [f64], &mut AedScratch),
        ) -> Result<usize, NoConvergence> {
            hqr::<true, $wide>(h, n, wr, wi, itmax, scratch, aed)
        }
    };
}

fma_hqr!("avx2,fma", hqr_avx2_fma, false);
fma_hqr!("avx2,fma", hqr_avx2_wide, true);
fma_hqr!("avx512f,avx512vl,avx512dq,avx2,fma", hqr_avx512, false);

/// Smallest matrix whose QR iteration runs compiled for AVX-512 on the AVX-512 path; smaller
/// ones run the AVX2 + FMA build with only the deferred updates (`sweep::flush`, long vector
/// loops) compiled for AVX-512. Compiled for AVX-512 whole, the compiler's own loops take 8-wide
/// vectors and have 32 registers, which pays on long rows (aggressive early deflation, from
/// `AED_MIN_DIM`, among them) but leaves the short per-step loops longer remainders. Measured on
/// a Sapphire Rapids Xeon with `scripts/study/ab_kernel.py` (medians of 60-100 paired rounds; a
/// build against a copy of itself reads ×0.99-1.00): the AVX2 build with AVX-512 deferred
/// updates took ×0.99 of the plain AVX2 build's time at d = 50, ×0.97-0.99 at 100, ×0.96 at 120,
/// where the whole AVX-512 build took ×1.00-1.05 (minimum and median of 10-40 alternating
/// runs); against the whole AVX-512 build it took ×1.00-1.01 at 150-200, ×1.03 at 400, ×1.04
/// at 800.
const HQR_AVX512_MIN_DIM: usize = AED_MIN_DIM;

/// `a·b + c`, fused when `F` (only instantiated with `true` inside the FMA-enabled path, where
/// `mul_add` is one instruction; elsewhere it would be a slow libm call).
#[inline(always)]
pub(super) fn fmadd<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
    if F { a.mul_add(b, c) } else { a * b + c }
}

/// Dot product with four independent accumulators so the compiler can keep them in SIMD lanes
/// (a single running sum is a serial dependency chain it may not reorder).
#[inline(always)]
pub(super) fn dot<const F: bool>(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; 4];
    let xc = x.chunks_exact(4);
    let yc = y.chunks_exact(4);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for t in 0..4 {
            acc[t] = fmadd::<F>(a[t], b[t], acc[t]);
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (a, b) in xr.iter().zip(yr) {
        s = fmadd::<F>(*a, *b, s);
    }
    s
}

/// `y += alpha · x` (vectorises as is).
#[inline(always)]
pub(super) fn axpy<const F: bool>(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = fmadd::<F>(alpha, *xi, *yi);
    }
}

/// √(a² + b² + c²) without libm's `hypot`, which cost 15% of the whole run when called at
/// every bulge step. Plain squares are accurate while the largest magnitude is within
/// [1e-150, 1e150] (the caller's scaling makes that the normal case); otherwise scale first.
#[inline(always)]
fn norm3(a: f64, b: f64, c: f64) -> f64 {
    let m = a.abs().max(b.abs()).max(c.abs());
    if m > 1e-150 && m < 1e150 {
        (a * a + b * b + c * c).sqrt()
    } else if m == 0.0 {
        0.0
    } else {
        let (a, b, c) = (a / m, b / m, c / m);
        m * (a * a + b * b + c * c).sqrt()
    }
}

/// `dlarfg` for 2 or 3 entries: on return `x[0]` = beta and `x[1..]` holds v (with implicit
/// v0 = 1) such that (I - tau·v·vᵀ)·x_in = beta·e1. Returns tau (0 when x is already e1-aligned).
#[inline(always)]
pub(super) fn small_reflector(x: &mut [f64; 3], nr: usize) -> f64 {
    // x[2] is 0 when nr == 2 (the caller guarantees it), so one formula covers both.
    debug_assert!(nr == 3 || x[2] == 0.0);
    // The tail's norm is zero exactly when both entries are (norm3 scales tiny ones up).
    if x[1] == 0.0 && x[2] == 0.0 {
        return 0.0;
    }
    let alpha = x[0];
    let mut beta = -alpha.signum() * norm3(alpha, x[1], x[2]);
    // dlarfg rescales when beta is subnormal-ish; a bulge that small only appears on matrices
    // with near-underflowing entries, and scaling up by 1/SAFMIN·ULP keeps tau and v accurate.
    let mut knt = 0;
    let (mut a0, mut x1, mut x2) = (alpha, x[1], x[2]);
    let rsafmn = ULP / SAFMIN;
    while beta.abs() < SAFMIN / ULP && knt < 20 {
        knt += 1;
        a0 *= rsafmn;
        x1 *= rsafmn;
        x2 *= rsafmn;
        beta = -a0.signum() * norm3(a0, x1, x2);
    }
    let tau = (beta - a0) / beta;
    let inv = 1.0 / (a0 - beta);
    x[1] = x1 * inv;
    x[2] = if nr == 3 { x2 * inv } else { 0.0 };
    for _ in 0..knt {
        beta *= SAFMIN / ULP;
    }
    x[0] = beta;
    tau
}

/// `dlahqr`'s threshold below which a subdiagonal entry is negligible outright.
#[inline(always)]
pub(super) fn smlnum(n: usize) -> f64 {
    SAFMIN * (n as f64 / ULP)
}

/// Francis QR on the upper Hessenberg `h` (`dlahqr` with WANTT = WANTZ = false: only the active
/// window is updated, since no Schur form or vectors are wanted), with aggressive early
/// deflation and several shifts per iteration ([`aed`]) while the active block has at least
/// [`AED_MIN_DIM`] rows. Returns the number of sweeps, or [`NoConvergence`] when `itmax`
/// iterations in a row deflate nothing (the caller passes dlahqr's ITMAX = 30·max(10, n)).
/// With `W` its own sweeps' deferred updates run compiled for AVX-512 (`sweep::flush`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn hqr<const F: bool, const W: bool>(
    h: &mut [f64],
    n: usize,
    wr: &mut [f64],
    wi: &mut [f64],
    itmax: usize,
    scratch: &mut [f64],
    aed_scratch: &mut AedScratch,
) -> Result<usize, NoConvergence> {
    let at = |i: usize, j: usize| i + j * n;
    if n == 1 {
        wr[0] = h[0];
        wi[0] = 0.0;
        return Ok(0);
    }
    let params = aed::Params::new(n);
    let mut sweeps = 0usize;
    // Iterations since the last deflation; drives the exceptional-shift schedule and the bound.
    let mut kdefl = 0usize;
    let (mut l, mut i) = (0usize, n - 1);
    loop {
        // Look for a negligible subdiagonal entry h[l, l-1], scanning up from the bottom.
        l = find_split(h, n, l, i);
        if l > 0 {
            h[at(l, l - 1)] = 0.0;
        }
        if l + 1 >= i {
            store_block(h, n, l, i, wr, wi);
            kdefl = 0;
            if l <= 1 {
                if l == 1 {
                    store_block(h, n, 0, 0, wr, wi);
                }
                return Ok(sweeps);
            }
            (l, i) = (0, l - 1);
            continue;
        }
        if kdefl > itmax {
            return Err(NoConvergence);
        }
        kdefl += 1;
        if i - l + 1 >= AED_MIN_DIM {
            let done =
                aed::iterate::<F>(h, n, (l, i), kdefl, &params, wr, wi, scratch, aed_scratch);
            if let Some((nd, s)) = done {
                sweeps += s;
                if nd > 0 {
                    kdefl = 0;
                    if nd == i - l + 1 {
                        if l == 0 {
                            return Ok(sweeps);
                        }
                        (l, i) = (0, l - 1);
                    } else {
                        i -= nd;
                    }
                }
                continue;
            }
        }
        if i - l + 1 >= FOUR_SHIFT_MIN_DIM
            && !kdefl.is_multiple_of(KEXSH)
            && let Some([a, b]) = four_shifts::<F>((h, n), i, (aed_scratch, scratch))
        {
            sweeps += 2;
            let va = first_column(h, n, l, a);
            let vb_of = |h: &[f64]| first_column(h, n, l, b);
            sweep_pair::<F, W>(h, n, (l, i), (va, vb_of), scratch, Reach::window(l, i));
            continue;
        }
        sweeps += 1;
        let shifts = standard_shifts(h, n, (l, i), kdefl);
        let (m, v) = bulge_start::<F>(h, n, (l, i), shifts);
        sweep::<F, W>(h, n, (l, i, m), v, scratch, Reach::window(l, i));
    }
}

/// Smallest active block whose iterations use four shifts, chased as two bulges together
/// ([`sweep_pair`]): about 12 % more sweeps than two shifts at a time, but two independent
/// reflector chains per step; measured 5-15 % faster from d = 32 to 400, even below. Smaller
/// blocks lose on the extra sweeps and the 4×4 QR: against 32, 24 took ×1.01-1.02 and 16
/// ×1.04-1.14 of the time at d = 20-50 (`scripts/study/ab_kernel.py`, 60 paired rounds).
const FOUR_SHIFT_MIN_DIM: usize = 32;

/// Four shifts for a two-bulge iteration: the eigenvalues of the trailing 4×4 of the block
/// ending at row `i`, as two pairs that are each real or conjugate; the pair nearer the corner
/// first. `None` if that small QR fails (the caller then takes the usual two shifts).
#[inline(always)]
fn four_shifts<const F: bool>(
    (h, n): (&[f64], usize),
    i: usize,
    (aed_scratch, scratch): (&mut AedScratch, &mut [f64]),
) -> Option<[Shifts; 2]> {
    let (mut wr, mut wi) = ([0.0f64; 4], [0.0f64; 4]);
    let shifts = (&mut wr[..], &mut wi[..]);
    aed::trailing_eigenvalues::<F>((h, n), i, shifts, (aed_scratch, scratch)).then_some(())?;
    aed::order_shifts(0, 3, 4, &mut wr, &mut wi);
    Some([(wr[2], wi[2], wr[3], wi[3]), (wr[0], wi[0], wr[1], wi[1])])
}

/// The eigenvalues of the 1×1 (`l == i`) or 2×2 (`l + 1 == i`) block that split off at rows
/// `l..=i`, into `wr`/`wi`; a 2×2 is standardised first for accurate (conjugate) values.
fn store_block(h: &[f64], n: usize, l: usize, i: usize, wr: &mut [f64], wi: &mut [f64]) {
    let at = |i: usize, j: usize| i + j * n;
    if l == i {
        wr[i] = h[at(i, i)];
        wi[i] = 0.0;
    } else {
        let (a, b, c, d) = (
            h[at(i - 1, i - 1)],
            h[at(i - 1, i)],
            h[at(i, i - 1)],
            h[at(i, i)],
        );
        let ((r1, i1), (r2, i2)) = lanv2(a, b, c, d);
        wr[i - 1] = r1;
        wi[i - 1] = i1;
        wr[i] = r2;
        wi[i] = i2;
    }
}

/// The lowest row `k` in `l..=i` such that `h[k, k-1]` is negligible (`l` when none is), by
/// `dlahqr`'s scan up from the bottom with the Ahues–Tisseur test (LAWN 122), which is
/// conservative so that small eigenvalues stay accurate.
#[inline(always)]
pub(super) fn find_split(h: &[f64], n: usize, l: usize, i: usize) -> usize {
    let at = |i: usize, j: usize| i + j * n;
    let smlnum = smlnum(n);
    let mut k = i;
    while k > l {
        let hkk1 = h[at(k, k - 1)].abs();
        if hkk1 <= smlnum {
            break;
        }
        let mut tst = h[at(k - 1, k - 1)].abs() + h[at(k, k)].abs();
        if tst == 0.0 {
            if k >= 2 {
                tst += h[at(k - 1, k - 2)].abs();
            }
            if k + 1 < n {
                tst += h[at(k + 1, k)].abs();
            }
        }
        if hkk1 <= ULP * tst {
            let hk1k = h[at(k - 1, k)].abs();
            let ab = hkk1.max(hk1k);
            let ba = hkk1.min(hk1k);
            let d = (h[at(k - 1, k - 1)] - h[at(k, k)]).abs();
            let hkk = h[at(k, k)].abs();
            let aa = hkk.max(d);
            let bb = hkk.min(d);
            let s = aa + ab;
            if ba * (ab / s) <= smlnum.max(ULP * (bb * (aa / s))) {
                break;
            }
        }
        k -= 1;
    }
    k
}

/// Two shifts (rt1r, rt1i, rt2r, rt2i) for the block `l..=i`: the eigenvalues of its trailing
/// 2×2, or an exceptional shift when the iteration stalls (bottom-based every 2·KEXSH
/// iterations, top-based every KEXSH).
#[inline(always)]
pub(super) fn standard_shifts(h: &[f64], n: usize, (l, i): (usize, usize), kdefl: usize) -> Shifts {
    let at = |i: usize, j: usize| i + j * n;
    let (mut h11, mut h12, mut h21, mut h22);
    if kdefl.is_multiple_of(2 * KEXSH) {
        let s = h[at(i, i - 1)].abs() + h[at(i - 1, i - 2)].abs();
        h11 = DAT1 * s + h[at(i, i)];
        h12 = DAT2 * s;
        h21 = s;
        h22 = h11;
    } else if kdefl.is_multiple_of(KEXSH) {
        let s = h[at(l + 1, l)].abs() + h[at(l + 2, l + 1)].abs();
        h11 = DAT1 * s + h[at(l, l)];
        h12 = DAT2 * s;
        h21 = s;
        h22 = h11;
    } else {
        h11 = h[at(i - 1, i - 1)];
        h21 = h[at(i, i - 1)];
        h12 = h[at(i - 1, i)];
        h22 = h[at(i, i)];
    }
    let s = h11.abs() + h12.abs() + h21.abs() + h22.abs();
    if s == 0.0 {
        return (0.0, 0.0, 0.0, 0.0);
    }
    h11 /= s;
    h21 /= s;
    h12 /= s;
    h22 /= s;
    let tr = (h11 + h22) / 2.0;
    let det = (h11 - tr) * (h22 - tr) - h12 * h21;
    let rtdisc = det.abs().sqrt();
    if det >= 0.0 {
        // Complex conjugate shifts.
        (tr * s, rtdisc * s, tr * s, -rtdisc * s)
    } else {
        // Real shifts: use the one closer to h22, twice.
        let a = tr + rtdisc;
        let b = tr - rtdisc;
        let r = if (a - h22).abs() <= (b - h22).abs() {
            a
        } else {
            b
        } * s;
        (r, 0.0, r, 0.0)
    }
}

/// Two shifts as (re1, im1, re2, im2): both real, or a conjugate pair.
pub(super) type Shifts = (f64, f64, f64, f64);

/// The first column of (H − s1)(H − s2) at rows m..m+3, scaled to avoid over- and underflow
/// (`dlaqr1`, as `dlahqr` evaluates it).
#[inline(always)]
pub(super) fn first_column(
    h: &[f64],
    n: usize,
    m: usize,
    (rt1r, rt1i, rt2r, rt2i): Shifts,
) -> [f64; 3] {
    let at = |i: usize, j: usize| i + j * n;
    let h21s = h[at(m + 1, m)];
    let hmm = h[at(m, m)];
    let s = (hmm - rt2r).abs() + rt2i.abs() + h21s.abs();
    let h21s = h21s / s;
    let mut v = [
        h21s * h[at(m, m + 1)] + (hmm - rt1r) * ((hmm - rt2r) / s) - rt1i * (rt2i / s),
        h21s * (hmm + h[at(m + 1, m + 1)] - rt1r - rt2r),
        h21s * h[at(m + 2, m + 1)],
    ];
    let s = v[0].abs() + v[1].abs() + v[2].abs();
    v[0] /= s;
    v[1] /= s;
    v[2] /= s;
    v
}

/// Where the double-shift bulge for `shifts` starts in the block `l..=i`, and its first
/// reflector's vector: the first column of (H − s1)(H − s2), at the lowest row `m` where two
/// consecutive small subdiagonals make starting there equivalent (saving the sweep over
/// rows l..m).
#[inline(always)]
pub(super) fn bulge_start<const F: bool>(
    h: &[f64],
    n: usize,
    (l, i): (usize, usize),
    shifts: Shifts,
) -> (usize, [f64; 3]) {
    let at = |i: usize, j: usize| i + j * n;
    let mut m = i - 2;
    // Four candidates at a time, each lane the same operations as the one-at-a-time test
    // below, so the same start is found; its vector is then computed alone.
    #[cfg(target_arch = "x86_64")]
    while F && m >= l + 4 {
        // SAFETY: F is only true on the FMA paths, run only on CPUs with AVX2.
        let start = unsafe { starts4(h, n, m, shifts) };
        if start != 0 {
            let q = start.trailing_zeros() as usize;
            return (m - q, first_column(h, n, m - q, shifts));
        }
        m -= 4;
    }
    loop {
        let v = first_column(h, n, m, shifts);
        let hmm = h[at(m, m)];
        if m == l {
            return (m, v);
        }
        let h00 = h[at(m - 1, m - 1)].abs();
        let h22 = h[at(m + 1, m + 1)].abs();
        if h[at(m, m - 1)].abs() * (v[1].abs() + v[2].abs())
            <= ULP * v[0].abs() * (h00 + hmm.abs() + h22)
        {
            return (m, v);
        }
        m -= 1;
    }
}

/// Which of rows `m`, `m − 1`, `m − 2`, `m − 3` (all below the block's top row) pass
/// [`bulge_start`]'s test, as the bits of a mask (lane q for row m − q): the same operations
/// per row in four lanes, so its six divisions per row pipeline instead of waiting in turn.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn starts4(h: &[f64], n: usize, m: usize, (rt1r, rt1i, rt2r, rt2i): Shifts) -> u32 {
    use std::arch::x86_64::*;
    let at = |i: usize, j: usize| i + j * n;
    let get =
        |f: &dyn Fn(usize) -> usize| _mm256_set_pd(h[f(m - 3)], h[f(m - 2)], h[f(m - 1)], h[f(m)]);
    let all = |c: f64| _mm256_set1_pd(c);
    let abs = |x| _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    let (add, sub) = (|a, b| _mm256_add_pd(a, b), |a, b| _mm256_sub_pd(a, b));
    let (mul, div) = (|a, b| _mm256_mul_pd(a, b), |a, b| _mm256_div_pd(a, b));
    let hmm = get(&|k| at(k, k));
    let h21 = get(&|k| at(k + 1, k));
    let h22 = get(&|k| at(k + 1, k + 1));
    let s = add(add(abs(sub(hmm, all(rt2r))), all(rt2i.abs())), abs(h21));
    let h21s = div(h21, s);
    let t = mul(sub(hmm, all(rt1r)), div(sub(hmm, all(rt2r)), s));
    let v0 = sub(
        add(mul(h21s, get(&|k| at(k, k + 1))), t),
        mul(all(rt1i), div(all(rt2i), s)),
    );
    let v1 = mul(h21s, sub(sub(add(hmm, h22), all(rt1r)), all(rt2r)));
    let v2 = mul(h21s, get(&|k| at(k + 2, k + 1)));
    let s = add(add(abs(v0), abs(v1)), abs(v2));
    let (v0, v1, v2) = (div(v0, s), div(v1, s), div(v2, s));
    let lhs = mul(abs(get(&|k| at(k, k - 1))), add(abs(v1), abs(v2)));
    let sum = add(add(abs(get(&|k| at(k - 1, k - 1))), abs(hmm)), abs(h22));
    let rhs = mul(mul(all(ULP), abs(v0)), sum);
    _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(lhs, rhs)) as u32
}

/// Eigenvalues of the real 2×2 [[a, b], [c, d]] via `dlanv2`'s standardisation: it makes the
/// diagonal equal for a complex pair, so the imaginary part comes out as √|b|·√|c| without the
/// cancellation of the textbook quadratic formula. Returns ((re1, im1), (re2, im2)), a complex
/// pair with im1 > 0.
pub fn lanv2(a: f64, b: f64, c: f64, d: f64) -> ((f64, f64), (f64, f64)) {
    let r = lanv2_rot(a, b, c, d);
    ((r.rt1r, r.rt1i), (r.rt2r, r.rt2i))
}
