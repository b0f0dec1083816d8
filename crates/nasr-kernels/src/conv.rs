//! 2-D convolution on plain `f32` slices in NCHW order: forward, input gradient and weight
//! gradient.
//!
//! Two algorithms cover the convolutions of nasr's spaces:
//! - dense and grouped convolutions unfold one image at a time into a `[k, n]` column matrix
//!   (im2col, skipped for 1x1 convolutions without stride or padding) and multiply it with the
//!   weights through the `gemm` crate: the forward is `y = W col`; the weight gradient is
//!   `dy patches`, the column matrix transposed (channels-last patches, the layout gemm packs
//!   fast); the input gradient of a stride-1 convolution is the forward of `dy` by the flipped
//!   kernel, and of a strided one `W^T dy` folded back (col2im);
//! - depthwise convolutions (one input and one output channel per group) run direct loops on a
//!   zero-padded copy of each plane split by column phase, in register blocks of output columns
//!   ([`depthwise`]).
//!
//! Work is spread over images (or planes) with rayon. Sums across images are taken in a fixed
//! order over fixed chunks, so results do not depend on the number of threads.

use std::mem::MaybeUninit;
use std::ops::Range;

use gemm::{Parallelism, gemm};

use super::batch_norm::Clamp;
use super::buffers::{as_uninit, assume_written, assume_written_slice, uninit_vec, with_scratch};
use super::route;
use rayon::prelude::*;

mod depthwise;
#[cfg(target_arch = "x86_64")]
mod winograd;

/// The sizes of one 2-D convolution. Padding may differ at the two ends of an axis; the output
/// size follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Channel groups: each group of `c_in / groups` inputs feeds `c_out / groups` outputs.
    pub groups: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Zero padding before the first row and column.
    pub pad_begin: [usize; 2],
    /// Zero padding after the last row and column.
    pub pad_end: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
}

impl ConvGeometry {
    /// Output height and width.
    pub fn output(&self) -> [usize; 2] {
        [0, 1].map(|axis| {
            let padded = self.input[axis] + self.pad_begin[axis] + self.pad_end[axis];
            let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
            (padded - span) / self.stride[axis] + 1
        })
    }

    /// Height and width of the input with its padding.
    fn padded(&self) -> [usize; 2] {
        [0, 1].map(|axis| self.input[axis] + self.pad_begin[axis] + self.pad_end[axis])
    }

    fn in_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn out_plane(&self) -> usize {
        let [h, w] = self.output();
        h * w
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    fn in_per_group(&self) -> usize {
        self.c_in / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of one group's column matrix: its input channels times the kernel taps.
    fn col_rows(&self) -> usize {
        self.in_per_group() * self.taps()
    }

    /// Elements of the input, output and weight tensors.
    pub fn sizes(&self) -> [usize; 3] {
        [
            self.batch * self.c_in * self.in_plane(),
            self.batch * self.c_out * self.out_plane(),
            self.c_out * self.col_rows(),
        ]
    }

    /// True for a convolution whose column matrix is the input itself.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.pad_begin == [0, 0]
            && self.output() == self.input
    }

    /// True for one input and one output channel per group.
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.c_in && self.groups == self.c_out && self.groups > 1
    }

    /// Where each kernel tap reads, taps in row-major order.
    fn taps_in_image(&self) -> Vec<Tap> {
        let out = self.output();
        // Along `axis`, tap `t` maps output `o` to input `o * stride + offset`, with
        // `offset = t * dilation - pad_begin`; the outputs inside the image form a range.
        let range = |axis: usize, t: usize| {
            let stride = self.stride[axis] as isize;
            let offset = (t * self.dilation[axis]) as isize - self.pad_begin[axis] as isize;
            let last_input = self.input[axis] as isize - 1;
            let lo = if offset >= 0 {
                0
            } else {
                (-offset + stride - 1) / stride
            };
            let hi = if last_input < offset {
                0
            } else {
                (last_input - offset) / stride + 1
            };
            let lo = (lo as usize).min(out[axis]);
            (lo..(hi as usize).clamp(lo, out[axis]), offset)
        };
        (0..self.taps())
            .map(|t| {
                let (rows, row_offset) = range(0, t / self.kernel[1]);
                let (cols, col_offset) = range(1, t % self.kernel[1]);
                Tap {
                    rows,
                    cols,
                    row_offset,
                    col_offset,
                }
            })
            .collect()
    }
}

