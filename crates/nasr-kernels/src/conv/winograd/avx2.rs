//! The AVX2 + FMA building blocks of the Winograd convolution (the register-blocked product, and
//! the loads, stores and 8x8 transposes of the layout conversions), on the same channels-last
//! layout as the AVX-512 ones: a vector of 16 channels is two registers of 8. The product does the same
//! fused multiply-adds in the same order per output element, so this route computes what the
//! AVX-512 route computes, bit for bit; only the register blocks are smaller (16 registers of 8
//! lanes, against 32 of 16).
//!
//! Every function here is `unsafe` for one reason: the processor must have AVX2 and FMA. They
//! are `#[inline(always)]` so they take on the features of their caller.

use super::{Isa, LANES, Operand, product_is_empty};
use std::arch::x86_64::{
    __m256, __m256i, _mm256_cmpgt_epi32, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps,
    _mm256_maskstore_ps, _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_set1_ps,
    _mm256_setr_epi32, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps,
    _mm256_unpacklo_ps,
};

/// Lanes of one register.
const HALF: usize = 8;
/// Rows of the product's register block: 4 rows of 16 lanes hold 8 accumulators, leaving
/// registers for the two halves of `b` and the broadcast of `a`.
const BLOCK: usize = 4;

/// The AVX2 + FMA instruction set.
pub(super) struct Avx2;

impl Isa for Avx2 {
    const WIDTH: usize = HALF;
    type Vector = __m256;
    type Block = [__m256; HALF];

    /// See [`Isa::product`]: blocks of `4 x 16` sums, each a pair of registers, stay in
    /// registers over the whole depth.
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
        let row_offsets: [usize; BLOCK] = std::array::from_fn(|r| r * row_step);
        for r0 in (0..rows).step_by(BLOCK) {
            for j0 in (0..cols).step_by(LANES) {
                // SAFETY: every pointer below stays inside its slice: a(r, s) for r < rows and
                // s < depth is at most `last` (checked by `product_is_empty`; BLOCK divides the
                // rows); b's rows s < depth and columns j0 + 16 <= cols; out's rows r < rows.
                // The caller vouches for AVX2 and FMA.
                unsafe {
                    let out_block = out.as_mut_ptr().add(r0 * cols + j0);
                    let start = |r: usize, half: usize| {
                        if accumulate {
                            _mm256_loadu_ps(out_block.add(r * cols + half * HALF))
                        } else {
                            _mm256_setzero_ps()
                        }
                    };
                    let mut low: [__m256; BLOCK] = std::array::from_fn(|r| start(r, 0));
                    let mut high: [__m256; BLOCK] = std::array::from_fn(|r| start(r, 1));
                    let a_block = a.values.as_ptr().add(r0 * row_step);
                    for s in 0..depth {
                        // Formed per step, so that no pointer ever points past its slice.
                        let a_step = a_block.add(s * a.depth_step);
                        let b_row = b.as_ptr().add(s * cols + j0);
                        let (b_low, b_high) =
                            (_mm256_loadu_ps(b_row), _mm256_loadu_ps(b_row.add(HALF)));
                        for r in 0..BLOCK {
                            let a_value = _mm256_set1_ps(*a_step.add(row_offsets[r]));
                            low[r] = _mm256_fmadd_ps(a_value, b_low, low[r]);
                            high[r] = _mm256_fmadd_ps(a_value, b_high, high[r]);
                        }
                    }
                    for r in 0..BLOCK {
                        _mm256_storeu_ps(out_block.add(r * cols), low[r]);
                        _mm256_storeu_ps(out_block.add(r * cols + HALF), high[r]);
                    }
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn zeros() -> Self::Block {
        // SAFETY: the caller vouches for AVX2.
        [unsafe { _mm256_setzero_ps() }; HALF]
    }

    #[inline(always)]
    unsafe fn load(src: *const f32, count: usize) -> __m256 {
        // SAFETY: the caller vouches for `count` floats at `src` and for AVX2.
        unsafe {
            if count == HALF {
                _mm256_loadu_ps(src)
            } else {
                _mm256_maskload_ps(src, mask(count))
            }
        }
    }

    #[inline(always)]
    unsafe fn store(dst: *mut f32, count: usize, vector: __m256) {
        // SAFETY: the caller vouches for room for `count` floats at `dst` and for AVX2.
        unsafe {
            if count == HALF {
                _mm256_storeu_ps(dst, vector)
            } else {
                _mm256_maskstore_ps(dst, mask(count), vector)
            }
        }
    }

    #[inline(always)]
    unsafe fn transpose(block: Self::Block) -> Self::Block {
        // SAFETY: the caller vouches for AVX2.
        unsafe { transpose(block) }
    }
}

/// The first `count` lanes (their sign bits set, as masked loads and stores read them).
///
/// # Safety
/// The processor must have AVX2.
#[inline(always)]
unsafe fn mask(count: usize) -> __m256i {
    // SAFETY: register-only intrinsics of AVX2, which the caller vouches for.
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(count as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// The 8x8 transpose of `rows`: lane `j` of output `i` is lane `i` of row `j`. Pairs of floats,
/// pairs of pairs, then 128-bit halves.
///
/// # Safety
/// The processor must have AVX2.
#[inline(always)]
unsafe fn transpose(rows: [__m256; HALF]) -> [__m256; HALF] {
    // SAFETY: register-only intrinsics; AVX2 as vouched for.
    unsafe {
        let pairs: [__m256; HALF] = std::array::from_fn(|i| {
            let (a, b) = (rows[i / 2 * 2], rows[i / 2 * 2 + 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_ps(a, b)
            } else {
                _mm256_unpackhi_ps(a, b)
            }
        });
        // quads[4g + m], in each 128-bit half h: rows 4g..4g + 4 of column 4h + m.
        let quads: [__m256; HALF] = std::array::from_fn(|i| {
            let (group, m) = (i / 4, i % 4);
            let (a, b) = (pairs[4 * group + m / 2], pairs[4 * group + 2 + m / 2]);
            if m % 2 == 0 {
                _mm256_shuffle_ps::<0x44>(a, b)
            } else {
                _mm256_shuffle_ps::<0xEE>(a, b)
            }
        });
        std::array::from_fn(|column| {
            let m = column % 4;
            if column < 4 {
                _mm256_permute2f128_ps::<0x20>(quads[m], quads[4 + m])
            } else {
                _mm256_permute2f128_ps::<0x31>(quads[m], quads[4 + m])
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        if !crate::conv::winograd::tests::set_supported(crate::route::Route::Avx2) {
            return;
        }
        let values: Vec<f32> = (0..HALF * HALF).map(|i| i as f32).collect();
        // SAFETY: AVX2 checked above; every load reads 8 floats inside `values`.
        let columns = unsafe {
            let rows: [__m256; HALF] =
                std::array::from_fn(|r| _mm256_loadu_ps(values[r * HALF..].as_ptr()));
            transpose(rows)
        };
        for (c, column) in columns.iter().enumerate() {
            let mut lanes = [0.0f32; HALF];
            // SAFETY: AVX2 checked above; `lanes` holds 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *column) };
            for (r, &value) in lanes.iter().enumerate() {
                assert_eq!(value, values[r * HALF + c], "row {r}, column {c}");
            }
        }
    }
}
