//! nasr's own compute kernels, behind burn's backend-extension mechanism: the same `Tensor` API,
//! faster code underneath on the CPU. This is the only nasr crate with `unsafe` code (SIMD
//! intrinsics and uninitialised buffers); every other crate forbids it.
//!
//! The [`layers`] [`Conv2d`], [`BatchNorm`] and [`AvgPool2d`] hold burn's parameters under
//! burn's names, and their `forward` runs these kernels: every network in nasr is built from
//! them, so no call site can take burn's slower path by mistake. On the `flex` CPU backend
//! (with or without autodiff) they run [`conv`]'s im2col + gemm and depthwise kernels,
//! [`batch_norm`](mod@batch_norm)'s two-pass kernels and [`pool`]'s, forward and backward.
//! burn's generic versions build a convolution's input gradient from a transposed convolution
//! and its weight gradient from a convolution over the batch axis, and BatchNorm from a dozen
//! tensor ops; they were 2 to 10 times slower than PyTorch (`nasr bench ops`). On other
//! backends (a GPU) burn's own ops run. [`route`] says which instruction-set route they take,
//! and `NASR_KERNELS` forces one.

#![deny(missing_docs)]

pub mod allocator;
pub mod backend;
pub mod batch_norm;
mod buffers;
pub mod conv;
pub mod conv_hook;
pub mod layers;
pub mod pool;
pub mod route;

pub use batch_norm::Clamp;
pub use layers::{AvgPool2d, BatchNorm, Conv2d, conv_batch_norm, conv2d_centred};

/// `len` deterministic pseudo-random values in [-1, 1], different per `seed`: test inputs for
/// the kernels' unit tests.
#[cfg(test)]
fn pseudo_random(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let h = (i as u32 ^ seed)
                .wrapping_mul(2_654_435_761)
                .rotate_left(13);
            (h % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}