/// Where one kernel tap reads: output rows `rows` and columns `cols` see input row
/// `oy * stride + row_offset` and column `ox * stride + col_offset`, inside the image; the
/// other outputs see padding.
#[derive(Clone, Debug)]
struct Tap {
    rows: Range<usize>,
    cols: Range<usize>,
    row_offset: isize,
    col_offset: isize,
}

impl Tap {
    fn input_row(&self, g: &ConvGeometry, oy: usize) -> usize {
        ((oy * g.stride[0]) as isize + self.row_offset) as usize
    }

    /// The input column of the first valid output column.
    fn first_input_col(&self, g: &ConvGeometry) -> usize {
        ((self.cols.start * g.stride[1]) as isize + self.col_offset) as usize
    }
}

/// Images per chunk of the weight-gradient sum: fixed, so the order of the sum is too.
const IMAGES_PER_CHUNK: usize = 4;

/// `y = conv(x, w)`, all NCHW, without bias.
pub fn forward(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
    forward_with(g, x, w, None)
}

/// What a convolution's forward applies to each output as it writes it: a shift per output
/// channel, then an optional clamp. With the weights scaled by BatchNorm's `gamma / std`, this
/// is BatchNorm (and the ReLU6 after it) folded into the convolution for inference.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// Added to every output of channel `c`: `shift[c]`.
    pub shift: &'a [f32],
    /// Applied after the shift.
    pub clamp: Option<Clamp>,
}

impl Epilogue<'_> {
    /// Applies the epilogue to whole output planes, plane `p` being of channel `p % channels`.
    fn apply_to_planes(&self, y: &mut [f32], plane: usize, channels: usize) {
        y.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(index, values)| {
                finish_plane(values, self.shift[index % channels], self.clamp)
            });
    }
}

route::compiled_per_route!(
    /// [`finish_plane_body`] on the active route.
    pub(crate) fn finish_plane = finish_plane_body(values: &mut [f32], shift: f32, clamp: Option<Clamp>)
);

/// Every value of one output plane with `shift` added and `clamp` applied, in place.
#[inline(always)]
fn finish_plane_body(values: &mut [f32], shift: f32, clamp: Option<Clamp>) {
    match clamp {
        Some(clamp) => values.iter_mut().for_each(|v| *v = clamp.apply(*v + shift)),
        None => values.iter_mut().for_each(|v| *v += shift),
    }
}

