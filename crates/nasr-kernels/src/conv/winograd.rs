//! Winograd's minimal filtering F(4x4, 3x3) for dense 3x3 stride-1 convolutions (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! Each 4x4 block (tile) of output pixels is computed from the 6x6 input tile under it as
//! `Y = A^T [(G w G^T) ⊙ (B^T d B)] A`: 36 products per tile and channel pair where the
//! definition needs 144, so a quarter of im2col's multiply-adds, and no column matrix. Summed
//! over input channels, the elementwise product becomes 36 small matrix products per batch of
//! tiles, one per point `ξ` of the 6x6 transformed tile.
//!
//! The weight gradient is the adjoint of the same chain,
//! `dw = G^T [Σ_tiles (A dY A^T) ⊙ (B^T d B)] G`, again 36 products, now summed over tiles.
//! The input gradient of a stride-1 convolution is itself a stride-1 convolution (of `dy` by
//! the flipped kernel, see `input_gradient_as_convolution`), so it takes the forward route.
//!
//! Layout: images are copied channels-last (`[row, col, channel]`) with their channels padded to
//! a multiple of [`LANES`], so every transform works on whole vectors of 16 channels; the
//! products run in a register-blocked kernel written for that shape (few channels, many tiles),
//! where a general gemm spends its time packing. Images are processed in chunks whose
//! transformed tiles take about [`CHUNK_FLOATS`] floats, so they stay in cache from transform to
//! product to inverse transform. The phases are generic over an instruction set ([`Isa`]: the
//! product kernel and the register operations of the layout conversions, written with
//! intrinsics in `avx512` and `avx2`), and
//! each entry point is compiled once per set (`#[target_feature]`), so the plain Rust
//! transforms are vectorised for it too. [`applies`] takes this route where the kernel route is
//! [`Route::Avx512`] or [`Route::Avx2`]; the two compute the same bits, the same fused
//! multiply-adds in the same order.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{ConvGeometry, add_in_order};
use crate::buffers::{assume_written, uninit_vec, with_scratch};
use crate::route::{self, Route};
use avx2::Avx2;
use avx512::Avx512;

mod avx2;
mod avx512;

/// Side of an output tile.
const TILE: usize = 4;
/// Side of an input tile: the output tile plus the kernel's reach.
const SIDE: usize = TILE + 2;
/// Points of a transformed tile.
const POINTS: usize = SIDE * SIDE;
/// Channels per vector.
const LANES: usize = 16;
/// Rows of the product kernel's register block.
const ROWS: usize = 16;
/// Floats of transformed tiles (inputs and products) a chunk of images aims for: about 512 KiB,
/// so a chunk's tiles stay in cache from transform to product to inverse transform.
const CHUNK_FLOATS: usize = 128 * 1024;

type Lane = [f32; LANES];

/// The filter transform `G` (6x3).
const G: [[f32; 3]; SIDE] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// The instruction set F(4x4, 3x3) computes this convolution with, if it does: dense, 3x3,
/// stride 1, no dilation, on the AVX-512 or AVX2 route, which this module's kernels are
/// written for (elsewhere im2col + gemm runs, and gemm has kernels for every x86 processor).
/// Padding is free (the copied image carries it). A single image (inference at batch 1) stays
/// with im2col too: the work here is spread over chunks of images, so one image would run on
/// one core, where gemm splits its product over all of them.
pub(super) fn applies(g: &ConvGeometry) -> Option<Set> {
    let geometry = g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.groups == 1
        && g.batch >= 2;
    match route::active() {
        _ if !geometry => None,
        Route::Avx512 => Some(Set::AVX512),
        Route::Avx2 => Some(Set::AVX2),
        Route::Portable => None,
    }
}

/// The instruction set the phases run on. Only this module makes one ([`applies`], from the
/// active route, which the processor supports): that is what makes running the set's code
/// sound, so its field is private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Set(Kind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// AVX-512F (with AVX2 and FMA, which every AVX-512F processor has; the route checks).
    Avx512,
    /// AVX2 + FMA.
    Avx2,
}

impl Set {
    const AVX512: Set = Set(Kind::Avx512);
    const AVX2: Set = Set(Kind::Avx2);
}

/// What the phases take from an instruction set: its product kernel, and the register
/// operations the layout conversions ([`planes_to_pixels`], [`pixels_to_planes`]) are written
/// in. Every method is `unsafe`: the processor must have the set's instructions.
trait Isa {
    /// Floats per register: the side of the blocks the layout conversions transpose. Divides
    /// [`LANES`].
    const WIDTH: usize;
    /// A register of `WIDTH` floats.
    type Vector: Copy;
    /// `WIDTH` registers.
    type Block: AsRef<[Self::Vector]> + AsMut<[Self::Vector]>;

    /// `out[r][j] (+)= Σ_s a(r, s) b[s][j]` (adding to `out` if `accumulate`) for `[rows,
    /// depth, cols]` with `rows` a multiple of [`ROWS`] and `cols` of [`LANES`]; `b` and `out`
    /// are row-major with `cols` columns. Blocks of sums stay in registers over the whole
    /// depth, each element summed in order of `s` by fused multiply-adds. Written with
    /// intrinsics because the compiler vectorises the plain loop along the rows instead, with
    /// gathers.
    ///
    /// `ROW_STEP` is `a`'s row step where the caller knows it at compile time (then the rows'
    /// offsets are constants of the instructions, not a chain of pointer additions per step),
    /// 0 where it does not; see [`Operand::row_step`].
    unsafe fn product<const ROW_STEP: usize>(
        a: Operand,
        b: &[f32],
        dims: [usize; 3],
        out: &mut [f32],
        accumulate: bool,
    );

    /// A block of zero registers.
    unsafe fn zeros() -> Self::Block;

    /// The `count <= WIDTH` floats at `src`, zero in the other lanes; reads no further.
    unsafe fn load(src: *const f32, count: usize) -> Self::Vector;

    /// Stores the first `count <= WIDTH` lanes of `vector` at `dst`; writes no further.
    unsafe fn store(dst: *mut f32, count: usize, vector: Self::Vector);

    /// The transpose of `block`: lane `j` of output `i` is lane `i` of row `j`.
    unsafe fn transpose(block: Self::Block) -> Self::Block;
}

