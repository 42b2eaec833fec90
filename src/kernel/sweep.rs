//! One Francis double-shift sweep (the bulge chase of `dlahqr`), with the updates far from the
//! bulge deferred and applied [`BATCH`] reflectors at a time.
//!
//! Each 3×3 reflector of the chase updates three rows (to the right edge of the active window)
//! and three columns (from its top edge). Only a small window around the bulge is read by the
//! next steps; the far-right part of the rows and the far-top part of the columns are not. So
//! within a batch those parts are left alone, then each of their entries gets the batch's
//! reflectors applied in turn while it stays in a register: one load and one store per entry
//! per batch instead of one per reflector. Every entry sees the same operations in the same
//! order as with one reflector at a time, so results are bit-identical to the unbatched chase.
//!
//! [`sweep_pair`] chases two bulges at once, the second a few rows behind the first, so that
//! their (latency-bound) reflector computations overlap, and within a batch makes each next
//! reflector before the bulk of the current step's updates, which then run while its square
//! root and divisions are in flight; [`Reach`] lets the same code update a whole Schur form
//! and its vectors for the deflation window (`schur.rs`).
//!
//! On windows up to about 50 rows those chains set the pace, not the instruction count: eight
//! dependent multiplications added to each reflector (about 32 cycles) made a step of a
//! two-bulge sweep 5-7 ns slower at 27 and 50 rows, about what two overlapped chains predict,
//! and no slower at 100; a batch loop with 6 % fewer instructions ran no faster.

use super::hqr::{fmadd, small_reflector};

/// Reflectors per batch. Deferral needs the window to reach [`BATCH`] + 2 rows below the batch
/// start; shorter tails run one reflector at a time. Against 16, 8 and 12 took ×1.04-1.08 of
/// the time at d = 50-120, 20 ×1.02-1.05 and 24 the same (`scripts/study/ab_kernel.py`).
const BATCH: usize = 16;
/// Rows of the deferred column updates done per vector step (one zmm, two ymm, four xmm). With
/// FMA, twice as many while there are: each reflector's update is a chain of three FMAs
/// (its sum reads the two entries the one before has just updated), so two ymm vectors left the
/// FMA units waiting; four keep them busier (measured 2-6 % faster at d = 100-200). Without FMA
/// the sixteen xmm registers are too few for that.
const LANES: usize = 8;
/// How far the second bulge of [`sweep_pair`] trails the first: the least that keeps their
/// 3×3 reflectors on disjoint rows. 4 and 6 took the same time (×0.98-1.01 at d = 40-120,
/// `scripts/study/ab_kernel.py`): the second bulge does not wait on the first's updates.
const GAP: usize = 3;
/// Columns of the deferred row updates copied, updated and copied back at a time: few enough
/// that the copy stays in L1 between the three passes.
const STRIP: usize = 32;
/// Rows of the sweeps' scratch: the deferred row updates are done on a transposed copy of the
/// rows they touch, [`BATCH`] + 2 per bulge, [`GAP`] more for two.
const SCRATCH_ROWS: usize = BATCH + 2 + GAP;

/// Scratch entries a sweep over an `n`×`n` matrix needs.
pub(super) const fn scratch_len(n: usize) -> usize {
    SCRATCH_ROWS * (n + LANES)
}

/// A 3×3 reflector I − t·vᵀ with v = (1, v2, v3) and t = tau·v.
#[derive(Clone, Copy, Default)]
struct Reflector {
    t: [f64; 3],
    v2: f64,
    v3: f64,
}

impl Reflector {
    /// `(a, b, c) ← (I − t·vᵀ)(a, b, c)`, the single operation sequence every update uses.
    #[inline(always)]
    fn apply<const F: bool>(&self, a: &mut f64, b: &mut f64, c: &mut f64) {
        let sum = fmadd::<F>(self.v3, *c, fmadd::<F>(self.v2, *b, *a));
        *a = fmadd::<F>(-sum, self.t[0], *a);
        *b = fmadd::<F>(-sum, self.t[1], *b);
        *c = fmadd::<F>(-sum, self.t[2], *c);
    }
}

/// How far a sweep's reflectors reach beyond the active window: eigenvalues only need the window
/// itself ([`Reach::window`]); a Schur form needs whole rows and columns, and its Schur vectors
/// every reflector ([`Reach::full`]).
pub(super) struct Reach<'a> {
    /// First row the column (right) updates touch.
    top: usize,
    /// Last column the row (left) updates touch.
    right: usize,
    /// The `n`×`n` Schur vectors Z ← Z·Q, if wanted.
    z: Option<&'a mut [f64]>,
}