/// `y = epilogue(conv(x, w))`: [`forward`] with each output finished by `epilogue` while it is
/// still in cache (the depthwise and im2col routes apply it per plane or image; the Winograd
/// route in one pass after).
pub fn forward_with(
    g: &ConvGeometry,
    x: &[f32],
    w: &[f32],
    epilogue: Option<Epilogue<'_>>,
) -> Vec<f32> {
    let [_, out_len, _] = g.sizes();
    if let Some(e) = &epilogue {
        assert_eq!(
            e.shift.len(),
            g.c_out,
            "an epilogue shift per output channel"
        );
    }
    if g.is_depthwise() {
        return depthwise::forward(g, x, w, epilogue);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(set) = winograd::applies(g) {
        let mut y = winograd::forward(set, g, x, w);
        if let Some(e) = epilogue {
            e.apply_to_planes(&mut y, g.out_plane(), g.c_out);
        }
        return y;
    }
    let (in_image, out_image) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
    let parallelism = inner_parallelism(g);
    let taps = g.taps_in_image();
    // gemm writes every output (each group's rows of each image) without reading it, so the
    // buffer starts uninitialised: zeroing it first costs a pass over memory.
    let mut y = uninit_vec(out_len);
    y.par_chunks_mut(out_image)
        .zip(x.par_chunks(in_image))
        .for_each(|(y_image, x_image)| {
            with_scratch(column_len(g), |col| {
                for group in 0..g.groups {
                    let rhs = group_columns(g, &taps, x_image, group, col);
                    let lhs = &w[group * g.out_per_group() * g.col_rows()..];
                    let dst = &mut y_image[group * g.out_per_group() * g.out_plane()..];
                    // y_g[m, n] = W_g[m, k] col[k, n]
                    matmul(
                        [g.out_per_group(), g.out_plane(), g.col_rows()],
                        (dst, g.out_plane(), false),
                        (lhs, 1, g.col_rows()),
                        (rhs, 1, g.out_plane()),
                        parallelism,
                    );
                }
            });
            if let Some(e) = &epilogue {
                // SAFETY: the group products above wrote the whole image.
                let image = unsafe { assume_written_slice(y_image) };
                for (channel, plane) in image.chunks_mut(g.out_plane()).enumerate() {
                    finish_plane(plane, e.shift[channel], e.clamp);
                }
            }
        });
    // SAFETY: the loop above wrote all `out_len` elements; MaybeUninit<f32> has f32's layout.
    unsafe { assume_written(y) }
}

/// The input gradient `dx` of `y = conv(x, w)`, given `dy`.
pub fn backward_input(g: &ConvGeometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    if let Some((transposed, flipped)) = input_gradient_as_convolution(g, w) {
        return forward(&transposed, dy, &flipped);
    }
    if g.is_depthwise() {
        return depthwise::backward_input(g, w, dy);
    }
    let [in_len, _, _] = g.sizes();
    let mut dx = vec![0.0f32; in_len];
    let (in_image, out_image) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
    let parallelism = inner_parallelism(g);
    let pointwise = g.is_pointwise();
    let taps = g.taps_in_image();
    dx.par_chunks_mut(in_image)
        .zip(dy.par_chunks(out_image))
        .for_each(|(dx_image, dy_image)| {
            with_scratch(column_len(g), |col| {
                for group in 0..g.groups {
                    let lhs = &w[group * g.out_per_group() * g.col_rows()..];
                    let rhs = &dy_image[group * g.out_per_group() * g.out_plane()..];
                    let dx_group = &mut dx_image[group * g.in_per_group() * g.in_plane()..];
                    // dcol[k, n] = W_g^T[k, m] dy_g[m, n]; a pointwise column is dx itself.
                    let dst: &mut [f32] = if pointwise { dx_group } else { col };
                    matmul(
                        [g.col_rows(), g.out_plane(), g.out_per_group()],
                        (as_uninit(dst), g.out_plane(), false),
                        (lhs, g.col_rows(), 1),
                        (rhs, 1, g.out_plane()),
                        parallelism,
                    );
                    if !pointwise {
                        fold_columns(g, &taps, col, dx_group);
                    }
                }
            })
        });
    dx
}

/// For stride 1 the input gradient is itself a convolution: of `dy`, by the kernel flipped in
/// both axes with its channel axes swapped, padded by the kernel's span minus the forward's
/// padding. Run as a forward it copies (im2col) where the general route adds (col2im), and
/// needs no zeroed output. `None` for strided and pointwise convolutions (they have routes of
/// their own) and for padding wider than the kernel's span.
fn input_gradient_as_convolution(g: &ConvGeometry, w: &[f32]) -> Option<(ConvGeometry, Vec<f32>)> {
    let span = [0, 1].map(|axis| g.dilation[axis] * (g.kernel[axis] - 1));
    let fits = (0..2).all(|axis| g.pad_begin[axis] <= span[axis] && g.pad_end[axis] <= span[axis]);
    if g.stride != [1, 1] || g.is_pointwise() || !fits {
        return None;
    }
    let transposed = ConvGeometry {
        c_in: g.c_out,
        c_out: g.c_in,
        input: g.output(),
        pad_begin: [0, 1].map(|axis| span[axis] - g.pad_begin[axis]),
        pad_end: [0, 1].map(|axis| span[axis] - g.pad_end[axis]),
        ..*g
    };
    // flipped[group][i][o][taps - 1 - t] = w[group][o][i][t]
    let (outs, ins, taps) = (g.out_per_group(), g.in_per_group(), g.taps());
    let mut flipped = vec![0.0f32; w.len()];
    let group_len = outs * ins * taps;
    for (w_group, flipped_group) in w.chunks(group_len).zip(flipped.chunks_mut(group_len)) {
        for (o, kernels) in w_group.chunks(ins * taps).enumerate() {
            for (i, kernel) in kernels.chunks(taps).enumerate() {
                let target = &mut flipped_group[(i * outs + o) * taps..][..taps];
                for (flipped_weight, &weight) in target.iter_mut().zip(kernel.iter().rev()) {
                    *flipped_weight = weight;
                }
            }
        }
    }
    Some((transposed, flipped))
}

/// The weight gradient `dw` of `y = conv(x, w)`, given `x` and `dy`.
pub fn backward_weight(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let [_, _, weight_len] = g.sizes();
    if g.is_depthwise() {
        return depthwise::backward_weight(g, x, dy);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(set) = winograd::applies(g) {
        return winograd::backward_weight(set, g, x, dy);
    }
    let (in_image, out_image) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
    let parallelism = inner_parallelism(g);
    let partial_sums: Vec<Vec<f32>> = x
        .par_chunks(in_image * IMAGES_PER_CHUNK)
        .zip(dy.par_chunks(out_image * IMAGES_PER_CHUNK))
        .map(|(x_chunk, dy_chunk)| weight_gradient_chunk(g, x_chunk, dy_chunk, parallelism))
        .collect();
    let tap_major = sum_in_order(partial_sums, weight_len);
    // (output channel, tap, input channel) -> (output channel, input channel, tap)
    let mut dw = vec![0.0f32; weight_len];
    for (out, src) in dw
        .chunks_mut(g.col_rows())
        .zip(tap_major.chunks(g.col_rows()))
    {
        transpose(src, [g.taps(), g.in_per_group()], out);
    }
    dw
}

/// The weight gradient of a chunk of images, in (output channel, tap, input channel) order: see
/// [`unfold_patches`].
fn weight_gradient_chunk(
    g: &ConvGeometry,
    x_chunk: &[f32],
    dy_chunk: &[f32],
    parallelism: Parallelism,
) -> Vec<f32> {
    let (in_image, out_image) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
    let (in_group, out_group) = (
        g.in_per_group() * g.in_plane(),
        g.out_per_group() * g.out_plane(),
    );
    let mut dw = vec![0.0f32; g.sizes()[2]];
    with_scratch(in_group + g.col_rows() * g.out_plane(), |scratch| {
        let (channels_last, patches) = scratch.split_at_mut(in_group);
        for (x_image, dy_image) in x_chunk.chunks(in_image).zip(dy_chunk.chunks(out_image)) {
            for group in 0..g.groups {
                let x_group = &x_image[group * in_group..][..in_group];
                transpose(x_group, [g.in_per_group(), g.in_plane()], channels_last);
                unfold_patches(g, channels_last, patches);
                // dW_g[m, k] += dy_g[m, n] patches[n, k]
                matmul(
                    [g.out_per_group(), g.col_rows(), g.out_plane()],
                    (
                        as_uninit(&mut dw[group * g.out_per_group() * g.col_rows()..]),
                        g.col_rows(),
                        true,
                    ),
                    (&dy_image[group * out_group..], 1, g.out_plane()),
                    (patches, 1, g.col_rows()),
                    parallelism,
                );
            }
        }
    });
    dw
}

/// The transposed column matrix for the weight gradient, `[out_plane, taps * channels]`: row
/// `p` holds output pixel `p`'s receptive field, tap by tap, each tap's channels side by side.
/// gemm packs this layout fast, where it packs the transpose of [`unfold_columns`]' three
/// times slower; `channels_last` (`[h, w, c]`) makes each tap one contiguous copy.
fn unfold_patches(g: &ConvGeometry, channels_last: &[f32], patches: &mut [f32]) {
    let [_, out_w] = g.output();
    let (channels, in_w) = (g.in_per_group(), g.input[1]);
    let row_len = g.col_rows();
    for (t, tap) in g.taps_in_image().iter().enumerate() {
        // Zero where this tap reads padding; every other entry is written below.
        for (pixel, patch) in patches.chunks_mut(row_len).enumerate() {
            let (oy, ox) = (pixel / out_w, pixel % out_w);
            if !(tap.rows.contains(&oy) && tap.cols.contains(&ox)) {
                patch[t * channels..][..channels].fill(0.0);
            }
        }
        for_each_tap_row(g, tap, |oy, iy, cols, first| {
            for (n, ox) in cols.enumerate() {
                let ix = first + n * g.stride[1];
                let src = &channels_last[(iy * in_w + ix) * channels..][..channels];
                let row = (oy * out_w + ox) * row_len + t * channels;
                patches[row..row + channels].copy_from_slice(src);
            }
        });
    }
}

/// `dst[c, r] = src[r, c]` for a row-major `[rows, cols]` source, in tiles of `TILE` columns:
/// each destination row is written whole while the tile's source lines stay in cache.
fn transpose(src: &[f32], [rows, cols]: [usize; 2], dst: &mut [f32]) {
    const TILE: usize = 64;
    for c0 in (0..cols).step_by(TILE) {
        let width = TILE.min(cols - c0);
        for (offset, dst_row) in dst[c0 * rows..][..width * rows]
            .chunks_exact_mut(rows)
            .enumerate()
        {
            for (r, value) in dst_row.iter_mut().enumerate() {
                *value = src[r * cols + c0 + offset];
            }
        }
    }
}

fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0.0; len]);
    add_in_order(&mut total, parts.as_slice().iter().map(Vec::as_slice));
    total
}