/// Copies `channels` planes of `pixels` floats each (NCHW, one image) to channels-last: pixel
/// `p`'s channels go to `dst[at(p)..]`, followed by zeros up to a whole number of vectors of
/// [`LANES`]. Blocks of `WIDTH` channels by `WIDTH` pixels, transposed in registers.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn planes_to_pixels<I: Isa>(
    src: &[f32],
    [channels, pixels]: [usize; 2],
    dst: &mut [f32],
    at: impl Fn(usize) -> usize,
) {
    assert!(src.len() >= channels * pixels);
    // Up to whole vectors of LANES channels: the padding channels' rows are zero, and written.
    for c0 in (0..channels.next_multiple_of(LANES)).step_by(I::WIDTH) {
        let present = I::WIDTH.min(channels.saturating_sub(c0));
        for p0 in (0..pixels).step_by(I::WIDTH) {
            let count = I::WIDTH.min(pixels - p0);
            // SAFETY: channel c0 + c < channels and pixels p0..p0 + count (the load reads no
            // further) lie inside `src`; each target holds WIDTH floats; the caller vouches
            // for I's instructions.
            unsafe {
                let mut rows = I::zeros();
                for (c, row) in rows.as_mut().iter_mut().enumerate().take(present) {
                    *row = I::load(src.as_ptr().add((c0 + c) * pixels + p0), count);
                }
                let columns = I::transpose(rows);
                for (p, column) in columns.as_ref().iter().enumerate().take(count) {
                    let target = &mut dst[at(p0 + p) + c0..][..I::WIDTH];
                    I::store(target.as_mut_ptr(), I::WIDTH, *column);
                }
            }
        }
    }
}

/// The reverse of [`planes_to_pixels`]: pixel `p`'s channels, read from `src[at(p)..]`, go to
/// the NCHW planes of `dst`.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn pixels_to_planes<I: Isa>(
    src: &[f32],
    [channels, pixels]: [usize; 2],
    dst: &mut [MaybeUninit<f32>],
    at: impl Fn(usize) -> usize,
) {
    assert!(dst.len() >= channels * pixels);
    for c0 in (0..channels).step_by(I::WIDTH) {
        let present = I::WIDTH.min(channels - c0);
        for p0 in (0..pixels).step_by(I::WIDTH) {
            let count = I::WIDTH.min(pixels - p0);
            // SAFETY: each run holds WIDTH floats (c0 + WIDTH stays within the pixel's
            // channels, padded to LANES); plane c0 + c < channels and pixels p0..p0 + count (the
            // store writes no further) lie inside `dst`; the caller vouches for I's
            // instructions.
            unsafe {
                let mut rows = I::zeros();
                for (p, row) in rows.as_mut().iter_mut().enumerate().take(count) {
                    let run = &src[at(p0 + p) + c0..][..I::WIDTH];
                    *row = I::load(run.as_ptr(), I::WIDTH);
                }
                let columns = I::transpose(rows);
                for (c, column) in columns.as_ref().iter().enumerate().take(present) {
                    let target = dst.as_mut_ptr().add((c0 + c) * pixels + p0).cast::<f32>();
                    I::store(target, count, *column);
                }
            }
        }
    }
}

/// A left operand of [`Isa::product`]: element `(r, s)` at `r * row_step + s * depth_step`.
struct Operand<'a> {
    values: &'a [f32],
    row_step: usize,
    depth_step: usize,
}

impl Operand<'_> {
    /// The row step: `KNOWN` (a constant) unless that is 0.
    #[inline(always)]
    fn row_step<const KNOWN: usize>(&self) -> usize {
        if KNOWN == 0 {
            self.row_step
        } else {
            debug_assert_eq!(self.row_step, KNOWN);
            KNOWN
        }
    }
}

/// Checks a product's shapes (whole register blocks, operands long enough), which every
/// set's pointer arithmetic relies on; an empty product is done here (`true`): `out` zeroed
/// unless `accumulate`.
fn product_is_empty(
    a: &Operand,
    b: &[f32],
    [rows, depth, cols]: [usize; 3],
    out: &mut [f32],
    accumulate: bool,
) -> bool {
    assert!(
        rows % ROWS == 0 && cols % LANES == 0,
        "whole register blocks"
    );
    assert!(b.len() >= depth * cols && out.len() >= rows * cols);
    if depth == 0 || rows == 0 {
        if !accumulate {
            out[..rows * cols].fill(0.0);
        }
        return true;
    }
    let last = (rows - 1) * a.row_step + (depth - 1) * a.depth_step;
    assert!(a.values.len() > last, "left operand too short");
    false
}

/// `fn $name(set, args) -> ret`: runs `$phase::<I>` compiled for `set`'s target features, so
/// that everything the phase inlines (intrinsics and plain Rust alike) is built for that set.
macro_rules! compiled_per_set {
    ($(#[$doc:meta])* fn $name:ident = $phase:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$doc])*
        fn $name(set: Set, $($arg: $ty),*) $(-> $ret)? {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: this function's features are what the phase needs.
                unsafe { $phase::<Avx512>($($arg),*) }
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: this function's features are what the phase needs.
                unsafe { $phase::<Avx2>($($arg),*) }
            }
            match set.0 {
                // SAFETY: a `Set` names a set this processor has (see `Set`).
                Kind::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                Kind::Avx2 => unsafe { avx2($($arg),*) },
            }
        }
    };
}

compiled_per_set!(
    /// [`filter_transform`] on `set`.
    fn transform_filters = filter_transform(plan: &Plan, w: &[f32], u: &mut [f32])
);
compiled_per_set!(
    /// [`forward_phases`] on `set`.
    fn forward_chunk_on = forward_phases(
        plan: &Plan,
        x: &[f32],
        u: &[f32],
        y: &mut [MaybeUninit<f32>],
        buffers: ChunkBuffers<'_>,
    )
);
compiled_per_set!(
    /// [`weight_phases`] on `set`.
    fn weight_chunk_on = weight_phases(
        plan: &Plan,
        x: &[f32],
        dy: &[f32],
        sums: &mut [f32],
        accumulate: bool,
        buffers: ChunkBuffers<'_>,
    )
);
compiled_per_set!(
    /// [`gradient_untransform`] on `set`.
    fn untransformed_gradient = gradient_untransform(plan: &Plan, sums: &[f32]) -> Vec<f32>
);