impl<'a> Reach<'a> {
    /// Only the active window `l..=i`.
    pub(super) fn window(l: usize, i: usize) -> Reach<'a> {
        Reach {
            top: l,
            right: i,
            z: None,
        }
    }

    /// The whole `n`×`n` matrix, and `z`.
    pub(super) fn full(n: usize, z: &'a mut [f64]) -> Reach<'a> {
        Reach {
            top: 0,
            right: n - 1,
            z: Some(z),
        }
    }
}

/// Chases the double-shift bulge that starts at row `m` (first reflector from `v`) to the bottom
/// of the active window rows/columns `l..=i` of the column-major `n`×`n` Hessenberg `h`,
/// updating what `reach` says. `scratch` holds at least [`SCRATCH_ROWS`]·n entries. `W`: the
/// deferred updates run compiled for AVX-512 ([`flush`]).
#[inline(always)]
pub(super) fn sweep<const F: bool, const W: bool>(
    h: &mut [f64],
    n: usize,
    (l, i, m): (usize, usize, usize),
    mut v: [f64; 3],
    scratch: &mut [f64],
    mut reach: Reach,
) {
    let mut k = m;
    while k < i {
        if k + BATCH < i {
            // Steps k0..k0+BATCH all have three rows and touch columns up to k0+BATCH+1 ≤ i.
            let k0 = k;
            let near_col = k0 + BATCH + 1;
            let mut batch = [Reflector::default(); BATCH];
            for r in batch.iter_mut() {
                *r = step::<F>(h, n, (l, i, m), k, &mut v, (near_col, k0), None);
                k += 1;
            }
            flush::<F, W, 1>(h, n, (k0, near_col), &[(0, &batch)], scratch, &mut reach);
        } else {
            let z = reach.z.as_deref_mut();
            step::<F>(h, n, (l, i, m), k, &mut v, (reach.right, reach.top), z);
            k += 1;
        }
    }
}

/// Two double-shift sweeps over `l..=i` chased together: bulge A (first reflector from `va`)
/// leads, bulge B (its first column from `vb_of`, evaluated once A has moved [`GAP`] rows on,
/// as a sweep started after A's would see it) trails [`GAP`] rows behind. The reflector
/// computations of the two are independent, so the CPU overlaps their latency chains, and one
/// pass of deferred updates serves both. In exact arithmetic this is A's sweep then B's: each
/// entry sees A's row operations before B's and A's column operations before B's, and only
/// the interleaving of a row operation with a column operation differs. Needs
/// `i − l ≥ 2·GAP`.
#[inline(always)]
pub(super) fn sweep_pair<const F: bool, const W: bool>(
    h: &mut [f64],
    n: usize,
    (l, i): (usize, usize),
    (mut va, vb_of): ([f64; 3], impl FnOnce(&[f64]) -> [f64; 3]),
    scratch: &mut [f64],
    mut reach: Reach,
) {
    let edges = (reach.right, reach.top);
    for ka in l..l + GAP {
        step::<F>(h, n, (l, i, l), ka, &mut va, edges, reach.z.as_deref_mut());
    }
    let vb = vb_of(h);
    // Pipelined on the FMA paths, where it measured 2-3 % faster at d = 100-200; on the
    // baseline path it measured 6-10 % slower at d = 50-120 than whole steps.
    let bulges = ((l + GAP, va), (l, vb));
    let ((mut ka, mut va), (mut kb, mut vb)) =
        batches::<F, W>(h, n, (l, i), bulges, scratch, &mut reach);
    while kb < i {
        if ka < i {
            step::<F>(h, n, (l, i, l), ka, &mut va, edges, reach.z.as_deref_mut());
            ka += 1;
        }
        step::<F>(h, n, (l, i, l), kb, &mut vb, edges, reach.z.as_deref_mut());
        kb += 1;
    }
}

/// A bulge of [`sweep_pair`]: its next step and the vector its reflectors are made in.
type Bulge = (usize, [f64; 3]);

