//! Depthwise convolutions (one input and one output channel per group), plane by plane: the
//! MBConv block's kxk convolution at stride 1 and 2.
//!
//! Each input plane is first copied, zero-padded, into `stride` *phase planes*: phase `p` holds
//! the padded columns `p, p + stride, p + 2 stride, ...`. Output column `ox` of kernel column
//! `kx` reads padded column `ox * stride + kx * dilation`, which is column
//! `ox + (kx * dilation) / stride` of phase `(kx * dilation) % stride`: consecutive output
//! columns read consecutive floats, at any stride. Each output row is then computed in blocks of
//! [`BLOCK`] columns held in registers across all kernel taps (one load and one multiply-add per
//! tap and block, no store until the block is done), and the gradients are built the same way.
//! A block may read past its row's end into the next row or the buffer's slack; those columns
//! are discarded.
//!
//! Every kernel is compiled per kernel route ([`route::compiled_per_route`]); the fixed-size
//! blocks give the same sums in the same order on every route, so every route gives the same
//! bytes.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{ConvGeometry, Epilogue};
use crate::buffers::{assume_written, assume_written_slice, uninit_vec, with_scratch};
use crate::route;

/// Output columns computed together: one AVX-512 register, two AVX2 ones.
const BLOCK: usize = 16;

/// The zero-padded input plane, split into phase planes by column modulo the stride.
struct Phases {
    /// Padded rows.
    rows: usize,
    /// Columns of each phase row.
    width: usize,
    /// Phases (the column stride).
    count: usize,
}

impl Phases {
    fn of(g: &ConvGeometry) -> Self {
        let [rows, padded_w] = g.padded();
        let count = g.stride[1];
        Self {
            rows,
            width: padded_w.div_ceil(count),
            count,
        }
    }

    /// Floats of the phase planes, with a block's slack at the end.
    fn len(&self) -> usize {
        self.count * self.rows * self.width + BLOCK
    }

    /// Where padded row `row`, kernel column offset `offset` (`kx * dilation`) starts for output
    /// column 0.
    #[inline(always)]
    fn start(&self, row: usize, offset: usize) -> usize {
        let (phase, column) = (offset % self.count, offset / self.count);
        (phase * self.rows + row) * self.width + column
    }

    /// Where each kernel tap, in row-major order, starts for output row 0 and column 0.
    fn tap_starts(&self, g: &ConvGeometry) -> Vec<usize> {
        let [kh, kw] = g.kernel;
        (0..kh * kw)
            .map(|tap| self.start((tap / kw) * g.dilation[0], (tap % kw) * g.dilation[1]))
            .collect()
    }

    /// Copies `plane` (unpadded) into `phases`, zeroing the padding and the slack.
    fn fill(&self, g: &ConvGeometry, plane: &[f32], phases: &mut [f32]) {
        let [in_h, in_w] = g.input;
        let [top, left] = g.pad_begin;
        phases.fill(0.0);
        for (iy, source) in plane.chunks(in_w).enumerate().take(in_h) {
            if self.count == 1 {
                let start = self.start(iy + top, left);
                phases[start..start + in_w].copy_from_slice(source);
                continue;
            }
            for (ix, &value) in source.iter().enumerate() {
                phases[self.start(iy + top, ix + left)] = value;
            }
        }
    }

    /// Writes the plane `phases` holds into `plane`, the padding cropped: the inverse of
    /// [`Phases::fill`].
    fn crop_into(&self, g: &ConvGeometry, phases: &[f32], plane: &mut [MaybeUninit<f32>]) {
        let [in_h, in_w] = g.input;
        let [top, left] = g.pad_begin;
        for (iy, target) in plane.chunks_mut(in_w).enumerate().take(in_h) {
            for (ix, value) in target.iter_mut().enumerate() {
                value.write(phases[self.start(iy + top, ix + left)]);
            }
        }
    }
}