/// The sizes that every step of one convolution shares.
struct Plan {
    g: ConvGeometry,
    /// Output height and width.
    output: [usize; 2],
    /// Tiles down and across an image.
    tiles: [usize; 2],
    /// Channels rounded up to whole vectors: input and output.
    c_in: usize,
    c_out: usize,
    /// Images per chunk.
    images: usize,
    /// Where each input pixel goes in an image's padded channels-last copy.
    input_offsets: Vec<usize>,
    /// Where each output pixel lies in an image's channels-last output over whole tiles.
    output_offsets: Vec<usize>,
}

impl Plan {
    fn new(g: &ConvGeometry) -> Self {
        let output = g.output();
        let tiles = output.map(|side| side.div_ceil(TILE));
        let (c_in, c_out) = (
            g.c_in.next_multiple_of(LANES),
            g.c_out.next_multiple_of(LANES),
        );
        let per_image = POINTS * tiles[0] * tiles[1] * (c_in + c_out);
        let padded_w = tiles[1] * TILE + 2;
        let [top, left] = g.pad_begin;
        let input_offsets = (0..g.input[0] * g.input[1])
            .map(|p| ((p / g.input[1] + top) * padded_w + p % g.input[1] + left) * c_in)
            .collect();
        let tiled_w = tiles[1] * TILE;
        let output_offsets = (0..output[0] * output[1])
            .map(|p| (p / output[1] * tiled_w + p % output[1]) * c_out)
            .collect();
        Plan {
            g: *g,
            output,
            tiles,
            c_in,
            c_out,
            // Few enough images that every thread gets a chunk. Chunking changes no result:
            // each tile's forward is computed alone, and the weight gradient sums its tiles in
            // an order fixed by its parts, not by the chunks.
            images: (CHUNK_FLOATS / per_image)
                .min(g.batch.div_ceil(rayon::current_num_threads()))
                .max(1),
            input_offsets,
            output_offsets,
        }
    }

    fn in_image(&self) -> usize {
        self.g.c_in * self.g.input[0] * self.g.input[1]
    }

    fn out_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    fn out_image(&self) -> usize {
        self.g.c_out * self.out_plane()
    }

    fn tiles_per_image(&self) -> usize {
        self.tiles[0] * self.tiles[1]
    }

    /// Height and width of an image's padded channels-last copy: every tile's 6x6 input fits.
    fn padded(&self) -> [usize; 2] {
        self.tiles.map(|t| t * TILE + 2)
    }

    /// The padded channels-last copy of one image.
    fn padded_len(&self) -> usize {
        let [h, w] = self.padded();
        h * w * self.c_in
    }

    /// An image's output (or output gradient) channels-last over whole tiles.
    fn tiled_out_len(&self) -> usize {
        self.tiles_per_image() * TILE * TILE * self.c_out
    }

    /// Tiles in a chunk of `images` images, rounded up to whole register blocks.
    fn chunk_rows(&self, images: usize) -> usize {
        (images * self.tiles_per_image()).next_multiple_of(ROWS)
    }

    /// The image of tile `t` of a chunk, and the output row and column of its first pixel.
    fn tile(&self, t: usize) -> (usize, usize, usize) {
        let per_image = self.tiles_per_image();
        let (image, within) = (t / per_image, t % per_image);
        (
            image,
            within / self.tiles[1] * TILE,
            within % self.tiles[1] * TILE,
        )
    }
}

/// `y = conv(x, w)` for a convolution that [`applies`], on the set it returned.
pub(super) fn forward(set: Set, g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
    let plan = Plan::new(g);
    let mut y = uninit_vec(g.sizes()[1]);
    with_scratch(POINTS * plan.c_in * plan.c_out, |u| {
        transform_filters(set, &plan, w, u);
        y.par_chunks_mut(plan.out_image() * plan.images)
            .zip(x.par_chunks(plan.in_image() * plan.images))
            .for_each(|(y_chunk, x_chunk)| forward_chunk(set, &plan, x_chunk, u, y_chunk));
    });
    // SAFETY: every chunk wrote each of its output elements.
    unsafe { assume_written(y) }
}

/// The forward of one chunk of images, in its buffers.
fn forward_chunk(set: Set, plan: &Plan, x: &[f32], u: &[f32], y: &mut [MaybeUninit<f32>]) {
    let images = x.len() / plan.in_image();
    let rows = plan.chunk_rows(images);
    with_chunk_buffers(plan, images, rows, |buffers| {
        forward_chunk_on(set, plan, x, u, y, buffers)
    })
}

/// Copy channels-last, transform, multiply, transform back, copy back to NCHW.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn forward_phases<I: Isa>(
    plan: &Plan,
    x: &[f32],
    u: &[f32],
    y: &mut [MaybeUninit<f32>],
    buffers: ChunkBuffers,
) {
    let images = x.len() / plan.in_image();
    let rows = plan.chunk_rows(images);
    let ChunkBuffers {
        padded,
        inputs: v,
        products: m,
        tiled,
    } = buffers;
    // SAFETY (every call): the caller vouches for I's instructions.
    unsafe {
        copy_channels_last::<I>(plan, x, padded);
        transform_inputs(plan, padded, images, rows, v);
        // M[ξ][t][k] = Σ_c V[ξ][t][c] U[ξ][c][k]
        multiply_points::<I>(
            (v, u, m),
            [rows, plan.c_in, plan.c_out],
            [plan.c_in, 1],
            false,
        );
        inverse_transform_outputs(plan, m, images, rows, tiled);
        copy_outputs_to_planes::<I>(plan, tiled, y);
    }
}

/// A chunk's working buffers, from the thread's scratch space.
struct ChunkBuffers<'a> {
    /// The images' padded channels-last copies.
    padded: &'a mut [f32],
    /// Transformed input tiles, `[ξ][tile][input channel]`.
    inputs: &'a mut [f32],
    /// Products or transformed output gradients, `[ξ][tile][output channel]`.
    products: &'a mut [f32],
    /// Outputs or output gradients, channels-last over whole tiles.
    tiled: &'a mut [f32],
}

/// Runs `f` on the buffers of a chunk of `images` images, with room for `rows` tiles per
/// point.
fn with_chunk_buffers<R>(
    plan: &Plan,
    images: usize,
    rows: usize,
    f: impl FnOnce(ChunkBuffers) -> R,
) -> R {
    let lens = [
        images * plan.padded_len(),
        POINTS * rows * plan.c_in,
        POINTS * rows * plan.c_out,
        images * plan.tiled_out_len(),
    ];
    with_scratch(lens.iter().sum(), |scratch| {
        let (padded, rest) = scratch.split_at_mut(lens[0]);
        let (inputs, rest) = rest.split_at_mut(lens[1]);
        let (products, tiled) = rest.split_at_mut(lens[2]);
        f(ChunkBuffers {
            padded,
            inputs,
            products,
            tiled,
        })
    })
}