/// Adds each of `parts` to `total`, one after another: a fixed order, so a fixed result.
fn add_in_order<'a>(total: &mut [f32], parts: impl IntoIterator<Item = &'a [f32]>) {
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
}

/// A batch of one image cannot be split over images, so gemm splits the product instead.
fn inner_parallelism(g: &ConvGeometry) -> Parallelism {
    if g.batch == 1 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

fn column_len(g: &ConvGeometry) -> usize {
    if g.is_pointwise() {
        0
    } else {
        g.col_rows() * g.out_plane()
    }
}

/// The column matrix `[col_rows, out_plane]` of one group of one image: the input itself for a
/// pointwise convolution, else unfolded into `col`.
fn group_columns<'a>(
    g: &ConvGeometry,
    taps: &[Tap],
    x_image: &'a [f32],
    group: usize,
    col: &'a mut [f32],
) -> &'a [f32] {
    let x_group = &x_image[group * g.in_per_group() * g.in_plane()..];
    if g.is_pointwise() {
        return &x_group[..g.in_per_group() * g.in_plane()];
    }
    unfold_columns(g, taps, x_group, col);
    col
}

/// im2col: row `(c, ky, kx)` of `col` holds, for every output pixel, the input pixel that
/// kernel tap `(ky, kx)` of channel `c` reads (zero in the padding).
fn unfold_columns(g: &ConvGeometry, taps: &[Tap], x_group: &[f32], col: &mut [f32]) {
    let [_, out_w] = g.output();
    let [in_h, in_w] = g.input;
    let same_width = g.stride == [1, 1] && out_w == in_w;
    for (row, col_row) in col.chunks_mut(g.out_plane()).enumerate() {
        let (channel, tap) = (row / taps.len(), &taps[row % taps.len()]);
        let plane = &x_group[channel * in_h * in_w..][..in_h * in_w];
        if same_width {
            unfold_shifted_plane(g, tap, plane, col_row);
            continue;
        }
        let first = tap.first_input_col(g);
        for (oy, out_row) in col_row.chunks_mut(out_w).enumerate() {
            if !tap.rows.contains(&oy) {
                out_row.fill(0.0);
                continue;
            }
            let in_row = &plane[tap.input_row(g, oy) * in_w..][..in_w];
            out_row[..tap.cols.start].fill(0.0);
            out_row[tap.cols.end..].fill(0.0);
            let out_row = &mut out_row[tap.cols.clone()];
            if g.stride[1] == 1 {
                out_row.copy_from_slice(&in_row[first..first + out_row.len()]);
            } else {
                for (o, value) in out_row.iter_mut().enumerate() {
                    *value = in_row[first + o * g.stride[1]];
                }
            }
        }
    }
}