/// [`sweep_pair`]'s batches; returns the bulges after the last. Without FMA each step is done
/// whole. With FMA they are pipelined: each step's reflector is made (`make3`) before the rest
/// of the step before it, and the steps made when the batches end are finished here with the
/// window's edges. The same operations per entry in the same order either way.
#[inline(always)]
fn batches<const F: bool, const W: bool>(
    h: &mut [f64],
    n: usize,
    (l, i): (usize, usize),
    ((mut ka, mut va), (mut kb, mut vb)): (Bulge, Bulge),
    scratch: &mut [f64],
    reach: &mut Reach,
) -> (Bulge, Bulge) {
    if !F {
        while ka + BATCH < i {
            let (k0, near_col) = (kb, ka + BATCH + 1);
            let mut a = [Reflector::default(); BATCH];
            let mut b = [Reflector::default(); BATCH];
            for (ra, rb) in a.iter_mut().zip(b.iter_mut()) {
                *ra = step::<F>(h, n, (l, i, l), ka, &mut va, (near_col, k0), None);
                *rb = step::<F>(h, n, (l, i, l), kb, &mut vb, (near_col, k0), None);
                (ka, kb) = (ka + 1, kb + 1);
            }
            flush::<F, W, 2>(h, n, (k0, near_col), &[(GAP, &a), (0, &b)], scratch, reach);
        }
        return ((ka, va), (kb, vb));
    }
    // `ra` and `rb` are made, their near parts not yet applied.
    let mut ra = make3(h, n, (l, l), ka, &mut va);
    let mut rb = make3(h, n, (l, l), kb, &mut vb);
    while ka + BATCH < i {
        let (k0, near_col) = (kb, ka + BATCH + 1);
        let mut a = [Reflector::default(); BATCH];
        let mut b = [Reflector::default(); BATCH];
        step_near::<F>(h, n, i, ka, &ra);
        step_near::<F>(h, n, i, kb, &rb);
        for s in 0..BATCH {
            (a[s], b[s]) = (ra, rb);
            // A's last step has two rows: `step` makes it below.
            let na = if ka + 3 <= i {
                make3(h, n, (l, l), ka + 1, &mut va)
            } else {
                Reflector::default()
            };
            let nb = make3(h, n, (l, l), kb + 1, &mut vb);
            step_rest::<F>(h, n, ka, &ra, (near_col, k0), None);
            step_rest::<F>(h, n, kb, &rb, (near_col, k0), None);
            (ka, kb) = (ka + 1, kb + 1);
            (ra, rb) = (na, nb);
            if s + 1 < BATCH {
                step_near::<F>(h, n, i, ka, &ra);
                step_near::<F>(h, n, i, kb, &rb);
            }
        }
        flush::<F, W, 2>(h, n, (k0, near_col), &[(GAP, &a), (0, &b)], scratch, reach);
    }
    let edges = (reach.right, reach.top);
    if ka + 2 <= i {
        step_near::<F>(h, n, i, ka, &ra);
        step_rest::<F>(h, n, ka, &ra, edges, reach.z.as_deref_mut());
    } else {
        step::<F>(h, n, (l, i, l), ka, &mut va, edges, reach.z.as_deref_mut());
    }
    step_near::<F>(h, n, i, kb, &rb);
    step_rest::<F>(h, n, kb, &rb, edges, reach.z.as_deref_mut());
    ((ka + 1, va), (kb + 1, vb))
}

/// The deferred updates of a batch of each bulge (the last one's first step at `k0`, each
/// batch with its first row's offset from there; rows done up to column `near_col`), compiled
/// for AVX-512 when `W`: these long vector loops gain from it even where the short loops of the
/// rest of a sweep lose (see `hqr::HQR_AVX512_MIN_DIM`).
#[inline(always)]
fn flush<const F: bool, const W: bool, const NB: usize>(
    h: &mut [f64],
    n: usize,
    near: (usize, usize),
    batches: &[(usize, &[Reflector; BATCH]); NB],
    scratch: &mut [f64],
    reach: &mut Reach,
) {
    #[cfg(target_arch = "x86_64")]
    if W {
        // SAFETY: `W` is only true in `hqr::hqr_avx2_wide`, which runs only on the AVX-512
        // path, so only on CPUs with these features (see `hqr::reduce_and_iterate`).
        return unsafe { flush_avx512::<NB>((h, n), near, batches, (scratch, reach)) };
    }
    flush_batches::<F, NB>((h, n), near, batches, (scratch, reach));
}

/// [`flush_batches`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
fn flush_avx512<const NB: usize>(
    (h, n): (&mut [f64], usize),
    near: (usize, usize),
    batches: &[(usize, &[Reflector; BATCH]); NB],
    (scratch, reach): (&mut [f64], &mut Reach),
) {
    flush_batches::<true, NB>((h, n), near, batches, (scratch, reach));
}

