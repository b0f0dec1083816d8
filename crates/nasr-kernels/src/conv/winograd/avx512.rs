//! The AVX-512 building blocks of the Winograd convolution: the register-blocked product and the
//! conversions between NCHW planes and channels-last pixels, by 16x16 transposes in registers.
//!
//! Every function here is `unsafe` for one reason: the processor must have AVX-512F. They are
//! `#[inline(always)]` so they take on the features of their caller.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_shuffle_f32x4, _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps,
    _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};
use std::mem::MaybeUninit;

use super::{Isa, LANES, Operand, ROWS, product_is_empty};

/// The AVX-512F instruction set.
pub(super) struct Avx512;

impl Isa for Avx512 {
    /// See [`Isa::product`]: each register block of `ROWS x 16` sums stays in registers over
    /// the whole depth: per step, one vector of `b` and `ROWS` broadcasts of `a`.
    #[inline(always)]
    unsafe fn product(a: Operand, b: &[f32], dims: [usize; 3], out: &mut [f32], accumulate: bool) {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { product(a, b, dims, out, accumulate) }
    }

    #[inline(always)]
    unsafe fn planes_to_pixels(
        src: &[f32],
        sizes: [usize; 2],
        dst: &mut [f32],
        at: impl Fn(usize) -> usize,
    ) {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { planes_to_pixels(src, sizes, dst, at) }
    }

    #[inline(always)]
    unsafe fn pixels_to_planes(
        src: &[f32],
        sizes: [usize; 2],
        dst: &mut [MaybeUninit<f32>],
        at: impl Fn(usize) -> usize,
    ) {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { pixels_to_planes(src, sizes, dst, at) }
    }
}