/// One row of the column matrix for a stride-1 convolution whose output is as wide as its input:
/// the tap's view of the plane is the plane itself shifted, so one block copy fills every valid
/// output row, and only the columns that fall into the padding (which the shifted copy filled
/// with the neighbouring row's pixels) are zeroed afterwards. Far fewer, larger copies than one
/// per output row.
fn unfold_shifted_plane(g: &ConvGeometry, tap: &Tap, plane: &[f32], col_row: &mut [f32]) {
    let out_w = g.output()[1];
    let rows = tap.rows.clone();
    col_row[..rows.start * out_w].fill(0.0);
    col_row[rows.end * out_w..].fill(0.0);
    if rows.is_empty() {
        return;
    }
    // Output element i of the block reads plane element i + shift.
    let (start, end) = ((rows.start * out_w) as isize, (rows.end * out_w) as isize);
    let shift = (tap.input_row(g, rows.start) * out_w) as isize + tap.col_offset - start;
    let (lo, hi) = (start.max(-shift), end.min(plane.len() as isize - shift));
    if lo < hi {
        let (lo, hi) = (lo as usize, hi as usize);
        let from = (lo as isize + shift) as usize;
        col_row[lo..hi].copy_from_slice(&plane[from..from + (hi - lo)]);
    }
    // Everything of [start, end) outside [lo, hi) lies in these padding columns too.
    for oy in rows {
        let line = &mut col_row[oy * out_w..][..out_w];
        line[..tap.cols.start].fill(0.0);
        line[tap.cols.end..].fill(0.0);
    }
}