/// `y = epilogue(conv(x, w))` for a depthwise geometry.
pub(super) fn forward(
    g: &ConvGeometry,
    x: &[f32],
    w: &[f32],
    epilogue: Option<Epilogue<'_>>,
) -> Vec<f32> {
    let phases = Phases::of(g);
    let mut y = uninit_vec(g.sizes()[1]);
    y.par_chunks_mut(g.out_plane())
        .zip(x.par_chunks(g.in_plane()))
        .enumerate()
        .for_each(|(plane, (y_plane, x_plane))| {
            let channel = plane % g.c_in;
            let weights = &w[channel * g.taps()..][..g.taps()];
            with_scratch(phases.len(), |scratch| {
                phases.fill(g, x_plane, scratch);
                plane_forward(g, &phases, weights, scratch, y_plane);
            });
            if let Some(e) = &epilogue {
                // SAFETY: `plane_forward` wrote the whole plane.
                let plane = unsafe { assume_written_slice(y_plane) };
                // A second pass while the plane is in cache: folded into the block loop, it
                // stops the compiler from vectorising the loop's sums.
                super::finish_plane(plane, e.shift[channel], e.clamp);
            }
        });
    // SAFETY: `plane_forward` writes every element of every plane.
    unsafe { assume_written(y) }
}

route::compiled_per_route!(
    /// [`plane_forward_body`] on the active route.
    fn plane_forward = plane_forward_body(
        g: &ConvGeometry,
        phases: &Phases,
        weights: &[f32],
        padded: &[f32],
        y_plane: &mut [MaybeUninit<f32>],
    )
);

/// Writes every output of one plane from its phase planes: each output is the sum over taps,
/// in row-major tap order, of weight times input.
#[inline(always)]
fn plane_forward_body(
    g: &ConvGeometry,
    phases: &Phases,
    weights: &[f32],
    padded: &[f32],
    y_plane: &mut [MaybeUninit<f32>],
) {
    let [out_h, out_w] = g.output();
    let starts = phases.tap_starts(g);
    for oy in 0..out_h {
        let row = oy * g.stride[0] * phases.width;
        for first in (0..out_w).step_by(BLOCK) {
            let mut block = [0.0f32; BLOCK];
            for (&weight, &start) in weights.iter().zip(&starts) {
                let input: &[f32; BLOCK] = padded[row + start + first..][..BLOCK]
                    .try_into()
                    .expect("a block");
                for j in 0..BLOCK {
                    block[j] += weight * input[j];
                }
            }
            let columns = BLOCK.min(out_w - first);
            for (out, &sum) in y_plane[oy * out_w + first..][..columns]
                .iter_mut()
                .zip(&block)
            {
                out.write(sum);
            }
        }
    }
}

/// The input gradient `dx` of a depthwise convolution, given `dy`: each output's gradient
/// added, weighted, into the phase planes of every input it read, which are then cropped.
pub(super) fn backward_input(g: &ConvGeometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let phases = Phases::of(g);
    let mut dx = uninit_vec(g.sizes()[0]);
    dx.par_chunks_mut(g.in_plane())
        .zip(dy.par_chunks(g.out_plane()))
        .enumerate()
        .for_each(|(plane, (dx_plane, dy_plane))| {
            let weights = &w[(plane % g.c_in) * g.taps()..][..g.taps()];
            with_scratch(phases.len() + BLOCK, |scratch| {
                let (sums, gradient) = scratch.split_at_mut(phases.len());
                sums.fill(0.0);
                plane_backward_input(g, &phases, weights, dy_plane, gradient, sums);
                phases.crop_into(g, sums, dx_plane);
            })
        });
    // SAFETY: `crop_into` writes every element of every plane.
    unsafe { assume_written(dx) }
}

route::compiled_per_route!(
    /// [`plane_backward_input_body`] on the active route.
    fn plane_backward_input = plane_backward_input_body(
        g: &ConvGeometry,
        phases: &Phases,
        weights: &[f32],
        dy_plane: &[f32],
        gradient: &mut [f32],
        sums: &mut [f32],
    )
);