/// Independent partial sums of the weight gradient: a fixed number, so the order of the sum
/// is fixed too, whatever the number of threads.
const WEIGHT_PARTS: usize = 8;

/// The weight gradient of a convolution that [`applies`], on the set it returned, given its
/// input `x` and `dy`.
pub(super) fn backward_weight(set: Set, g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let plan = Plan::new(g);
    let product_len = POINTS * plan.c_out * plan.c_in;
    let parts = WEIGHT_PARTS.min(g.batch).max(1);
    with_scratch(parts * product_len, |partial_sums| {
        // Part p sums images [p B / parts, (p + 1) B / parts) tile by tile, in order, over
        // chunks of images: where the chunks end changes nothing.
        partial_sums
            .par_chunks_mut(product_len)
            .enumerate()
            .for_each(|(part, sums)| {
                let images = (part * g.batch / parts)..((part + 1) * g.batch / parts);
                let x_part = &x[images.start * plan.in_image()..images.end * plan.in_image()];
                let dy_part = &dy[images.start * plan.out_image()..images.end * plan.out_image()];
                let chunks = x_part
                    .chunks(plan.in_image() * plan.images)
                    .zip(dy_part.chunks(plan.out_image() * plan.images));
                for (index, (x_chunk, dy_chunk)) in chunks.enumerate() {
                    weight_chunk(set, &plan, x_chunk, dy_chunk, sums, index > 0);
                }
            });
        let (total, rest) = partial_sums.split_at_mut(product_len);
        add_in_order(total, rest.chunks(product_len));
        untransformed_gradient(set, &plan, total)
    })
}

/// Adds one chunk's products to `sums` (or writes them there, unless `accumulate`).
fn weight_chunk(set: Set, plan: &Plan, x: &[f32], dy: &[f32], sums: &mut [f32], accumulate: bool) {
    let images = x.len() / plan.in_image();
    let tiles = images * plan.tiles_per_image();
    with_chunk_buffers(plan, images, tiles, |buffers| {
        weight_chunk_on(set, plan, x, dy, sums, accumulate, buffers)
    });
}

/// Copy and transform the inputs and the output gradient, multiply into `sums`.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn weight_phases<I: Isa>(
    plan: &Plan,
    x: &[f32],
    dy: &[f32],
    sums: &mut [f32],
    accumulate: bool,
    buffers: ChunkBuffers,
) {
    let images = x.len() / plan.in_image();
    let tiles = images * plan.tiles_per_image();
    let ChunkBuffers {
        padded,
        inputs: v,
        products: dm,
        tiled,
    } = buffers;
    // SAFETY (every call): the caller vouches for I's instructions.
    unsafe {
        copy_channels_last::<I>(plan, x, padded);
        transform_inputs(plan, padded, images, tiles, v);
        copy_output_gradient::<I>(plan, dy, tiled);
        transform_output_gradient(plan, tiled, images, dm);
        // S[ξ][k][c] = Σ_t dM[ξ][t][k] V[ξ][t][c]
        multiply_points::<I>(
            (dm, v, sums),
            [plan.c_out, tiles, plan.c_in],
            [1, plan.c_out],
            accumulate,
        );
    }
}

/// `U[ξ][c][k] = (G w[k][c] G^T)[ξ]`, zero in the padding channels, 16 output channels at a
/// time.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn filter_transform<I: Isa>(plan: &Plan, w: &[f32], u: &mut [f32]) {
    let g = &plan.g;
    if g.c_in != plan.c_in {
        u.fill(0.0);
    }
    // The kernels with output channels innermost: taps[c][tap][k].
    let mut taps = vec![0.0f32; g.c_in * 9 * plan.c_out];
    for (k, kernels) in w.chunks(g.c_in * 9).enumerate() {
        for (at, &weight) in kernels.iter().enumerate() {
            taps[at * plan.c_out + k] = weight;
        }
    }
    for c in 0..g.c_in {
        for k0 in (0..plan.c_out).step_by(LANES) {
            let kernel: [Lane; 9] =
                std::array::from_fn(|t| lane(&taps[(c * 9 + t) * plan.c_out + k0..]));
            // (G w)[i][q], then times G^T.
            let mut gw = [[[0.0f32; LANES]; 3]; SIDE];
            for (i, row) in gw.iter_mut().enumerate() {
                for (q, value) in row.iter_mut().enumerate() {
                    *value = weighted_sum(G[i], [&kernel[q], &kernel[3 + q], &kernel[6 + q]]);
                }
            }
            for (i, row) in gw.iter().enumerate() {
                for (j, weights) in G.iter().enumerate() {
                    let at = ((i * SIDE + j) * plan.c_in + c) * plan.c_out + k0;
                    let value = weighted_sum(*weights, [&row[0], &row[1], &row[2]]);
                    u[at..at + LANES].copy_from_slice(&value);
                }
            }
        }
    }
}

/// `dw[k][c] = G^T S[k][c] G` from the summed products `S[ξ][k][c]`, 16 input channels at a
/// time.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn gradient_untransform<I: Isa>(plan: &Plan, sums: &[f32]) -> Vec<f32> {
    let g = &plan.g;
    let mut dw = vec![0.0f32; g.sizes()[2]];
    for k in 0..g.c_out {
        for c0 in (0..g.c_in).step_by(LANES) {
            let s: [Lane; POINTS] =
                std::array::from_fn(|xi| lane(&sums[(xi * plan.c_out + k) * plan.c_in + c0..]));
            let column = |r: usize| G.map(|row| row[r]);
            // (G^T S)[r][j], then times G.
            let mut gts = [[[0.0f32; LANES]; SIDE]; 3];
            for (r, row) in gts.iter_mut().enumerate() {
                for (j, value) in row.iter_mut().enumerate() {
                    *value = weighted_sum(column(r), std::array::from_fn(|i| &s[i * SIDE + j]));
                }
            }
            for (r, row) in gts.iter().enumerate() {
                for q in 0..3 {
                    let value = weighted_sum(column(q), std::array::from_fn(|j| &row[j]));
                    for (c, &v) in value.iter().enumerate().take(g.c_in - c0) {
                        dw[(k * g.c_in + c0 + c) * 9 + r * 3 + q] = v;
                    }
                }
            }
        }
    }
    dw
}