/// col2im: adds every entry of `col` back onto the input pixel it was read from.
fn fold_columns(g: &ConvGeometry, taps: &[Tap], col: &[f32], dx_group: &mut [f32]) {
    let [_, out_w] = g.output();
    let [in_h, in_w] = g.input;
    for (row, col_row) in col.chunks(g.out_plane()).enumerate() {
        let (channel, tap) = (row / taps.len(), &taps[row % taps.len()]);
        let plane = &mut dx_group[channel * in_h * in_w..][..in_h * in_w];
        let first = tap.first_input_col(g);
        for oy in tap.rows.clone() {
            let in_row = &mut plane[tap.input_row(g, oy) * in_w..][..in_w];
            let out_row = &col_row[oy * out_w..][tap.cols.clone()];
            if g.stride[1] == 1 {
                for (target, value) in in_row[first..first + out_row.len()].iter_mut().zip(out_row)
                {
                    *target += value;
                }
            } else {
                for (o, value) in out_row.iter().enumerate() {
                    in_row[first + o * g.stride[1]] += value;
                }
            }
        }
    }
}

/// `dst[m, n] (+)= lhs[m, k] rhs[k, n]` with each operand given as (slice, column stride, row
/// stride) and the destination as (slice, row stride, accumulate).
fn matmul(
    [m, n, k]: [usize; 3],
    (dst, dst_rs, accumulate): (&mut [MaybeUninit<f32>], usize, bool),
    (lhs, lhs_cs, lhs_rs): (&[f32], usize, usize),
    (rhs, rhs_cs, rhs_rs): (&[f32], usize, usize),
    parallelism: Parallelism,
) {
    let last = |rows: usize, cols: usize, cs: usize, rs: usize| {
        (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs + 1
    };
    assert!(
        dst.len() >= last(m, n, 1, dst_rs),
        "gemm destination too short"
    );
    assert!(
        lhs.len() >= last(m, k, lhs_cs, lhs_rs),
        "gemm lhs too short"
    );
    assert!(
        rhs.len() >= last(k, n, rhs_cs, rhs_rs),
        "gemm rhs too short"
    );
    // SAFETY: the asserts above keep every index gemm touches inside the three slices, and the
    // destination does not alias the operands (it is borrowed mutably).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Visits every (output row, input row, output column range, first input column) that `tap`
/// connects, so the three depthwise loops share their bounds.
fn for_each_tap_row(
    g: &ConvGeometry,
    tap: &Tap,
    mut visit: impl FnMut(usize, usize, Range<usize>, usize),
) {
    if tap.cols.is_empty() {
        return;
    }
    let first = tap.first_input_col(g);
    for oy in tap.rows.clone() {
        visit(oy, tap.input_row(g, oy), tap.cols.clone(), first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one multiply-add at a time.
    fn reference_forward(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let [out_h, out_w] = g.output();
        let mut y = vec![0.0f32; g.sizes()[1]];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                let group = co / g.out_per_group();
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let mut sum = 0.0f64;
                        for ci in 0..g.in_per_group() {
                            let c = group * g.in_per_group() + ci;
                            for ky in 0..g.kernel[0] {
                                for kx in 0..g.kernel[1] {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                        - g.pad_begin[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                        - g.pad_begin[1] as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.input[0] as isize
                                        || ix >= g.input[1] as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((b * g.c_in + c) * g.input[0] + iy as usize)
                                        * g.input[1]
                                        + ix as usize;
                                    let wi = ((co * g.in_per_group() + ci) * g.kernel[0] + ky)
                                        * g.kernel[1]
                                        + kx;
                                    sum += x[xi] as f64 * w[wi] as f64;
                                }
                            }
                        }
                        y[((b * g.c_out + co) * out_h + oy) * out_w + ox] = sum as f32;
                    }
                }
            }
        }
        y
    }

    use crate::pseudo_random as values;

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    fn geometries() -> Vec<ConvGeometry> {
        let base = ConvGeometry {
            batch: 3,
            c_in: 4,
            c_out: 6,
            groups: 1,
            input: [7, 6],
            kernel: [3, 3],
            stride: [1, 1],
            pad_begin: [1, 1],
            pad_end: [1, 1],
            dilation: [1, 1],
        };
        vec![
            base,
            ConvGeometry {
                kernel: [1, 1],
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            ConvGeometry {
                stride: [2, 2],
                ..base
            },
            ConvGeometry {
                dilation: [2, 2],
                pad_begin: [2, 2],
                pad_end: [2, 2],
                ..base
            },
            ConvGeometry {
                groups: 2,
                kernel: [5, 3],
                pad_begin: [2, 0],
                pad_end: [1, 2],
                ..base
            },
            ConvGeometry {
                kernel: [1, 1],
                stride: [2, 2],
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            ConvGeometry {
                c_out: 4,
                groups: 4,
                ..base
            },
            ConvGeometry {
                c_out: 4,
                groups: 4,
                stride: [2, 2],
                dilation: [2, 2],
                pad_begin: [2, 2],
                pad_end: [2, 2],
                ..base
            },
            ConvGeometry { batch: 1, ..base },
            ConvGeometry { batch: 9, ..base },
            // Winograd: channels across vector boundaries, edge tiles cut by the output's edge,
            // uneven padding.
            ConvGeometry {
                c_in: 20,
                c_out: 33,
                input: [9, 10],
                pad_begin: [0, 2],
                pad_end: [2, 1],
                ..base
            },
            // Winograd: an output smaller than one tile, no padding along the height.
            ConvGeometry {
                c_in: 17,
                c_out: 5,
                input: [3, 2],
                pad_begin: [0, 1],
                pad_end: [0, 1],
                ..base
            },
            // Winograd: chunks of several images, the last one short.
            ConvGeometry {
                batch: 20,
                c_in: 16,
                c_out: 16,
                input: [8, 8],
                ..base
            },
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for g in geometries() {
            let [in_len, _, w_len] = g.sizes();
            let (x, w) = (values(in_len, 1), values(w_len, 2));
            let expected = reference_forward(&g, &x, &w);
            let got = forward(&g, &x, &w);
            for (e, o) in expected.iter().zip(&got) {
                assert!((e - o).abs() < 1e-4, "{g:?}: {e} vs {o}");
            }
        }
    }

    /// The same bytes on one thread as on three, for every geometry (the Winograd route sizes
    /// its chunks by the thread count).
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let run = |threads: usize, g: &ConvGeometry| {
            let [in_len, out_len, w_len] = g.sizes();
            let (x, w, dy) = (values(in_len, 8), values(w_len, 9), values(out_len, 10));
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| {
                (
                    forward(g, &x, &w),
                    backward_input(g, &w, &dy),
                    backward_weight(g, &x, &dy),
                )
            })
        };
        for g in geometries() {
            assert!(run(1, &g) == run(3, &g), "{g:?}");
        }
    }

    /// The gradients are the adjoints of the forward, which is linear in x and in w: for any
    /// probes u and v, <dx, u> = <dy, conv(u, w)> and <dw, v> = <dy, conv(x, v)>.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        for g in geometries() {
            let [in_len, out_len, w_len] = g.sizes();
            let (x, w, dy) = (values(in_len, 3), values(w_len, 4), values(out_len, 5));
            let dx = backward_input(&g, &w, &dy);
            let dw = backward_weight(&g, &x, &dy);
            for seed in [6, 7] {
                let (u, v) = (values(in_len, seed), values(w_len, seed + 10));
                let along_u = dot(&dy, &reference_forward(&g, &u, &w));
                let along_v = dot(&dy, &reference_forward(&g, &x, &v));
                assert!(
                    (dot(&dx, &u) - along_u).abs() < 1e-4 * along_u.abs().max(1.0),
                    "{g:?}: dx"
                );
                assert!(
                    (dot(&dw, &v) - along_v).abs() < 1e-4 * along_v.abs().max(1.0),
                    "{g:?}: dw"
                );
            }
        }
    }
}