/// Adds `weight * dy` of one plane into the phase planes `sums` at every input each output
/// read, outputs in row-major order and taps in row-major order for each; `gradient` is a
/// block of scratch.
#[inline(always)]
fn plane_backward_input_body(
    g: &ConvGeometry,
    phases: &Phases,
    weights: &[f32],
    dy_plane: &[f32],
    gradient: &mut [f32],
    sums: &mut [f32],
) {
    let [out_h, out_w] = g.output();
    let starts = phases.tap_starts(g);
    let gradient: &mut [f32; BLOCK] = (&mut gradient[..BLOCK]).try_into().expect("a block");
    for oy in 0..out_h {
        let row = oy * g.stride[0] * phases.width;
        for first in (0..out_w).step_by(BLOCK) {
            let columns = BLOCK.min(out_w - first);
            // Columns past the row's end add nothing.
            gradient.fill(0.0);
            gradient[..columns].copy_from_slice(&dy_plane[oy * out_w + first..][..columns]);
            for (&weight, &start) in weights.iter().zip(&starts) {
                let target: &mut [f32; BLOCK] = (&mut sums[row + start + first..][..BLOCK])
                    .try_into()
                    .expect("a block");
                for j in 0..BLOCK {
                    target[j] += weight * gradient[j];
                }
            }
        }
    }
}

/// The weight gradient `dw` of a depthwise convolution, given `x` and `dy`: per channel and
/// tap, products accumulate in a block of lanes over the images in order, and each tap's lanes
/// are summed once at the end, so the order of every sum is fixed whatever the thread count.
pub(super) fn backward_weight(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let phases = Phases::of(g);
    let mut dw = vec![0.0f32; g.c_out * g.taps()];
    dw.par_chunks_mut(g.taps())
        .enumerate()
        .for_each(|(channel, dw_channel)| {
            let mut lanes = vec![0.0f32; g.taps() * BLOCK];
            with_scratch(phases.len() + BLOCK, |scratch| {
                let (padded, gradient) = scratch.split_at_mut(phases.len());
                for image in 0..g.batch {
                    let plane = image * g.c_in + channel;
                    phases.fill(g, &x[plane * g.in_plane()..][..g.in_plane()], padded);
                    let dy_plane = &dy[plane * g.out_plane()..][..g.out_plane()];
                    plane_backward_weight(g, &phases, padded, dy_plane, gradient, &mut lanes);
                }
            });
            for (dw_tap, tap_lanes) in dw_channel.iter_mut().zip(lanes.chunks(BLOCK)) {
                *dw_tap = tap_lanes.iter().sum();
            }
        });
    dw
}

route::compiled_per_route!(
    /// [`plane_backward_weight_body`] on the active route.
    fn plane_backward_weight = plane_backward_weight_body(
        g: &ConvGeometry,
        phases: &Phases,
        padded: &[f32],
        dy_plane: &[f32],
        gradient: &mut [f32],
        lanes: &mut [f32],
    )
);

/// Adds one plane's `dy * x` products into each tap's [`BLOCK`] lanes of `lanes`; `gradient`
/// is a block of scratch.
#[inline(always)]
fn plane_backward_weight_body(
    g: &ConvGeometry,
    phases: &Phases,
    padded: &[f32],
    dy_plane: &[f32],
    gradient: &mut [f32],
    lanes: &mut [f32],
) {
    let [out_h, out_w] = g.output();
    let starts = phases.tap_starts(g);
    let gradient: &mut [f32; BLOCK] = (&mut gradient[..BLOCK]).try_into().expect("a block");
    for oy in 0..out_h {
        let row = oy * g.stride[0] * phases.width;
        for first in (0..out_w).step_by(BLOCK) {
            let columns = BLOCK.min(out_w - first);
            // Columns past the row's end contribute zero products.
            gradient.fill(0.0);
            gradient[..columns].copy_from_slice(&dy_plane[oy * out_w + first..][..columns]);
            for (tap_lanes, &start) in lanes.chunks_exact_mut(BLOCK).zip(&starts) {
                let input: &[f32; BLOCK] = padded[row + start + first..][..BLOCK]
                    .try_into()
                    .expect("a block");
                for j in 0..BLOCK {
                    tap_lanes[j] += gradient[j] * input[j];
                }
            }
        }
    }
}