/// [`Isa::product`] on AVX-512F.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline(always)]
unsafe fn product(
    a: Operand,
    b: &[f32],
    [rows, depth, cols]: [usize; 3],
    out: &mut [f32],
    accumulate: bool,
) {
    if product_is_empty(&a, b, [rows, depth, cols], out, accumulate) {
        return;
    }
    let row_offsets: [usize; ROWS] = std::array::from_fn(|r| r * a.row_step);
    for r0 in (0..rows).step_by(ROWS) {
        for j0 in (0..cols).step_by(LANES) {
            // SAFETY: every pointer below stays inside its slice: a(r, s) for r < rows and
            // s < depth is at most `last`; b's rows s < depth and columns j0 + 16 <= cols; out's
            // rows r < rows. The caller vouches for AVX-512F.
            unsafe {
                let out_block = out.as_mut_ptr().add(r0 * cols + j0);
                let mut sums: [__m512; ROWS] = std::array::from_fn(|r| {
                    if accumulate {
                        _mm512_loadu_ps(out_block.add(r * cols))
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                let mut a_step = a.values.as_ptr().add(r0 * a.row_step);
                let mut b_row = b.as_ptr().add(j0);
                for _ in 0..depth {
                    let b_vector = _mm512_loadu_ps(b_row);
                    for (sum, offset) in sums.iter_mut().zip(row_offsets) {
                        let a_value = _mm512_set1_ps(*a_step.add(offset));
                        *sum = _mm512_fmadd_ps(a_value, b_vector, *sum);
                    }
                    a_step = a_step.add(a.depth_step);
                    b_row = b_row.add(cols);
                }
                for (r, sum) in sums.into_iter().enumerate() {
                    _mm512_storeu_ps(out_block.add(r * cols), sum);
                }
            }
        }
    }
}

/// [`Isa::planes_to_pixels`] on AVX-512F.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline(always)]
unsafe fn planes_to_pixels(
    src: &[f32],
    [channels, pixels]: [usize; 2],
    dst: &mut [f32],
    at: impl Fn(usize) -> usize,
) {
    assert!(src.len() >= channels * pixels);
    for c0 in (0..channels).step_by(LANES) {
        let present = LANES.min(channels - c0);
        for p0 in (0..pixels).step_by(LANES) {
            let count = LANES.min(pixels - p0);
            let mask = lane_mask(count);
            // SAFETY (whole block): channel c0 + c < channels and pixels p0..p0 + count (the
            // masked load reads no further) lie inside `src`; AVX-512F as vouched for.
            let mut rows = [unsafe { _mm512_setzero_ps() }; LANES];
            for (c, row) in rows.iter_mut().enumerate().take(present) {
                *row = unsafe {
                    _mm512_maskz_loadu_ps(mask, src.as_ptr().add((c0 + c) * pixels + p0))
                };
            }
            // SAFETY: AVX-512F as vouched for.
            let columns = unsafe { transpose(rows) };
            for (p, column) in columns.iter().enumerate().take(count) {
                let target = &mut dst[at(p0 + p) + c0..][..LANES];
                // SAFETY: `target` holds 16 floats.
                unsafe { _mm512_storeu_ps(target.as_mut_ptr(), *column) };
            }
        }
    }
}

/// [`Isa::pixels_to_planes`] on AVX-512F.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline(always)]
unsafe fn pixels_to_planes(
    src: &[f32],
    [channels, pixels]: [usize; 2],
    dst: &mut [MaybeUninit<f32>],
    at: impl Fn(usize) -> usize,
) {
    assert!(dst.len() >= channels * pixels);
    for c0 in (0..channels).step_by(LANES) {
        let present = LANES.min(channels - c0);
        for p0 in (0..pixels).step_by(LANES) {
            let count = LANES.min(pixels - p0);
            // SAFETY: AVX-512F as vouched for.
            let mut rows = [unsafe { _mm512_setzero_ps() }; LANES];
            for (p, row) in rows.iter_mut().enumerate().take(count) {
                let run = &src[at(p0 + p) + c0..][..LANES];
                // SAFETY: `run` holds 16 floats; AVX-512F as vouched for.
                *row = unsafe { _mm512_loadu_ps(run.as_ptr()) };
            }
            // SAFETY: AVX-512F as vouched for.
            let columns = unsafe { transpose(rows) };
            let mask = lane_mask(count);
            for (c, column) in columns.iter().enumerate().take(present) {
                // SAFETY: plane c0 + c < channels, pixels p0..p0 + count (the mask stores no
                // further) lie inside `dst`.
                unsafe {
                    let target = dst.as_mut_ptr().add((c0 + c) * pixels + p0).cast::<f32>();
                    _mm512_mask_storeu_ps(target, mask, *column);
                }
            }
        }
    }
}

/// The first `count` lanes.
fn lane_mask(count: usize) -> __mmask16 {
    ((1u32 << count) - 1) as __mmask16
}

/// The 16x16 transpose of `rows`: lane `j` of output `i` is lane `i` of row `j`. Four rounds of
/// shuffles: pairs of floats, pairs of pairs, then 128-bit quarters twice.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline(always)]
pub(super) unsafe fn transpose(rows: [__m512; LANES]) -> [__m512; LANES] {
    // SAFETY: register-only intrinsics; AVX-512F as vouched for.
    unsafe {
        // Within each 128-bit quarter q, pairs[2i] = (r2i[4q], r2i+1[4q], r2i[4q+1], r2i+1[4q+1])
        // and pairs[2i + 1] the same of elements 4q + 2 and 4q + 3.
        let mut pairs = rows;
        for i in 0..LANES / 2 {
            let (a, b) = (rows[2 * i], rows[2 * i + 1]);
            pairs[2 * i] = _mm512_unpacklo_ps(a, b);
            pairs[2 * i + 1] = _mm512_unpackhi_ps(a, b);
        }
        // quads[4g + m] holds, in quarter q, rows 4g..4g + 4 of column 4q + m.
        let mut quads = rows;
        for group in 0..LANES / 4 {
            for half in 0..2 {
                let a = _mm512_castps_pd(pairs[4 * group + half]);
                let b = _mm512_castps_pd(pairs[4 * group + 2 + half]);
                quads[4 * group + 2 * half] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
                quads[4 * group + 2 * half + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
            }
        }
        // Output column 4q + m gathers quarter q of quads[m], quads[4 + m], quads[8 + m] and
        // quads[12 + m]: first the quarter pairs (0, 1) or (2, 3) of two row groups side by side,
        // then the matching quarters of those.
        let mut out = [_mm512_setzero_ps(); LANES];
        for m in 0..4 {
            let low_01 = _mm512_shuffle_f32x4::<0x44>(quads[m], quads[4 + m]);
            let high_01 = _mm512_shuffle_f32x4::<0xEE>(quads[m], quads[4 + m]);
            let low_23 = _mm512_shuffle_f32x4::<0x44>(quads[8 + m], quads[12 + m]);
            let high_23 = _mm512_shuffle_f32x4::<0xEE>(quads[8 + m], quads[12 + m]);
            out[m] = _mm512_shuffle_f32x4::<0x88>(low_01, low_23);
            out[4 + m] = _mm512_shuffle_f32x4::<0xDD>(low_01, low_23);
            out[8 + m] = _mm512_shuffle_f32x4::<0x88>(high_01, high_23);
            out[12 + m] = _mm512_shuffle_f32x4::<0xDD>(high_01, high_23);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        if !crate::conv::winograd::tests::set_supported(crate::route::Route::Avx512) {
            return;
        }
        let values: Vec<f32> = (0..LANES * LANES).map(|i| i as f32).collect();
        // SAFETY: AVX-512F checked above; every load reads 16 floats inside `values`.
        let columns = unsafe {
            let rows: [__m512; LANES] =
                std::array::from_fn(|r| _mm512_loadu_ps(values[r * LANES..].as_ptr()));
            transpose(rows)
        };
        for (c, column) in columns.iter().enumerate() {
            let mut lanes = [0.0f32; LANES];
            // SAFETY: AVX-512F checked above; `lanes` holds 16 floats.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *column) };
            for (r, &value) in lanes.iter().enumerate() {
                assert_eq!(value, values[r * LANES + c], "row {r}, column {c}");
            }
        }
    }
}