/// The 36 products of a chunk, one per point `ξ` of the transformed tile: `out[ξ] (+)= a[ξ] b[ξ]`
/// for `[rows, depth, cols]` matrices, `a[ξ]`'s element `(r, s)` at `r * row_step + s *
/// depth_step`. The row steps the convolutions have (1 for the weight gradient, the channels
/// for the forward) are passed to the kernel as constants.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn multiply_points<I: Isa>(
    operands: (&[f32], &[f32], &mut [f32]),
    dims: [usize; 3],
    steps: [usize; 2],
    accumulate: bool,
) {
    // SAFETY (every arm): the caller vouches for I's instructions.
    unsafe {
        match steps[0] {
            1 => multiply_points_with::<I, 1>(operands, dims, steps, accumulate),
            16 => multiply_points_with::<I, 16>(operands, dims, steps, accumulate),
            32 => multiply_points_with::<I, 32>(operands, dims, steps, accumulate),
            64 => multiply_points_with::<I, 64>(operands, dims, steps, accumulate),
            _ => multiply_points_with::<I, 0>(operands, dims, steps, accumulate),
        }
    }
}

/// [`multiply_points`] with the row step `ROW_STEP` if it is not 0.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn multiply_points_with<I: Isa, const ROW_STEP: usize>(
    (a, b, out): (&[f32], &[f32], &mut [f32]),
    [rows, depth, cols]: [usize; 3],
    [row_step, depth_step]: [usize; 2],
    accumulate: bool,
) {
    let (a_len, b_len, out_len) = (a.len() / POINTS, b.len() / POINTS, out.len() / POINTS);
    for xi in 0..POINTS {
        let a = Operand {
            values: &a[xi * a_len..][..a_len],
            row_step,
            depth_step,
        };
        let b = &b[xi * b_len..][..b_len];
        let out = &mut out[xi * out_len..][..out_len];
        // SAFETY: the caller vouches for I's instructions.
        unsafe { I::product::<ROW_STEP>(a, b, [rows, depth, cols], out, accumulate) };
    }
}

/// Each image of `x` (NCHW) copied to `padded` as `[row, col, channel]`, shifted by the
/// convolution's padding, with zeros around it and in the padding channels.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn copy_channels_last<I: Isa>(plan: &Plan, x: &[f32], padded: &mut [f32]) {
    let g = &plan.g;
    let [ph, pw] = plan.padded();
    let [top, left] = g.pad_begin;
    let row_len = pw * plan.c_in;
    for (image, out) in x
        .chunks(plan.in_image())
        .zip(padded.chunks_mut(plan.padded_len()))
    {
        // Zero what the copy leaves alone: the rows above and below, the columns either side.
        for (py, row) in out.chunks_mut(row_len).enumerate().take(ph) {
            if py < top || py >= top + g.input[0] {
                row.fill(0.0);
            } else {
                row[..left * plan.c_in].fill(0.0);
                row[(left + g.input[1]) * plan.c_in..].fill(0.0);
            }
        }
        let offsets = &plan.input_offsets;
        let sizes = [g.c_in, g.input[0] * g.input[1]];
        // SAFETY: the caller vouches for I's instructions.
        unsafe { planes_to_pixels::<I>(image, sizes, out, |p| offsets[p]) };
    }
}

/// The chunk's outputs, channels-last over whole tiles, copied to its NCHW output `y`.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn copy_outputs_to_planes<I: Isa>(plan: &Plan, tiled: &[f32], y: &mut [MaybeUninit<f32>]) {
    let offsets = &plan.output_offsets;
    let sizes = [plan.g.c_out, plan.out_plane()];
    for (y_image, tiled_image) in y
        .chunks_mut(plan.out_image())
        .zip(tiled.chunks(plan.tiled_out_len()))
    {
        // SAFETY: the caller vouches for I's instructions.
        unsafe { pixels_to_planes::<I>(tiled_image, sizes, y_image, |p| offsets[p]) };
    }
}

/// Each image of `dy` (NCHW) copied as `[row, col, channel]` over whole tiles, zero past the
/// output's edge and in the padding channels.
///
/// # Safety
/// The processor must have `I`'s instructions.
#[inline(always)]
unsafe fn copy_output_gradient<I: Isa>(plan: &Plan, dy: &[f32], tiled: &mut [f32]) {
    if plan.output != plan.tiles.map(|t| t * TILE) {
        tiled.fill(0.0);
    }
    for (image, out) in dy
        .chunks(plan.out_image())
        .zip(tiled.chunks_mut(plan.tiled_out_len()))
    {
        let offsets = &plan.output_offsets;
        let sizes = [plan.g.c_out, plan.out_plane()];
        // SAFETY: the caller vouches for I's instructions.
        unsafe { planes_to_pixels::<I>(image, sizes, out, |p| offsets[p]) };
    }
}

/// `V[ξ][t][c] = (B^T d_t B)[ξ]` for every tile `t` of the chunk's padded images, 16 channels at
/// a time; `rows` is the tile stride of `v` (tiles past the chunk's are left as they were).
/// Inlined into a phase compiled for an instruction set, and vectorised for it.
#[inline(always)]
fn transform_inputs(plan: &Plan, padded: &[f32], images: usize, rows: usize, v: &mut [f32]) {
    let [_, pw] = plan.padded();
    let point_len = rows * plan.c_in;
    for t in 0..images * plan.tiles_per_image() {
        let (image, oy, ox) = plan.tile(t);
        let origin = &padded[image * plan.padded_len()..][..plan.padded_len()];
        for c0 in (0..plan.c_in).step_by(LANES) {
            // Along the rows, stored transposed; then along the columns.
            // Uninitialised: zeroing it first costs a memset per tile.
            let mut columns = [[MaybeUninit::<Lane>::uninit(); SIDE]; SIDE];
            for i in 0..SIDE {
                let row: [Lane; SIDE] = std::array::from_fn(|j| {
                    lane(&origin[((oy + i) * pw + ox + j) * plan.c_in + c0..])
                });
                for (column, value) in columns.iter_mut().zip(InputTransform::along_axis(&row)) {
                    column[i].write(value);
                }
            }
            for (j, column) in columns.iter().enumerate() {
                // SAFETY: the loop above wrote every element.
                let column = unsafe { filled(column) };
                for (i, values) in InputTransform::along_axis(column).iter().enumerate() {
                    let at = (i * SIDE + j) * point_len + t * plan.c_in + c0;
                    v[at..at + LANES].copy_from_slice(values);
                }
            }
        }
    }
}