/// [`flush`]'s updates: the batches' rows right of `near_col`, then each batch's columns above
/// `k0` (and all of `z`'s rows, if given), in the order given.
#[inline(always)]
fn flush_batches<const F: bool, const NB: usize>(
    (h, n): (&mut [f64], usize),
    (k0, near_col): (usize, usize),
    batches: &[(usize, &[Reflector; BATCH]); NB],
    (scratch, reach): (&mut [f64], &mut Reach),
) {
    let far = (k0, near_col + 1, reach.right);
    flush_rows::<F>(h, n, far, batches, scratch);
    for &(off, batch) in batches {
        flush_columns::<F>(h, n, k0 + off, (reach.top, k0, reach.z.is_none()), batch);
        if let Some(z) = reach.z.as_deref_mut() {
            flush_columns::<F>(z, n, k0 + off, (0, n, false), batch);
        }
    }
}

/// One bulge-chase step at row `k`: makes the reflector (from `v` at the first step `k == m`,
/// else from column k−1), then applies it to columns `k..=col_hi` of its rows, rows
/// `row_lo..=min(k+3, i)` of its columns, and all of `z`'s columns if given. Returns the
/// reflector (meaningful for three rows).
#[inline(always)]
fn step<const F: bool>(
    h: &mut [f64],
    n: usize,
    (l, i, m): (usize, usize, usize),
    k: usize,
    v: &mut [f64; 3],
    (col_hi, row_lo): (usize, usize),
    z: Option<&mut [f64]>,
) -> Reflector {
    if k + 2 <= i {
        // Whole rows and columns (not `step_near` then `step_rest`: the same operations, but
        // the extra calls cost more than they save on short sweeps).
        let r = make3(h, n, (l, m), k, v);
        apply_left3::<F>(h, n, k, (k, col_hi), &r);
        apply_right3::<F>(h, n, k, row_lo, (k + 3).min(i), &r);
        if let Some(z) = z {
            apply_right3::<F>(z, n, k, 0, n - 1, &r);
        }
        return r;
    }
    // The last step of a sweep: a two-row reflector.
    let t1 = reduce_column::<2>(h, n, (l, m), k, v);
    let (v2, t2) = (v[1], t1 * v[1]);
    apply_left2::<F>(h, n, k, col_hi, t1, t2, v2);
    apply_right2::<F>(h, n, k, row_lo, i, t1, t2, v2);
    if let Some(z) = z {
        apply_right2::<F>(z, n, k, 0, n - 1, t1, t2, v2);
    }
    Reflector::default()
}

/// The reflector of a three-row step `k` (`k + 2 ≤ i`), by [`reduce_column`]. The first third
/// of [`step`]; split off with [`step_near`] and [`step_rest`] so that a chase can make the
/// next step's reflector (a chain of a square root and divisions) before this step's bulk
/// updates, which then run while it is in flight.
#[inline(always)]
fn make3(h: &mut [f64], n: usize, (l, m): (usize, usize), k: usize, v: &mut [f64; 3]) -> Reflector {
    let t1 = reduce_column::<3>(h, n, (l, m), k, v);
    Reflector {
        t: [t1, t1 * v[1], t1 * v[2]],
        v2: v[1],
        v3: v[2],
    }
}

/// The `NR`-row reflector of step `k` (its tau; `v` then holds beta and its vector): from `v`
/// at the first step `k == m`, else from column k−1, which it reduces to (beta, 0, 0).
#[inline(always)]
fn reduce_column<const NR: usize>(
    h: &mut [f64],
    n: usize,
    (l, m): (usize, usize),
    k: usize,
    v: &mut [f64; 3],
) -> f64 {
    let at = |r: usize, c: usize| r + c * n;
    if k > m {
        let third = if NR == 3 { h[at(k + 2, k - 1)] } else { 0.0 };
        *v = [h[at(k, k - 1)], h[at(k + 1, k - 1)], third];
    }
    let t1 = small_reflector(v, NR);
    if k > m {
        h[at(k, k - 1)] = v[0];
        for r in 1..NR {
            h[at(k + r, k - 1)] = 0.0;
        }
    } else if m > l {
        // dlahqr: multiply rather than negate, so an underflowed v does not flip a sign that
        // should have stayed.
        h[at(k, k - 1)] *= 1.0 - t1;
    }
    t1
}

