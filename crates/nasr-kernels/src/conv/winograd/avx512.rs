//! The AVX-512 building blocks of the Winograd convolution: the register-blocked product, and
//! the loads, stores and 16x16 transposes that convert between NCHW planes and channels-last
//! pixels.
//!
//! Every function here is `unsafe` for one reason: the processor must have AVX-512F. They are
//! `#[inline(always)]` so they take on the features of their caller.

use super::{Isa, LANES, Operand, ROWS, product_is_empty};
use std::arch::x86_64::{
    __m512, __mmask16, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_shuffle_f32x4, _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps,
    _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};

/// The AVX-512F instruction set.
pub(super) struct Avx512;

impl Isa for Avx512 {
    const WIDTH: usize = LANES;
    type Vector = __m512;
    type Block = [__m512; LANES];

    /// See [`Isa::product`]: each register block of `ROWS x 16` sums stays in registers over
    /// the whole depth: per step, one vector of `b` and `ROWS` broadcasts of `a`.
    #[inline(always)]
    unsafe fn product<const ROW_STEP: usize>(
        a: Operand,
        b: &[f32],
        dims: [usize; 3],
        out: &mut [f32],
        accumulate: bool,
    ) {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { product::<ROW_STEP>(a, b, dims, out, accumulate) }
    }

    #[inline(always)]
    unsafe fn zeros() -> Self::Block {
        // SAFETY: the caller vouches for AVX-512F.
        [unsafe { _mm512_setzero_ps() }; LANES]
    }

    #[inline(always)]
    unsafe fn load(src: *const f32, count: usize) -> __m512 {
        // SAFETY: the caller vouches for `count` floats at `src` and for AVX-512F.
        unsafe {
            if count == LANES {
                _mm512_loadu_ps(src)
            } else {
                _mm512_maskz_loadu_ps(lane_mask(count), src)
            }
        }
    }

    #[inline(always)]
    unsafe fn store(dst: *mut f32, count: usize, vector: __m512) {
        // SAFETY: the caller vouches for room for `count` floats at `dst` and for AVX-512F.
        unsafe {
            if count == LANES {
                _mm512_storeu_ps(dst, vector)
            } else {
                _mm512_mask_storeu_ps(dst, lane_mask(count), vector)
            }
        }
    }

    #[inline(always)]
    unsafe fn transpose(block: Self::Block) -> Self::Block {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { transpose(block) }
    }
}

/// [`Isa::product`] on AVX-512F.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline(always)]
unsafe fn product<const ROW_STEP: usize>(
    a: Operand,
    b: &[f32],
    [rows, depth, cols]: [usize; 3],
    out: &mut [f32],
    accumulate: bool,
) {
    if product_is_empty(&a, b, [rows, depth, cols], out, accumulate) {
        return;
    }
    let row_step = a.row_step::<ROW_STEP>();
    let row_offsets: [usize; ROWS] = std::array::from_fn(|r| r * row_step);
    for r0 in (0..rows).step_by(ROWS) {
        for j0 in (0..cols).step_by(LANES) {
            // SAFETY: every pointer below stays inside its slice: a(r, s) for r < rows and
            // s < depth is at most `last` (checked by `product_is_empty`); b's rows s < depth
            // and columns j0 + 16 <= cols; out's rows r < rows. The caller vouches for
            // AVX-512F.
            unsafe {
                let out_block = out.as_mut_ptr().add(r0 * cols + j0);
                // A plain loop, not `array::from_fn`: that closure was compiled out of line,
                // without AVX-512, calling each load as a function (6% of an NB201 step).
                let mut sums = [_mm512_setzero_ps(); ROWS];
                if accumulate {
                    for (r, sum) in sums.iter_mut().enumerate() {
                        *sum = _mm512_loadu_ps(out_block.add(r * cols));
                    }
                }
                let a_block = a.values.as_ptr().add(r0 * row_step);
                for s in 0..depth {
                    // Formed per step, so that no pointer ever points past its slice.
                    let a_step = a_block.add(s * a.depth_step);
                    let b_vector = _mm512_loadu_ps(b.as_ptr().add(s * cols + j0));
                    for (sum, offset) in sums.iter_mut().zip(row_offsets) {
                        let a_value = _mm512_set1_ps(*a_step.add(offset));
                        *sum = _mm512_fmadd_ps(a_value, b_vector, *sum);
                    }
                }
                for (r, sum) in sums.into_iter().enumerate() {
                    _mm512_storeu_ps(out_block.add(r * cols), sum);
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
unsafe fn transpose(rows: [__m512; LANES]) -> [__m512; LANES] {
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