/// `dM[ξ][t][k] = (A dY_t A^T)[ξ]`: the adjoint of the output transform, per tile.
/// Inlined into a phase compiled for an instruction set, and vectorised for it.
#[inline(always)]
fn transform_output_gradient(plan: &Plan, tiled: &[f32], images: usize, dm: &mut [f32]) {
    let tiled_w = plan.tiles[1] * TILE;
    let tiles = images * plan.tiles_per_image();
    let point_len = tiles * plan.c_out;
    for t in 0..tiles {
        let (image, oy, ox) = plan.tile(t);
        let origin = &tiled[image * plan.tiled_out_len()..][..plan.tiled_out_len()];
        for k0 in (0..plan.c_out).step_by(LANES) {
            // Uninitialised: zeroing it first costs a memset per tile.
            let mut columns = [[MaybeUninit::<Lane>::uninit(); TILE]; SIDE];
            for i in 0..TILE {
                let row: [Lane; TILE] = std::array::from_fn(|j| {
                    lane(&origin[((oy + i) * tiled_w + ox + j) * plan.c_out + k0..])
                });
                let transformed = OutputTransformAdjoint::along_axis(&row);
                for (column, value) in columns.iter_mut().zip(transformed) {
                    column[i].write(value);
                }
            }
            for (j, column) in columns.iter().enumerate() {
                // SAFETY: the loop above wrote every element.
                let column = unsafe { filled(column) };
                for (i, values) in OutputTransformAdjoint::along_axis(column)
                    .iter()
                    .enumerate()
                {
                    let at = (i * SIDE + j) * point_len + t * plan.c_out + k0;
                    dm[at..at + LANES].copy_from_slice(values);
                }
            }
        }
    }
}

/// `y_t = A^T M_t A` for every tile, written channels-last over whole tiles (`[row, col,
/// channel]` per image).
/// Inlined into a phase compiled for an instruction set, and vectorised for it.
#[inline(always)]
fn inverse_transform_outputs(
    plan: &Plan,
    m: &[f32],
    images: usize,
    rows: usize,
    tiled: &mut [f32],
) {
    let tiled_w = plan.tiles[1] * TILE;
    let point_len = rows * plan.c_out;
    for t in 0..images * plan.tiles_per_image() {
        let (image, oy, ox) = plan.tile(t);
        let out = &mut tiled[image * plan.tiled_out_len()..][..plan.tiled_out_len()];
        for k0 in (0..plan.c_out).step_by(LANES) {
            // Uninitialised: zeroing it first costs a memset per tile.
            let mut columns = [[MaybeUninit::<Lane>::uninit(); SIDE]; TILE];
            for i in 0..SIDE {
                let row: [Lane; SIDE] = std::array::from_fn(|j| {
                    lane(&m[(i * SIDE + j) * point_len + t * plan.c_out + k0..])
                });
                for (column, value) in columns.iter_mut().zip(OutputTransform::along_axis(&row)) {
                    column[i].write(value);
                }
            }
            for (j, column) in columns.iter().enumerate() {
                // SAFETY: the loop above wrote every element.
                let column = unsafe { filled(column) };
                for (i, values) in OutputTransform::along_axis(column).iter().enumerate() {
                    let at = ((oy + i) * tiled_w + ox + j) * plan.c_out + k0;
                    out[at..at + LANES].copy_from_slice(values);
                }
            }
        }
    }
}

/// `column` once every element is written.
///
/// # Safety
/// Every element must have been written.
#[inline(always)]
unsafe fn filled<const N: usize>(column: &[MaybeUninit<Lane>; N]) -> &[Lane; N] {
    // SAFETY: MaybeUninit<Lane> has Lane's layout; the caller vouches for initialisation.
    unsafe { &*(column as *const [MaybeUninit<Lane>; N]).cast::<[Lane; N]>() }
}

/// The 16 floats at the start of `values`.
#[inline(always)]
fn lane(values: &[f32]) -> Lane {
    values[..LANES].try_into().expect("a whole vector")
}

/// `Σ_i weights[i] vectors[i]`, lane by lane.
#[inline(always)]
fn weighted_sum<const N: usize>(weights: [f32; N], vectors: [&Lane; N]) -> Lane {
    let mut sum = [0.0f32; LANES];
    for (weight, vector) in weights.iter().zip(vectors) {
        for (s, v) in sum.iter_mut().zip(vector) {
            *s = weight.mul_add(*v, *s);
        }
    }
    sum
}

/// A 1-D transform of a tile's rows or columns, 16 channels at a time. A trait (not a closure)
/// so that it is inlined into the code compiled for each instruction set: a function passed by
/// value ran out of line,
/// without AVX-512 and with library calls for every fused multiply-add, eight times slower.
trait Transform<const IN: usize, const OUT: usize> {
    fn along_axis(values: &[Lane; IN]) -> [Lane; OUT];
}

/// `f(l)` for every lane `l`.
#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> Lane {
    std::array::from_fn(f)
}

/// `B^T d` along one axis of an input tile, with the shared sums of Lavin & Gray's F(4x4, 3x3):
/// `B^T` rows are `[4 0 -5 0 1 0]`, `[0 -4 -4 1 1 0]`, `[0 4 -4 -1 1 0]`, `[0 -2 -1 2 1 0]`,
/// `[0 2 -1 -2 1 0]` and `[0 4 0 -5 0 1]`.
struct InputTransform;

impl Transform<SIDE, SIDE> for InputTransform {
    #[inline(always)]
    fn along_axis(d: &[Lane; SIDE]) -> [Lane; SIDE] {
        let [d0, d1, d2, d3, d4, d5] = d;
        let (sum_12, sum_34) = (lanes(|l| d1[l] + d2[l]), lanes(|l| d3[l] + d4[l]));
        let (diff_12, diff_43) = (lanes(|l| d1[l] - d2[l]), lanes(|l| d4[l] - d3[l]));
        let (diff_31, diff_42) = (lanes(|l| d3[l] - d1[l]), lanes(|l| d4[l] - d2[l]));
        [
            lanes(|l| 4.0f32.mul_add(d0[l], (-5.0f32).mul_add(d2[l], d4[l]))),
            lanes(|l| (-4.0f32).mul_add(sum_12[l], sum_34[l])),
            lanes(|l| 4.0f32.mul_add(diff_12[l], diff_43[l])),
            lanes(|l| 2.0f32.mul_add(diff_31[l], diff_42[l])),
            lanes(|l| (-2.0f32).mul_add(diff_31[l], diff_42[l])),
            lanes(|l| 4.0f32.mul_add(d1[l], (-5.0f32).mul_add(d3[l], d5[l]))),
        ]
    }
}