/// The part of three-row step `k` that step k+1's reflector reads: its rows of columns
/// k..k+2, then its columns of rows k+1..=min(k+3, i). Every entry sees the same operations in
/// the same order as in [`step`].
#[inline(always)]
fn step_near<const F: bool>(h: &mut [f64], n: usize, i: usize, k: usize, r: &Reflector) {
    apply_left3::<F>(h, n, k, (k, k + 2), r);
    apply_right3::<F>(h, n, k, k + 1, (k + 3).min(i), r);
}

/// The rest of three-row step `k`: its rows of columns k+3..=col_hi, its columns of rows
/// row_lo..=k, and `z`'s columns if given.
#[inline(always)]
fn step_rest<const F: bool>(
    h: &mut [f64],
    n: usize,
    k: usize,
    r: &Reflector,
    (col_hi, row_lo): (usize, usize),
    z: Option<&mut [f64]>,
) {
    apply_left3::<F>(h, n, k, (k + 3, col_hi), r);
    apply_right3::<F>(h, n, k, row_lo, k, r);
    if let Some(z) = z {
        apply_right3::<F>(z, n, k, 0, n - 1, r);
    }
}

/// The deferred row updates of one or two batches: columns `c0..=c_end`, rows from `r0`; each
/// batch comes with its first row's offset from `r0`, and reflector s of it acts on rows
/// offset+s..offset+s+3. Those rows are copied transposed into `t`, so that the updates run
/// [`LANES`] columns at a time as vector operations (the same ones as [`flush_columns`]), and
/// copied back. Batches apply in the order given.
#[inline(always)]
fn flush_rows<const F: bool>(
    h: &mut [f64],
    n: usize,
    (r0, c0, c_end): (usize, usize, usize),
    batches: &[(usize, &[Reflector; BATCH])],
    t: &mut [f64],
) {
    if c0 > c_end {
        return;
    }
    let rows = batches.iter().map(|b| b.0).max().unwrap_or(0) + BATCH + 2;
    let mut c = c0;
    while c <= c_end {
        let nc = (c_end + 1 - c).min(STRIP);
        // Padded with zero columns to a multiple of LANES: no scalar remainder, whose
        // dependency chains (16 reflectors deep) cost more than the padding.
        let ncp = nc.next_multiple_of(LANES);
        let cols = &mut h[c * n..(c + nc) * n];
        let t = &mut t[..rows * ncp];
        if ncp > nc {
            // Zeros over each row's whole last vector, whose first entries the transpose then
            // overwrites: a fixed-size store, where a fill of the few padding entries was a
            // call to memset per row.
            for r in 1..=rows {
                t[r * ncp - LANES..r * ncp].copy_from_slice(&[0.0; LANES]);
            }
        }
        transpose::<F, false>((cols, n, r0), (t, ncp), (rows, nc));
        for &(off, batch) in batches {
            flush_vectors::<F>(&mut t[off * ncp..], ncp, (0, ncp), batch);
        }
        transpose::<F, true>((cols, n, r0), (t, ncp), (rows, nc));
        c += nc;
    }
}

/// Copies rows `r0..r0+rows` of the `nc` columns of `cols` (`n` apart) transposed into `t`
/// (rows `ncp` apart), or back when `BACK`. With `F` (the FMA paths, which all have AVX2) whole
/// 4×4 blocks go through registers: four 4-entry loads, shuffles, four 4-entry stores instead of
/// 32 single-entry moves; measured 15 % of a sweep at d = 100 done one entry at a time.
#[inline(always)]
fn transpose<const F: bool, const BACK: bool>(
    (cols, n, r0): (&mut [f64], usize, usize),
    (t, ncp): (&mut [f64], usize),
    (rows, nc): (usize, usize),
) {
    let (mut rows4, mut nc4) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if F {
        (rows4, nc4) = (rows - rows % 4, nc - nc % 4);
        for j in (0..nc4).step_by(4) {
            for r in (0..rows4).step_by(4) {
                let (src, dst) = (r0 + r + j * n, r * ncp + j);
                if BACK {
                    // SAFETY: F is only true on the FMA paths, run only on CPUs with AVX2.
                    unsafe { transpose4x4(t, (dst, ncp), cols, (src, n)) };
                } else {
                    // SAFETY: as above.
                    unsafe { transpose4x4(cols, (src, n), t, (dst, ncp)) };
                }
            }
        }
    }
    // The rest (all of it without F) one entry at a time.
    for (j, col) in cols.chunks_exact_mut(n).enumerate() {
        let from = if j < nc4 { rows4 } else { 0 };
        // Whole blocks covered the column; `t[from * ncp + j..]` may then lie past `t`'s end.
        if from == rows {
            continue;
        }
        let seg = &mut col[r0 + from..r0 + rows];
        let tcol = t[from * ncp + j..].iter_mut().step_by(ncp);
        for (x, y) in seg.iter_mut().zip(tcol) {
            if BACK {
                *x = *y;
            } else {
                *y = *x;
            }
        }
    }
}