/// `A^T m` along one axis of a transformed tile: `A^T` rows are `[1 1 1 1 1 0]`,
/// `[0 1 -1 2 -2 0]`, `[0 1 1 4 4 0]` and `[0 1 -1 8 -8 1]`.
struct OutputTransform;

impl Transform<SIDE, TILE> for OutputTransform {
    #[inline(always)]
    fn along_axis(m: &[Lane; SIDE]) -> [Lane; TILE] {
        let [m0, m1, m2, m3, m4, m5] = m;
        let (sum_12, diff_12) = (lanes(|l| m1[l] + m2[l]), lanes(|l| m1[l] - m2[l]));
        let (sum_34, diff_34) = (lanes(|l| m3[l] + m4[l]), lanes(|l| m3[l] - m4[l]));
        [
            lanes(|l| m0[l] + sum_12[l] + sum_34[l]),
            lanes(|l| 2.0f32.mul_add(diff_34[l], diff_12[l])),
            lanes(|l| 4.0f32.mul_add(sum_34[l], sum_12[l])),
            lanes(|l| 8.0f32.mul_add(diff_34[l], diff_12[l]) + m5[l]),
        ]
    }
}

/// `A dy` along one axis of an output-gradient tile, the adjoint of [`OutputTransform`]: `A`
/// rows are `[1 0 0 0]`, `[1 1 1 1]`, `[1 -1 1 -1]`, `[1 2 4 8]`, `[1 -2 4 -8]` and `[0 0 0 1]`.
struct OutputTransformAdjoint;

impl Transform<TILE, SIDE> for OutputTransformAdjoint {
    #[inline(always)]
    fn along_axis(dy: &[Lane; TILE]) -> [Lane; SIDE] {
        let [y0, y1, y2, y3] = dy;
        let (even, odd) = (lanes(|l| y0[l] + y2[l]), lanes(|l| y1[l] + y3[l]));
        let even_4 = lanes(|l| 4.0f32.mul_add(y2[l], y0[l]));
        let odd_2 = lanes(|l| 2.0 * 4.0f32.mul_add(y3[l], y1[l]));
        [
            *y0,
            lanes(|l| even[l] + odd[l]),
            lanes(|l| even[l] - odd[l]),
            lanes(|l| even_4[l] + odd_2[l]),
            lanes(|l| even_4[l] - odd_2[l]),
            *y3,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transforms above are Lavin & Gray's F(4x4, 3x3): on a 1-D signal, `A^T [(G w) ⊙
    /// (B^T d)]` is the 4-output correlation of `d` with `w`.
    #[test]
    fn one_dimensional_transforms_correlate() {
        let d = [0.5f32, -1.0, 2.0, 0.25, -0.75, 1.5];
        let w = [0.3f32, -0.2, 0.9];
        let d_lanes: [Lane; SIDE] = std::array::from_fn(|i| [d[i]; LANES]);
        let transformed = InputTransform::along_axis(&d_lanes);
        let gw: [Lane; SIDE] = std::array::from_fn(|i| {
            let value: f32 = (0..3).map(|r| G[i][r] * w[r]).sum();
            std::array::from_fn(|l| value * transformed[i][l])
        });
        let y = OutputTransform::along_axis(&gw);
        for (o, row) in y.iter().enumerate() {
            let expected: f32 = (0..3).map(|r| d[o + r] * w[r]).sum();
            assert!(
                (row[0] - expected).abs() < 1e-5,
                "{o}: {} vs {expected}",
                row[0]
            );
        }
    }

    /// `A dy` is the adjoint of `A^T m`: <A^T m, dy> = <m, A dy> for any m and dy.
    #[test]
    fn the_output_transform_adjoint_is_its_transpose() {
        let m: [Lane; SIDE] = std::array::from_fn(|i| [0.3 * i as f32 - 0.7; LANES]);
        let dy: [Lane; TILE] = std::array::from_fn(|i| [1.1 - 0.4 * i as f32; LANES]);
        let forward: f32 = (0..TILE)
            .map(|i| OutputTransform::along_axis(&m)[i][0] * dy[i][0])
            .sum();
        let adjoint = OutputTransformAdjoint::along_axis(&dy);
        let backward: f32 = (0..SIDE).map(|i| m[i][0] * adjoint[i][0]).sum();
        assert!((forward - backward).abs() < 1e-5, "{forward} vs {backward}");
    }

    /// On the AVX-512 and AVX2 routes, exactly the dense 3x3 stride-1 convolutions take
    /// Winograd, on the route's set; on the portable route, none does.
    #[test]
    fn applies_only_to_dense_stride_one_three_by_three() {
        let g = ConvGeometry {
            batch: 2,
            c_in: 16,
            c_out: 16,
            groups: 1,
            input: [8, 8],
            kernel: [3, 3],
            stride: [1, 1],
            pad_begin: [1, 1],
            pad_end: [1, 1],
            dilation: [1, 1],
        };
        let expected = match route::active() {
            Route::Avx512 => Set::AVX512,
            Route::Avx2 => Set::AVX2,
            Route::Portable => {
                eprintln!("kernel route portable: checking that no convolution takes Winograd");
                assert_eq!(applies(&g), None);
                return;
            }
        };
        assert_eq!(applies(&g), Some(expected));
        for other in [
            ConvGeometry {
                stride: [2, 2],
                ..g
            },
            ConvGeometry {
                dilation: [2, 2],
                ..g
            },
            ConvGeometry { groups: 2, ..g },
            ConvGeometry {
                kernel: [5, 5],
                ..g
            },
            ConvGeometry { batch: 1, ..g },
        ] {
            assert_eq!(applies(&other), None, "{other:?}");
        }
    }

    /// Whether this processor has the instructions of `route`'s set; says so when a test of
    /// that set's building blocks skips.
    pub(super) fn set_supported(route: Route) -> bool {
        let supported = route.supported();
        if !supported {
            eprintln!("skipped: this processor cannot run the {route} route, which this test runs");
        }
        supported
    }

    /// Runs `check` for each instruction set this processor has, inside a function compiled
    /// for that set.
    fn for_each_set(mut check: impl FnMut(Set)) {
        for (route, set) in [(Route::Avx512, Set::AVX512), (Route::Avx2, Set::AVX2)] {
            if set_supported(route) {
                check(set);
            }
        }
    }

    compiled_per_set!(
        /// [`round_trip`] on `set`.
        fn round_trip_on = round_trip(planes: &[f32], sizes: [usize; 3]) -> (Vec<f32>, Vec<f32>)
    );

    /// Planes to pixels (vectors of `stride` floats) and back.
    #[inline(always)]
    unsafe fn round_trip<I: Isa>(
        planes: &[f32],
        [channels, pixels, stride]: [usize; 3],
    ) -> (Vec<f32>, Vec<f32>) {
        let mut pixel_runs = vec![f32::NAN; pixels * stride];
        let mut back = vec![MaybeUninit::new(f32::NAN); channels * pixels];
        // SAFETY: the caller vouches for I's instructions.
        unsafe {
            planes_to_pixels::<I>(planes, [channels, pixels], &mut pixel_runs, |p| p * stride);
            pixels_to_planes::<I>(&pixel_runs, [channels, pixels], &mut back, |p| p * stride);
        }
        // SAFETY: initialised above (NaN, then the copy).
        let back = back
            .into_iter()
            .map(|v| unsafe { v.assume_init() })
            .collect();
        (pixel_runs, back)
    }

    /// Planes to pixels and back is the identity, for channel and pixel counts that are not
    /// multiples of 16 (or of 8); the pixels' padding channels are zero.
    #[test]
    fn planes_to_pixels_and_back_round_trip_on_every_set() {
        for_each_set(|set| {
            let (channels, pixels, stride) = (21, 37, 32);
            let planes: Vec<f32> = (0..channels * pixels).map(|i| i as f32 + 0.5).collect();
            let (pixel_runs, back) = round_trip_on(set, &planes, [channels, pixels, stride]);
            for p in 0..pixels {
                for c in 0..stride {
                    let expected = if c < channels {
                        planes[c * pixels + p]
                    } else {
                        0.0
                    };
                    assert_eq!(
                        pixel_runs[p * stride + c],
                        expected,
                        "{set:?}: pixel {p}, channel {c}"
                    );
                }
            }
            assert_eq!(back, planes, "{set:?}");
        });
    }

    compiled_per_set!(
        /// [`product_of`] on `set`.
        fn product_on = product_of(
            a: &[f32],
            steps: [usize; 2],
            b: &[f32],
            dims: [usize; 3],
            out: &mut [f32],
            accumulate: bool,
        )
    );

    #[inline(always)]
    unsafe fn product_of<I: Isa>(
        a: &[f32],
        [row_step, depth_step]: [usize; 2],
        b: &[f32],
        dims: [usize; 3],
        out: &mut [f32],
        accumulate: bool,
    ) {
        let left = || Operand {
            values: a,
            row_step,
            depth_step,
        };
        // The row step as a constant gives the same bits as the step known at run time only.
        assert_eq!(row_step, 1, "the tests' left operands are row-contiguous");
        let mut known = out.to_vec();
        // SAFETY: the caller vouches for I's instructions.
        unsafe {
            I::product::<1>(left(), b, dims, &mut known, accumulate);
            I::product::<0>(left(), b, dims, out, accumulate);
        }
        assert_eq!(known, out, "constant against run-time row step");
    }

    /// The product against its definition, plain and accumulating, with a strided left
    /// operand, on every set; the sets agree bit for bit.
    #[test]
    fn product_matches_the_definition_on_every_set() {
        let [rows, depth, cols] = [2 * ROWS, 5, 2 * LANES];
        let (row_step, depth_step) = (1, rows);
        let a: Vec<f32> = (0..rows * depth)
            .map(|i| (i % 7) as f32 * 0.3 - 1.1)
            .collect();
        let b: Vec<f32> = (0..depth * cols)
            .map(|i| (i % 5) as f32 * 0.7 - 0.2)
            .collect();
        let mut results = Vec::new();
        for_each_set(|set| {
            let mut out = vec![1.0f32; rows * cols];
            for accumulate in [false, true] {
                let before = out.clone();
                let dims = [rows, depth, cols];
                product_on(
                    set,
                    &a,
                    [row_step, depth_step],
                    &b,
                    dims,
                    &mut out,
                    accumulate,
                );
                for r in 0..rows {
                    for j in 0..cols {
                        let start = if accumulate {
                            before[r * cols + j]
                        } else {
                            0.0
                        };
                        let expected = (0..depth).fold(start, |sum, s| {
                            a[r * row_step + s * depth_step].mul_add(b[s * cols + j], sum)
                        });
                        assert_eq!(
                            out[r * cols + j],
                            expected,
                            "{set:?}: ({r}, {j}), accumulate {accumulate}"
                        );
                    }
                }
            }
            results.push(out);
        });
        assert!(results.windows(2).all(|w| w[0] == w[1]), "the sets differ");
    }

    /// Every set computes the same bytes, forward and weight gradient, on one thread and on
    /// three, with channel counts that fill no whole vector and an image side no tile divides.
    #[test]
    fn every_set_gives_the_same_bytes_on_any_thread_count() {
        let g = ConvGeometry {
            batch: 5,
            c_in: 19,
            c_out: 10,
            groups: 1,
            input: [11, 9],
            kernel: [3, 3],
            stride: [1, 1],
            pad_begin: [1, 1],
            pad_end: [1, 1],
            dilation: [1, 1],
        };
        let [in_len, out_len, w_len] = g.sizes();
        let x = crate::pseudo_random(in_len, 21);
        let w = crate::pseudo_random(w_len, 22);
        let dy = crate::pseudo_random(out_len, 23);
        let mut results = Vec::new();
        for_each_set(|set| {
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a thread pool");
                let result =
                    pool.install(|| (forward(set, &g, &x, &w), backward_weight(set, &g, &x, &dy)));
                results.push((set, threads, result));
            }
        });
        for (set, threads, result) in &results[1..] {
            assert!(
                result == &results[0].2,
                "{set:?} on {threads} threads differs"
            );
        }
    }
}