/// Transposes the 4×4 block of `src` at `s` (its rows `ls` apart: four contiguous 4-entry
/// stripes) into `dst` at `d` (stripes `ld` apart).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn transpose4x4(
    src: &[f64],
    (s, ls): (usize, usize),
    dst: &mut [f64],
    (d, ld): (usize, usize),
) {
    use std::arch::x86_64::{
        _mm256_loadu_pd, _mm256_permute2f128_pd, _mm256_storeu_pd, _mm256_unpackhi_pd,
        _mm256_unpacklo_pd,
    };
    assert!(s + 3 * ls + 4 <= src.len() && d + 3 * ld + 4 <= dst.len());
    // SAFETY: the assert keeps every 4-entry load and store inside its slice.
    unsafe {
        let p = src.as_ptr().add(s);
        let (a, b) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(ls)));
        let (c, e) = (
            _mm256_loadu_pd(p.add(2 * ls)),
            _mm256_loadu_pd(p.add(3 * ls)),
        );
        let (t0, t1) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
        let (t2, t3) = (_mm256_unpacklo_pd(c, e), _mm256_unpackhi_pd(c, e));
        let q = dst.as_mut_ptr().add(d);
        _mm256_storeu_pd(q, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(q.add(ld), _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm256_storeu_pd(q.add(2 * ld), _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(q.add(3 * ld), _mm256_permute2f128_pd(t1, t3, 0x31));
    }
}

/// The batch's deferred column updates: rows `r0..r1` of columns `k0..k0+BATCH+2`, reflector s
/// on columns k0+s..k0+s+3, [`LANES`] rows at a time with a sliding window of three columns.
/// With `spare_above`, the rows above `r0` are of no interest (eigenvalues only: they are the
/// block above the active window, never read again), so the range is widened upwards to whole
/// vectors where it can be instead of ending in a scalar remainder.
#[inline(always)]
fn flush_columns<const F: bool>(
    h: &mut [f64],
    n: usize,
    k0: usize,
    (r0, r1, spare_above): (usize, usize, bool),
    batch: &[Reflector; BATCH],
) {
    let cols = &mut h[k0 * n..(k0 + BATCH + 2) * n];
    let widened = r1.checked_sub((r1 - r0).next_multiple_of(LANES));
    let mut r = match widened {
        Some(w) if spare_above => w,
        _ => r0,
    };
    r = flush_vectors::<F>(cols, n, (r, r1), batch);
    while r < r1 {
        flush_column_rows::<F, 1>(cols, n, r, batch);
        r += 1;
    }
}

/// [`flush_column_rows`] on rows `r..r1` in whole vectors: 2·[`LANES`] at a time with FMA
/// while they fit, then [`LANES`]. Returns where it stopped (fewer than [`LANES`] rows before
/// `r1`), for the caller's remainder.
#[inline(always)]
fn flush_vectors<const F: bool>(
    cols: &mut [f64],
    n: usize,
    (mut r, r1): (usize, usize),
    batch: &[Reflector; BATCH],
) -> usize {
    while F && r + 2 * LANES <= r1 {
        flush_column_rows::<F, { 2 * LANES }>(cols, n, r, batch);
        r += 2 * LANES;
    }
    while r + LANES <= r1 {
        flush_column_rows::<F, LANES>(cols, n, r, batch);
        r += LANES;
    }
    r
}

/// [`flush_columns`] for rows `r..r+W`.
#[inline(always)]
fn flush_column_rows<const F: bool, const W: usize>(
    cols: &mut [f64],
    n: usize,
    r: usize,
    batch: &[Reflector; BATCH],
) {
    // One bounds check for the whole block instead of one per load and store: they were
    // half the instructions of this loop, which is throughput-bound.
    assert!((BATCH + 1) * n + r + W <= cols.len());
    let p = cols.as_mut_ptr();
    // SAFETY (both): column c ≤ BATCH + 1, so rows r..r+W of it lie inside `cols` (assert).
    let load =
        |c: usize| -> [f64; W] { unsafe { p.add(c * n + r).cast::<[f64; W]>().read_unaligned() } };
    let store =
        |c: usize, x: [f64; W]| unsafe { p.add(c * n + r).cast::<[f64; W]>().write_unaligned(x) };
    let (mut a, mut b) = (load(0), load(1));
    for (s, refl) in batch.iter().enumerate() {
        let mut c = load(s + 2);
        for lane in 0..W {
            refl.apply::<F>(&mut a[lane], &mut b[lane], &mut c[lane]);
        }
        store(s, a);
        (a, b) = (b, c);
    }
    store(BATCH, a);
    store(BATCH + 1, b);
}

/// Rows k..k+3 of columns k..=col_hi ← (I − t·vᵀ)·rows. Column-major: each column touches three
/// adjacent entries, consecutive columns are `n` apart.
#[inline(always)]
fn apply_left3<const F: bool>(
    h: &mut [f64],
    n: usize,
    k: usize,
    (c_lo, c_hi): (usize, usize),
    r: &Reflector,
) {
    if c_lo > c_hi {
        return;
    }
    // Entries k..k+3 of each column, `n` apart, by one bounds check up front: the iterator
    // form spent more instructions on slicing each column than on its arithmetic.
    let (first, last) = (k + c_lo * n, k + c_hi * n);
    assert!(last + 3 <= h.len());
    let p = h.as_mut_ptr();
    for j in 0..c_hi - c_lo + 1 {
        // SAFETY: first + j·n + 2 ≤ last + 2 < h.len() (assert); three distinct entries.
        unsafe {
            let q = p.add(first + j * n);
            r.apply::<F>(&mut *q, &mut *q.add(1), &mut *q.add(2));
        }
    }
}

/// Columns k..k+3 of rows row_lo..=r_end ← columns·(I − t·vᵀ): three contiguous column slices.
#[inline(always)]
fn apply_right3<const F: bool>(
    h: &mut [f64],
    n: usize,
    k: usize,
    row_lo: usize,
    r_end: usize,
    r: &Reflector,
) {
    let (c0, rest) = h[k * n..(k + 3) * n].split_at_mut(n);
    let (c1, c2) = rest.split_at_mut(n);
    let rows = row_lo..r_end + 1;
    for ((x, y), z) in c0[rows.clone()]
        .iter_mut()
        .zip(&mut c1[rows.clone()])
        .zip(&mut c2[rows])
    {
        r.apply::<F>(x, y, z);
    }
}

/// [`apply_left3`] for the last, two-row reflector (v = (1, v2)).
#[inline(always)]
fn apply_left2<const F: bool>(
    h: &mut [f64],
    n: usize,
    k: usize,
    col_hi: usize,
    t1: f64,
    t2: f64,
    v2: f64,
) {
    let start = k + k * n;
    for c in h[start..].chunks_mut(n).take(col_hi - k + 1) {
        if let [a, b, ..] = c {
            let sum = fmadd::<F>(v2, *b, *a);
            *a = fmadd::<F>(-sum, t1, *a);
            *b = fmadd::<F>(-sum, t2, *b);
        }
    }
}

/// [`apply_right3`] for the last, two-column reflector.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn apply_right2<const F: bool>(
    h: &mut [f64],
    n: usize,
    k: usize,
    row_lo: usize,
    r_end: usize,
    t1: f64,
    t2: f64,
    v2: f64,
) {
    let (c0, c1) = h[k * n..(k + 2) * n].split_at_mut(n);
    let rows = row_lo..r_end + 1;
    for (x, y) in c0[rows.clone()].iter_mut().zip(&mut c1[rows]) {
        let sum = fmadd::<F>(v2, *y, *x);
        *x = fmadd::<F>(-sum, t1, *x);
        *y = fmadd::<F>(-sum, t2, *y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::hqr::{Shifts, first_column};
    use nalgebra::DMatrix;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The two bulges' shifts (a conjugate pair, then two reals).
    const SHIFTS: [Shifts; 2] = [(0.3, 0.2, 0.3, -0.2), (0.5, 0.0, 0.4, 0.0)];

    /// `h0` (and, with `full`, Schur vectors from the identity) after [`sweep_pair`] and after
    /// [`sweep_pair_plain`] over the window `l..=i`: with `full` updating whole rows and
    /// columns and the vectors ([`Reach::full`]), else the window only.
    fn both_chases<const F: bool>(
        h0: &[f64],
        n: usize,
        (l, i): (usize, usize),
        full: bool,
    ) -> [Vec<f64>; 2] {
        let [a, b] = SHIFTS;
        let mut scratch = vec![0.0; scratch_len(n)];
        let (mut got, mut want) = (h0.to_vec(), h0.to_vec());
        let identity = DMatrix::<f64>::identity(n, n).as_slice().to_vec();
        let mut zs = [identity.clone(), identity];
        let [z_got, z_want] = &mut zs;
        let va = first_column(h0, n, l, a);
        let vb_of = |h: &[f64]| first_column(h, n, l, b);
        let reach = if full {
            Reach::full(n, z_got)
        } else {
            Reach::window(l, i)
        };
        sweep_pair::<F, false>(&mut got, n, (l, i), (va, vb_of), &mut scratch, reach);
        sweep_pair_plain::<F>(&mut want, n, (l, i), full.then_some(z_want.as_mut_slice()));
        got.extend_from_slice(&zs[0]);
        want.extend_from_slice(&zs[1]);
        [got, want]
    }

    /// Two bulges one whole [`step`] at a time, A then B, with the window's edges or (given
    /// Schur vectors `z`) the whole matrix's: the order of operations [`sweep_pair`] must
    /// reproduce exactly, whatever it batches or pipelines.
    fn sweep_pair_plain<const F: bool>(
        h: &mut [f64],
        n: usize,
        (l, i): (usize, usize),
        mut z: Option<&mut [f64]>,
    ) {
        let [a, b] = SHIFTS;
        let edges = if z.is_some() { (n - 1, 0) } else { (i, l) };
        let mut one = |h: &mut [f64], k, v: &mut _| {
            step::<F>(h, n, (l, i, l), k, v, edges, z.as_deref_mut());
        };
        let mut va = first_column(h, n, l, a);
        for ka in l..l + GAP {
            one(h, ka, &mut va);
        }
        let mut vb = first_column(h, n, l, b);
        let (mut ka, mut kb) = (l + GAP, l);
        while kb < i {
            if ka < i {
                one(h, ka, &mut va);
                ka += 1;
            }
            one(h, kb, &mut vb);
            kb += 1;
        }
    }

    /// One bulge by [`sweep`] and one whole [`step`] at a time, over the window only: the same
    /// entries bit for bit.
    fn both_single_chases<const F: bool>(
        h0: &[f64],
        n: usize,
        (l, i): (usize, usize),
    ) -> [Vec<f64>; 2] {
        let [a, _] = SHIFTS;
        let mut scratch = vec![0.0; scratch_len(n)];
        let (mut got, mut want) = (h0.to_vec(), h0.to_vec());
        let mut v = first_column(h0, n, l, a);
        sweep::<F, false>(&mut got, n, (l, i, l), v, &mut scratch, Reach::window(l, i));
        for k in l..i {
            step::<F>(&mut want, n, (l, i, l), k, &mut v, (i, l), None);
        }
        [got, want]
    }

    /// The batched, pipelined pair chase and the batched one-bulge sweep give the plain chase's
    /// entries bit for bit, on windows from shorter than a batch to several batches long (every
    /// remainder past the last whole batch), at the top of the matrix and inside it, with and
    /// without fused operations, updating the window only or whole rows, columns and vectors.
    #[test]
    fn pair_chase_equals_the_plain_chase_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        for n in (2 * GAP + 1..60).chain([77, 100]) {
            let mut h0 = vec![0.0; n * n];
            for c in 0..n {
                for r in 0..n.min(c + 2) {
                    h0[r + c * n] = rng.random::<f64>() - 0.5;
                }
            }
            for (l, i) in [(0, n - 1), (n / 5, n - 1 - n / 7)] {
                if i - l < 2 * GAP {
                    continue;
                }
                for [x, y] in [
                    both_chases::<false>(&h0, n, (l, i), false),
                    both_chases::<true>(&h0, n, (l, i), false),
                    both_chases::<false>(&h0, n, (l, i), true),
                    both_chases::<true>(&h0, n, (l, i), true),
                    both_single_chases::<false>(&h0, n, (l, i)),
                    both_single_chases::<true>(&h0, n, (l, i)),
                ] {
                    // Past n·n: the Schur vectors.
                    let differ = (0..x.len()).find(|&e| x[e].to_bits() != y[e].to_bits());
                    let at = differ.map(|e| (e % n, e / n));
                    assert_eq!(at, None, "n={n}, window {l}..={i}: first differing entry");
                }
            }
        }
    }
}
